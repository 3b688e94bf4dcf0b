"""zone_transfer_check against real BIND 9 and PowerDNS servers on loopback.

Every status the module can return is produced here by a real server, except
'incomplete' (a transfer cut mid-stream), which needs a fake server, and
'malformed', produced by an HTTP server on the port asked.
"""

import dns.name
import pytest

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import expand_servers
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import check_zone_transfer

ZONE = 'example.test.'


def xfr(server, zone=ZONE, key=None, port=53, compare=(), **kw):
    """Run the module's logic in-process; ``key`` is a dnslab.TsigKey."""
    entry = expand_servers(['%s:%d' % (server, port)], None, True)[0]
    others = [expand_servers([c], None, True)[0] for c in compare]
    ok, result = check_zone_transfer(dns.name.from_text(zone), entry, key=key.dns_key if key else None,
                                     key_name=key.name if key else None, compare_with=others, **kw)
    return ok, result


@pytest.fixture
def bind_primary(bind, tsig_key, client):
    key = tsig_key('transfer-key')
    server = bind()
    server.add_key(key)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061501, count=50),
                       allow_transfer=[dnslab.acl_ip_and_key(client, key)])
    server.start()
    return server, key


@pytest.fixture
def pdns_primary(pdns, tsig_key, client):
    key = tsig_key('transfer-key')
    server = pdns()
    server.add_key(key)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061501, count=50), tsig_allow_axfr=[key])
    server.start()
    return server, key


# ---------------------------------------------------------------- ok and ACLs

@pytest.mark.parametrize('primary', ['bind_primary', 'pdns_primary'])
def test_ok_with_key(request, primary, client):
    server, key = request.getfixturevalue(primary)
    ok, result = xfr(server.address, key=key, source=client)
    assert ok, result
    assert result['status'] == 'ok'
    assert result['serial'] == 2024061501
    # SOA + NS + ns1 A + 50 hosts
    assert result['records'] == 53
    assert result['messages'] >= 1
    assert result['signed_messages'] == result['messages'] or result['signed_messages'] >= 2
    assert result['bytes'] > 0
    assert len(result['digest']) == 64
    assert 'diagnosis' not in result


def test_bind_refuses_right_key_from_unlisted_ip(bind_primary):
    server, key = bind_primary
    outsider = dnslab.allocate_address()
    dnslab.ensure_address(outsider)
    ok, result = xfr(server.address, key=key, source=outsider)
    assert not ok
    assert result['status'] == 'refused'
    assert outsider in result['diagnosis']
    assert 'allow-transfer' in result['remediation']['bind']
    assert 'allow-axfr-ips' in result['remediation']['powerdns']
    # The same refusal is what expect=refused asks for.
    ok, result = xfr(server.address, key=key, source=outsider, expect='refused')
    assert ok and result['expected'] is True


@pytest.mark.parametrize('primary', ['bind_primary', 'pdns_primary'])
def test_refused_without_key(request, primary, client):
    server, key = request.getfixturevalue(primary)
    ok, result = xfr(server.address, source=client)
    assert not ok
    assert result['status'] == 'refused'


def test_open_transfer_bind(bind, client):
    server = bind()
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 7), allow_transfer=['any'])
    server.start()
    ok, result = xfr(server.address, source=client, expect='refused')
    assert not ok
    assert result['status'] == 'open_transfer'
    assert 'allow-transfer' in result['remediation']['bind']


def test_open_transfer_pdns(pdns, client):
    server = pdns()
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 7), allow_axfr_ips=['127.0.0.0/8'])
    server.start()
    ok, result = xfr(server.address, source=client, expect='refused')
    assert not ok
    assert result['status'] == 'open_transfer'


# ---------------------------------------------------------------- TSIG

@pytest.mark.parametrize('primary', ['bind_primary', 'pdns_primary'])
def test_wrong_secret_is_bad_signature(request, primary, client):
    server, key = request.getfixturevalue(primary)
    wrong = dnslab.make_key(key.name)
    ok, result = xfr(server.address, key=wrong, source=client)
    assert not ok
    # PowerDNS rejects a bad signature with an unsigned NOTAUTH naming no TSIG error.
    assert result['status'] == ('tsig_bad_signature' if primary == 'bind_primary' else 'tsig_unsigned_response')
    assert key.name in result['diagnosis']


