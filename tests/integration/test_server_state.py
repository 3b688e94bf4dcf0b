"""server_state (module_utils/_server_state.py) on real BIND and PowerDNS configurations.

It must read what the server really has: each secondary zone's primaries and key, and whether each key's
algorithm and secret are the ones expected, without ever returning a secret.
"""

import re
import subprocess

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils._server_state import (
    bind_state,
    log_findings,
    powerdns_state,
    summarize,
    zone_log_lines,
)

ZONE = 'example.test.'


def without_acl(zones):
    """The zones with their transfer_acl (a 12-character name, on every configured zone) taken out."""
    out = []
    for zone in zones:
        zone = dict(zone)
        acl = zone.pop('transfer_acl', None)
        # A BIND catalog member has no statement of its own: its ACL is the options' (not named per zone).
        wanted = zone['configured'] and not (zone.get('catalog') and 'file' not in zone and 'kind' not in zone
                                             and acl is None)
        assert bool(acl is not None and re.match(r'^[0-9a-f]{12}$', acl)) == wanted, zone
        out.append(zone)
    return out


def expect(key, **over):
    entry = {'name': key.name, 'algorithm': key.algorithm, 'secret': key.secret}
    entry.update(over)
    return entry


def test_bind_secondary_as_named_parses_it(bind, tsig_key):
    key = tsig_key('lab-transfer')
    other = tsig_key('lab-transfer')
    server = bind()
    server.add_key(key)
    server.add_secondary(ZONE, [('192.0.2.53', 53)], key=key, wait=False)
    server.write_config()
    text = subprocess.run([dnslab.NAMED_CHECKCONF, '-p', server.conf_path], capture_output=True, text=True,
                          check=True).stdout
    state = bind_state(text)
    expected = [expect(key), expect(other, name='lab-transfer'), expect(key, name='absent')]
    result = summarize(state, ['example.test', 'missing.test'], expected)
    assert without_acl(result['zones']) == [
        {'zone': 'example.test', 'configured': True, 'type': 'secondary', 'primaries': ['192.0.2.53'],
         'key': 'lab-transfer', 'file': 'secondary/example.test.db'},
        {'zone': 'missing.test', 'configured': False}]
    assert [(k['name'], k['present'], k['algorithm_matches'], k['secret_matches']) for k in result['keys']] == [
        ('lab-transfer', True, True, True), ('lab-transfer', True, True, False), ('absent', False, None, None)]
    assert key.secret not in repr(result)
    # Another algorithm under the same name is named as such.
    (wrong_algorithm,) = summarize(state, [], [expect(key, algorithm='hmac-sha512')])['keys']
    assert wrong_algorithm['algorithm'] == 'hmac-sha256' and wrong_algorithm['algorithm_matches'] is False


def test_powerdns_secondary_from_its_database(pdns, tsig_key):
    key = tsig_key('lab-transfer')
    server = pdns()
    server.add_key(key)
    server.add_secondary(ZONE, [('192.0.2.53', 53)], key=key, tsig_allow_axfr=[key], wait=False)
    state = powerdns_state(server.db)
    result = summarize(state, ['example.test'], [expect(key), expect(tsig_key('lab-transfer'))])
    assert without_acl(result['zones']) == [{'zone': 'example.test', 'configured': True, 'type': 'secondary',
                                             'primaries': ['192.0.2.53'], 'key': 'lab-transfer'}]
    assert state['zones']['example.test']['accepted_keys'] == ['lab-transfer']
    assert [k['secret_matches'] for k in result['keys']] == [True, False]


def test_journal_lines_name_the_zone_and_what_they_say():
    journal = '\n'.join([
        "2026-11-27T10:00:00+0000 ns named[1]: zone example.test/IN: refresh: failure trying primary 10.0.0.1#53 "
        "(source 10.0.0.2#0): tsig verify failure",
        "2026-11-27T10:00:01+0000 ns named[1]: zone other.test/IN: Transfer started.",
        "2026-11-27T10:00:02+0000 ns pdns_server[2]: Unable to AXFR zone 'example.test' from remote '10.0.0.1' "
        "(resolver): Remote nameserver closed TCP connection",
        # PowerDNS 4.7 (Debian 12), as seen on the lab
        "2026-11-27T10:00:03+0000 ns pdns_server[2]: Unable to retrieve SOA for example.test, this was the first "
        "time. NOTE: For every subsequent failed SOA check the domain will be suspended from freshness checks for "
        "'num-errors x 60 seconds', with a maximum of 3600 seconds. Skipping SOA checks until 1795823147",
        "2026-11-27T10:00:04+0000 ns named[1]: zone www.example.test/IN: not this zone",
        "2026-11-27T10:00:05+0000 ns pdns_server[2]: AXFR-out zone 'example.test', client '10.0.0.3', transfer initiated",
        "2026-11-27T10:00:06+0000 ns named[1]: client @0x7f 10.0.0.2#4000/key zonesync-check (example.test): transfer "
        "of 'example.test/IN': AXFR started",
    ])
    lines = zone_log_lines(journal, ['example.test', 'nothing.test'])
    assert len(lines['example.test']) == 3 and lines['nothing.test'] == []
    found = log_findings(lines['example.test'])
    assert found['tsig_error'].endswith('tsig verify failure')
    assert found['backoff_until'] == '2026-11-27 23:45:47 UTC'


