"""zone_files through Ansible: many zones in one task, with zone_file's serial rules, named-checkzone validation
of every changed file (all or none), check and diff modes, serial floors and bumps."""

import os
import stat
import time

from ansible_helper import run_adhoc


def today():
    return int(time.strftime('%Y%m%d', time.gmtime())) * 100


def zone(name, www='192.0.2.80', ns_address=True):
    records = [{'name': 'www', 'type': 'A', 'value': www}]
    if ns_address:
        records.append({'name': 'ns1', 'type': 'A', 'value': '192.0.2.1'})
    return {'zone': name, 'ns': ['ns1.%s' % name], 'soa': {'rname': 'hostmaster.%s' % name}, 'records': records}


CACHE = '.zonesync-zone-files.json'


def args(directory, zones, **extra):
    base = {'directory': directory, 'zones': zones, 'validate': 'named-checkzone %z %s', 'mode': '0640'}
    base.update(extra)
    return base


def names(count):
    return ['z%03d.test' % i for i in range(count)]


def test_many_zones_one_task_and_second_run_unchanged(tmp_path):
    directory = str(tmp_path)
    zones = [zone(n) for n in names(40)]
    check = run_adhoc('zone_files', args(directory, zones), check=True)
    assert check.rc == 0 and check.data['changed'], check
    assert check.data['summary'] == {'zones': 40, 'changed': 40, 'unchanged': 0}
    assert os.listdir(directory) == []
    first = run_adhoc('zone_files', args(directory, zones))
    assert first.rc == 0 and first.data['changed'] and len(first.data['changed_zones']) == 40, first
    # Beside the zone files, the digest cache of what was written (never in check mode).
    assert sorted(os.listdir(directory)) == sorted([n + '.zone' for n in names(40)] + [CACHE])
    assert all(z['serial'] == today() and z['reason'] == 'new zone file' for z in first.data['zones'])
    path = os.path.join(directory, 'z007.test.zone')
    assert 'www 3600 IN A 192.0.2.80' in open(path).read()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    again = run_adhoc('zone_files', args(directory, zones))
    assert again.rc == 0 and not again.data['changed'] and again.data['changed_zones'] == [], again
    assert again.data['summary'] == {'zones': 40, 'changed': 0, 'unchanged': 40}
    # A file edited by hand no longer matches the cache: compared in full, its change is found and undone.
    with open(os.path.join(directory, 'z011.test.zone'), 'a') as handle:
        handle.write('rogue 3600 IN A 192.0.2.66\n')
    edited = run_adhoc('zone_files', args(directory, zones, list_unchanged=False))
    assert edited.data['changed_zones'] == ['z011.test'], edited
    assert [z['zone'] for z in edited.data['zones']] == ['z011.test'] and edited.data['summary']['zones'] == 40
    assert edited.data['zones'][0]['reason'] == 'content changed'
    assert 'rogue' not in open(os.path.join(directory, 'z011.test.zone')).read()
    # One zone changes: only its file and its serial move.
    zones[7] = zone('z007.test', www='192.0.2.81')
    before = {n: os.stat(os.path.join(directory, n + '.zone')).st_mtime_ns for n in names(40)}
    third = run_adhoc('zone_files', args(directory, zones), diff=True)
    assert third.data['changed_zones'] == ['z007.test'], third
    entry = third.data['zones'][7]
    assert entry['serial'] == today() + 1 and entry['previous_serial'] == today() and entry['reason'] == 'content changed'
    assert [z['serial'] for z in third.data['zones']].count(today()) == 38
    assert '192.0.2.81' in open(path).read()
    after = {n: os.stat(os.path.join(directory, n + '.zone')).st_mtime_ns for n in names(40)}
    assert [n for n in names(40) if before[n] != after[n]] == ['z007.test']
    assert '+www 3600 IN A 192.0.2.81' in third.stdout, third.stdout[-2000:]


def test_one_invalid_zone_changes_no_file(tmp_path):
    """named-checkzone refuses a zone whose in-zone NS has no address. No file may change, the good zone's
    neither, and the message names the zone and what named-checkzone said."""
    directory = str(tmp_path)
    good = [zone('a.test'), zone('b.test')]
    first = run_adhoc('zone_files', args(directory, good))
    assert first.rc == 0, first
    texts = {n: open(os.path.join(directory, n + '.zone')).read() for n in ('a.test', 'b.test')}
    broken = [zone('a.test', www='192.0.2.99'), zone('b.test', www='192.0.2.98', ns_address=False)]
    bad = run_adhoc('zone_files', args(directory, broken))
    assert bad.rc != 0 and bad.data['msg'], bad
    assert 'no zone file was changed' in bad.data['msg'] and 'b.test' in bad.data['msg'], bad.data['msg']
    assert 'named-checkzone' in bad.data['msg'] and 'a.test:' not in bad.data['msg']
    assert {n: open(os.path.join(directory, n + '.zone')).read() for n in ('a.test', 'b.test')} == texts
    assert sorted(os.listdir(directory)) == [CACHE, 'a.test.zone', 'b.test.zone'], 'temporary files left behind'


def test_floors_bump_and_bad_input(tmp_path):
    directory = str(tmp_path)
    zones = [zone('a.test'), zone('b.test'), zone('c.test')]
    assert run_adhoc('zone_files', args(directory, zones)).rc == 0
    # a.test: a secondary serves a serial past the file's (a rebuilt primary); b.test: bump asked for.
    floor = today() + 50
    run = run_adhoc('zone_files', args(directory, zones, min_serials={'A.test.': floor}, bump=['b.test.']))
    assert run.rc == 0 and run.data['changed_zones'] == ['a.test', 'b.test'], run
    assert run.data['zones'][0]['serial'] == floor + 1 and run.data['zones'][1]['serial'] == today() + 1
    assert run.data['zones'][2]['changed'] is False
    # Unparseable content in one zone: nothing written, the zone named.
    bad = run_adhoc('zone_files', args(directory, [zone('a.test', www='192.0.2.5'),
                                                   {'zone': 'c.test', 'content': 'this is not a zone\n'}]))
    assert bad.rc != 0 and 'c.test' in bad.data['msg'] and 'no zone file was changed' in bad.data['msg'], bad
    assert '192.0.2.5' not in open(os.path.join(directory, 'a.test.zone')).read()
    both = run_adhoc('zone_files', args(directory, [dict(zone('a.test'), content='x')]))
    assert both.rc != 0 and 'both records and content' in both.data['msg'], both
    nodir = run_adhoc('zone_files', {'zones': [zone('a.test')]})
    assert nodir.rc != 0 and 'directory is not set' in nodir.data['msg'], nodir
    novalidate = run_adhoc('zone_files', args(directory, [zone('a.test', www='192.0.2.6')], validate='true'))
    assert novalidate.rc != 0 and 'must contain %s' in novalidate.data['msg'], novalidate