@pytest.mark.parametrize('primary', ['bind_primary', 'pdns_primary'])
def test_unknown_key_name_is_bad_key(request, primary, client):
    server, key = request.getfixturevalue(primary)
    ok, result = xfr(server.address, key=dnslab.make_key('no-such-key'), source=client)
    assert not ok
    assert result['status'] == ('tsig_bad_key' if primary == 'bind_primary' else 'tsig_unsigned_response'), result


def test_wrong_algorithm_is_bad_key_bind(bind_primary, client):
    server, key = bind_primary
    other = dnslab.TsigKey(key.name, 'hmac-sha512', key.secret)
    ok, result = xfr(server.address, key=other, source=client)
    assert not ok
    assert result['status'] == 'tsig_bad_key', result


def test_pdns_clock_skew_is_rejected_unsigned(pdns, tsig_key, client):
    """PowerDNS 600 s in the future (libfaketime): it rejects the request, without a BADTIME answer."""
    key = tsig_key('transfer-key')
    server = pdns(wrapper=[dnslab.FAKETIME, '-f', '+600s'])
    server.add_key(key)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 3), tsig_allow_axfr=[key])
    server.start()
    ok, result = xfr(server.address, key=key, source=client)
    assert not ok
    assert result['status'] == 'tsig_unsigned_response', result
    assert 'clock' in result['detail']
    # The same key from the same host with a true clock works: the key itself is right.
    assert 'clocks of both hosts' in result['remediation']['powerdns']


def test_pdns_valid_key_not_allowed_for_zone_is_refused(pdns, tsig_key, client):
    """The key verifies (signed SOA works) but is not in TSIG-ALLOW-AXFR: an ACL refusal, not a TSIG one."""
    key = tsig_key('transfer-key')
    server = pdns()
    server.add_key(key)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 3))
    server.start()
    ok, result = xfr(server.address, key=key, source=client)
    assert not ok
    assert result['status'] == 'refused', result
    assert 'the key works' in result['detail']


# ---------------------------------------------------------------- zone not served

def _server_without_the_zone(request, kind):
    """A running BIND or PowerDNS that serves other.test. (open to transfers), not example.test."""
    server = request.getfixturevalue(kind)()
    if kind == 'bind':
        server.add_primary('other.test.', dnslab.make_zone_text('other.test.', 1), allow_transfer=['any'])
    else:
        server.add_primary('other.test.', dnslab.make_zone_text('other.test.', 1), allow_axfr_ips=['127.0.0.0/8'])
    server.start()
    return server


@pytest.mark.parametrize('kind', ['bind', 'pdns'])
def test_zone_not_served(request, kind, client):
    server = _server_without_the_zone(request, kind)
    ok, result = xfr(server.address, source=client)
    assert not ok
    assert result['status'] in ('not_authoritative', 'refused'), result
    if kind == 'bind':
        assert result['status'] == 'not_authoritative'


@pytest.mark.parametrize('kind', ['bind', 'pdns'])
def test_bad_key_from_a_server_without_the_zone_names_the_wrong_server(request, kind, tsig_key, client):
    """Neither the key nor the zone is there: the cause is the server asked, not the key."""
    server = _server_without_the_zone(request, kind)
    ok, result = xfr(server.address, key=tsig_key('unknown-here'), source=client, timeout=3)
    assert not ok
    assert result['status'] == 'not_authoritative', result
    # BIND says BADKEY; PowerDNS an unsigned NOTAUTH.
    assert ('BADKEY' if kind == 'bind' else 'unsigned NOTAUTH') in result['detail']
    assert 'the request went to the wrong server' in result['detail']


def test_servfail_from_secondary_that_never_loaded(bind, client):
    """A BIND secondary whose primary is dead has the zone configured but cannot serve it."""
    dead = dnslab.allocate_address()
    server = bind()
    server.add_secondary(ZONE, [(dead, 53)], allow_transfer=['any'], wait=False)
    server.start()
    ok, result = xfr(server.address, source=client, timeout=3)
    assert not ok
    assert result['status'] == 'servfail', result
    assert 'expired' in result['diagnosis']


# ---------------------------------------------------------------- network faults

def test_port_closed_is_unreachable(client):
    nobody = dnslab.allocate_address()
    dnslab.ensure_address(nobody)
    ok, result = xfr(nobody, source=client, timeout=2)
    assert not ok
    assert result['status'] == 'unreachable', result


