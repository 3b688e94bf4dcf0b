"""powerdns_zones through Ansible against a real pdns_server (gsqlite3) and a real BIND primary.

What it must prove: one call creates primary and secondary zones, their transfer metadata and TSIG keys, and the
running server uses them at once (the secondary transfers with the key, the primary serves its file); a second
run changes nothing; the secret appears in no output and on no command line; a removed zone is reported and kept
unless purge is asked for; zones and keys made by hand are never touched.
"""

import os
import sqlite3

import dnslab
from ansible_helper import run_adhoc

SECONDARY = 'sec.test.'
PRIMARY = 'prim.test.'


def rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_apply_purge_and_hand_made_zones(bind, pdns, tsig_key, client, tmp_path):
    key = tsig_key('xfer-key')
    primary = bind()
    primary.add_key(key)
    primary.add_primary(SECONDARY, dnslab.make_zone_text(SECONDARY, 2024061501, count=5),
                        allow_transfer=['key "%s";' % key.name])
    primary.start()

    server = pdns()
    server.settings.update([('primary', 'yes'), ('secondary', 'yes')])
    server.start()
    # Made by hand: a zone and a key this collection does not manage.
    server.pdnsutil('create-zone', 'hand.test', 'ns1.hand.test')
    server.pdnsutil('import-tsig-key', 'other-key', 'hmac-sha256', tsig_key('other-key').secret)
    server.pdnsutil('import-tsig-key', 'retired-key', 'hmac-sha256', tsig_key('retired-key').secret)

    zone_file = str(tmp_path / 'prim.test.zone')
    with open(zone_file, 'w') as handle:
        handle.write(dnslab.make_zone_text(PRIMARY, 2024061507, count=3))
    args = {
        'database': server.db, 'config_dir': server.workdir,
        'zones': [
            {'name': 'sec.test', 'kind': 'secondary', 'primaries': [primary.address],
             'metadata': {'AXFR-MASTER-TSIG': [key.name]}},
            {'name': 'prim.test', 'kind': 'primary', 'file': zone_file,
             'metadata': {'TSIG-ALLOW-AXFR': [key.name], 'ALSO-NOTIFY': ['192.0.2.53']}},
        ],
        'keys': [{'name': key.name, 'algorithm': key.algorithm, 'secret': key.secret}],
        'managed_keys': [key.name, 'retired-key'],
    }
    first = run_adhoc('powerdns_zones', args, verbosity=3)
    assert first.rc == 0 and first.data['changed'], first
    assert first.data['created'] == ['sec.test', 'prim.test'] and first.data['loaded'] == ['prim.test']
    assert first.data['retrieve'] == ['sec.test'] and first.data['keys_added'] == ['xfer-key']
    assert first.data['keys_removed'] == ['retired-key'] and first.data['unlisted'] == []
    assert key.secret not in first.stdout + first.stderr
    assert rows(server.db, "SELECT secret FROM tsigkeys WHERE name = 'xfer-key'") == [(key.secret,)]
    # The running server uses it all at once: it serves the primary zone from the file, and the secondary zone
    # transfers with the key.
    server.wait_serial(PRIMARY, 2024061507)
    server.control('retrieve', 'sec.test')
    server.wait_serial(SECONDARY, 2024061501)
    meta = rows(server.db, "SELECT m.kind, m.content FROM domainmetadata m JOIN domains d ON d.id = m.domain_id "
                           "WHERE d.name = 'prim.test'")
    assert sorted(meta) == [('ALSO-NOTIFY', '192.0.2.53'), ('TSIG-ALLOW-AXFR', 'xfer-key')]
    assert sorted(r[0] for r in rows(server.db, 'SELECT name FROM tsigkeys')) == ['other-key', 'xfer-key']

    again = run_adhoc('powerdns_zones', args)
    assert again.rc == 0 and not again.data['changed'], again
    assert again.data['loaded'] == [] and again.data['retrieve'] == []

    # The file changed: the zone is loaded again; metadata cleared when not given.
    with open(zone_file, 'w') as handle:
        handle.write(dnslab.make_zone_text(PRIMARY, 2024061508, count=4))
    args['zones'][1] = dict(args['zones'][1], load=True, metadata={'TSIG-ALLOW-AXFR': [key.name]})
    third = run_adhoc('powerdns_zones', args)
    assert third.data['loaded'] == ['prim.test'] and third.data['metadata_changed'] == ['prim.test'], third
    server.wait_serial(PRIMARY, 2024061508)

    # Removed from the inventory: reported and kept.
    args['zones'] = [dict(args['zones'][1], load=False)]
    kept = run_adhoc('powerdns_zones', args)
    assert kept.rc == 0 and kept.data['unlisted'] == ['sec.test'] and kept.data['purged'] == [], kept
    assert not kept.data['changed']
    assert 'powerdns_purge_removed' in kept.stderr
    assert server.soa_serial(SECONDARY) == 2024061501
    # With purge: removed, records and metadata too. The hand-made zone stays.
    purged = run_adhoc('powerdns_zones', dict(args, purge=True))
    assert purged.rc == 0 and purged.data['purged'] == ['sec.test'], purged
    assert rows(server.db, "SELECT name FROM domains ORDER BY name") == [('hand.test',), ('prim.test',)]
    assert rows(server.db, "SELECT count(*) FROM records r LEFT JOIN domains d ON d.id = r.domain_id "
                           "WHERE d.id IS NULL") == [(0,)]
    answer = server.query(SECONDARY, 'SOA')
    assert not answer.answer, 'the purged zone is still served'
    assert server.soa_serial('hand.test.') is not None


def test_bad_input_changes_nothing(pdns, tmp_path):
    server = pdns()
    server.settings.update([('primary', 'yes'), ('secondary', 'yes')])
    server.start()
    base = {'database': server.db, 'config_dir': server.workdir}
    twice = run_adhoc('powerdns_zones', dict(base, zones=[{'name': 'a.test', 'kind': 'secondary', 'primaries': ['192.0.2.1']},
                                                          {'name': 'A.test.', 'kind': 'secondary', 'primaries': ['192.0.2.1']}]))
    assert twice.rc != 0 and 'a.test is listed twice' in twice.data['msg'], twice
    nowhere = run_adhoc('powerdns_zones', dict(base, zones=[{'name': 'b.test', 'kind': 'secondary'}]))
    assert nowhere.rc != 0 and 'secondary zone b.test has no primaries' in nowhere.data['msg'], nowhere
    nofile = run_adhoc('powerdns_zones', dict(base, zones=[{'name': 'c.test', 'kind': 'primary'}]))
    assert nofile.rc != 0 and 'c.test must be loaded but have no file' in nofile.data['msg'], nofile
    meta = run_adhoc('powerdns_zones', dict(base, zones=[{'name': 'd.test', 'kind': 'secondary', 'primaries': ['192.0.2.1'],
                                                         'metadata': {'SOA-EDIT': ['INCEPTION']}}]))
    assert meta.rc != 0 and 'only TSIG-ALLOW-AXFR' in meta.data['msg'], meta
    nodb = run_adhoc('powerdns_zones', {'database': str(tmp_path / 'none.sqlite3'), 'zones': []})
    assert nodb.rc != 0 and 'cannot be used' in nodb.data['msg'], nodb
    assert rows(server.db, 'SELECT count(*) FROM domains') == [(0,)]
    assert not os.path.exists(str(tmp_path / 'none.sqlite3-wal'))
