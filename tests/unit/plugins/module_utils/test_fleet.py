"""The fleet report: every wrong row points at one root cause, and nothing reads green unless every check ran."""

import copy
import json

from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet, _fleet_text


def server(host, address, role, upstream=None, upstream_address=None, kind='bind', key='k'):
    return {'host': host, 'address': address, 'transfer_source': address, 'server': kind,
            'key': None if role == 'primary' else key, 'role': role, 'upstream': upstream,
            'upstream_address': upstream_address, 'check_key': 'zonesync-check'}


def fleet(*zones):
    out = []
    for zone in zones:
        out.append({'zone': zone, 'primary': 'p', 'key': 'k', 'servers_key': 'x', 'servers': [
            server('p', '10.0.0.1', 'primary'),
            server('s1', '10.0.0.2', 'secondary', 'p', '10.0.0.1'),
            server('s2', '10.0.0.3', 'secondary', 'p', '10.0.0.1', kind='powerdns'),
            server('t2', '10.0.0.4', 'secondary', 's1', '10.0.0.2'),
        ]})
    return out


FLEET = fleet('example.test')
ADDR = {'p': '10.0.0.1', 's1': '10.0.0.2', 's2': '10.0.0.3', 't2': '10.0.0.4'}


def soa(serials, zones=('example.test',), reference=5):
    """serials: host -> serial (None: timeout)."""
    out = []
    for zone in zones:
        servers = []
        for host, serial in serials.items():
            if serial is None:
                servers.append({'address': ADDR[host], 'serial': None, 'status': 'timeout', 'lag': None,
                                'error': 'no answer'})
                continue
            lag = (reference - serial) if reference is not None else None
            status = 'not_comparable' if reference is None else (
                'in_sync' if lag == 0 else ('behind' if lag > 0 else 'ahead'))
            servers.append({'address': ADDR[host], 'serial': serial, 'status': status, 'lag': lag})
        out.append({'zones': [{'zone': zone + '.', 'reference_serial': reference, 'servers': servers}]})
    return out


IN_SYNC = soa({'p': 5, 's1': 5, 's2': 5, 't2': 5})


def content(digests, serial=5, zones=('example.test',), files=None):
    """digests: host -> digest; files: zone -> file entry on the primary."""
    out = {}
    for host, digest in digests.items():
        entries = []
        for zone in zones:
            entry = {'zone': zone, 'status': 'ok', 'serial': serial, 'digest': digest, 'records': 10, 'detail': None}
            if host == 'p' and files and zone in files:
                entry['file'] = files[zone]
            entries.append(entry)
        out[host] = {'changed': False, 'zones': entries}
    return out


SAME = content({'p': 'aa', 's1': 'aa', 's2': 'aa', 't2': 'aa'})


def paths(statuses, zones=('example.test',), **extra):
    """statuses: host -> transfer status from its upstream."""
    out = {}
    for host, status in statuses.items():
        out[host] = {'results': [{'zones': [dict({'zone': z, 'status': status, 'serial': 5, 'digest': 'aa',
                                                  'detail': '%s detail' % status}, **extra) for z in zones]}]}
    return out


def test_in_sync_with_content_proven_is_green():
    report = _fleet.report(FLEET, IN_SYNC, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}))
    assert report['problems'] == [] and report['causes'] == []
    assert report['summary']['in_sync'] == 4 and report['summary']['content_proven'] == 4
    assert _fleet_text.verdict(report).startswith('All zones are in sync')
    assert [r['content'] for r in report['rows']] == ['read', 'match', 'match', 'match']


def test_same_serial_other_records_on_every_tier_is_one_cause_on_the_primary():
    """A hand edit without a serial bump, loaded by the primary: no secondary has it."""
    report = _fleet.report(FLEET, IN_SYNC, content=content({'p': 'new', 's1': 'old', 's2': 'old', 't2': 'old'}))
    (cause,) = report['causes']
    assert cause['kind'] == 'serial_not_incremented' and cause['servers'] == ['s1', 's2', 't2']
    assert 'the primary p serve(s) other records than s1, s2, t2 under the same serial 5' in cause['diagnosis']
    assert 'zonesync_bump_serials": ["example.test"]' in cause['remediation']
    assert [p['status'] for p in report['problems']] == ['serial_not_incremented'] * 3
    assert report['summary']['in_sync'] == 1
    assert not _fleet_text.verdict(report).startswith('All')


def test_a_copy_that_differs_from_its_own_upstream_is_named_on_that_server():
    report = _fleet.report(FLEET, IN_SYNC, content=content({'p': 'aa', 's1': 'aa', 's2': 'aa', 't2': 'zz'}))
    (cause,) = report['causes']
    # t2's upstream s1 matches the primary; t2 does not serve a copy of s1's
    assert cause['kind'] == 'copy_differs' and cause['servers'] == ['t2']
    assert 't2 serves other records for example.test than its upstream s1' in cause['diagnosis']


def test_primary_file_that_does_not_load_and_file_not_served():
    files = {'example.test': {'path': '/z/example.test.zone', 'status': 'unloadable', 'detail': 'bad A record',
                              'serial': None, 'digest': None}}
    report = _fleet.report(FLEET, IN_SYNC, content=content({'p': 'aa', 's1': 'aa', 's2': 'aa', 't2': 'aa'},
                                                           files=files))
    (cause,) = report['causes']
    assert cause['kind'] == 'zone_file_not_loaded' and cause['servers'] == ['p']
    assert 'bad A record' in cause['diagnosis']
    files = {'example.test': {'path': '/z/example.test.zone', 'status': 'ok', 'serial': 5, 'digest': 'edited'}}
    report = _fleet.report(FLEET, IN_SYNC, content=content({'p': 'aa', 's1': 'aa', 's2': 'aa', 't2': 'aa'},
                                                           files=files))
    (cause,) = report['causes']
    assert cause['kind'] == 'primary_not_serving_file'