def test_tcp_blocked_udp_open_is_tcp_unreachable(bind, netns, tsig_key):
    """named in a namespace whose nftables drops TCP 53: UDP answers, TCP never connects."""
    space = netns()
    key = tsig_key('transfer-key')
    server = bind(netns=space)
    server.add_key(key)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 11), allow_transfer=['key "%s"' % key.name])
    server.start()
    space.nft(dnslab.nft_drop('tcp', 53))
    ok, result = space.call(xfr, server.address, key=key, timeout=1.5)
    assert not ok
    assert result['status'] == 'tcp_unreachable', result
    assert 'serial 11' in result['detail']
    assert 'TCP 53' in result['diagnosis']


def test_everything_dropped_is_timeout(bind, netns):
    space = netns()
    server = bind(netns=space)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 12), allow_transfer=['any'])
    server.start()
    space.nft(dnslab.nft_drop('tcp', 53) + dnslab.nft_drop('udp', 53).replace('table inet dnslab',
                                                                              'table inet dnslab_udp'))
    ok, result = space.call(xfr, server.address, timeout=1)
    assert not ok
    assert result['status'] == 'timeout', result


def test_transfer_cut_mid_stream_is_incomplete(client):
    address = dnslab.allocate_address()
    dnslab.ensure_address(address)
    with dnslab.CutXfrServer(address, 53, zone=ZONE, serial=5, records=20):
        ok, result = xfr(address, source=client, timeout=3)
    assert not ok
    assert result['status'] == 'incomplete', result
    assert result['records'] > 0
    assert 'keeps its old copy' in result['diagnosis']


def test_http_server_is_named_not_dns(client):
    """An HTTP server waits for a request line that never comes: a timeout that says why.

    When the random query ID or length happens to contain a newline byte, http.server takes the
    bytes before it for a request line and answers 400: then the answer itself shows it is HTTP.
    """
    address = dnslab.allocate_address()
    dnslab.ensure_address(address)
    with dnslab.HttpServer(address, 8080):
        ok, result = xfr(address, port=8080, source=client, timeout=1)
    assert not ok
    assert result['status'] in ('timeout', 'malformed'), result
    assert 'probably not a DNS server' in result['detail'], result
    if result['status'] == 'malformed':
        assert 'HTTP/' in result['detail'], result


def test_text_banner_is_malformed(client):
    """A service that talks first (SSH, SMTP) sends text where a DNS length prefix should be."""
    import socketserver
    import threading

    class Banner(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(b'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n')
            self.request.recv(100)

    address = dnslab.allocate_address()
    dnslab.ensure_address(address)
    socketserver.TCPServer.allow_reuse_address = True
    server = socketserver.TCPServer((address, 2222), Banner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ok, result = xfr(address, port=2222, source=client, timeout=2)
    finally:
        server.shutdown()
        server.server_close()
    assert not ok
    assert result['status'] == 'malformed', result
    assert 'SSH-2.0' in result['detail']


# ---------------------------------------------------------------- comparing with secondaries

def _two_primaries(factory_a, factory_b, text_a, text_b):
    a = factory_a()
    a.add_primary(ZONE, text_a, **({'allow_transfer': ['any']} if isinstance(a, dnslab.BindServer)
                                   else {'allow_axfr_ips': ['127.0.0.0/8']}))
    a.start()
    b = factory_b()
    b.add_primary(ZONE, text_b, **({'allow_transfer': ['any']} if isinstance(b, dnslab.BindServer)
                                   else {'allow_axfr_ips': ['127.0.0.0/8']}))
    b.start()
    return a, b


def test_real_secondaries_match(bind, pdns, client, tsig_key):
    """BIND primary, BIND and PowerDNS secondaries fed by TSIG transfers: everything matches."""
    key = tsig_key('transfer-key')
    primary = bind(name='primary')
    primary.add_key(key)
    sec_bind = bind(name='sec-bind')
    sec_pdns = pdns(name='sec-pdns')
    primary.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061501, count=30),
                        allow_transfer=['key "%s"' % key.name],
                        also_notify=[(sec_bind.address, 53), (sec_pdns.address, 53)])
    primary.start()
    sec_bind.add_key(key)
    sec_bind.add_secondary(ZONE, [(primary.address, 53, key)], allow_transfer=['key "%s"' % key.name])
    sec_bind.start()
    sec_pdns.add_key(key)
    sec_pdns.add_secondary(ZONE, [(primary.address, 53)], key=key)
    sec_pdns.start()
    ok, result = xfr(primary.address, key=key, source=client,
                     compare=[sec_bind.address])
    assert ok, result
    assert [c['status'] for c in result['compared']] == ['ok']
    assert result['compared'][0]['digest'] == result['digest']