CATALOG_CONF = '''key "xfr" { algorithm hmac-sha256; secret "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="; };
options {
    directory "%s";
    allow-transfer { !{ !{ 192.0.2.2; }; any; }; key "xfr"; };
    catalog-zones {
        zone "catalog.zonesync.invalid" default-primaries { 192.0.2.1 key "xfr"; }
            zone-directory "catz" in-memory no min-update-interval 5;
    };
};
zone "catalog.zonesync.invalid" { type secondary; file "cat.db"; primaries { 192.0.2.1 key "xfr"; };
    allow-query { key "xfr"; }; };
'''


def test_bind_catalog_members_are_configured_by_the_catalog_it_consumes(tmp_path):
    conf = tmp_path / 'named.conf'
    conf.write_text(CATALOG_CONF % tmp_path)
    text = subprocess.run([dnslab.NAMED_CHECKCONF, '-p', str(conf)], capture_output=True, text=True, check=True).stdout
    state = bind_state(text)
    state['server'] = 'bind'
    assert state['catalogs'] == {'catalog.zonesync.invalid': {
        'primaries': [{'address': '192.0.2.1', 'port': None, 'key': 'xfr'}], 'zone_directory': 'catz'}}
    result = summarize(state, ['catalog.zonesync.invalid', 'member.test', 'other.test'], [],
                       {'member.test': 'catalog.zonesync.invalid', 'other.test': 'elsewhere.invalid'})
    assert without_acl(result['zones']) == [
        {'zone': 'catalog.zonesync.invalid', 'configured': True, 'type': 'secondary', 'primaries': ['192.0.2.1'],
         'key': 'xfr', 'file': 'cat.db'},
        {'zone': 'member.test', 'configured': True, 'type': 'secondary', 'catalog': 'catalog.zonesync.invalid',
         'primaries': ['192.0.2.1'], 'key': 'xfr'},
        # A member of a catalog this server does not consume is not configured, and says why.
        {'zone': 'other.test', 'configured': False, 'catalog': 'elsewhere.invalid', 'catalog_consumed': False}]


def test_powerdns_catalog_consumer_and_the_members_it_made(pdns):
    import sqlite3
    server = pdns()
    db = sqlite3.connect(server.db, isolation_level=None)
    db.execute("INSERT INTO domains (name, master, type) VALUES ('catalog.zonesync.invalid', '192.0.2.1', 'CONSUMER')")
    db.execute("INSERT INTO domains (name, master, type, catalog) VALUES ('member.test', '192.0.2.1', 'SLAVE', "
               "'catalog.zonesync.invalid')")
    db.close()
    state = powerdns_state(server.db)
    state['server'] = 'powerdns'
    assert state['catalogs'] == {'catalog.zonesync.invalid': {
        'primaries': [{'address': '192.0.2.1', 'port': None, 'key': None}]}}
    members = {'member.test': 'catalog.zonesync.invalid', 'later.test': 'catalog.zonesync.invalid'}
    result = summarize(state, ['catalog.zonesync.invalid', 'member.test', 'later.test'], [], members)
    assert without_acl(result['zones']) == [
        {'zone': 'catalog.zonesync.invalid', 'configured': True, 'type': 'secondary', 'kind': 'consumer',
         'primaries': ['192.0.2.1'], 'key': None},
        {'zone': 'member.test', 'configured': True, 'type': 'secondary', 'primaries': ['192.0.2.1'], 'key': None,
         'catalog': 'catalog.zonesync.invalid'},
        # Not created yet: the server consumes the catalog but has not applied the version that lists it.
        {'zone': 'later.test', 'configured': False, 'catalog': 'catalog.zonesync.invalid', 'catalog_consumed': True}]


