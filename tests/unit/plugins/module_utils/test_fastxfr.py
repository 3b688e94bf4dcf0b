"""The transfer reader (_xfr): the fast path against dnspython's parse, the stream buffer, the digests.

Messages are built with dnspython (TSIG-signed as a server signs a multi-message
transfer) and fed to _MessageReader twice, once with the fast path and once
parsing every message with dnspython; the outcomes must be equal, also for
mutated messages. Real BIND and PowerDNS transfers are compared the same way in
tests/integration/test_fastpath_xfr.py.
"""

import random
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils import _xfr
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import (
    TransferFailed,
    ZoneDigest,
    _MessageReader,
    _Stream,
    compare_copies,
    make_xfr_query,
    rdtype_set,
    xfr_query,
)

ZONE = dns.name.from_text('example.test.')
KEY = dns.tsig.Key('transfer-key.', b'0123456789abcdef0123456789abcdef', dns.tsig.HMAC_SHA256)


DNSKEY_DATA = 'mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=='
SIGNATURE = 'oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6oB9wfuh3DTJXUAQ=='


def zone_records(serial=10, hosts=60):
    soa = dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', 'ns1.example.test. hostmaster.example.test. %d 3600 600 '
                              '1209600 300' % serial)
    body = [dns.rrset.from_text(ZONE, 300, 'IN', 'NS', 'ns1.example.test.'),
            dns.rrset.from_text('ns1.example.test.', 300, 'IN', 'A', '192.0.2.53'),
            dns.rrset.from_text(ZONE, 300, 'IN', 'MX', '10 Mail.example.test.'),
            dns.rrset.from_text('_sip._tcp.example.test.', 300, 'IN', 'SRV', '1 2 5060 sip.example.test.'),
            dns.rrset.from_text(ZONE, 300, 'IN', 'CAA', '0 issue "ca.example"'),
            dns.rrset.from_text('sec.example.test.', 300, 'IN', 'DS',
                                '1 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'),
            dns.rrset.from_text('x.example.test.', 300, 'IN', 'NSEC', 'y.example.test. A RRSIG NSEC'),
            dns.rrset.from_text(ZONE, 300, 'IN', 'DNSKEY', '257 3 13 ' + DNSKEY_DATA),
            dns.rrset.from_text(ZONE, 300, 'IN', 'RRSIG', 'SOA 13 2 300 20261230000000 20261201000000 12345 '
                                'Example.test. ' + SIGNATURE),
            dns.rrset.from_text(ZONE, 300, 'IN', 'RRSIG', 'DNSKEY 13 2 300 20261231000000 20261201000000 '
                                '12345 example.test. ' + SIGNATURE),
            dns.rrset.from_text('x.example.test.', 300, 'IN', 'RRSIG', 'NSEC 13 3 300 20261215000000 '
                                '20261201000000 12345 example.test. ' + SIGNATURE),
            dns.rrset.from_text('big.example.test.', 0x80000001, 'IN', 'TXT', '"ttl beyond 2^31"')]
    for i in range(hosts):
        body.append(dns.rrset.from_text('Host%d.example.test.' % i, 60 + i, 'IN', 'A', '10.0.0.%d' % i))
        if i % 3 == 0:
            body.append(dns.rrset.from_text('host%d.example.test.' % i, 60, 'IN', 'AAAA', '2001:db8::%x' % i))
        if i % 5 == 0:
            body.append(dns.rrset.from_text('www%d.example.test.' % i, 60, 'IN', 'CNAME', 'host%d.example.test.' % i))
            body.append(dns.rrset.from_text('host%d.example.test.' % i, 60, 'IN', 'TXT', '"n=%d" "x"' % i))
    return soa, body


def make_stream(query, rrsets, per_message=12, key=None, unsigned_every=0, question=True):
    """The messages of an AXFR answer as a server sends them (compressed, TSIG as RFC 8945 5.3.1)."""
    chunks = [rrsets[i:i + per_message] for i in range(0, len(rrsets), per_message)]
    wires = []
    ctx = None
    for index, chunk in enumerate(chunks):
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if index and not question:
            response.question = []
        for rrset in chunk:
            response.answer.append(rrset)
        response.tsig = None
        skipped = unsigned_every and index % unsigned_every == 1 and index != len(chunks) - 1
        signed = key is not None and not skipped
        if signed:
            response.use_tsig(key)
            response.request_mac = query.mac
            wire = response.to_wire(multi=True, tsig_ctx=ctx)
            ctx = response.tsig_ctx
        else:
            wire = response.to_wire()
            if ctx is not None:
                ctx.update(wire)
        wires.append(wire)
    return wires