def test_primary_serial_backwards_is_one_cause_on_the_primary():
    serials = soa({'p': 5, 's1': 7, 's2': 9, 't2': 7})
    report = _fleet.report(FLEET, serials, content=SAME)
    (cause,) = report['causes']
    assert cause['kind'] == 'primary_serial_backwards'
    assert 'it serves 5 while s1, s2, t2 hold(s) 9' in cause['diagnosis']
    assert 'serial 10 or later' in cause['remediation']
    assert 'not refreshed' not in cause['diagnosis']


def test_stopped_primary_is_one_cause_and_answering_secondaries_are_fine():
    serials = soa({'p': None, 's1': 5, 's2': 5, 't2': 5}, zones=('a.test', 'b.test'), reference=None)
    report = _fleet.report(fleet('a.test', 'b.test'), serials, content={})
    (cause,) = report['causes']
    assert cause['kind'] == 'primary_unanswered' and cause['zones'] == 2 and cause['servers'] == ['p']
    assert 'The primary p (10.0.0.1) gave no serial for a.test, b.test' in cause['diagnosis']
    assert len(report['problems']) == 2
    # Its sentence is said once, in the cause, not again in every row.
    assert _fleet_text.problems_text(report).count('gave no serial') == 1
    # How long each secondary keeps answering: the least over its zones (EDNS EXPIRE), unknown where not reported.
    assert 's1 unknown (it does not report EDNS EXPIRE' in cause['diagnosis']
    for result in serials:
        for server in result['zones'][0]['servers']:
            if server['address'] == ADDR['s1']:
                server['expire_remaining'] = 86400 * 6 + 3600 if result['zones'][0]['zone'] == 'a.test.' else 86400 * 9
            if server['address'] == ADDR['t2']:
                server['expire_remaining'] = 7200
    (cause,) = _fleet.report(fleet('a.test', 'b.test'), serials, content={})['causes']
    assert 'Time left before each stops (the least over its zones): s1 6 d 1 h; s2 unknown' in cause['diagnosis']
    assert 't2 2 h 0 min.' in cause['diagnosis']
    assert 'rndc retransfer <zone>' in cause['remediation']
    # No secondary answered either.
    serials = soa({'p': None, 's1': None, 's2': None, 't2': None}, reference=None)
    (cause,) = _fleet.report(FLEET, serials, content={})['causes']
    assert 'none of its secondaries answered' in cause['diagnosis']


def test_tier2_behind_because_its_upstream_lags_belongs_to_the_upstreams_cause():
    serials = soa({'p': 5, 's1': 4, 's2': 5, 't2': 4})
    report = _fleet.report(FLEET, serials, content=SAME,
                           paths=paths({'s1': 'tcp_unreachable', 's2': 'ok', 't2': 'ok'}))
    (cause,) = report['causes']
    assert cause['kind'] == 'tcp_unreachable' and cause['servers'] == ['s1', 't2']
    assert 'nft list table inet zonesync' in cause['remediation']
    t2 = [p for p in report['problems'] if p['host'] == 't2'][0]
    assert t2['cause'] == cause['id'] and 'upstream s1 lags too' in t2['detail']
    assert 'NOTIFY' not in cause['diagnosis']


def test_lagging_with_a_working_path_says_the_server_differs_from_the_inventory_and_site_fixes_it():
    serials = soa({'p': 5, 's1': 5, 's2': 4, 't2': 5})
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}))
    (cause,) = report['causes']
    assert cause['kind'] == 'not_refreshed' and cause['servers'] == ['s2']
    assert 'configured otherwise than the inventory' in cause['diagnosis']
    assert 'dnsops.zonesync.site' in cause['remediation'] and 'retransfer' not in cause['remediation']


def test_a_fleet_wide_acl_break_is_one_cause_per_path_listing_every_zone():
    zones = ('a.test', 'b.test', 'c.test')
    serials = sum((soa({'p': 5, 's1': 5, 's2': 5, 't2': 5}, zones=(z,)) for z in zones), [])
    report = _fleet.report(fleet(*zones), serials, content=content(dict.fromkeys(ADDR, 'aa'), zones=zones),
                           paths=paths({'s1': 'refused', 's2': 'ok', 't2': 'ok'}, zones=zones))
    (cause,) = report['causes']
    assert cause['kind'] == 'refused' and cause['zones'] == 3 and cause['servers'] == ['s1']
    assert [p['status'] for p in report['problems']] == ['transfer_failing'] * 3
    assert 'zonesync_transfer_source' in cause['remediation']


def test_bad_time_carries_the_skew():
    serials = soa({'p': 5, 's1': 4, 's2': 5, 't2': 5})
    report = _fleet.report(FLEET, serials, content=SAME,
                           paths=paths({'s1': 'tsig_bad_time', 's2': 'ok', 't2': 'ok'}, skew=-412))
    (cause,) = report['causes']
    assert cause['kind'] == 'tsig_bad_time' and 'differ by 412 s' in cause['diagnosis']


def test_a_check_that_could_not_run_is_a_problem():
    crashed = dict(SAME)
    # failed_when: false clears the failed flag; the missing result still tells
    crashed['s2'] = {'failed': False, 'failed_when_result': False, 'msg': 'No module named dns'}
    crashed['t2'] = {}   # unreachable: nothing registered
    report = _fleet.report(FLEET, IN_SYNC, content=crashed, paths={'s1': {'results': [{'failed': True,
                                                                                       'msg': 'boom'}]}})
    kinds = sorted((c['kind'], tuple(c['servers'])) for c in report['causes'])
    assert kinds == [('check_failed', ('s1',)), ('check_failed', ('s2',)), ('check_failed', ('t2',))]
    assert 'No module named dns' in ' '.join(c['diagnosis'] for c in report['causes'])
    assert not _fleet_text.verdict(report).startswith('All')
    md = _fleet_text.markdown(report)
    assert 'All zones are in sync' not in md and '3 cause(s)' in md


