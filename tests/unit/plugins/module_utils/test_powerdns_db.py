"""_powerdns_db.plan: what changes, on a real in-memory SQLite database with PowerDNS's tables."""

import sqlite3

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._powerdns_db import ACCOUNT, apply, plan, read_state, summary

SCHEMA = """
CREATE TABLE domains (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL COLLATE NOCASE, master VARCHAR(128),
  last_check INTEGER, type VARCHAR(8) NOT NULL, notified_serial INTEGER, account VARCHAR(40), options TEXT, catalog TEXT);
CREATE UNIQUE INDEX name_index ON domains(name);
CREATE TABLE records (id INTEGER PRIMARY KEY, domain_id INTEGER, name TEXT, type TEXT, content TEXT, ttl INTEGER,
  prio INTEGER, disabled BOOLEAN DEFAULT 0, ordername TEXT, auth BOOL DEFAULT 1);
CREATE TABLE domainmetadata (id INTEGER PRIMARY KEY, domain_id INT NOT NULL, kind VARCHAR(32) COLLATE NOCASE, content TEXT);
CREATE TABLE cryptokeys (id INTEGER PRIMARY KEY, domain_id INT NOT NULL, flags INT, active BOOL, published BOOL, content TEXT);
CREATE TABLE comments (id INTEGER PRIMARY KEY, domain_id INT NOT NULL, name TEXT, type TEXT, modified_at INT, account TEXT, comment TEXT);
CREATE TABLE tsigkeys (id INTEGER PRIMARY KEY, name VARCHAR(255) COLLATE NOCASE, algorithm VARCHAR(50) COLLATE NOCASE, secret VARCHAR(255));
"""


@pytest.fixture
def db():
    conn = sqlite3.connect(':memory:', isolation_level=None)
    conn.executescript(SCHEMA)
    yield conn
    conn.close()


ZONES = [{'name': 'p.test', 'kind': 'primary', 'metadata': {'TSIG-ALLOW-AXFR': ['k']}},
         {'name': 'S.test.', 'kind': 'secondary', 'primaries': ['192.0.2.1'], 'metadata': {'AXFR-MASTER-TSIG': ['k']}}]
KEYS = [{'name': 'k', 'algorithm': 'hmac-sha256', 'secret': 'c2VjcmV0'}]


def test_create_then_nothing_then_changes(db):
    changes = plan(read_state(db), ZONES, KEYS, ['k'])
    assert [r['name'] for r in changes['create']] == ['p.test', 's.test']
    assert changes['load'] == ['p.test'] and changes['retrieve'] == ['s.test']
    assert [k['name'] for k in changes['keys_set']] == ['k']
    apply(db, changes)
    assert db.execute('SELECT name, type, master, account FROM domains ORDER BY id').fetchall() == [
        ('p.test', 'MASTER', None, ACCOUNT), ('s.test', 'SLAVE', '192.0.2.1', ACCOUNT)]
    # The load is pdnsutil's job; give the zone its SOA as a load would.
    db.execute("INSERT INTO records (domain_id, name, type, content) VALUES (1, 'p.test', 'SOA', 'x')")
    again = plan(read_state(db), ZONES, KEYS, ['k'])
    assert not any(again[k] for k in again), again
    moved = [ZONES[0], dict(ZONES[1], primaries=['192.0.2.2'], metadata={})]
    changes = plan(read_state(db), moved, [dict(KEYS[0], secret='b3RoZXI=')], ['k'])
    assert [r['name'] for r in changes['update']] == ['s.test'] and changes['retrieve'] == ['s.test']
    assert changes['metadata'] == [{'name': 's.test', 'kind': 'AXFR-MASTER-TSIG', 'values': []}]
    assert [(k['name'], k['new']) for k in changes['keys_set']] == [('k', False)]


def test_unlisted_purge_and_hand_made(db):
    apply(db, plan(read_state(db), ZONES, KEYS, ['k']))
    db.execute("INSERT INTO domains (name, type) VALUES ('hand.test', 'NATIVE')")
    db.execute("INSERT INTO records (domain_id, name, type, content) VALUES (2, 's.test', 'SOA', 'x')")
    kept = plan(read_state(db), ZONES[:1], [], ['k', 'gone'])
    assert kept['unlisted'] == ['s.test'] and kept['purge'] == [] and kept['keys_removed'] == ['k']
    purge = plan(read_state(db), ZONES[:1], KEYS, ['k'], purge=True)
    assert purge['purge'] == ['s.test'] and purge['unlisted'] == []
    apply(db, purge)
    assert [r[0] for r in db.execute('SELECT name FROM domains ORDER BY name')] == ['hand.test', 'p.test']
    assert db.execute('SELECT count(*) FROM records').fetchone() == (0,)
    assert db.execute('SELECT count(*) FROM domainmetadata WHERE domain_id = 2').fetchone() == (0,)