def run_reader(query, wires, fast, key=None, digest_kw=None, is_ixfr=False, client_serial=None):
    """Feed the messages to a _MessageReader; returns (result, exception status/detail, digest state)."""
    result = {'status': None, 'detail': None, 'serial': None, 'records': 0, 'messages': 0, 'bytes': 0,
              'signed_messages': 0}
    if is_ixfr:
        result['ixfr_fallback_to_axfr'] = False
        result['up_to_date'] = False
    digest = ZoneDigest(ZONE, **(digest_kw or {}))
    reader = _MessageReader(query, ZONE, key, client_serial, is_ixfr, result, digest, fast=fast)
    failure = None
    done = False
    try:
        for wire in wires:
            result['messages'] += 1
            result['bytes'] += len(wire) + 2
            if reader.message(wire):
                done = True
                break
    except TransferFailed as exc:
        failure = (exc.status, exc.detail, sorted(exc.extra.items()))
    held = digest.held
    state = (digest.total, digest.count, digest.buckets, None if held is None else sorted(held.items()),
             (digest.dnssec_total, digest.soa_adjust, digest.rrsigs, digest.rrsig_min, digest.rrsig_apex_min))
    return result, failure, done, state, reader.fast_messages, digest.buckets_dirty


def both(query, wires, key=None, **kw):
    fast = run_reader(query, wires, True, key, **kw)
    slow = run_reader(query, wires, False, key, **kw)
    assert fast[:3] == slow[:3]
    assert not slow[5] and slow[4] == 0
    if fast[5]:
        # A message declined half-way: the bucket sums are marked as not exact; all else is.
        assert fast[3][:2] == slow[3][:2] and fast[3][3:] == slow[3][3:]
    else:
        assert fast[3] == slow[3]
    return fast[:5]


def axfr_query(key=None):
    query = make_xfr_query(ZONE, dns.rdatatype.AXFR, key=key)
    query.to_wire()
    return query


@pytest.mark.parametrize('key', [None, KEY])
@pytest.mark.parametrize('digest_kw', [{}, {'buckets': True, 'collect': True}, {'ignore_ttl': True},
                                       {'ignore_dnssec': True}, {'ignore_types': [1, 28]},
                                       {'buckets': True, 'select': frozenset(range(0, 1 << 14, 3))}])
def test_fast_equals_dnspython(key, digest_kw):
    soa, body = zone_records()
    query = axfr_query(key)
    wires = make_stream(query, [soa] + body + [soa], key=key)
    result, failure, done, state, fast_messages = both(query, wires, key, digest_kw=digest_kw)
    assert failure is None and done
    assert result['records'] == 1 + sum(len(r) for r in body)
    assert result['serial'] == 10
    assert fast_messages == len(wires)  # every message took the fast path
    if key is not None:
        assert result['signed_messages'] == len(wires)


def test_digest_matches_records_added_one_by_one():
    soa, body = zone_records()
    query = axfr_query()
    wires = make_stream(query, [soa] + body + [soa])
    state = run_reader(query, wires, True)[3]
    reference = ZoneDigest(ZONE)
    for rrset in [soa] + body:
        for rdata in rrset:
            reference.add(rrset.name, min(rrset.ttl, 0x7FFFFFFF) if rrset.ttl <= 0x7FFFFFFF else 0, rdata)
    assert state[0] == reference.total and state[1] == reference.count
    assert state[4] == (reference.dnssec_total, reference.soa_adjust, reference.rrsigs, reference.rrsig_min,
                        reference.rrsig_apex_min)


