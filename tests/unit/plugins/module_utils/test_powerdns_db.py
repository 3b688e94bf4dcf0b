"""_powerdns_db.plan: what changes, on a real in-memory SQLite database with PowerDNS's tables."""

import sqlite3

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._powerdns_db import ACCOUNT, apply, plan, read_state

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