def test_bad_input(db):
    with pytest.raises(ZonesyncError, match='listed twice'):
        plan(read_state(db), ZONES + [dict(ZONES[0], name='P.TEST')], [], [])
    with pytest.raises(ZonesyncError, match='no primaries'):
        plan(read_state(db), [{'name': 'x.test', 'kind': 'secondary'}], [], [])
    with pytest.raises(ZonesyncError, match='has no secret'):
        plan(read_state(db), [], [{'name': 'k', 'algorithm': 'hmac-sha256', 'secret': ''}], [])
    with pytest.raises(ZonesyncError, match='kind'):
        plan(read_state(db), [{'name': 'x.test', 'kind': 'native'}], [], [])


CATALOG = 'catalog.zonesync.invalid'
MEMBER_META = {'AXFR-MASTER-TSIG': ['k'], 'TSIG-ALLOW-AXFR': ['zonesync-check'], 'ALSO-NOTIFY': []}
CONSUMER = {'name': CATALOG, 'kind': 'consumer', 'primaries': ['192.0.2.1'], 'metadata': dict(MEMBER_META),
            'member_metadata': dict(MEMBER_META)}


def _meta(db, name):
    rows = db.execute('SELECT m.kind, m.content FROM domainmetadata m JOIN domains d ON d.id = m.domain_id '
                      'WHERE d.name = ? ORDER BY m.kind, m.content', (name,)).fetchall()
    return rows


def _pdns_creates_member(db, name, catalog=CATALOG):
    # What PowerDNS 4.7 does for a new member: insert the row, then set its catalog with a separate UPDATE.
    db.execute("INSERT INTO domains (name, master, type, options) VALUES (?, '192.0.2.1', 'SLAVE', ?)",
               (name, '{"consumer": {"unique": "x."}}'))
    db.execute('UPDATE domains SET catalog = ? WHERE name = ?', (catalog, name))


def test_consumer_zone_and_the_trigger_that_gives_members_their_metadata(db):
    changes = plan(read_state(db), [CONSUMER, {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG}], KEYS, ['k'])
    assert [r['type'] for r in changes['create']] == ['CONSUMER'] and changes['retrieve'] == [CATALOG]
    assert changes['schema'] and [t['catalog'] for t in changes['templates']] == [CATALOG]
    apply(db, changes)
    assert db.execute('SELECT type, master, account FROM domains WHERE name = ?', (CATALOG,)).fetchone() == (
        'CONSUMER', '192.0.2.1', ACCOUNT)
    # PowerDNS creates a member: the trigger gives it the transfer key and the check key at once.
    _pdns_creates_member(db, 'm1.test')
    assert _meta(db, 'm1.test') == [('AXFR-MASTER-TSIG', 'k'), ('TSIG-ALLOW-AXFR', 'zonesync-check')]
    # A zone PowerDNS creates for another catalog gets nothing.
    _pdns_creates_member(db, 'other.test', catalog='elsewhere.invalid')
    assert _meta(db, 'other.test') == []
    # Nothing more to do; members are never unlisted, however they came.
    again = plan(read_state(db), [CONSUMER, {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG}], KEYS, ['k'])
    assert not any(again[k] for k in ('create', 'update', 'metadata', 'templates', 'adopt', 'unlisted', 'purge'))
    assert not again['schema']


def test_a_new_member_key_reaches_the_template_and_the_members_that_exist(db):
    apply(db, plan(read_state(db), [CONSUMER], KEYS, ['k']))
    _pdns_creates_member(db, 'm1.test')
    rotated = dict(CONSUMER, member_metadata=dict(MEMBER_META, **{'AXFR-MASTER-TSIG': ['k2']}))
    changes = plan(read_state(db), [rotated, {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG}], KEYS, ['k'])
    assert [t['catalog'] for t in changes['templates']] == [CATALOG]
    assert {'name': 'm1.test', 'kind': 'AXFR-MASTER-TSIG', 'values': ['k2']} in changes['metadata']
    apply(db, changes)
    assert ('AXFR-MASTER-TSIG', 'k2') in _meta(db, 'm1.test')
    _pdns_creates_member(db, 'm2.test')
    assert ('AXFR-MASTER-TSIG', 'k2') in _meta(db, 'm2.test')