def test_signer_records_are_kept_apart():
    """The data digest ignores what a signer adds and the SOA serial; the earliest RRSIG is named."""
    soa, body = zone_records()
    signed = ZoneDigest(ZONE)
    unsigned = ZoneDigest(ZONE)
    resigned = ZoneDigest(ZONE)
    other_serial = zone_records(serial=11)[0]
    for digest, records in ((signed, [soa] + body), (unsigned, [other_serial] + body)):
        for rrset in records:
            for rdata in rrset:
                if digest is unsigned and rdata.rdtype in _xfr.DNSSEC_CODES:
                    continue
                digest.add(rrset.name, rrset.ttl, rdata)
    for rrset in [soa] + body:
        for rdata in rrset:
            if rdata.rdtype == dns.rdatatype.RRSIG:
                rdata = rdata.replace(expiration=rdata.expiration + 86400)
            resigned.add(rrset.name, rrset.ttl, rdata)
    assert signed.hexdigest() != unsigned.hexdigest()
    assert signed.data_hexdigest() == unsigned.data_hexdigest() == resigned.data_hexdigest()
    assert signed.hexdigest() != resigned.hexdigest()
    info = signed.signatures()
    assert info['signed'] and info['rrsigs'] == 3
    assert info['rrsig_first'] == 'x.example.test. NSEC'
    assert info['rrsig_expires'] == 1797292800            # 2026-12-15 00:00 UTC
    assert info['rrsig_apex_expires'] == 1798588800       # 2026-12-30: the SOA's, earlier than the DNSKEY's
    assert unsigned.signatures() == {'signed': False, 'rrsigs': 0, 'rrsig_expires': None, 'rrsig_first': None,
                                     'rrsig_apex_expires': None}
    # Another record, the same serial: the data digest differs too.
    changed = ZoneDigest(ZONE)
    for rrset in [soa] + body[:-1]:
        for rdata in rrset:
            changed.add(rrset.name, rrset.ttl, rdata)
    assert changed.data_hexdigest() != signed.data_hexdigest()
    assert set(_xfr.DNSSEC_CODES) == rdtype_set(_xfr.DNSSEC_TYPES)


def test_unsigned_messages_between_signed_ones():
    soa, body = zone_records(hosts=200)
    query = axfr_query(KEY)
    wires = make_stream(query, [soa] + body + [soa], per_message=5, key=KEY, unsigned_every=3)
    result, failure, done, state, fast_messages = both(query, wires, KEY)
    assert failure is None and done
    assert 0 < result['signed_messages'] < len(wires)


def test_too_many_unsigned_messages():
    soa, body = zone_records(hosts=200)
    query = axfr_query(KEY)
    rrsets = [soa] + body + [soa]
    wires = make_stream(query, rrsets, per_message=1, key=None)
    signed = make_stream(query, rrsets, per_message=1, key=KEY)
    wires[0] = signed[0]  # only the first is signed; the context then expects a MAC within 100 messages
    result, failure, done, state, dummy = both(query, wires, KEY)
    assert failure[0] == 'tsig_unsigned_response'


@pytest.mark.parametrize('case', ['unsigned_first', 'unsigned_last', 'wrong_key', 'missing_closing_soa',
                                  'bad_closing_serial', 'records_after_end', 'no_soa_first', 'wrong_id',
                                  'servfail_later', 'refused_first', 'question_only', 'question_later',
                                  'closing_soa_fields', 'empty_later', 'opcode_later', 'other_key_name',
                                  'other_key_algorithm'])
