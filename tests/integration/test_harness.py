"""Self-tests for the dnslab harness: real BIND 9 and PowerDNS servers on 127.53.X.Y."""

import http.client
import ipaddress
import subprocess
import time

import dns.exception
import dns.flags
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.xfr
import dns.zone
import pytest

import dnslab

ZONE = 'example.test.'


def zone_text(serial, **kw):
    return dnslab.make_zone_text(ZONE, serial, **kw)


def names(zone_obj):
    return sorted(str(name) for name in zone_obj.nodes)


# --------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------

def test_allocate_address_is_unique_and_in_range():
    seen = set()
    for _attempt in range(300):
        address = dnslab.allocate_address()
        assert address not in seen
        seen.add(address)
        ip = ipaddress.ip_address(address)
        assert ip in ipaddress.ip_network('127.53.0.0/16')
        third, fourth = (int(part) for part in address.split('.')[2:])
        assert third >= 1 and fourth not in (0, 255)


def test_make_zone_text_is_valid(tmp_path):
    text = dnslab.make_zone_text('example.test', 2024061501, records=[('www', 'A', '192.0.2.1'),
                                                                      ('mail', 3600, 'MX', '10 mx')],
                                 ns=('ns1', 'ns2', 'ns.other.test.'), count=300, soa_refresh=5, soa_retry=2,
                                 soa_expire=30)
    zone_obj = dns.zone.from_text(text, relativize=False)
    soa = zone_obj.get_rdataset(ZONE, 'SOA')[0]
    assert (soa.serial, soa.refresh, soa.retry, soa.expire) == (2024061501, 5, 2, 30)
    assert len(zone_obj.get_rdataset(ZONE, 'NS')) == 3
    assert zone_obj.get_rdataset('ns2.' + ZONE, 'A')[0].address.startswith('127.53.0.')
    assert zone_obj.get_rdataset('host299.' + ZONE, 'A')[0].address == '10.0.1.43'
    assert zone_obj.get_rdataset('mail.' + ZONE, 'MX').ttl == 3600
    path = tmp_path / 'z.db'
    path.write_text(text)
    proc = subprocess.run([dnslab.NAMED_CHECKZONE, 'example.test', str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_offsets_and_wrapper_translation():
    assert dnslab.parse_offset('+600s') == 600
    assert dnslab.parse_offset('-10m') == -600
    assert dnslab.parse_offset('+1.5h') == 5400
    wrapper = dnslab.translate_wrapper(['ip', 'netns', 'exec', 'x', 'faketime', '-f', '+600s'])
    assert wrapper[:4] == ['ip', 'netns', 'exec', 'x']
    assert 'DNSLAB_CLOCK_OFFSET_NS=600000000000' in wrapper
    out = subprocess.run(dnslab.clock_offset_wrapper(-86400) + ['date', '+%s'], capture_output=True, text=True,
                         check=False)
    assert abs(int(out.stdout) - (time.time() - 86400)) < 5


# --------------------------------------------------------------------------
# Transfers between real servers
# --------------------------------------------------------------------------

def test_bind_primary_to_bind_secondary_with_tsig(bind, tsig_key):
    key = tsig_key('k1')
    primary, secondary = bind(), bind()
    primary.add_key(key)
    primary.add_primary(ZONE, zone_text(1, count=20), allow_transfer=['key "k1"'],
                        also_notify=[(secondary.address, secondary.port)])
    secondary.add_secondary(ZONE, [(primary.address, primary.port)], key=key)
    primary.start()
    secondary.start()

    assert secondary.soa_serial(ZONE) == 1
    assert 'host19.example.test.' in names(primary.axfr(ZONE, key=key))
    assert "transferred serial 1: TSIG 'k1'" in secondary.log()
    # transfers came from the secondary's own address (transfer-source pinned)
    assert 'client @' in primary.log() and ' %s#' % secondary.address in primary.log()

    primary.set_zone_text(ZONE, zone_text(2, count=21))
    primary.reload(ZONE)
    secondary.wait_serial(ZONE, 2, timeout=10)      # NOTIFY, not the 3600 s refresh
    resp = secondary.query('host20.' + ZONE, 'A')
    assert resp.flags & dns.flags.AA and resp.answer
    assert 'received notify for zone' in secondary.log()


def test_bind_primary_to_pdns_secondary_with_tsig(bind, pdns, tsig_key):
    key = tsig_key('k1')
    primary, secondary = bind(), pdns()
    primary.add_key(key)
    primary.add_primary(ZONE, zone_text(10, count=5), allow_transfer=['key "k1"'],
                        also_notify=[(secondary.address, secondary.port)])
    secondary.add_secondary(ZONE, [(primary.address, primary.port)], key=key)
    primary.start()
    secondary.start()

    assert secondary.soa_serial(ZONE) == 10
    assert "AXFR started: TSIG k1" in primary.log()
    primary.set_zone_text(ZONE, zone_text(11, count=6))
    primary.reload(ZONE)
    secondary.wait_serial(ZONE, 11, timeout=10)
    assert secondary.query('host5.' + ZONE, 'A').answer
    assert 'Received NOTIFY for example.test' in secondary.log()


def test_pdns_primary_to_bind_secondary_with_tsig(bind, pdns, tsig_key):
    key = tsig_key('k1')
    primary, secondary = pdns(), bind()
    primary.add_key(key)
    primary.add_primary(ZONE, zone_text(100, count=5), tsig_allow_axfr=['k1'],
                        also_notify=[(secondary.address, secondary.port)])
    secondary.add_key(key)
    secondary.add_secondary(ZONE, [(primary.address, primary.port)], key=key)
    primary.start()
    secondary.start()

    assert secondary.soa_serial(ZONE) == 100
    assert "transferred serial 100: TSIG 'k1'" in secondary.log()
    primary.set_zone_text(ZONE, zone_text(101, count=7))
    primary.reload(ZONE)
    secondary.wait_serial(ZONE, 101, timeout=10)
    assert secondary.query('host6.' + ZONE, 'A').answer
    assert 'received notify for zone' in secondary.log()


def test_pdns_primary_to_pdns_secondary_with_tsig(pdns, tsig_key):
    key = tsig_key('k1')
    primary, secondary = pdns(), pdns()
    primary.add_primary(ZONE, zone_text(7), tsig_allow_axfr=[key], also_notify=[(secondary.address, 53)])
    secondary.add_secondary(ZONE, [(primary.address, primary.port)], key=key)
    primary.start()
    secondary.start()
    assert secondary.soa_serial(ZONE) == 7


def test_chain_bind_to_pdns_to_bind_follows_notify(bind, pdns, tsig_key):
    """primary (BIND) -> middle (PowerDNS, re-notifies) -> tier 2 (BIND), all with TSIG."""
    key = tsig_key('k1')
    primary, middle, tier2 = bind(), pdns(), bind()
    primary.add_primary(ZONE, zone_text(1), allow_transfer=['key "k1"'], also_notify=[(middle.address, 53)])
    primary.add_key(key)
    middle.add_secondary(ZONE, [(primary.address, 53)], key=key, tsig_allow_axfr=[key],
                         also_notify=[(tier2.address, 53)])
    tier2.add_secondary(ZONE, [(middle.address, 53)], key=key)
    for server in (primary, middle, tier2):
        server.start()
    assert tier2.soa_serial(ZONE) == 1
    primary.set_zone_text(ZONE, zone_text(2))
    primary.reload(ZONE)
    tier2.wait_serial(ZONE, 2, timeout=15)
    assert 'received notify for zone' in tier2.log()


# --------------------------------------------------------------------------
# Access control
# --------------------------------------------------------------------------

def test_bind_axfr_needs_the_key(bind, tsig_key):
    key = tsig_key('k1')
    server = bind()
    server.add_key(key)
    server.add_primary(ZONE, zone_text(1), allow_transfer=['key "k1"'])
    server.start()
    assert len(names(server.axfr(ZONE, key=key))) > 1
    with pytest.raises(dns.xfr.TransferError) as err:
        server.axfr(ZONE)
    assert err.value.rcode == dns.rcode.REFUSED
    with pytest.raises(dns.tsig.PeerBadKey):
        server.axfr(ZONE, key=tsig_key('unknown'))
    with pytest.raises(dns.tsig.PeerBadSignature):
        server.axfr(ZONE, key=tsig_key('k1'))           # same name, other secret
    assert "zone transfer 'example.test/AXFR/IN' denied" in server.log()


def test_pdns_axfr_needs_the_key(pdns, tsig_key):
    """PowerDNS answers every refused AXFR with a plain unsigned NOTAUTH (no TSIG error)."""
    key = tsig_key('k1')
    server = pdns()
    server.add_primary(ZONE, zone_text(1), tsig_allow_axfr=[key])
    server.start()
    assert len(names(server.axfr(ZONE, key=key))) > 1
    for bad in (None, tsig_key('unknown'), tsig_key('k1')):
        with pytest.raises(dns.xfr.TransferError) as err:
            server.axfr(ZONE, key=bad)
        assert err.value.rcode == dns.rcode.NOTAUTH
    assert 'denied: client IP has no permission' in server.log()


def test_pdns_default_allows_no_unsigned_axfr_but_can_be_opened(pdns):
    server = pdns(allow_axfr_ips=['127.53.250.0/24'])
    server.add_primary(ZONE, zone_text(3))
    other = pdns()
    other.add_primary(ZONE, zone_text(3), allow_axfr_ips=['127.53.251.1/32'])
    server.start()
    other.start()
    assert server.axfr(ZONE, source='127.53.250.9')
    with pytest.raises(dns.xfr.TransferError):
        server.axfr(ZONE, source='127.53.249.9')
    assert other.axfr(ZONE, source='127.53.251.1')     # ALLOW-AXFR-FROM metadata
    with pytest.raises(dns.xfr.TransferError):
        other.axfr(ZONE, source='127.53.251.2')


def test_bind_acl_requires_ip_and_key(bind, tsig_key):
    key = tsig_key('k1')
    server = bind()
    server.add_key(key)
    server.add_primary(ZONE, zone_text(1), allow_transfer=[dnslab.acl_ip_and_key('127.53.250.2', key)])
    server.start()
    assert server.axfr(ZONE, key=key, source='127.53.250.2')
    with pytest.raises(dns.xfr.TransferError):
        server.axfr(ZONE, source='127.53.250.2')           # right IP, no key
    with pytest.raises(dns.xfr.TransferError):
        server.axfr(ZONE, key=key, source='127.53.250.3')  # key, wrong IP


# --------------------------------------------------------------------------
# Behaviour the modules will meet (documented here so surprises stay visible)
# --------------------------------------------------------------------------

def test_server_answers_worth_knowing(bind, pdns, tsig_key):
    key, unknown = tsig_key('k1'), tsig_key('unknown')
    b, p = bind(), pdns()
    b.add_key(key)
    b.add_primary(ZONE, zone_text(1), allow_transfer=['key "k1"'])
    p.add_key(key)
    p.add_primary(ZONE, zone_text(1), tsig_allow_axfr=['k1'])
    b.start()
    p.start()

    # AXFR of a zone the server does not have: NOTAUTH from both.
    for server in (b, p):
        with pytest.raises(dns.xfr.TransferError) as err:
            server.axfr('nope.test', key=key)
        assert err.value.rcode == dns.rcode.NOTAUTH
        # plain SOA for an unknown zone: REFUSED (unsigned query -> unsigned answer)
        assert server.query('nope.test', 'SOA').rcode() == dns.rcode.REFUSED

    # TSIG-signed plain SOA query: both sign their answer.
    for server in (b, p):
        resp = server.query(ZONE, 'SOA', key=key)
        assert resp.had_tsig and resp.flags & dns.flags.AA

    # Unknown key on a plain query: BIND says BADKEY (a TSIG error dnspython raises),
    # PowerDNS sends NOTAUTH without any TSIG record, which dnspython reports as FormError.
    with pytest.raises(dns.tsig.PeerBadKey):
        b.query(ZONE, 'SOA', key=unknown)
    with pytest.raises(dns.exception.FormError):
        p.query(ZONE, 'SOA', key=unknown)

    # IXFR over UDP is refused by both (PowerDNS even sets AA on the REFUSED).
    assert b.query(ZONE, 'IXFR').rcode() == dns.rcode.REFUSED
    assert p.query(ZONE, 'IXFR').rcode() == dns.rcode.REFUSED


# --------------------------------------------------------------------------
# Namespaces, firewalls and clocks
# --------------------------------------------------------------------------

def test_netns_with_tcp53_dropped(bind, netns):
    space = netns()
    server = bind(netns=space)
    server.add_primary(ZONE, zone_text(42))
    server.start()                          # readiness probes run inside the namespace
    assert server.soa_serial(ZONE) == 42
    space.nft(dnslab.nft_drop('tcp', 53))

    udp = space.run(dnslab.dig_cmd(server.address, ZONE, 'SOA', extra=['+short']))
    assert udp.returncode == 0 and ' 42 ' in udp.stdout
    started = time.monotonic()
    tcp = space.run(dnslab.dig_cmd(server.address, ZONE, 'SOA', tcp=True, timeout=1, extra=['+short']))
    assert tcp.returncode != 0 and 'timed out' in tcp.stdout
    assert time.monotonic() - started >= 0.9

    with pytest.raises(dns.exception.Timeout):
        server.query(ZONE, 'SOA', tcp=True, timeout=0.5)
    # the host does not see the namespace's server at all
    host = subprocess.run(dnslab.dig_cmd(server.address, ZONE, extra=['+short']), capture_output=True, text=True,
                          check=False)
    assert ' 42 ' not in host.stdout
    assert server.rndc('status')                     # rndc runs inside the namespace too


def test_pdns_in_netns_via_wrapper(pdns, netns):
    space = netns()
    server = pdns(wrapper=space.wrapper)
    server.add_primary(ZONE, zone_text(5))
    server.start()
    assert server.netns == space.name
    assert server.soa_serial(ZONE) == 5


def test_named_under_faketime(bind, tsig_key):
    key = tsig_key('k1')
    server = bind(wrapper=['faketime', '-f', '+600s'])
    server.add_key(key)
    server.add_primary(ZONE, zone_text(9), allow_transfer=['key "k1"'])
    server.start()
    assert server.soa_serial(ZONE) == 9
    # the clock really is 600 s ahead: outside the 300 s fudge, so BADTIME
    with pytest.raises(dns.tsig.PeerBadTime):
        server.query(ZONE, 'SOA', key=key)
    assert 'BADTIME' in server.log()
    assert 'boot time' in server.rndc('status')      # rndc shares the shifted clock


def test_pdns_under_faketime(pdns, tsig_key):
    key = tsig_key('k1')
    server = pdns(wrapper=['faketime', '-f', '-600s'])
    server.add_primary(ZONE, zone_text(9), tsig_allow_axfr=[key])
    server.start()
    assert server.soa_serial(ZONE) == 9
    with pytest.raises(dns.exception.FormError):     # unsigned NOTAUTH, no BADTIME record
        server.query(ZONE, 'SOA', key=key)
    assert 'Invalid TSIG time delta 600' in server.log()


# --------------------------------------------------------------------------
# Fake servers
# --------------------------------------------------------------------------

def test_cut_xfr_server():
    address = dnslab.allocate_address()
    with dnslab.CutXfrServer(address, 53, zone=ZONE, serial=77, records=10) as fake:
        assert dnslab.soa_serial(address, ZONE) == 77
        assert dnslab.query(address, ZONE, 'SOA', tcp=True).answer
        with pytest.raises(EOFError):
            dnslab.axfr(address, ZONE, timeout=2)
        assert (ZONE, 'AXFR', True) in fake.queries


def test_cut_xfr_server_stall():
    address = dnslab.allocate_address()
    with dnslab.CutXfrServer(address, 53, zone=ZONE, mode='stall'):
        started = time.monotonic()
        with pytest.raises(dns.exception.Timeout):
            dnslab.axfr(address, ZONE, timeout=0.5)
        assert time.monotonic() - started < 5


def test_http_server_is_not_dns():
    address = dnslab.allocate_address()
    with dnslab.HttpServer(address, 8053) as web:
        conn = http.client.HTTPConnection(address, 8053, timeout=2)
        conn.request('GET', '/x')
        assert conn.getresponse().status == 200
        conn.close()
        assert web.requests == ['/x']
        with pytest.raises((dns.exception.DNSException, EOFError, OSError)):
            dnslab.query(address, ZONE, 'SOA', port=8053, tcp=True, timeout=1)


# --------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------

def test_bad_configuration_is_reported(bind, pdns):
    server = bind()
    server.options_extra.append('dnssec-enable yes;')      # removed in 9.18
    with pytest.raises(dnslab.LabError, match='named-checkconf'):
        server.start()
    other = pdns()
    other.settings['no-such-setting'] = 'x'
    with pytest.raises(dnslab.LabError, match='config=check'):
        other.start()


def test_unloadable_zone_fails_fast_with_log(bind):
    server = bind()
    server.add_primary(ZONE, '$ORIGIN example.test.\n@ 300 IN NS ns1\n')   # no SOA
    started = time.monotonic()
    with pytest.raises(dnslab.LabError, match='could not load primary zone') as err:
        server.start(timeout=10)
    assert time.monotonic() - started < 3            # fails fast, not at the timeout
    assert 'has 0 SOA records' in str(err.value)
    assert not server.running

    server.add_primary(ZONE, '$ORIGIN example.test.\n@ 300 IN NS ns1\n', wait=False)
    server.start()                                   # wait=False: the broken zone is expected
    assert server.query(ZONE, 'SOA').rcode() == dns.rcode.SERVFAIL


def test_secondary_that_cannot_transfer_times_out(bind, tsig_key):
    primary, secondary = bind(), bind()
    primary.add_primary(ZONE, zone_text(1))            # allow-transfer none
    secondary.add_secondary(ZONE, [(primary.address, 53)])
    primary.start()
    with pytest.raises(dnslab.LabError, match='zones not loaded: example.test.'):
        secondary.start(timeout=1)
    assert not secondary.running


def test_stop_restart_and_timings(bind, pdns):
    timings = {}
    b = bind()
    b.add_primary(ZONE, zone_text(1))
    p = pdns()
    p.add_primary(ZONE, zone_text(1))
    for name, server in (('bind', b), ('pdns', p)):
        runs = []
        for _attempt in range(3):
            server.start()
            runs.append(server.start_seconds)
            assert server.soa_serial(ZONE) == 1
            server.stop()
            assert not server.running
            with pytest.raises(dns.exception.Timeout):
                server.query(ZONE, 'SOA', timeout=0.2)
        timings[name] = runs
        assert max(runs) < 5
    print('\nstart times (s): %s' % {k: ['%.3f' % v for v in runs] for k, runs in timings.items()})