def test_no_check_key_means_unproven_not_green():
    missing = copy.deepcopy(FLEET)
    missing[0]['servers'][2]['check_key'] = None
    no_s2 = dict((h, v) for h, v in SAME.items() if h != 's2')
    no_s2['s2'] = {'skipped': True, 'changed': False}
    report = _fleet.report(missing, IN_SYNC, content=no_s2)
    (cause,) = report['causes']
    assert cause['kind'] == 'content_unverified' and cause['servers'] == ['s2']
    assert 'zonesync-check' not in cause['diagnosis'] and 'check key (<check_key>)' not in cause['remediation']


def test_content_not_part_of_the_check_is_said_so():
    report = _fleet.report(FLEET, IN_SYNC)
    assert report['causes'] == [] and report['summary']['content_checked'] is False
    assert 'records not compared' in _fleet_text.verdict(report)


def test_open_transfer_from_the_exposure_check():
    exposure = [{'item': [FLEET[0], FLEET[0]['servers'][1]], 'status': 'open_transfer', 'diagnosis': 'leak'}]
    report = _fleet.report(FLEET, IN_SYNC, None, exposure, content=SAME)
    (cause,) = report['causes']
    assert cause['kind'] == 'open_transfer' and cause['servers'] == ['s1']


def test_table_and_text():
    serials = soa({'p': 5, 's1': 5, 's2': 4, 't2': 5})
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'s1': 'ok', 's2': 'tcp_unreachable'}))
    lines = _fleet_text.table(report['rows'])
    assert lines[0].split() == ['zone', 'server', 'role', 'address', 'serial', 'records', 'status']
    # Problems first.
    assert lines[2].split()[-2:] == ['behind', '[C1]'] and lines[4].split()[-2:] == ['same', 'in_sync']
    assert lines[3].split()[-2:] == ['read', 'in_sync']
    text = _fleet_text.problems_text(report).splitlines()
    assert text[0].startswith('- [C1] zs') is False and text[0].startswith('- [C1] p (10.0.0.1) answers over UDP')
    assert text[1].startswith('  Fix: On p, "nft list table inet zonesync" must show 10.0.0.3')
    assert text[2] == '  * example.test on s2: behind (tcp_unreachable from p: tcp_unreachable detail)'
    assert text[3].startswith('    by hand on the server: ')
    page = _fleet_text.html_report(report)
    assert page.count('<tr class="bad">') == 1 and '<b>Fix:</b> On p' in page
    # Each row of the page: its upstream, rtt and how long it keeps the zone without a refresh, when known.
    serials[0]['zones'][0]['servers'][2].update(rtt=1.25, expire_remaining=3 * 86400 + 7200)
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'s1': 'ok', 's2': 'tcp_unreachable'}))
    page = _fleet_text.html_report(report)
    assert '<td>s2</td><td>secondary</td><td>p</td><td>10.0.0.3</td><td>4</td><td>-</td><td>1.2</td>' \
        '<td>3 d 2 h</td><td>behind [C1]</td>' in page


def test_targets_groups_and_content_zones():
    serials = soa({'p': 5, 's1': 5, 's2': 4, 't2': 5})
    assert [(t['zone'], t['host']) for t in _fleet.transfer_targets(FLEET, serials)] == [
        ('example.test', 's1'), ('example.test', 's2'), ('example.test', 't2')]
    plan = {'server': 'bind', 'transfer_source': '10.0.0.2', 'zones': [
        {'name': 'a.test', 'role': 'secondary', 'upstream': {'host': 'p', 'address': '10.0.0.1', 'key': 'k'}},
        {'name': 'b.test', 'role': 'secondary', 'upstream': {'host': 'p', 'address': '10.0.0.1', 'key': 'k'}},
        {'name': 'c.test', 'role': 'secondary', 'upstream': {'host': 'q', 'address': '10.0.0.9', 'key': None}},
        {'name': 'd.test', 'role': 'primary', 'upstream': None}]}
    assert _fleet.path_groups(plan) == [
        {'upstream': 'p', 'upstream_address': '10.0.0.1', 'source': '10.0.0.2', 'key': 'k', 'zones': ['a.test', 'b.test']},
        {'upstream': 'q', 'upstream_address': '10.0.0.9', 'source': '10.0.0.2', 'key': None, 'zones': ['c.test']}]
    assert _fleet.path_groups(plan, ['b.test']) == [
        {'upstream': 'p', 'upstream_address': '10.0.0.1', 'source': '10.0.0.2', 'key': 'k', 'zones': ['b.test']}]
    assert _fleet.content_zones(plan, {'bind': '/var/lib/bind/zonesync/'}) == [
        'a.test', 'b.test', 'c.test', {'name': 'd.test', 'file': '/var/lib/bind/zonesync/d.test.zone'}]


def test_serial_floors_take_the_newest_answered_serial():
    serials = soa({'p': 5, 's1': 9, 's2': None, 't2': 7})
    assert _fleet.serial_floors(serials) == {'example.test': 9}
    # a zone signed as it is loaded serves a serial ahead of its file by design: no floor
    assert _fleet.serial_floors(serials, skip=['Example.Test.']) == {}
    # a skipped task (no secondaries) gives no floor
    assert _fleet.serial_floors([{'skipped': True}]) == {}