def test_failures_equal(case):
    soa, body = zone_records()
    key = KEY
    query = axfr_query(key)
    rrsets = [soa] + body + [soa]
    sign_key = key
    if case == 'wrong_key':
        sign_key = dns.tsig.Key(KEY.name, b'x' * 32, KEY.algorithm)
    if case == 'missing_closing_soa':
        rrsets = rrsets[:-1]
    if case == 'bad_closing_serial':
        rrsets[-1] = dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', 'a. b. 11 1 1 1 1')
    if case == 'records_after_end':
        rrsets.append(body[1])
    if case == 'no_soa_first':
        rrsets = body[:3] + rrsets
    if case == 'closing_soa_fields':
        # The opening serial (10), another refresh: RFC 5936 2.2 wants the closing SOA equal in every field.
        rrsets[-1] = dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', 'ns1.example.test. hostmaster.example.test. 10 '
                                         '7200 600 1209600 300')
    if case == 'other_key_name':
        sign_key = dns.tsig.Key('other-key.', KEY.secret, KEY.algorithm)
    if case == 'other_key_algorithm':
        sign_key = dns.tsig.Key(KEY.name, KEY.secret, dns.tsig.HMAC_SHA512)
    wires = make_stream(query, rrsets, key=sign_key)
    if case == 'unsigned_first':
        wires[0] = make_stream(query, rrsets)[0]
    if case == 'unsigned_last':
        wires[-1] = make_stream(query, rrsets)[-1]
    if case == 'wrong_id':
        wires[2] = struct.pack('!H', (query.id + 1) & 0xFFFF) + wires[2][2:]
    if case in ('servfail_later', 'refused_first'):
        index = 3 if case == 'servfail_later' else 0
        wire = bytearray(wires[index])
        wire[3] = (wire[3] & 0xF0) | (dns.rcode.SERVFAIL if index else dns.rcode.REFUSED)
        wires[index] = bytes(wire)
    if case == 'question_only':
        response = dns.message.make_response(query)
        response.use_tsig(key)
        response.request_mac = query.mac
        wires = [response.to_wire(multi=True)]
    if case in ('question_later', 'empty_later', 'opcode_later'):
        # The third message asks another zone, carries no records, or is a NOTIFY: re-sign the stream from there.
        other = make_xfr_query(dns.name.from_text('other.test.'), dns.rdatatype.AXFR, key=key)
        other.id = query.id
        chunks = [rrsets[i:i + 12] for i in range(0, len(rrsets), 12)]
        wires, ctx = [], None
        for index, chunk in enumerate(chunks):
            response = dns.message.make_response(other if case == 'question_later' and index == 2 else query)
            response.flags |= dns.flags.AA
            if case == 'opcode_later' and index == 2:
                response.set_opcode(dns.opcode.NOTIFY)
            if not (case == 'empty_later' and index == 2):
                response.answer.extend(chunk)
            response.use_tsig(key)
            response.request_mac = query.mac
            wires.append(response.to_wire(multi=True, tsig_ctx=ctx))
            ctx = response.tsig_ctx
    result, failure, done, state, dummy = both(query, wires, key)
    assert failure is not None or not done
    expected = {
        'question_later': ('malformed', 'not the query'), 'closing_soa_fields': ('malformed', 'other fields'),
        'empty_later': ('malformed', 'no records'), 'opcode_later': ('malformed', 'opcode NOTIFY'),
        'question_only': ('malformed', 'no records'), 'other_key_name': ('tsig_unknown_key', '"other-key"'),
        'other_key_algorithm': ('tsig_unknown_key', 'hmac-sha512'),
        'wrong_key': ('tsig_bad_signature', 'fails TSIG verification'),
    }
    if case in expected:
        status, text = expected[case]
        assert failure[0] == status and text in failure[1], failure


def test_mutated_messages_agree():
    """Byte changes anywhere in a signed and an unsigned transfer: fast path and dnspython agree on the outcome."""
    rng = random.Random(7)
    soa, body = zone_records(hosts=20)
    for key in (None, KEY):
        query = axfr_query(key)
        wires = make_stream(query, [soa] + body + [soa], per_message=8, key=key)
        for dummy in range(400):
            mutated = list(wires)
            index = rng.randrange(len(mutated))
            wire = bytearray(mutated[index])
            kind = rng.random()
            if kind < 0.7:
                pos = rng.randrange(len(wire))
                wire[pos] = rng.randrange(256)
            elif kind < 0.85:
                del wire[rng.randrange(12, len(wire)):]
            else:
                wire += b'\x00'
            mutated[index] = bytes(wire)
            both(query, mutated, key, digest_kw={'buckets': True, 'collect': True})


def test_ixfr_equal():
    soa_new = dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', 'ns1.example.test. h.example.test. 12 1 1 1 1')
    soa_old = dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', 'ns1.example.test. h.example.test. 10 1 1 1 1')
    old = dns.rrset.from_text('www.example.test.', 300, 'IN', 'A', '192.0.2.1')
    new = dns.rrset.from_text('www.example.test.', 300, 'IN', 'A', '192.0.2.2')
    query = make_xfr_query(ZONE, dns.rdatatype.IXFR, serial=10)
    query.to_wire()
    wires = make_stream(query, [soa_new, soa_old, old, soa_new, new, soa_new], per_message=2)
    result, failure, done, state, dummy = both(query, wires, is_ixfr=True, client_serial=10)
    assert done and result['ixfr_changes'] == {'deleted': 1, 'added': 1}
    # A lone SOA: up to date.
    result, failure, done, state, dummy = both(query, make_stream(query, [soa_new]), is_ixfr=True, client_serial=12)
    assert done and result['up_to_date'] is True


# ---------------------------------------------------------------- the stream buffer