def test_same_serial_different_content(bind, client):
    a, b = _two_primaries(bind, bind, dnslab.make_zone_text(ZONE, 100, records=[('www', 'A', '192.0.2.1')]),
                          dnslab.make_zone_text(ZONE, 100, records=[('www', 'A', '192.0.2.2'),
                                                                    ('new', 'TXT', '"x"')]))
    ok, result = xfr(a.address, source=client, compare=[b.address])
    assert not ok
    assert result['status'] == 'serial_not_incremented'
    cmp = result['compared'][0]
    assert (cmp['missing'], cmp['extra'], cmp['changed']) == (0, 1, 1)
    names = sorted(d['name'] for d in cmp['differences'])
    assert names == ['new.example.test.', 'www.example.test.']
    assert 'increase-serial' in result['remediation']['powerdns']


def test_same_serial_different_ttl_only_ignored(bind, pdns, client):
    a, b = _two_primaries(bind, pdns, dnslab.make_zone_text(ZONE, 100, ttl=300),
                          dnslab.make_zone_text(ZONE, 100, ttl=600))
    ok, result = xfr(a.address, source=client, compare=[b.address])
    assert result['status'] == 'serial_not_incremented'
    ok, result = xfr(a.address, source=client, compare=[b.address], ignore_ttl=True)
    assert ok, result


@pytest.mark.parametrize('other_serial, status', [(99, 'secondary_behind'), (101, 'secondary_ahead')])
def test_secondary_behind_or_ahead(bind, pdns, client, other_serial, status):
    a, b = _two_primaries(bind, pdns, dnslab.make_zone_text(ZONE, 100), dnslab.make_zone_text(ZONE, other_serial))
    ok, result = xfr(a.address, source=client, compare=[b.address])
    assert not ok
    assert result['status'] == status
    assert result['compared'][0]['serial'] == other_serial


def test_primary_behind_after_wrap(bind, client):
    """RFC 1982: a secondary at 4294967290 is behind a primary at 5."""
    a, b = _two_primaries(bind, bind, dnslab.make_zone_text(ZONE, 5), dnslab.make_zone_text(ZONE, 4294967290))
    ok, result = xfr(a.address, source=client, compare=[b.address])
    assert result['status'] == 'secondary_behind'
    assert result['compared'][0]['lag'] == 11


# ---------------------------------------------------------------- IXFR

def test_ixfr_incremental_and_up_to_date(bind, client):
    server = bind()
    text1 = dnslab.make_zone_text(ZONE, 10, records=[('www', 'A', '192.0.2.1')], count=20)
    server.add_primary(ZONE, text1, allow_transfer=['any'], extra=['ixfr-from-differences yes;'])
    server.start()
    server.set_zone_text(ZONE, dnslab.make_zone_text(ZONE, 11, records=[('www', 'A', '192.0.2.2')], count=20))
    server.reload(ZONE)
    server.wait_serial(ZONE, 11)
    ok, result = xfr(server.address, source=client, rdtype='IXFR', serial=10)
    assert ok, result
    assert result['ixfr_fallback_to_axfr'] is False
    assert result['ixfr_changes'] == {'deleted': 1, 'added': 1}
    assert result['serial'] == 11
    ok, result = xfr(server.address, source=client, rdtype='IXFR', serial=11)
    assert ok, result
    assert result['up_to_date'] is True
    # A serial the server has no journal for: full zone instead.
    ok, result = xfr(server.address, source=client, rdtype='IXFR', serial=3)
    assert ok, result
    assert result['ixfr_fallback_to_axfr'] is True
    assert result['records'] == 24


def test_ixfr_pdns_falls_back_to_axfr(pdns, client):
    server = pdns()
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 10), allow_axfr_ips=['127.0.0.0/8'])
    server.start()
    ok, result = xfr(server.address, source=client, rdtype='IXFR', serial=9)
    assert ok, result
    assert result['ixfr_fallback_to_axfr'] is True
    assert result['serial'] == 10
