"""_zonefile_batch: plan many zones with zone_file's rules; stage and validate all or none."""

import calendar
import os

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._entries import powerdns_zone_entries, zone_file_entries
from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._zonefile import desired_text
from ansible_collections.dnsops.zonesync.plugins.module_utils._zonefile_batch import discard, plan_all, stage

DAY = calendar.timegm((2024, 6, 15, 12, 0, 0))


def entry(tmp_path, name, www='192.0.2.80', **extra):
    base = {'zone': name, 'path': str(tmp_path / (name + '.zone')), 'ns': ['ns1.' + name],
            'records': [{'name': 'www', 'type': 'A', 'value': www}, {'name': 'ns1', 'type': 'A', 'value': '192.0.2.1'}]}
    base.update(extra)
    return base


def test_plan_new_then_unchanged(tmp_path):
    entries = [entry(tmp_path, 'a.test'), entry(tmp_path, 'B.test.')]
    planned = plan_all(entries, now=DAY)
    assert [p['zone'] for p in planned] == ['a.test', 'b.test']
    assert [p['plan']['serial'] for p in planned] == [2024061500, 2024061500]
    assert all(p['plan']['changed'] and p['plan']['reason'] == 'new zone file' for p in planned)
    for item in planned:
        with open(item['path'], 'w') as handle:
            handle.write(item['plan']['text'])
    again = plan_all(entries, now=DAY)
    assert [p['plan']['changed'] for p in again] == [False, False]
    entries[1] = entry(tmp_path, 'B.test.', www='192.0.2.81')
    third = plan_all(entries, now=DAY)
    assert [p['plan']['changed'] for p in third] == [False, True] and third[1]['plan']['serial'] == 2024061501


def test_plan_names_every_bad_zone_and_plans_nothing(tmp_path):
    entries = [entry(tmp_path, 'a.test'), {'zone': 'b.test', 'path': str(tmp_path / 'b'), 'content': 'junk\n'},
               entry(tmp_path, 'c.test', min_serial=2 ** 32), entry(tmp_path, 'd.test', path=str(tmp_path / 'b')),
               entry(tmp_path, 'e.test', path=str(tmp_path / 'missing' / 'e.zone'))]
    with pytest.raises(ZonesyncError) as exc:
        plan_all(entries, now=DAY)
    msg = str(exc.value)
    assert msg.startswith('4 zone(s) cannot be written, so no zone file was changed')
    assert 'b.test: ' in msg and 'c.test: min_serial 4294967296' in msg
    assert 'd.test: its path' in msg and 'also the path of b.test' in msg
    assert 'e.test: the directory' in msg and 'a.test' not in msg


def test_stage_all_or_none(tmp_path):
    planned = plan_all([entry(tmp_path, 'a.test'), entry(tmp_path, 'b.test')], now=DAY)
    staged = stage(planned, validate='true %s %z')
    assert len(staged) == 2 and all(os.path.exists(item['tmp']) for item in staged)
    discard(staged)
    assert os.listdir(str(tmp_path)) == []
    # A validator that refuses one zone (here: the one whose name is b.test) stops all of them.
    with pytest.raises(ZonesyncError) as exc:
        stage(planned, validate='test %z != b.test -o -z %s')
    assert str(exc.value).startswith('1 new zone file(s) failed validation') and 'b.test: test exited with 1' in str(exc.value)
    assert os.listdir(str(tmp_path)) == [], 'temporary files left behind'
    with pytest.raises(ZonesyncError, match='could not run'):
        stage(planned, validate='/nonexistent/checker %s')
    with pytest.raises(ZonesyncError, match='must contain %s'):
        stage(planned, validate='true')


def test_desired_text_defaults_and_unknown_soa_field():
    text = desired_text('a.test', soa={'rname': 'hm.a.test', 'refresh': None}, ttl=None, ns=['ns1.a.test'])
    assert '@ 3600 IN SOA ns1.a.test. hm.a.test. 0 3600 600 1209600 300' in text
    with pytest.raises(ZonesyncError, match='unknown field.*refesh'):
        desired_text('a.test', soa={'refesh': 1}, ns=['ns1.a.test'])
    with pytest.raises(ZonesyncError, match='ns is empty'):
        desired_text('a.test', records=[])