def test_differences_are_listed_against_the_primary_for_the_zones_that_differ():
    report = _fleet.report(FLEET, IN_SYNC, content=content({'p': 'new', 's1': 'old', 's2': 'old', 't2': 'old'}))
    wanted = _fleet.records_to_list(report)
    assert wanted == {'s1': ['example.test'], 'p': ['example.test'], 's2': ['example.test'], 't2': ['example.test']}
    lines_p = ['a.example.test. 300 A 192.0.2.1', 'new.example.test. 300 A 192.0.2.9']
    lines_s = ['a.example.test. 300 A 192.0.2.1', 'old.example.test. 300 A 192.0.2.8']
    collected = {'p': {'zones': [{'zone': 'example.test', 'record_lines': lines_p}]},
                 's1': {'zones': [{'zone': 'example.test', 'record_lines': lines_s}]},
                 's2': {'failed': True, 'msg': 'gone'}}
    listed = _fleet.add_differences(report, collected)
    s1 = [p for p in listed['problems'] if p['host'] == 's1'][0]
    assert s1['differences'] == {'compared_with': 'p', 'missing': ['new.example.test. 300 A 192.0.2.9'],
                                 'extra': ['old.example.test. 300 A 192.0.2.8'], 'missing_count': 1, 'extra_count': 1}
    # s2's records could not be read: no differences, and the report is not changed otherwise
    assert 'differences' not in [p for p in listed['problems'] if p['host'] == 's2'][0]
    text = _fleet_text.problems_text(listed)
    assert '    - new.example.test. 300 A 192.0.2.9' in text and '    + old.example.test. 300 A 192.0.2.8' in text
    assert report['problems'][0].get('differences') is None  # the input report is left as it was


def test_a_primary_not_serving_its_file_is_compared_with_the_file():
    files = {'example.test': {'path': '/z', 'status': 'ok', 'serial': 5, 'digest': 'edited'}}
    report = _fleet.report(FLEET, IN_SYNC, content=content(dict.fromkeys(ADDR, 'aa'), files=files))
    assert _fleet.records_to_list(report) == {'p': ['example.test']}
    collected = {'p': {'zones': [{'zone': 'example.test', 'record_lines': ['x. 1 A 192.0.2.1'],
                                  'file': {'record_lines': ['x. 1 A 192.0.2.1', 'y. 1 A 192.0.2.2']}}]}}
    (problem,) = _fleet.add_differences(report, collected)['problems']
    assert problem['differences']['compared_with'] == "p's zone file"
    assert problem['differences']['missing'] == ['y. 1 A 192.0.2.2'] and problem['differences']['extra'] == []


def state(zones=None, keys=None, details=None):
    """server_state results: host -> {'zones': [...], 'keys': [...]}; defaults mirror the inventory."""
    out = {}
    for host in ADDR:
        entries = []
        for zone_entry in FLEET:
            row = [s for s in zone_entry['servers'] if s['host'] == host][0]
            entry = {'zone': zone_entry['zone'], 'configured': True, 'type': row['role'],
                     'primaries': [row['upstream_address']] if row['upstream_address'] else [],
                     'key': row['key'] if row['role'] == 'secondary' else None}
            entry.update((zones or {}).get(host, {}))
            entries.append(entry)
        host_keys = [{'name': 'k', 'present': True, 'algorithm': 'hmac-sha256', 'algorithm_matches': True,
                      'secret_matches': True}]
        if keys and host in keys:
            host_keys = [dict(host_keys[0], **keys[host])]
        out[host] = {'zones': entries, 'keys': host_keys, 'details': (details or {}).get(host, [])}
    return out


def test_a_server_that_matches_the_inventory_is_not_a_problem():
    report = _fleet.report(FLEET, IN_SYNC, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}),
                           state=state())
    assert report['causes'] == []


def test_another_secret_on_a_secondary_is_named_even_while_in_sync():
    report = _fleet.report(FLEET, IN_SYNC, content=SAME, state=state(keys={'s2': {'secret_matches': False}}))
    (cause,) = report['causes']
    assert cause['kind'] == 'config_drift' and cause['servers'] == ['s2']
    assert 's2 is configured otherwise than the inventory says: it has another secret for the key k than the ' \
           'inventory' in cause['diagnosis']
    assert 'dnsops.zonesync.site' in cause['remediation']


def test_a_wrong_upstream_and_a_missing_zone_are_named_and_lagging_rows_follow_them():
    serials = soa({'p': 5, 's1': 5, 's2': 4, 't2': 4})
    drifted = state(zones={'t2': {'primaries': ['10.0.0.3']}, 's2': {'configured': False}})
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}),
                           state=drifted)
    kinds = dict((tuple(c['servers']), c) for c in report['causes'])
    assert set(kinds) == {('s2',), ('t2',)}
    assert 'pulls example.test from 10.0.0.3, the inventory says from s1 (10.0.0.2)' in kinds[('t2',)]['diagnosis']
    assert 'does not have the zone example.test in its configuration' in kinds[('s2',)]['diagnosis']
    # Lagging because of the drift: no "not refreshed" guess next to it.
    assert all(c['kind'] == 'config_drift' for c in report['causes'])


def test_an_upstream_with_another_secret_is_named_on_the_upstream():
    serials = soa({'p': 5, 's1': 5, 's2': 5, 't2': 4})
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'t2': 'tsig_bad_signature'}),
                           state=state(keys={'s1': {'secret_matches': False}}))
    drift = [c for c in report['causes'] if c['kind'] == 'config_drift']
    assert drift and drift[0]['diagnosis'].startswith('s1 is configured otherwise')
    t2 = [p for p in report['problems'] if p['host'] == 't2'][0]
    assert t2['cause'] == drift[0]['id']


def test_the_servers_own_log_names_a_tsig_failure_and_a_backoff():
    serials = soa({'p': 5, 's1': 5, 's2': 4, 't2': 5})
    details = {'s2': [{'zone': 'example.test', 'tsig_error': 'refresh: failure: tsig verify failure',
                       'backoff_until': '2026-11-27 10:05:47 UTC', 'last': 'x', 'status': {}}]}
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}),
                           state=state(details=details))
    (cause,) = report['causes']
    assert cause['kind'] == 'server_log_tsig' and 'tsig verify failure' in cause['diagnosis']
    (problem,) = report['problems']
    assert 'backs off this zone until 2026-11-27 10:05:47 UTC' in problem['detail']


