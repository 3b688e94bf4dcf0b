"""soa_serial against real BIND 9 and PowerDNS servers on loopback."""

import threading
import time

import dns.name
import pytest

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SerialCheck

ZONE = 'example.test.'


def check(zones, servers=None, **kw):
    kw.setdefault('timeout', 1.0)
    kw.setdefault('retries', 1)
    return SerialCheck([dns.name.from_text(z) for z in zones], servers=servers, **kw).run()


def rows_by_server(zone_report):
    return dict((row['server'], row) for row in zone_report['servers'])


@pytest.fixture
def fleet(bind, pdns, tsig_key):
    """A BIND primary feeding a BIND and a PowerDNS secondary with TSIG, two zones."""
    key = tsig_key('transfer-key')
    primary = bind(name='primary')
    sec_bind = bind(name='sec-bind')
    sec_pdns = pdns(name='sec-pdns')
    primary.add_key(key)
    for zone, serial in ((ZONE, 2024061501), ('example2.test.', 7)):
        primary.add_primary(zone, dnslab.make_zone_text(zone, serial, count=5), allow_transfer=['key "%s"' % key.name],
                            also_notify=[(sec_bind.address, 53), (sec_pdns.address, 53)])
    primary.start()
    sec_bind.add_key(key)
    sec_pdns.add_key(key)
    for zone in (ZONE, 'example2.test.'):
        sec_bind.add_secondary(zone, [(primary.address, 53, key)])
        sec_pdns.add_secondary(zone, [(primary.address, 53)], key=key)
    sec_bind.start()
    sec_pdns.start()
    return primary, sec_bind, sec_pdns, key


def test_fleet_in_sync_with_expire(fleet):
    primary, sec_bind, sec_pdns, key = fleet
    report = check([ZONE, 'example2.test.'], [primary.address, sec_bind.address, sec_pdns.address],
                   reference=primary.address)
    assert report['converged'] is True
    assert report['summary']['checks'] == 6
    assert report['summary']['in_sync'] == 6
    zone = report['zones'][0]
    assert zone['reference_serial'] == 2024061501
    rows = rows_by_server(zone)
    assert rows[primary.address]['reference'] is True
    for row in rows.values():
        assert row['status'] == 'in_sync'
        assert row['lag'] == 0
        assert row['rtt'] is not None and row['rtt'] >= 0
    # BIND answers EDNS EXPIRE: a secondary counts down from the SOA expire (1209600 s).
    assert 1209000 < rows[sec_bind.address]['expire_remaining'] <= 1209600
    assert report['zones'][1]['reference_serial'] == 7


def test_signed_queries(fleet):
    primary, sec_bind, sec_pdns, key = fleet
    from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import load_tsig_option
    dns_key, warnings = load_tsig_option({'name': key.name, 'algorithm': key.algorithm, 'secret': key.secret})
    report = check([ZONE], [primary.address, sec_bind.address, sec_pdns.address], key=dns_key)
    assert report['converged'] is True, report
    wrong, warnings = load_tsig_option({'name': key.name, 'algorithm': key.algorithm,
                                        'secret': dnslab.make_key().secret})
    report = check([ZONE], [primary.address, sec_pdns.address], key=wrong)
    rows = rows_by_server(report['zones'][0])
    assert rows[primary.address]['status'] == 'tsig_error'
    assert 'BADSIG' in rows[primary.address]['error']
    # PowerDNS rejects the signed query with an unsigned NOTAUTH.
    assert rows[sec_pdns.address]['status'] == 'tsig_error'
    assert rows[sec_pdns.address]['rcode'] == 'NOTAUTH'


def test_behind_then_converges_by_notify_while_waiting(fleet):
    """The primary changes; with wait_timeout the check polls until NOTIFY brought both secondaries along."""
    primary, sec_bind, sec_pdns, key = fleet
    primary.set_zone_text(ZONE, dnslab.make_zone_text(ZONE, 2024061502, count=6))

    def reload_later():
        time.sleep(1.0)
        primary.reload(ZONE)

    # Before the reload, nobody is behind: one pass says converged at the old serial.
    thread = threading.Thread(target=reload_later)
    thread.start()
    try:
        time.sleep(1.5)
        report = check([ZONE], [primary.address, sec_bind.address, sec_pdns.address], reference=primary.address,
                       wait_timeout=10, poll_interval=0.2)
    finally:
        thread.join()
    assert report['converged'] is True, report
    assert report['zones'][0]['reference_serial'] == 2024061502
    assert all(row['serial'] == 2024061502 for row in report['zones'][0]['servers'])