def test_zone_file_entries():
    zones = [{'name': 'A.test.', 'role': 'primary', 'file': None, 'records': [{'type': 'A', 'value': '192.0.2.1'}],
              'ns': ['ns1.a.test'], 'soa': {'rname': 'x'}, 'ttl': 60},
             {'name': 'b.test', 'role': 'primary', 'file': 'zones/b.test.zone'}]
    assert zone_file_entries(zones, {'B.test.': 'text'}) == [
        {'zone': 'a.test', 'records': [{'type': 'A', 'value': '192.0.2.1'}], 'ns': ['ns1.a.test'], 'soa': {'rname': 'x'},
         'ttl': 60},
        {'zone': 'b.test', 'content': 'text'}]
    with pytest.raises(ZonesyncError, match='b.test is given with file zones/b.test.zone'):
        zone_file_entries(zones)


def test_powerdns_zone_entries():
    zones = [{'name': 'P.test.', 'role': 'primary', 'transfer_acl': {'keys': ['k', 'zonesync-check']},
              'also_notify': ['192.0.2.3', '192.0.2.2'], 'upstream': None},
             {'name': 's.test', 'role': 'secondary', 'transfer_acl': {'keys': ['zonesync-check']}, 'also_notify': [],
              'upstream': {'address': '192.0.2.1', 'key': 'k'}}]
    assert powerdns_zone_entries(zones, '/var/lib/powerdns/zonesync/', ['p.test']) == [
        {'name': 'p.test', 'kind': 'primary', 'file': '/var/lib/powerdns/zonesync/p.test.zone', 'load': True,
         'metadata': {'TSIG-ALLOW-AXFR': ['k', 'zonesync-check'], 'ALSO-NOTIFY': ['192.0.2.2', '192.0.2.3'],
                      'AXFR-MASTER-TSIG': []}},
        {'name': 's.test', 'kind': 'secondary', 'primaries': ['192.0.2.1'],
         'metadata': {'TSIG-ALLOW-AXFR': ['zonesync-check'], 'ALSO-NOTIFY': [], 'AXFR-MASTER-TSIG': ['k']}}]
    with pytest.raises(ZonesyncError, match='expected host plan zones'):
        powerdns_zone_entries([{'name': 'x', 'role': 'native'}], '/d')


def test_the_digest_cache_skips_unchanged_files_and_never_hides_a_change(tmp_path, monkeypatch):
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _zonefile, _zonefile_batch
    entries = [entry(tmp_path, 'a.test'), entry(tmp_path, 'b.test'), entry(tmp_path, 'c.test')]
    planned = plan_all(entries, now=DAY)
    for item in planned:
        with open(item['path'], 'w') as handle:
            handle.write(item['plan']['text'])
    _zonefile_batch.write_cache(str(tmp_path), planned)
    cache = _zonefile_batch.read_cache(str(tmp_path))
    assert sorted(cache) == sorted(e['path'] for e in entries)
    parsed = []
    real = _zonefile.plan_zone_file
    monkeypatch.setattr(_zonefile, 'plan_zone_file', lambda zone, *a, **k: parsed.append(zone) or real(zone, *a, **k))
    # Nothing changed: nothing is parsed, and the plan is the one the full comparison gives.
    again = plan_all(entries, now=DAY, cache=cache)
    assert parsed == [] and [p['plan']['changed'] for p in again] == [False] * 3
    assert [p['plan']['serial'] for p in again] == [2024061500] * 3 and again[0]['plan']['records'] == 4
    # A file edited by hand, a new source, a serial floor ahead and a bump all take the full path.
    with open(entries[0]['path'], 'a') as handle:
        handle.write('extra 3600 IN A 192.0.2.99\n')
    entries[1] = entry(tmp_path, 'b.test', www='192.0.2.81')
    third = plan_all(entries, now=DAY, cache=cache)
    assert parsed == ['a.test', 'b.test'] and [p['plan']['changed'] for p in third] == [True, True, False]
    assert third[0]['plan']['reason'] == 'content changed'
    parsed[:] = []
    behind = plan_all([dict(entries[2], min_serial=2024061510)], now=DAY, cache=cache)
    bumped = plan_all([dict(entries[2], bump=True)], now=DAY, cache=cache)
    assert parsed == ['c.test', 'c.test'] and behind[0]['plan']['changed'] and bumped[0]['plan']['changed']
    # A cache that is missing, unreadable or of another version is no cache.
    (tmp_path / _zonefile_batch.CACHE_NAME).write_text('{"version": 0, "files": {}}')
    assert _zonefile_batch.read_cache(str(tmp_path)) == {}
    (tmp_path / _zonefile_batch.CACHE_NAME).write_text('not json')
    assert _zonefile_batch.read_cache(str(tmp_path)) == {} and _zonefile_batch.read_cache(None) == {}