def test_a_state_check_that_failed_is_a_problem():
    broken = state()
    broken['s1'] = {'failed': True, 'msg': 'named-checkconf is not installed'}
    report = _fleet.report(FLEET, IN_SYNC, content=SAME, state=broken)
    (cause,) = report['causes']
    assert cause['kind'] == 'check_failed' and 'named-checkconf is not installed' in cause['diagnosis']


def test_a_configuration_that_does_not_parse_is_named_as_such_not_as_an_unreachable_host():
    broken = state()
    broken['s1'] = {'failed': True, 'reason': 'config_invalid', 'config': '/etc/bind/named.conf',
                    'msg': "named-checkconf -p /etc/bind/named.conf failed (exit 1): keys.conf:3: missing ';'"}
    report = _fleet.report(FLEET, IN_SYNC, content=SAME, state=broken)
    (cause,) = report['causes']
    assert cause['kind'] == 'config_invalid' and cause['servers'] == ['s1']
    assert "keys.conf:3: missing ';'" in cause['diagnosis'] and 'will not start with it' in cause['diagnosis']
    assert 'named-checkconf /etc/bind/named.conf on s1' in cause['remediation']
    assert 'reachable' not in cause['remediation'] and 'the check failed' not in cause['diagnosis']


def test_a_powerdns_backoff_shows_next_to_any_cause():
    serials = soa({'p': 5, 's1': 5, 's2': 4, 't2': 5})
    details = {'s2': [{'zone': 'example.test', 'backoff_until': '2026-11-27 10:05:47 UTC', 'status': {}}]}
    report = _fleet.report(FLEET, serials, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}),
                           state=state(keys={'s2': {'secret_matches': False}}, details=details))
    (problem,) = report['problems']
    assert problem['status'] == 'config_drift'
    assert problem['detail'].endswith('s2 backs off this zone until 2026-11-27 10:05:47 UTC')


def test_a_zone_the_soa_check_gave_nothing_for_is_a_problem_not_a_pass():
    serials = soa({'p': 5, 's1': 5, 't2': 5})   # s2 missing from the results
    report = _fleet.report(FLEET, serials, content=SAME)
    (cause,) = report['causes']
    assert cause['kind'] == 'check_failed' and cause['servers'] == ['s2']
    assert 'the SOA check gave no result for example.test on s2' in cause['diagnosis']
    nothing = _fleet.report(FLEET, [], content=SAME)
    assert [c['kind'] for c in nothing['causes']] == ['check_failed'] and nothing['summary']['problems'] == 4


def test_differences_are_listed_for_a_copy_whose_first_cause_is_another():
    """The PowerDNS secondary also has another secret: its row shows the drift, and the cause of the hand edit
    still lists its differing records."""
    report = _fleet.report(FLEET, IN_SYNC, content=content({'p': 'new', 's1': 'new', 's2': 'old', 't2': 'new'}),
                           state=state(keys={'s2': {'secret_matches': False}}))
    assert sorted(c['kind'] for c in report['causes']) == ['config_drift', 'serial_not_incremented']
    assert _fleet.records_to_list(report) == {'s2': ['example.test'], 'p': ['example.test']}
    collected = {'p': {'zones': [{'zone': 'example.test', 'record_lines': ['a. 1 A 192.0.2.1', 'b. 1 A 192.0.2.2']}]},
                 's2': {'zones': [{'zone': 'example.test', 'record_lines': ['a. 1 A 192.0.2.1']}]}}
    listed = _fleet.add_differences(report, collected)
    text = _fleet_text.problems_text(listed)
    assert '  * example.test on s2: also' in text and '    - b. 1 A 192.0.2.2' in text
    assert 'differences' not in report['causes'][1]['affects'][0]   # the input is left as it was


def _compact(results):
    from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import compact_report
    out = []
    for result in results:
        full = dict(result, summary={}, converged=False)
        for zone in full['zones']:
            zone.setdefault('converged', all(s['status'] == 'in_sync' for s in zone['servers']))
        out.append(compact_report(full))
    return out


def test_a_compact_serial_result_gives_the_same_report():
    """soa_serial compact=true lists only the servers not in sync; the report must not change."""
    for serials in ({'p': 5, 's1': 5, 's2': 5, 't2': 5}, {'p': 5, 's1': 4, 's2': 5, 't2': None}):
        full = soa(serials, zones=('example.test', 'example.net'))
        compact = _compact(copy.deepcopy(full))
        assert all(len(z['servers']) == sum(1 for v in serials.values() if v != 5)
                   for r in compact for z in r['zones'])
        zones = fleet('example.test', 'example.net')
        assert _fleet.matrix(zones, compact) == _fleet.matrix(zones, full)
        assert _fleet.report(zones, compact, content=SAME) == _fleet.report(zones, full, content=SAME)
    # Without the reference's answer every server is listed: how long each keeps the zone matters then.
    full = soa({'p': None, 's1': 5, 's2': 5, 't2': 5}, reference=5)
    full[0]['zones'][0]['servers'][0]['reference'] = True
    compact = _compact(copy.deepcopy(full))
    assert len(compact[0]['zones'][0]['servers']) == 4
    assert _fleet.report(FLEET, compact, content={}) == _fleet.report(FLEET, full, content={})
    full[0]['zones'][0]['servers'][0].update(serial=5, status='in_sync', lag=0)
    assert len(_compact(copy.deepcopy(full))[0]['zones'][0]['servers']) == 0
    # An address the compact call never asked is not in sync: it was not checked.
    partial = _compact(soa({'p': 5, 's1': 5}))
    rows = _fleet.matrix(FLEET, partial)
    assert [r['status'] for r in rows] == ['in_sync', 'in_sync', 'not_checked', 'not_checked']