@pytest.mark.parametrize('threaded', [True, False])
@pytest.mark.parametrize('memory_limit', [1 << 20, 1000])
def test_stream_reads_exact_and_spills(threaded, memory_limit):
    left, right = socket.socketpair()
    payload = random.Random(1).randbytes(300000)

    def writer():
        for i in range(0, len(payload), 7000):
            right.sendall(payload[i:i + 7000])
        right.close()

    thread = threading.Thread(target=writer)
    thread.start()
    left.settimeout(5)
    stream = _Stream(left, threaded=threaded, memory_limit=memory_limit)
    got = []
    sizes = [2, 13, 65535, 1, 4000]
    total = 0
    index = 0
    while total + sizes[index % len(sizes)] <= len(payload):
        got.append(stream.read(sizes[index % len(sizes)]))
        total += len(got[-1])
        index += 1
        if threaded and index == 1:
            # The first chunk ends inside a "message" (random bytes): the reader thread took over at once.
            assert stream.thread is not None
            time.sleep(0.3)  # let the reader run ahead of us
    with pytest.raises(EOFError) as info:
        stream.read(len(payload) - total + 10)
    assert b''.join(got) + info.value.args[0] == payload
    if threaded and memory_limit == 1000:
        assert stream.spilled > 0
    stream.close()
    thread.join()
    left.close()


def test_a_first_chunk_of_whole_messages_needs_no_thread_until_more_is_asked_for():
    left, right = socket.socketpair()
    left.settimeout(5)
    first = struct.pack('!H', 5) + b'hello' + struct.pack('!H', 3) + b'abc'
    right.sendall(first)
    stream = _Stream(left)
    assert stream.read(len(first)) == first and stream.thread is None
    right.sendall(struct.pack('!H', 2) + b'ok')
    right.close()
    assert stream.read(4) == struct.pack('!H', 2) + b'ok' and stream.thread is not None
    with pytest.raises(EOFError):
        stream.read(1)
    stream.close()
    left.close()


def test_stream_timeout_is_raised_where_data_is_needed():
    left, right = socket.socketpair()
    right.sendall(b'abc')
    left.settimeout(0.2)
    stream = _Stream(left)
    assert stream.read(3) == b'abc'
    with pytest.raises(socket.timeout):
        stream.read(1)
    stream.close()
    left.close()
    right.close()


# ---------------------------------------------------------------- digests and comparison

def test_buckets_sum_to_the_digest_and_hold_limit():
    soa, body = zone_records()
    digest = ZoneDigest(ZONE, buckets=True, collect=True, hold_limit=50)
    for rrset in [soa] + body:
        for rdata in rrset:
            digest.add(rrset.name, rrset.ttl, rdata)
    assert sum(digest.buckets) == digest.total
    assert sum(digest.bucket_counts) == digest.count
    assert digest.held is None  # more than 50 records: not held


def test_rdtype_set():
    assert rdtype_set(['rrsig', 'TYPE65534', ' A ']) == {46, 65534, 1}
    with pytest.raises(Exception, match='not a DNS record type'):
        rdtype_set(['NOPE'])


class _FakeCopy(object):
    """A copy of the zone for compare_copies(): reading it again gives the same records."""

    def __init__(self, records, **kw):
        self.records = records
        self.kw = kw
        self.reads = 0

    def digest(self, **kw):
        digest = ZoneDigest(ZONE, **dict(self.kw, **kw))
        for name, ttl, rdata in self.records:
            digest.add(name, ttl, rdata)
        return digest

    def read(self, select):
        self.reads += 1
        return self.digest(select=frozenset(select)), None


