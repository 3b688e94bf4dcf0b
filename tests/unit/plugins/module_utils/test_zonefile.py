import calendar

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._zonefile import (
    build_text, date_serial, next_serial, parse_text, plan_zone_file)

import dns.name

DAY = calendar.timegm((2024, 6, 15, 12, 0, 0))
SOA = {'mname': 'ns1.example.test', 'rname': 'hostmaster.example.test', 'refresh': 3600, 'retry': 600,
       'expire': 1209600, 'minimum': 300}
NS = ['ns1.example.test', 'ns2.example.test']


def zone_text(records):
    return build_text('example.test', SOA, 3600, NS, records)


def test_date_serial():
    assert date_serial(DAY) == 2024061500


@pytest.mark.parametrize('current, expected', [
    (None, 2024061500),           # new zone: today's first serial
    (2024061400, 2024061500),     # yesterday -> today
    (2024061500, 2024061501),     # today, counted up
    (2024061599, 2024061600),     # past 99 changes: borrow from tomorrow, never 11 digits
    (2024070100, 2024070101),     # a serial from the future is never moved back
    (4294967295, 2024061500),     # RFC 1982: today's date serial is newer than 2^32-1 (it wraps)
    (2024061499 + 2 ** 31, 2024061499 + 2 ** 31 + 1),  # date is behind under RFC 1982: count up
    (3000000000, 3000000001),     # unixtime-style serial far above YYYYMMDDNN: keep counting
])
def test_next_serial(current, expected):
    assert next_serial(current, now=DAY) == expected


def test_next_serial_when_date_is_2_31_ahead_is_plus_one():
    # 2024061500 - 2^31 is exactly 2^31 behind: not comparable, so count up instead of jumping.
    current = 2024061500 + 2 ** 31
    assert next_serial(current, now=DAY) == current + 1


def test_floor_wins_when_newer():
    assert next_serial(2024061500, now=DAY, floor=2024061590) == 2024061590
    assert next_serial(2024061500, now=DAY, floor=5) == 2024061501


def test_new_file_then_unchanged_then_changed():
    text = zone_text([{'name': 'www', 'type': 'A', 'values': ['192.0.2.10'], 'ttl': 300}])
    first = plan_zone_file('example.test', text, None, now=DAY)
    assert first['changed'] and first['serial'] == 2024061500 and first['previous_serial'] is None
    assert first['records'] == 4  # SOA, 2 NS, A
    on_disk = first['text']
    assert 'www 300 IN A 192.0.2.10' in on_disk and '2024061500' in on_disk
    again = plan_zone_file('example.test', text, on_disk, now=DAY + 86400 * 30)
    assert not again['changed'] and again['serial'] == 2024061500 and again['text'] is None
    changed = plan_zone_file('example.test', zone_text([{'name': 'www', 'type': 'A', 'values': ['192.0.2.11']}]),
                             on_disk, now=DAY)
    assert changed['changed'] and changed['serial'] == 2024061501 and changed['previous_serial'] == 2024061500
    assert '192.0.2.11' in changed['text'] and '192.0.2.10' not in changed['text']


def test_ttl_and_soa_field_changes_count_as_content():
    base = plan_zone_file('example.test', zone_text([{'name': 'www', 'type': 'A', 'values': ['192.0.2.10']}]), None, now=DAY)['text']
    ttl = plan_zone_file('example.test', zone_text([{'name': 'www', 'type': 'A', 'values': ['192.0.2.10'], 'ttl': 60}]), base, now=DAY)
    assert ttl['changed']
    soa = dict(SOA, refresh=1800)
    other = plan_zone_file('example.test', build_text('example.test', soa, 3600, NS, [{'name': 'www', 'type': 'A', 'values': ['192.0.2.10']}]),
                           base, now=DAY)
    assert other['changed'] and other['serial'] == 2024061501


def test_record_order_and_case_do_not_matter():
    a = zone_text([{'name': 'b', 'type': 'A', 'values': ['192.0.2.2']}, {'name': 'A', 'type': 'A', 'values': ['192.0.2.1']}])
    b = zone_text([{'name': 'a', 'type': 'A', 'values': ['192.0.2.1']}, {'name': 'b', 'type': 'A', 'values': ['192.0.2.2']}])
    first = plan_zone_file('example.test', a, None, now=DAY)
    assert not plan_zone_file('example.test', b, first['text'], now=DAY)['changed']


def test_user_file_serial_used_only_when_newer():
    user = ('$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n')
    plan = plan_zone_file('example.test', user, None, now=DAY)
    assert plan['serial'] == 2024061500
    user_high = user.replace(' 7 ', ' 2099010100 ')
    assert plan_zone_file('example.test', user_high, None, now=DAY)['serial'] == 2099010100


def test_unreadable_file_still_keeps_serial_monotonic():
    broken = '@ IN SOA ns1.example.test. h.example.test. 2030010105 1 1 1 1\n@ IN BOGUS x\n'
    plan = plan_zone_file('example.test', zone_text([]), broken, now=DAY)
    assert plan['changed'] and plan['previous_serial'] == 2030010105 and plan['serial'] == 2030010106
    assert 'unreadable' in plan['reason']


def test_invalid_desired_content_names_the_problem():
    with pytest.raises(ZonesyncError, match='not a valid zone file for example.test'):
        plan_zone_file('example.test', '$ORIGIN example.test.\n@ 300 IN A not-an-ip\n', None, now=DAY)


def test_written_text_parses_back_identically():
    text = zone_text([{'name': 'txt', 'type': 'TXT', 'values': ['"hello world" "two"']},
                      {'name': '@', 'type': 'MX', 'values': ['10 mail', '20 mail2.example.org.']},
                      {'name': '_sip._tcp', 'type': 'SRV', 'values': ['0 5 5060 sip']}])
    plan = plan_zone_file('example.test', text, None, now=DAY)
    back = parse_text(plan['text'], dns.name.from_text('example.test'))
    assert back.serial == plan['serial']
    assert back.digest() == parse_text(text, dns.name.from_text('example.test')).digest()


def test_min_serial_moves_a_rebuilt_primary_past_its_secondaries():
    desired = zone_text([])
    first = plan_zone_file('example.test', desired, None, now=DAY)
    written = first['text']
    # Same content, same serial as the secondaries: nothing to do.
    same = plan_zone_file('example.test', desired, written, now=DAY, min_serial=first['serial'])
    assert same['changed'] is False
    # The secondaries hold a later serial than the (rebuilt) primary: write past it, content unchanged.
    later = plan_zone_file('example.test', desired, written, now=DAY, min_serial=first['serial'] + 5)
    assert later['changed'] is True and later['serial'] == first['serial'] + 6 == 2024061506
    assert 'behind' in later['reason']
    # A new file on a rebuilt primary starts past the secondaries too.
    fresh = plan_zone_file('example.test', desired, None, now=DAY, min_serial=4000000000)
    assert fresh['serial'] == 4000000001


def test_bump_writes_the_next_serial_for_the_same_content():
    desired = zone_text([])
    first = plan_zone_file('example.test', desired, None, now=DAY)
    bumped = plan_zone_file('example.test', desired, first['text'], now=DAY, bump=True)
    assert bumped['changed'] is True and bumped['serial'] == first['serial'] + 1
    assert bumped['reason'] == 'serial bump requested'