def test_at_fleet_size_the_table_and_pages_list_the_problems_and_sum_up_the_rest():
    names = ['z%02d.test' % i for i in range(20)]
    zones = fleet(*names)
    serials = soa({'p': 5, 's1': 5, 's2': 5, 't2': 5}, zones=names)
    serials[7]['zones'][0]['servers'][2].update(serial=4, status='behind', lag=1)
    everything = dict((h, d) for h, d in content({'p': 'aa', 's1': 'aa', 's2': 'aa', 't2': 'aa'}, zones=names).items())
    report = _fleet.report(zones, serials, content=everything, paths=paths({'s2': 'ok'}, zones=names))
    lines = _fleet_text.table(report['rows'])
    assert len(lines) == 4 and 'z07.test' in lines[2] and 's2' in lines[2]
    assert lines[3].startswith('79 zone x server pair(s) in sync') and 'check_show_all=true' in lines[3]
    assert len(_fleet_text.table(report['rows'], show_all=True)) == 2 + 80
    page = _fleet_text.html_report(report)
    assert page.count('<tr class=') == 1 and '79 zone x server pair(s) in sync' in page
    assert _fleet_text.html_report(report, show_all=True).count('<tr class=') == 80
    md = _fleet_text.markdown(report)
    assert len([l for l in md.splitlines() if l.startswith('| z') and not l.startswith('| zone')]) == 1
    assert '79 zone x server pair(s)' in md
    # A small fleet lists every row.
    assert len(_fleet_text.table(_fleet.report(FLEET, IN_SYNC, content=SAME)['rows'])) == 6


def test_serial_floors_read_newest_only_results_like_full_ones():
    """soa_serial newest_only=true gives one serial per zone; the floors are the same as from the full rows."""
    from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import newest_report
    full = {'queries': 4, 'converged': False, 'zones': [
        {'zone': 'a.test', 'servers': [{'address': '192.0.2.1', 'serial': 5, 'status': 'in_sync'},
                                       {'address': '192.0.2.2', 'serial': 7, 'status': 'ahead'}]},
        {'zone': 'b.test', 'servers': [{'address': '192.0.2.1', 'serial': None, 'status': 'not_authoritative'}]},
        {'zone': 'c.test', 'servers': [{'address': '192.0.2.1', 'serial': 1, 'status': 'in_sync'},
                                       {'address': '192.0.2.2', 'serial': 1 + 2 ** 31, 'status': 'not_comparable'}]}]}
    small = newest_report(full)
    assert small['newest'] == {'a.test': 7} and small['incomparable'] == ['c.test'] and small['zones_asked'] == 3
    assert 'zones' not in small and small['newest_only'] is True
    assert _fleet.serial_floors([small]) == _fleet.serial_floors([full]) == {'a.test': 7}


def _as_json(registered):
    """What the modules return with as_json=true: the zones as one JSON string."""
    out = dict(registered)
    out['zones_json'] = json.dumps(out.pop('zones'))
    return out


def test_results_given_as_json_strings_read_the_same_as_lists():
    """A hand-edited secondary, another key secret on the PowerDNS host, a lagging tier 2 and a refused path: the
    same causes whether the modules returned lists or JSON strings (as_json=true)."""
    copies = content({'p': 'aa', 's1': 'aa', 's2': 'bb', 't2': 'aa'})
    tried = paths({'s1': 'ok', 's2': 'ok', 't2': 'refused'})
    configured = state(keys={'s2': {'secret_matches': False}})
    serials = soa({'p': 5, 's1': 5, 's2': 5, 't2': 4})
    lists = _fleet.report(FLEET, serials, content=copies, paths=tried, state=configured)
    strings = _fleet.report(
        FLEET, [_as_json(r) for r in serials],
        content=dict((h, _as_json(r)) for h, r in copies.items()),
        paths=dict((h, {'results': [_as_json(c) for c in r['results']]}) for h, r in tried.items()),
        state=dict((h, _as_json(r)) for h, r in configured.items()))
    assert lists['causes'] and [c['kind'] for c in strings['causes']] == [c['kind'] for c in lists['causes']]
    assert strings['problems'] == lists['problems'] and strings['summary'] == lists['summary']
    assert [r['host'] for r in _fleet.lagging(FLEET, [_as_json(r) for r in serials])] == ['t2']
    assert _fleet.result_zones({'zones_json': '[]'}) == [] and _fleet.result_zones({}) is None


def test_a_secondary_answering_servfail_is_an_unusable_copy_not_a_missing_zone():
    """SERVFAIL (an expired or unloadable copy) and NOTAUTH (no such zone there) are two causes with two fixes."""
    soa_results = soa({'p': 5, 's1': 5, 's2': 5, 't2': 5})
    rows = soa_results[0]['zones'][0]['servers']
    rows[1].update(serial=None, status='servfail', lag=None, error='the server answered SERVFAIL')
    rows[2].update(serial=None, status='not_authoritative', lag=None, error='the server answered NOTAUTH')
    report = _fleet.report(FLEET, soa_results)
    kinds = dict((cause['kind'], cause['servers']) for cause in report['causes'])
    assert kinds.get('copy_unusable') == ['s1'], report['causes']
    assert kinds.get('not_serving') == ['s2'], report['causes']
    unusable = next(c for c in report['causes'] if c['kind'] == 'copy_unusable')
    assert 'expired' in unusable['diagnosis'] and 'rndc retransfer' in unusable['remediation']
    assert not _fleet_text.verdict(report).startswith('All')


# Signed zones --------------------------------------------------------------------------------------------------

NOW = 1796000000          # 2026-11-30 ...; expirations below are relative to it
DAY = 86400


def signed(copies, serial=5, files=None):
    """copies: host -> (digest, data digest, earliest RRSIG expiration relative to NOW)."""
    out = content(dict((h, c[0]) for h, c in copies.items()), serial=serial, files=files)
    for host, registered in out.items():
        digest, data, expires = copies[host]
        for entry in registered['zones']:
            entry.update(data_digest=data, signed=True, rrsigs=12, rrsig_expires=NOW + expires,
                         rrsig_first='example.test. NSEC' if host != 'p' else 'example.test. SOA',
                         rrsig_apex_expires=NOW + expires)
    return out