def test_an_explicit_copy_is_adopted_by_its_catalog_and_given_back_when_explicit_again(db):
    explicit = {'name': 'm1.test', 'kind': 'secondary', 'primaries': ['192.0.2.1'], 'metadata': {'AXFR-MASTER-TSIG': ['k']}}
    apply(db, plan(read_state(db), [explicit], KEYS, ['k']))
    member = {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG, 'label': 'abc'}
    changes = plan(read_state(db), [CONSUMER, member], KEYS, ['k'])
    assert changes['adopt'] == [{'name': 'm1.test', 'catalog': CATALOG, 'options': '{"consumer": {"unique": "abc."}}'}]
    assert changes['unlisted'] == [] and changes['purge'] == []
    apply(db, changes)
    zone_id_before = db.execute("SELECT id FROM domains WHERE name = 'm1.test'").fetchone()
    assert db.execute("SELECT catalog FROM domains WHERE name = 'm1.test'").fetchone() == (CATALOG,)
    # Back to explicit: the zone leaves the catalog (so the consumer does not delete it), same row.
    back = plan(read_state(db), [explicit], KEYS, ['k'])
    assert [r['name'] for r in back['update']] == ['m1.test']
    apply(db, back)
    assert db.execute("SELECT id, catalog, options, account FROM domains WHERE name = 'm1.test'").fetchone() == (
        zone_id_before[0], None, None, ACCOUNT)


def test_a_hand_made_zone_in_the_way_of_a_member_is_refused_not_taken(db):
    db.execute("INSERT INTO domains (name, type) VALUES ('m1.test', 'NATIVE')")
    with pytest.raises(ZonesyncError, match='did not make. Remove it'):
        plan(read_state(db), [CONSUMER, {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG}], KEYS, ['k'])
    with pytest.raises(ZonesyncError, match='not a consumer zone of this list'):
        plan(read_state(db), [{'name': 'm1.test', 'kind': 'member', 'catalog': 'nope.invalid'}], KEYS, ['k'])


def test_a_zone_powerdns_deleted_after_it_was_read_is_made_again_not_a_crash(db):
    apply(db, plan(read_state(db), [CONSUMER], KEYS, ['k']))
    _pdns_creates_member(db, 'm1.test')
    explicit = {'name': 'm1.test', 'kind': 'secondary', 'primaries': ['192.0.2.1'], 'metadata': {'AXFR-MASTER-TSIG': ['k']}}
    changes = plan(read_state(db), [CONSUMER, explicit], KEYS, ['k'])
    assert [r['name'] for r in changes['update']] == ['m1.test']
    # The catalog dropped the member between the read and the write (PowerDNS deleted its row).
    db.execute("DELETE FROM domains WHERE name = 'm1.test'")
    apply(db, changes)
    assert db.execute("SELECT type, master, account, catalog FROM domains WHERE name = 'm1.test'").fetchone() == (
        'SLAVE', '192.0.2.1', ACCOUNT, None)
    # Metadata for a member that is gone is skipped, not a TypeError.
    apply(db, {'create': [], 'update': [], 'metadata': [{'name': 'gone.test', 'kind': 'ALSO-NOTIFY', 'values': []}],
               'keys_set': [], 'keys_removed': [], 'purge': []})


def test_members_of_a_catalog_no_longer_consumed_are_reported_then_purged_with_its_template(db):
    """PowerDNS keeps the members it made when its consumer zone goes: they would be served, never updated."""
    wanted = [CONSUMER, {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG}]
    apply(db, plan(read_state(db), wanted, KEYS, ['k']))
    _pdns_creates_member(db, 'm1.test')
    _pdns_creates_member(db, 'other.test', catalog='elsewhere.invalid')   # a catalog this collection never set up
    db.execute("INSERT INTO domains (name, type) VALUES ('hand.test', 'NATIVE')")
    # Still consuming it, with the consumer zone left in place (no purge): members are the catalog's business.
    kept = plan(read_state(db), ZONES, KEYS, ['k'])
    assert kept['unlisted'] == [CATALOG] and kept['purge_members'] == [] and kept['templates_removed'] == []
    purged = plan(read_state(db), ZONES, KEYS, ['k'], purge=True)
    assert purged['purge'] == [CATALOG] and purged['purge_members'] == ['m1.test']
    assert purged['templates_removed'] == [CATALOG]
    apply(db, purged)
    names = sorted(r[0] for r in db.execute('SELECT name FROM domains'))
    assert names == ['hand.test', 'other.test', 'p.test', 's.test']
    assert db.execute('SELECT count(*) FROM zonesync_catalog_metadata').fetchone() == (0,)
    assert plan(read_state(db), ZONES, KEYS, ['k'], purge=True)['purge_members'] == []


def test_members_left_behind_by_a_consumer_zone_removed_by_hand_are_reported(db):
    wanted = [CONSUMER, {'name': 'm1.test', 'kind': 'member', 'catalog': CATALOG}]
    apply(db, plan(read_state(db), wanted, KEYS, ['k']))
    _pdns_creates_member(db, 'm1.test')
    db.execute('DELETE FROM domains WHERE name = ?', (CATALOG,))
    changes = plan(read_state(db), ZONES, KEYS, ['k'])
    assert changes['unlisted'] == ['m1.test'] and changes['purge_members'] == []
    assert summary(changes)['unlisted'] == ['m1.test']