def _primary_and_stale_copy(bind):
    """Two BIND servers with ZONE: the primary at serial 2024061505, the other 3 behind and never catching up."""
    primary = bind()
    primary.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061505))
    primary.start()
    stale = bind()
    stale.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061502))
    stale.start()
    return primary, stale


def test_behind_is_reported_with_lag(bind):
    primary, stale = _primary_and_stale_copy(bind)
    started = time.monotonic()
    report = check([ZONE], [primary.address, stale.address], reference=primary.address, wait_timeout=1.0,
                   poll_interval=0.3)
    assert time.monotonic() - started >= 0.9
    assert report['converged'] is False
    assert report['passes'] >= 2
    rows = rows_by_server(report['zones'][0])
    assert rows[stale.address]['status'] == 'behind'
    assert rows[stale.address]['lag'] == 3


def test_stall_timeout_ends_a_wait_without_progress(bind):
    """A server that never moves is found after stall_timeout, long before wait_timeout."""
    primary, stale = _primary_and_stale_copy(bind)
    started = time.monotonic()
    report = check([ZONE], [primary.address, stale.address], reference=primary.address, wait_timeout=60,
                   stall_timeout=1.0, poll_interval=0.2)
    assert time.monotonic() - started < 20
    assert report['stalled'] is True
    assert report['converged'] is False
    assert rows_by_server(report['zones'][0])[stale.address]['status'] == 'behind'


def test_stall_timeout_waits_while_zones_keep_converging(bind):
    """Zones reaching their serial one after another keep the wait going past stall_timeout."""
    zones = ['z%d.test.' % i for i in range(6)]
    primary = bind()
    stale = bind()
    for zone in zones:
        primary.add_primary(zone, dnslab.make_zone_text(zone, 10))
        stale.add_primary(zone, dnslab.make_zone_text(zone, 9))
    primary.start()
    stale.start()

    def catch_up():
        for zone in zones:
            time.sleep(0.6)
            stale.set_zone_text(zone, dnslab.make_zone_text(zone, 10))
            stale.reload(zone)

    thread = threading.Thread(target=catch_up)
    thread.start()
    try:
        report = check(zones, [primary.address, stale.address], reference=primary.address, wait_timeout=60,
                       stall_timeout=1.5, poll_interval=0.2)
    finally:
        thread.join()
    # 6 zones x 0.6 s is well past stall_timeout, yet the wait went on to the end.
    assert report['stalled'] is False
    assert report['converged'] is True, report['summary']
    assert report['elapsed'] > 1.5


def test_rfc1982_wraparound_and_not_comparable(bind):
    new = bind()
    new.add_primary(ZONE, dnslab.make_zone_text(ZONE, 5))
    new.start()
    old = bind()
    old.add_primary(ZONE, dnslab.make_zone_text(ZONE, 4294967290))
    old.start()
    far = bind()
    far.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2147483653))
    far.start()
    # Default reference: the newest serial seen, which is 5 (not 4294967290).
    report = check([ZONE], [new.address, old.address])
    zone = report['zones'][0]
    assert zone['reference_serial'] == 5
    rows = rows_by_server(zone)
    assert rows[old.address]['status'] == 'behind'
    assert rows[old.address]['lag'] == 11
    report = check([ZONE], [new.address, far.address], reference=new.address)
    rows = rows_by_server(report['zones'][0])
    assert rows[far.address]['status'] == 'not_comparable'
    assert report['zones'][0]['comparable'] is False
    # And ahead: the reference is older than the other server.
    report = check([ZONE], [old.address, new.address], reference=old.address)
    rows = rows_by_server(report['zones'][0])
    assert rows[new.address]['status'] == 'ahead'
    assert rows[new.address]['lag'] == -11


def test_failure_statuses(bind, lab_dir):
    serving = bind()
    serving.add_primary(ZONE, dnslab.make_zone_text(ZONE, 9))
    # A parent zone that delegates example.test: its answer is a referral without AA.
    serving.add_primary('test.', dnslab.make_zone_text('test.', 1, records=[('example', 'NS', 'ns.example.test.')]))
    serving.start()
    other = bind()
    other.add_primary('test.', dnslab.make_zone_text('test.', 1, records=[('example', 'NS', 'ns.example.test.')]))
    other.add_primary('unrelated.test.', dnslab.make_zone_text('unrelated.test.', 1))
    other.start()
    nobody = dnslab.allocate_address()
    dnslab.ensure_address(nobody)
    report = check([ZONE], [serving.address, other.address, nobody], timeout=0.5, retries=1)
    rows = rows_by_server(report['zones'][0])
    assert rows[serving.address]['status'] == 'in_sync'
    assert rows[other.address]['status'] == 'not_authoritative'
    assert 'AA bit' in rows[other.address]['error']
    assert rows[nobody]['status'] == 'unreachable'
    report = check(['unserved.example.'], [serving.address])
    assert report['zones'][0]['servers'][0]['status'] == 'refused'
    assert report['summary']['refused'] == 1