def test_signed_in_sync_is_green_and_every_server_shows_its_earliest_expiry():
    copies = {'p': ('aa', 'd', 10 * DAY), 's1': ('aa', 'd', 10 * DAY), 's2': ('aa', 'd', 10 * DAY),
              't2': ('aa', 'd', 10 * DAY)}
    report = _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW)
    assert report['causes'] == []
    assert [r['rrsig_expires'] for r in report['rows']] == [NOW + 10 * DAY] * 4
    assert report['summary']['signed_zones'] == 1
    assert report['signatures']['example.test']['expires'] == NOW + 10 * DAY
    assert 'signatures until' in _fleet_text.table(report['rows'])[0]
    assert '1 signed zone(s); the earliest signature on any server expires' in _fleet_text.markdown(report)


def test_same_serial_same_records_other_signatures_is_its_own_cause_and_the_earliest_is_kept():
    """The primary signed again without a new serial: the secondaries keep the old signatures."""
    copies = {'p': ('new', 'd', 20 * DAY), 's1': ('old', 'd', 9 * DAY), 's2': ('old', 'd', 9 * DAY),
              't2': ('old', 'd', 9 * DAY)}
    report = _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW)
    (cause,) = report['causes']
    assert cause['kind'] == 'signatures_differ' and cause['servers'] == ['s1', 's2', 't2']
    assert 'signed again without a new serial' in cause['diagnosis']
    assert 'dnssec-signzone -N increment' in cause['remediation']
    assert [p['status'] for p in report['problems']] == ['signatures_differ'] * 3
    assert 'its earliest signature expires %s' % _fleet.utc_text(NOW + 9 * DAY) in report['problems'][0]['detail']
    # The fleet's earliest, never the latest (the primary's).
    assert report['signatures']['example.test']['host'] == 's1'
    assert report['signatures']['example.test']['expires'] == NOW + 9 * DAY
    # Other records as well: the serial was not incremented, whatever the signatures say.
    copies['s1'] = ('old', 'other-data', 9 * DAY)
    report = _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW)
    kinds = dict((p['host'], p['status']) for p in report['problems'])
    assert kinds == {'s1': 'serial_not_incremented', 's2': 'signatures_differ', 't2': 'signatures_differ'}


def test_signatures_about_to_expire_are_named_for_the_signer_or_for_the_old_copy():
    # Everyone serves the primary's copy, which expires in a day: the signer stalled.
    copies = dict((h, ('aa', 'd', DAY)) for h in ('p', 's1', 's2', 't2'))
    report = _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW)
    (cause,) = report['causes']
    assert cause['kind'] == 'signatures_expiring' and cause['servers'] == ['p', 's1', 's2', 't2']
    assert 'on the primary p expire at %s (1 d 0 h from now' % _fleet.utc_text(NOW + DAY) in cause['diagnosis']
    assert 'rndc dnssec -status' in cause['remediation']
    # Past expiry: expired.
    copies = dict((h, ('aa', 'd', -2 * 3600)) for h in ('p', 's1', 's2', 't2'))
    (cause,) = _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW)['causes']
    assert cause['kind'] == 'signatures_expired' and '2 h 0 min ago' in cause['diagnosis']
    # A larger threshold names what the default lets pass; 0 names only what expired.
    copies = dict((h, ('aa', 'd', 5 * DAY)) for h in ('p', 's1', 's2', 't2'))
    assert _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW)['causes'] == []
    assert _fleet.report(FLEET, IN_SYNC, content=signed(copies), now=NOW, rrsig_warn=7 * DAY)['causes'][0]['kind'] \
        == 'signatures_expiring'
    # s2 lags behind with an old copy that expires soon, the primary's is fresh: s2's copy is named, next to why
    # it lags.
    copies = {'p': ('new', 'd2', 20 * DAY), 's1': ('new', 'd2', 20 * DAY), 's2': ('old', 'd1', DAY / 2),
              't2': ('new', 'd2', 20 * DAY)}
    serials = soa({'p': 6, 's1': 6, 's2': 5, 't2': 6}, reference=6)
    content_ = signed(copies, serial=6)
    content_['s2']['zones'][0]['serial'] = 5
    report = _fleet.report(FLEET, serials, content=content_, paths=paths({'s2': 'refused'}), now=NOW)
    kinds = sorted(c['kind'] for c in report['causes'])
    assert kinds == ['refused', 'signatures_expiring_copy']
    copy_cause = [c for c in report['causes'] if c['kind'] == 'signatures_expiring_copy'][0]
    assert copy_cause['servers'] == ['s2']
    assert 'The copy of example.test on s2 (10.0.0.3) carries signatures that expire' in copy_cause['diagnosis']
    assert 'pdns_control retrieve' in copy_cause['remediation']


def test_a_signed_primary_is_compared_with_its_unsigned_file_by_data():
    """BIND's inline signing serves the file's records with signatures, under its own serial."""
    copies = dict((h, ('signed', 'd', 10 * DAY)) for h in ('p', 's1', 's2', 't2'))
    files = {'example.test': {'path': '/z/example.test.zone', 'status': 'ok', 'serial': 3, 'digest': 'unsigned',
                              'data_digest': 'd', 'signed': False}}
    report = _fleet.report(FLEET, IN_SYNC, content=signed(copies, files=files), now=NOW)
    assert report['causes'] == []
    files['example.test']['data_digest'] = 'edited'
    (cause,) = _fleet.report(FLEET, IN_SYNC, content=signed(copies, files=files), now=NOW)['causes']
    assert cause['kind'] == 'primary_not_serving_file'
    # A file signed before it is loaded is compared whole.
    files['example.test'].update(data_digest='d', signed=True)
    (cause,) = _fleet.report(FLEET, IN_SYNC, content=signed(copies, files=files), now=NOW)['causes']
    assert cause['kind'] == 'primary_not_serving_file'


