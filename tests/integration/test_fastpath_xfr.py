"""The fast transfer reader on real BIND and PowerDNS transfers; reading at wire speed; comparing copies.

* Fast path and dnspython's parse (transfer(fast=False)) agree on real
  transfers, signed and unsigned, of a zone with many record types, among
  them a zone PowerDNS signs on the fly (RRSIG, NSEC, DNSKEY); the digest is
  also the one computed record by record from dnspython's own AXFR.
* A primary that cuts off readers stalling for 200 ms (a replay of a real
  BIND transfer) still hands over the whole zone; with the reader thread
  turned off and the parser held up, the same server cuts the transfer.
* Comparison of copies: TTLs and record types ignored on request, and
  differences in a zone too large to hold counted and listed exactly.
"""

import dns.name
import dns.rdatatype
import pytest

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils import _xfr
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import expand_servers
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import ZoneDigest, check_zone_transfer, transfer
from ansible_helper import run_adhoc

ZONE = 'example.test.'
NAME = dns.name.from_text(ZONE)


def rich_records(count):
    """Records of many types (names in rdata, compressed or not, opaque data), then ``count`` hosts."""
    records = [
        ('@', 'MX', '10 Mail.example.test.'), ('mail', 'A', '192.0.2.25'), ('mail', 'AAAA', '2001:db8::25'),
        ('@', 'TXT', '"v=spf1 mx -all" "second string"'), ('@', 'CAA', '0 issue "ca.example"'),
        ('www', 'CNAME', 'Mail'), ('_sip._tcp', 'SRV', '10 20 5060 mail'), ('alias', 'DNAME', 'other.example.'),
        ('4.2.0.192', 'PTR', 'mail.example.test.'), ('host', 'HINFO', '"x86" "Linux"'),
        ('host', 'SSHFP', '1 1 0123456789abcdef0123456789abcdef01234567'),
        ('sip', 'NAPTR', '100 10 "U" "E2U+sip" "!^.*$!sip:x@example.test!" .'),
        ('loc', 'LOC', '52 22 23.000 N 4 53 32.000 E -2.00m 0.00m'), ('rp', 'RP', 'Admin.example.test. rp'),
        ('sub', 'NS', 'ns.sub'), ('ns.sub', 'A', '192.0.2.77'),
        ('sub', 'DS', '12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'),
        ('UPPER', 'A', '192.0.2.99'), ('svc', 'TXT', '""'),
        ('long', 'TXT', '"%s"' % ('x' * 250)),
    ]
    for i in range(count):
        records.append(('h%d' % i, 'A', '10.1.%d.%d' % (i // 250, i % 250)))
        if i % 7 == 0:
            records.append(('h%d' % i, 'TXT', '"n=%d"' % i))
    return records


def digest_of_zone(zone_obj, **kw):
    """The digest computed record by record from a dns.zone.Zone (dnspython's own AXFR)."""
    digest = ZoneDigest(NAME, **kw)
    for name, node in zone_obj.nodes.items():
        for rdataset in node:
            for rdata in rdataset:
                digest.add(name, rdataset.ttl, rdata)
    return digest


@pytest.fixture
def servers(bind, pdns, tsig_key):
    """The same rich zone on BIND and on PowerDNS (signed on the fly), both allowing the key."""
    key = tsig_key('transfer-key')
    text = dnslab.make_zone_text(ZONE, 2024061501, records=rich_records(1200))
    primary = bind(name='bind')
    primary.add_key(key)
    primary.add_primary(ZONE, text, allow_transfer=['key "%s"' % key.name, 'any'])
    primary.start()
    power = pdns(name='pdns')
    power.add_key(key)
    power.add_primary(ZONE, text, tsig_allow_axfr=[key], allow_axfr_ips=['127.0.0.0/8'])
    power.pdnsutil('secure-zone', ZONE)
    power.pdnsutil('rectify-zone', ZONE)
    power.start()
    return primary, power, key


@pytest.mark.parametrize('which', ['bind', 'pdns'])
@pytest.mark.parametrize('signed', [True, False])
def test_fast_reader_agrees_with_dnspython_on_real_transfers(servers, client, which, signed):
    primary, power, key = servers
    server = primary if which == 'bind' else power
    dns_key = key.dns_key if signed else None
    outcomes = []
    for fast in (True, False):
        digest = ZoneDigest(NAME, buckets=True, collect=True)
        stats = {}
        result = transfer(NAME, server.address, key=dns_key, source=client, digest=digest, fast=fast, stats=stats)
        assert result['status'] == 'ok', result
        if signed:
            assert result['signed_messages'] == result['messages']
        # (PowerDNS does not split two transfers into messages the same way: messages are not compared.)
        outcomes.append((result['records'], result['serial'], digest.total, digest.count, digest.buckets,
                         digest.held, stats['fast_messages'] == result['messages'], stats['fast_messages']))
    fast, slow = outcomes
    assert fast[:6] == slow[:6]
    assert fast[6] and slow[7] == 0  # the fast path read every message; the reference none
    # The same digest from dnspython's own zone transfer, record by record.
    reference = digest_of_zone(server.axfr(ZONE, key=key if signed else None, source=client))
    assert reference.total == fast[2] and reference.count == fast[3]
    if which == 'pdns':
        types = set(rdtype for (owner, rdtype, rdclass) in fast[5])
        assert {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.DNSKEY} <= types


def test_ignored_types_and_ttls_in_a_comparison(servers, client):
    """PowerDNS signs its copy, BIND does not: equal once the DNSSEC types are ignored, by either option."""
    primary, power, key = servers
    entry = expand_servers([primary.address], None, True)[0]
    other = [expand_servers([power.address], None, True)[0]]
    ok, result = check_zone_transfer(NAME, entry, key=key.dns_key, source=client, compare_with=other)
    assert not ok and result['status'] == 'serial_not_incremented'
    compared = result['compared'][0]
    assert compared['extra'] > 1200 and compared['missing'] == 0
    assert any(d['type'] == 'RRSIG' for d in compared['differences'])
    ok, result = check_zone_transfer(NAME, entry, key=key.dns_key, source=client, compare_with=other,
                                     ignore_dnssec=True)
    assert ok, result['compared']
    types = _xfr.rdtype_set(['RRSIG', 'NSEC', 'DNSKEY'])
    ok, result = check_zone_transfer(NAME, entry, key=key.dns_key, source=client, compare_with=other,
                                     ignore_types=types)
    assert ok, result['compared']
    assert result['digest'] == result['compared'][0]['digest']
    # Leaving out A records as well changes the digest and the record count.
    ok, fewer = check_zone_transfer(NAME, entry, key=key.dns_key, source=client, compare_with=other,
                                    ignore_types=types | {1})
    assert ok and fewer['digest'] != result['digest'] and fewer['digest_records'] < result['digest_records'] - 1200


def test_ignore_types_through_ansible(servers):
    primary, power, key = servers
    args = {'zone': ZONE, 'server': primary.address, 'compare_with': [power.address],
            'tsig': {'name': key.name, 'algorithm': key.algorithm, 'secret': key.secret}}
    result = run_adhoc('zone_transfer_check', dict(args, ignore_types=['rrsig', 'NSEC', 'DNSKEY']))
    assert result.rc == 0, result
    assert result.data['compared'][0]['status'] == 'ok'
    result = run_adhoc('zone_transfer_check', dict(args, ignore_types=['NOSUCHTYPE']))
    assert result.rc != 0
    assert 'ignore_types' in result.data['msg']


# ---------------------------------------------------------------- large zones, differences

def _big_zone(serial, count, changes=None):
    changes = changes or {}
    records = []
    for i in range(count):
        if i in changes:
            if changes[i] is not None:
                records.append(changes[i])
            continue
        records.append(('h%d' % i, 'A', '10.2.%d.%d' % (i // 250, i % 250)))
    return dnslab.make_zone_text(ZONE, serial, records=records)


def test_differences_in_a_zone_too_large_to_hold(bind, client, monkeypatch):
    """Two copies of 30,000 records, the same serial, four differences: read again in batches, counted exactly."""
    count = 30000
    a = bind(name='a')
    a.add_primary(ZONE, _big_zone(9, count), allow_transfer=['any'])
    a.start()
    b = bind(name='b')
    changes = {5: ('h5', 'A', '192.0.2.5'), 17: None, 29999: ('h29999', 600, 'A', '10.2.119.249')}
    b.add_primary(ZONE, _big_zone(9, count, changes) + 'new IN TXT "added"\n', allow_transfer=['any'])
    b.start()
    monkeypatch.setattr(_xfr, 'DETAIL_BUDGET', 40)  # several batches of re-reads
    reads = []
    original = _xfr.transfer

    def counting(*args, **kw):
        reads.append(kw.get('digest').select)
        return original(*args, **kw)

    monkeypatch.setattr(_xfr, 'transfer', counting)
    entry = expand_servers([a.address], None, True)[0]
    ok, result = check_zone_transfer(NAME, entry, source=client,
                                     compare_with=[expand_servers([b.address], None, True)[0]])
    assert not ok and result['status'] == 'serial_not_incremented'
    compared = result['compared'][0]
    assert (compared['missing'], compared['extra'], compared['changed']) == (1, 1, 2)
    assert sorted((d['name'], d['kind']) for d in compared['differences']) == [
        ('h17.example.test.', 'missing'), ('h29999.example.test.', 'changed'), ('h5.example.test.', 'changed'),
        ('new.example.test.', 'extra')]
    ttl = [d for d in compared['differences'] if d['name'] == 'h29999.example.test.'][0]
    assert ttl['primary'] == ['300 10.2.119.249'] and ttl['secondary'] == ['600 10.2.119.249']
    # Two first reads holding nothing, then re-reads of both copies, a few buckets at a time.
    assert reads[0] is None and reads[1] is None
    assert len(reads) >= 4 and all(r for r in reads[2:])
    # With TTLs ignored, one difference less.
    monkeypatch.setattr(_xfr, 'transfer', original)
    ok, result = check_zone_transfer(NAME, entry, source=client, ignore_ttl=True,
                                     compare_with=[expand_servers([b.address], None, True)[0]])
    compared = result['compared'][0]
    assert (compared['missing'], compared['extra'], compared['changed']) == (1, 1, 1)


def test_stream_spills_to_a_file_beyond_its_memory_limit(bind, client):
    server = bind()
    server.add_primary(ZONE, _big_zone(3, 20000), allow_transfer=['any'])
    server.start()
    results = []
    for memory in (_xfr.STREAM_MEMORY, 16384):
        digest = ZoneDigest(NAME)
        stats = {}
        result = transfer(NAME, server.address, source=client, digest=digest, stream_memory=memory,
                          parse_delays=[0.3], stats=stats)
        assert result['status'] == 'ok'
        results.append((digest.total, result['records'], stats))
    assert results[0][:2] == results[1][:2]
    assert results[0][2]['spilled'] == 0 and results[1][2]['spilled'] > 0
    assert results[1][2]['buffered_peak'] <= 16384 + _xfr._Stream.CHUNK


# ---------------------------------------------------------------- slow readers are cut off

@pytest.fixture
def recorded(bind):
    """The messages of a real 40,000-record AXFR from BIND, and the digest of that zone."""
    server = bind()
    server.add_primary(ZONE, _big_zone(77, 40000), allow_transfer=['any'])
    server.start()
    messages = dnslab.record_axfr(server.address, ZONE)
    digest = ZoneDigest(NAME)
    result = transfer(NAME, server.address, digest=digest)
    assert result['status'] == 'ok' and result['records'] == 40003  # SOA, NS, ns1 A, 40000 hosts
    return messages, digest.total


def test_server_cutting_off_slow_readers_gets_the_whole_zone(recorded, client):
    """Replay with a 200 ms idle timeout and a small send buffer: our reader never makes it wait."""
    messages, total = recorded
    address = dnslab.allocate_address()
    with dnslab.SlowReaderCutXfrServer(address, 53, messages, idle_timeout=0.2) as server:
        for delays in ((), (0.5,), (0.3, 0.3, 0.3)):
            digest = ZoneDigest(NAME)
            result = transfer(NAME, address, source=client, digest=digest, timeout=5, parse_delays=delays)
            assert result['status'] == 'ok', (delays, result)
            assert result['records'] == 40003 and digest.total == total
        assert server.completed == 3 and server.cut_off == 0


def test_the_same_server_cuts_off_a_reader_without_the_thread(recorded, client):
    """The server really enforces its timeout: parse in the reading thread, stall 0.5 s, and it hangs up."""
    messages, total = recorded
    address = dnslab.allocate_address()
    with dnslab.SlowReaderCutXfrServer(address, 53, messages, idle_timeout=0.2) as server:
        result = transfer(NAME, address, source=client, timeout=5, reader_thread=False, parse_delays=(0.5,))
        assert result['status'] == 'incomplete', result
        assert server.cut_off == 1 and server.completed == 0