def test_secondary_that_never_loaded_is_servfail(bind):
    """A BIND secondary whose primary is dead holds the zone in its configuration but cannot serve it."""
    dead = dnslab.allocate_address()
    server = bind()
    server.add_secondary(ZONE, [(dead, 53)], wait=False)
    server.start()
    report = check([ZONE], [server.address], timeout=1.0, retries=1)
    row = report['zones'][0]['servers'][0]
    assert row['status'] == 'servfail', row
    assert 'expired' in row['error']
    assert report['summary']['servfail'] == 1 and report['summary']['not_authoritative'] == 0


def test_timeout_from_blackholed_client(bind):
    silent = bind()
    silent.add_primary(ZONE, dnslab.make_zone_text(ZONE, 9))
    silent.start()
    silent.options_extra.append('blackhole { %s; };' % silent.address)
    silent.write_config()
    silent.rndc('reload')
    # The client reaches a 127.53.x.y server from that same address (see dnslab), which BIND now ignores.
    started = time.monotonic()
    report = check([ZONE], [silent.address], timeout=0.4, retries=1)
    row = report['zones'][0]['servers'][0]
    assert row['status'] == 'timeout', row
    assert time.monotonic() - started >= 0.7


def test_ns_set_resolved_when_servers_omitted(bind):
    """No servers given: the NS set is looked up from a resolver the test runs, never the system's."""
    primary = bind()
    secondary = bind()
    records = [('ns1', 'A', primary.address), ('ns2', 'A', secondary.address)]
    text = dnslab.make_zone_text(ZONE, 42, ns=('ns1', 'ns2'), records=records)
    primary.add_primary(ZONE, text, allow_transfer=['any'], also_notify=[(secondary.address, 53)])
    primary.start()
    secondary.add_secondary(ZONE, [(primary.address, 53)])
    secondary.start()
    report = check([ZONE], None, resolvers=[primary.address])
    rows = report['zones'][0]['servers']
    assert sorted(r['address'] for r in rows) == sorted([primary.address, secondary.address])
    assert sorted(r['name'] for r in rows) == ['ns1.example.test.', 'ns2.example.test.']
    assert report['converged'] is True


def test_non_default_port_and_tcp(bind):
    server = bind(port=5353)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 77))
    server.start()
    for transport in ('udp', 'tcp'):
        report = check([ZONE], ['%s:5353' % server.address], transport=transport)
        row = report['zones'][0]['servers'][0]
        assert row['server'] == '%s:5353' % server.address
        assert (row['serial'], row['status'], row['transport']) == (77, 'in_sync', transport)


def test_truncated_answer_falls_back_to_tcp(bind):
    """An SOA whose MNAME and RNAME are near 255 octets does not fit a 512-byte UDP answer: TC, then TCP."""
    server = bind()
    server.options_extra.append('max-udp-size 512;')
    mname = '.'.join(['m%02d' % i + 'x' * 56 for i in range(4)]) + '.'
    rname = '.'.join(['r%02d' % i + 'y' * 56 for i in range(4)]) + '.'
    text = ('$ORIGIN example.test.\n$TTL 300\n'
            '@ IN SOA %s %s 88 3600 600 1209600 300\n@ IN NS ns1\nns1 IN A 127.53.0.1\n' % (mname, rname))
    server.add_primary(ZONE, text, wait=False)  # the harness's own readiness probe would see TC
    server.start()
    dnslab.wait_for(lambda: check([ZONE], [server.address])['zones'][0]['servers'][0]['serial'] == 88,
                    what='the long SOA to load')
    report = check([ZONE], [server.address])
    row = report['zones'][0]['servers'][0]
    assert row['serial'] == 88
    assert row['transport'] == 'tcp'


def test_many_zones_one_pass(bind):
    """Hundreds of zone x server pairs in one call, each answered and compared."""
    primary = bind()
    zones = ['z%03d.test.' % i for i in range(300)]
    for i, zone in enumerate(zones):
        primary.add_primary(zone, dnslab.make_zone_text(zone, 1000 + i), wait=False)
    primary.start()
    # named loads zones in no fixed order (seen under load: 55 of 300 not loaded when the last one was).
    for i, zone in enumerate(zones):
        primary.wait_serial(zone, 1000 + i)
    report = check(zones, [primary.address], timeout=2.0)
    assert report['summary']['checks'] == 300
    assert report['summary']['in_sync'] == 300
    assert [z['reference_serial'] for z in report['zones']] == [1000 + i for i in range(300)]