def test_a_bind_secondary_whose_zone_directory_is_gone_is_named_with_its_own_log(bind, tsig_key, client):
    """named keeps serving the copy it transferred; its next write fails, and only its storage says so."""
    from ansible_collections.dnsops.zonesync.plugins.module_utils._storage import server_storage
    import os
    import shutil
    key = tsig_key('lab-transfer')
    primary = bind()
    secondary = bind()
    primary.add_key(key)
    primary.add_primary(ZONE, dnslab.make_zone_text(ZONE, 7, count=3), allow_transfer=['key "%s"' % key.name])
    primary.start()
    secondary.add_key(key)
    secondary.add_secondary(ZONE, [(primary.address, 53)], key=key)
    secondary.start()
    secondary.wait_serial(ZONE, 7)
    directory = os.path.join(secondary.workdir, 'secondary')
    text = subprocess.run([dnslab.NAMED_CHECKCONF, '-p', secondary.conf_path], capture_output=True, text=True,
                          check=True).stdout
    state = bind_state(text)
    assert state['directory'] == secondary.workdir
    dnslab.wait_for(lambda: os.path.exists(os.path.join(directory, 'example.test.db')), timeout=10,
                    what='named to write the copy it transferred')
    zones = summarize(state, ['example.test'], [])['zones']
    assert server_storage('bind', state, zones, {}, None, lambda: '')['problems'] == []
    # The directory becomes a file: named serves on from memory, and fails to write the next copy.
    shutil.rmtree(directory)
    with open(directory, 'w') as handle:
        handle.write('not a directory\n')
    primary.set_zone_text(ZONE, dnslab.make_zone_text(ZONE, 8, count=4))
    primary.reload(ZONE)
    secondary.retransfer(ZONE)
    secondary.wait_serial(ZONE, 8)
    assert secondary.soa_serial(ZONE) == 8
    dnslab.wait_for(lambda: 'example.test/IN' in secondary.log() and 'dumping' in secondary.log(), timeout=10,
                    what='named to log the failed write')
    zones = summarize(state, ['example.test'], [])['zones']
    out = server_storage('bind', state, zones, {}, None, secondary.log)
    (problem,) = out['problems']
    assert problem['problem'] == 'directory_not_writable' and problem['zones'] == ['example.test']
    assert problem['detail'] == '%s is not a directory' % directory
    assert zones[0]['storage'] == 'directory_not_writable'
    # named's own words, with paths relative to its directory: the copy it could not keep.
    assert any("could not set file modification time of 'secondary/example.test.db'" in line
               for line in problem['log']), problem['log']
    assert 'dumping master file: secondary/' in problem['log'][-1], problem['log']


def test_each_zone_names_the_transfer_acl_it_really_has(bind, pdns, tsig_key):
    """Zones with the same allow-transfer share one name, as named-checkconf prints it; another ACL gets another."""
    key = tsig_key('lab-transfer')
    server = bind()
    server.add_key(key)
    acl = ['!{ !{ 192.0.2.10; 192.0.2.11; }; any; }', 'key "lab-transfer"']
    server.add_primary('a.test.', dnslab.make_zone_text('a.test.', 1), allow_transfer=acl, wait=False)
    server.add_primary('b.test.', dnslab.make_zone_text('b.test.', 1), allow_transfer=acl, wait=False)
    server.add_primary('c.test.', dnslab.make_zone_text('c.test.', 1), allow_transfer=['any'], wait=False)
    server.write_config()
    text = subprocess.run([dnslab.NAMED_CHECKCONF, '-p', server.conf_path], capture_output=True, text=True,
                          check=True).stdout
    zones = summarize(bind_state(text), ['a.test', 'b.test', 'c.test'], [])['zones']
    acls = [z['transfer_acl'] for z in zones]
    assert acls[0] == acls[1] != acls[2] and all(acls)
    server.zones['b.test.']['allow_transfer'] = ['!{ !{ 192.0.2.10; 192.0.2.12; }; any; }', 'key "lab-transfer"']
    server.write_config()
    text = subprocess.run([dnslab.NAMED_CHECKCONF, '-p', server.conf_path], capture_output=True, text=True,
                          check=True).stdout
    changed = [z['transfer_acl'] for z in summarize(bind_state(text), ['a.test', 'b.test'], [])['zones']]
    assert changed[0] == acls[0] and changed[1] != acls[0]
    # PowerDNS: the zone's ALLOW-AXFR-FROM and TSIG-ALLOW-AXFR.
    other = pdns()
    other.add_key(key)
    for zone in ('a.test.', 'b.test.', 'c.test.'):
        other.add_secondary(zone, [('192.0.2.53', 53)], key=key, tsig_allow_axfr=[key], wait=False)
    other.pdnsutil('set-meta', 'c.test.', 'ALLOW-AXFR-FROM', '0.0.0.0/0')
    zones = summarize(powerdns_state(other.db), ['a.test', 'b.test', 'c.test'], [])['zones']
    acls = [z['transfer_acl'] for z in zones]
    assert acls[0] == acls[1] != acls[2] and all(acls)
