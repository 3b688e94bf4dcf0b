"""_zonefile_batch: plan many zones with zone_file's rules; stage and validate all or none."""

import calendar
import hashlib
import os

import dns.name
import dns.zone
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


RICH = """$TTL 300
@ IN SOA ns1 hostmaster ( 7 3600 600 86400 300 )
@ IN NS ns1
@ IN NS ns2.other.test.
ns1 IN A 192.0.2.1
www 60 IN AAAA 2001:db8::1
mail IN MX 10 mx.other.test.
txt IN TXT "v=spf1 -all" "two strings"
*.wild IN CNAME www
_sip._tcp IN SRV 0 5 5060 sip
"""


def test_the_digest_zone_files_records_is_the_one_zone_content_computes_from_the_file(tmp_path):
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _content
    name = 'rich.test'
    path = str(tmp_path / 'rich.test.zone')
    first = plan_all([{'zone': name, 'path': path, 'content': RICH}], now=DAY)[0]['plan']
    with open(path, 'w') as handle:
        handle.write(first['text'])
    # New file, then the same content again (unchanged, the file's serial kept), then a change.
    again = plan_all([{'zone': name, 'path': path, 'content': RICH}], now=DAY)[0]['plan']
    changed = plan_all([{'zone': name, 'path': path, 'content': RICH + 'new IN A 192.0.2.7\n'}], now=DAY)[0]['plan']
    parsed = _content.file_digest(dns.name.from_text(name), path)
    assert parsed['status'] == 'ok' and parsed['serial'] == first['serial'] == again['serial']
    assert first['digest'] == again['digest'] == parsed['digest'] and parsed['records'] == first['records'] == 9
    with open(path, 'w') as handle:
        handle.write(changed['text'])
    assert _content.file_digest(dns.name.from_text(name), path)['digest'] == changed['digest'] != first['digest']


def test_zone_content_takes_an_unchanged_files_digest_from_zone_files_record_and_parses_anything_else(
        tmp_path, monkeypatch):
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _content, _zonefile_batch
    entries = [entry(tmp_path, 'a.test'), entry(tmp_path, 'b.test')]
    planned = plan_all(entries, now=DAY)
    for item in planned:
        with open(item['path'], 'w') as handle:
            handle.write(item['plan']['text'])
    _zonefile_batch.write_cache(str(tmp_path), planned)
    zone_a, zone_b = dns.name.from_text('a.test'), dns.name.from_text('b.test')
    truth = _content.file_digest(zone_a, entries[0]['path'])   # parsed: no record given
    parses = []
    real = dns.zone.from_file
    monkeypatch.setattr(dns.zone, 'from_file', lambda *a, **k: parses.append(a[0]) or real(*a, **k))
    written = _content.WrittenFiles()
    recorded = _content.file_digest(zone_a, entries[0]['path'], written=written)
    assert parses == [] and {k: recorded[k] for k in ('status', 'serial', 'digest', 'records')} == \
        {k: truth[k] for k in ('status', 'serial', 'digest', 'records')}
    # Records wanted: parsed. A hand edit (same serial), and a file that grew an $INCLUDE: parsed, never recorded.
    assert _content.file_digest(zone_a, entries[0]['path'], collect=True, written=written)['record_lines']
    with open(entries[1]['path'], 'a') as handle:
        handle.write('rogue 3600 IN A 192.0.2.66\n')
    edited = _content.file_digest(zone_b, entries[1]['path'], written=written)
    assert edited['records'] == planned[1]['plan']['records'] + 1 and edited['digest'] != planned[1]['plan']['digest']
    included = str(tmp_path / 'inc')
    with open(included, 'w') as handle:
        handle.write('x 3600 IN A 192.0.2.5\n')
    with open(entries[0]['path'], 'a') as handle:
        handle.write('$INCLUDE %s\n' % included)
    # Even recorded with these very bytes, a file that includes another is parsed: the other may have changed.
    with open(entries[0]['path'], 'rb') as handle:
        written.entry(entries[0]['path'])['file'] = hashlib.sha256(handle.read()).hexdigest()
    with_include = _content.file_digest(zone_a, entries[0]['path'], written=written)
    assert with_include['records'] == truth['records'] + 1
    assert parses == [entries[0]['path'], entries[1]['path'], entries[0]['path']]