def _records(changes=()):
    out = []
    for i in range(500):
        text = '10.1.%d.%d' % (i // 250, i % 250)
        if i in changes:
            text = changes[i]
        if text is not None:
            out.append((dns.name.from_text('h%d.example.test.' % i), 300, dns.rdata.from_text('IN', 'A', text)))
    return out


@pytest.mark.parametrize('hold_limit, budget', [(None, 100000), (10, 100000), (10, 3)])
def test_compare_copies_in_batches_equals_holding_everything(hold_limit, budget):
    left = _FakeCopy(_records())
    right = _FakeCopy(_records({3: '192.0.2.3', 70: None, 200: '192.0.2.200'})
                      + [(dns.name.from_text('new.example.test.'), 300, dns.rdata.from_text('IN', 'A', '192.0.2.9'))])
    first = left.digest(buckets=True, collect=True, hold_limit=hold_limit)
    second = right.digest(buckets=True, collect=True, hold_limit=hold_limit)
    out = compare_copies(left, first, right, second, limit=100, budget=budget)
    assert (out['missing'], out['extra'], out['changed']) == (1, 1, 2)
    assert out['complete']
    names = sorted(d['name'] for d in out['differences'])
    assert names == ['h200.example.test.', 'h3.example.test.', 'h70.example.test.', 'new.example.test.']
    changed = [d for d in out['differences'] if d['name'] == 'h3.example.test.'][0]
    assert changed['kind'] == 'changed'
    assert changed['primary'] == ['300 10.1.0.3'] and changed['secondary'] == ['300 192.0.2.3']
    if hold_limit is None:
        assert out['passes'] == 0 and left.reads == 0
    else:
        assert out['passes'] >= (2 if budget == 3 else 1)
        assert left.reads == right.reads == out['passes']


def test_compare_copies_limit_and_changed_content():
    left = _FakeCopy(_records())
    right = _FakeCopy(_records(dict((i, '192.0.2.%d' % (i % 250)) for i in range(0, 500, 2))))
    first = left.digest(buckets=True, collect=True, hold_limit=10)
    second = right.digest(buckets=True, collect=True, hold_limit=10)
    out = compare_copies(left, first, right, second, limit=7, budget=40)
    assert out['changed'] == 250 and out['missing'] == out['extra'] == 0
    assert len(out['differences']) == 7

    class Moving(_FakeCopy):
        def read(self, select):
            self.records = _records({0: '192.0.2.77'})
            return _FakeCopy.read(self, select)

    moving = Moving(_records())
    first = moving.digest(buckets=True, collect=True, hold_limit=10)
    out = compare_copies(moving, first, right, second, limit=7, budget=40)
    assert not out['complete'] and 'changed' in out['problem']


def test_small_zone_module_constants():
    assert _xfr.BUCKETS & (_xfr.BUCKETS - 1) == 0
    assert _xfr.HOLD_LIMIT < _xfr.DETAIL_BUDGET


# ---------------------------------------------------------------- the request, built on the wire

@pytest.mark.parametrize('key', [None, KEY])
@pytest.mark.parametrize('rdtype, serial', [(dns.rdatatype.AXFR, None), (dns.rdatatype.IXFR, 4294967295),
                                            (dns.rdatatype.IXFR, 7)])
def test_the_wire_request_says_what_dnspythons_does(key, rdtype, serial):
    query = xfr_query(ZONE, rdtype, serial, key)
    parsed = dns.message.from_wire(query.wire, keyring=key)   # verifies the TSIG when signed
    reference = make_xfr_query(ZONE, rdtype, serial, key)
    assert parsed.id == query.id and parsed.flags == reference.flags == 0
    assert parsed.question == reference.question
    assert parsed.authority == reference.authority and parsed.answer == parsed.additional == []
    if key is None:
        assert query.mac is None and not parsed.had_tsig
    else:
        assert parsed.had_tsig and parsed.keyname == key.name and parsed.mac == query.mac
        assert abs(parsed.tsig[0].time_signed - time.time()) < 5 and parsed.tsig[0].fudge == 300
    if rdtype == dns.rdatatype.IXFR:
        assert parsed.authority[0][0].serial == serial


class _GssContext(object):
    """Stands in for a GSSAPI security context: dnspython asks it for the signature."""

    def get_signature(self, data):
        return b'G' * 16


def test_a_key_hmac_does_not_do_is_signed_by_dnspython():
    gss = dns.tsig.Key('gss.', _GssContext(), 'gss-tsig')
    signers = {}
    query = xfr_query(ZONE, dns.rdatatype.AXFR, None, gss, signers)
    assert not signers[gss.name].available
    assert query.mac == b'G' * 16 and query.wire.endswith(struct.pack('!H', query.id) + b'\x00' * 4)
    parsed = dns.message.from_wire(query.wire, keyring=False)   # not verified: only its shape
    assert parsed.had_tsig and parsed.keyname == gss.name and parsed.question == make_xfr_query(ZONE, 252).question


def test_one_signer_per_key_is_reused_and_a_new_key_gets_its_own():
    signers = {}
    xfr_query(ZONE, dns.rdatatype.AXFR, None, KEY, signers)
    first = signers[KEY.name]
    xfr_query(ZONE, dns.rdatatype.AXFR, None, KEY, signers)
    assert signers[KEY.name] is first
    other = dns.tsig.Key(KEY.name, b'another secret!!', KEY.algorithm)
    query = xfr_query(ZONE, dns.rdatatype.AXFR, None, other, signers)
    assert signers[KEY.name].key is other
    dns.message.from_wire(query.wire, keyring=other)