def test_the_differences_of_a_signed_copy_and_its_file_leave_the_signer_out():
    report = {'rows': [{'zone': 'example.test', 'host': 'p', 'role': 'primary', 'upstream': None}],
              'problems': [], 'causes': [{'id': 'C1', 'kind': 'primary_not_serving_file',
                                          'affects': [{'zone': 'example.test', 'host': 'p'}]}]}
    served = ['example.test. 300 SOA ns. h. 9 1 1 1 1', 'example.test. 300 RRSIG SOA 13 2 300 ...',
              'example.test. 300 NSEC www.example.test. SOA', 'www.example.test. 300 A 192.0.2.2']
    file_ = ['example.test. 300 SOA ns. h. 3 1 1 1 1', 'www.example.test. 300 A 192.0.2.1']
    collected = {'p': {'zones': [{'zone': 'example.test', 'record_lines': served, 'file': {'record_lines': file_}}]}}
    out = _fleet.add_differences(report, collected)
    diff = out['causes'][0]['affects'][0]['differences']
    assert diff['missing'] == ['www.example.test. 300 A 192.0.2.1']
    assert diff['extra'] == ['www.example.test. 300 A 192.0.2.2']


# A secondary that cannot write its copies --------------------------------------------------------------------

def test_a_secondary_that_cannot_write_its_copies_is_named_even_while_in_sync():
    detail = ('/var/lib/bind/zonesync-secondary is drwxr-xr-x 0:0: the server (uid 104) writes there as others, '
              'which may not create files')
    log = ('2026-11-28T10:00:00 ns1 named[9]: zone example.test/IN: dumping master file: '
           '/var/lib/bind/zonesync-secondary/tmp-x: open: permission denied')
    problem = {'problem': 'directory_not_writable', 'directory': '/var/lib/bind/zonesync-secondary',
               'detail': detail, 'zones': ['example.test'], 'log': [log]}
    states = state({'s1': {'storage': 'directory_not_writable', 'storage_detail': problem['detail']}})
    states['s1']['storage'] = {'process_uid': 104, 'problems': [problem]}
    report = _fleet.report(FLEET, IN_SYNC, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}),
                           state=states)
    (cause,) = report['causes']
    assert cause['kind'] == 'cannot_write_copy' and cause['servers'] == ['s1']
    assert 'serves example.test but cannot write its copies' in cause['diagnosis']
    assert 'permission denied' in cause['diagnosis']
    assert 'chown bind:bind /var/lib/bind/zonesync-secondary' in cause['remediation']
    assert not _fleet_text.verdict(report).startswith('All')
    # A missing file alone: named while in sync, left to the transfer's cause while lagging.
    missing = dict(problem, problem='file_missing', log=[])
    states['s1']['storage'] = {'process_uid': 104, 'problems': [missing]}
    (cause,) = _fleet.report(FLEET, IN_SYNC, content=SAME, paths=paths({'s1': 'ok', 's2': 'ok', 't2': 'ok'}),
                             state=states)['causes']
    assert cause['kind'] == 'copy_not_saved' and 'nothing about it in its recent journal' in cause['diagnosis']
    lagging = soa({'p': 6, 's1': 5, 's2': 6, 't2': 6}, reference=6)
    report = _fleet.report(FLEET, lagging, paths=paths({'s1': 'refused'}), state=states)
    assert [c['kind'] for c in report['causes']] == ['refused']


def test_a_zone_whose_transfer_acl_differs_from_its_peers_is_named():
    """The exposure check tries one zone per server and key; a hand-edited ACL on another zone shows here."""
    zones = fleet('a.test', 'b.test', 'c.test')
    serials = soa({'p': 5, 's1': 5, 's2': 5, 't2': 5}, zones=('a.test', 'b.test', 'c.test'))

    def states(acls):
        out = {}
        for host in ADDR:
            out[host] = {'zones': [], 'keys': [{'name': 'k', 'present': True, 'algorithm': 'hmac-sha256',
                                                'algorithm_matches': True, 'secret_matches': True}], 'details': []}
            for zone in zones:
                row = [s for s in zone['servers'] if s['host'] == host][0]
                out[host]['zones'].append({
                    'zone': zone['zone'], 'configured': True, 'type': row['role'],
                    'primaries': [row['upstream_address']] if row['upstream_address'] else [],
                    'key': row['key'], 'transfer_acl': acls.get((host, zone['zone']), 'acl-' + host)})
        return out
    same = _fleet.report(zones, serials, state=states({}))
    assert same['causes'] == []
    edited = _fleet.report(zones, serials, state=states({('p', 'b.test'): 'opened'}))
    (cause,) = edited['causes']
    assert cause['kind'] == 'config_drift' and cause['servers'] == ['p'] and cause['zones'] == 1
    assert 'allows transfers of b.test otherwise than of a.test, which has the same peers and key' in cause['diagnosis']
    # A secondary no one pulls from has the same (empty) peers for every zone: the same holds there.
    assert _fleet.report(zones, serials, state=states({('s2', 'c.test'): 'other'}))['causes'][0]['servers'] == ['s2']
    # A zone alone with its peers has nothing to be compared with.
    assert _fleet.report(fleet('a.test'), soa({'p': 5, 's1': 5, 's2': 5, 't2': 5}, zones=('a.test',)),
                         state=states({('p', 'a.test'): 'alone'}))['causes'] == []
    # Zones with other peers may have other ACLs.
    other_peers = fleet('a.test', 'b.test')
    other_peers[1]['servers'] = [s for s in other_peers[1]['servers'] if s['host'] != 's2']
    serials = soa({'p': 5, 's1': 5, 's2': 5, 't2': 5}, zones=('a.test', 'b.test'))
    assert _fleet.report(other_peers, serials, state=states({('p', 'b.test'): 'fewer-peers'}))['causes'] == []
