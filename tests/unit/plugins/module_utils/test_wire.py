"""The wire-level fast paths (_wire) against dnspython, on messages built with dnspython and mutated.

The rule under test: for any wire, the fast path gives exactly what the full
dnspython parse leads to, or declines. The same agreement is checked on live
answers from BIND and PowerDNS in tests/integration/test_fastpath_soa.py.
"""

import random
import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import classify_soa_response, make_soa_query
from ansible_collections.dnsops.zonesync.plugins.module_utils._wire import (
    Decline,
    TsigSigner,
    canonical_rdata,
    classify_soa_wire,
    read_name,
    soa_query_template,
)

ZONE = dns.name.from_text('example.test.')
KEY = dns.tsig.Key('k1.', b'0123456789abcdef0123456789abcdef', dns.tsig.HMAC_SHA256)
OTHER_KEY = dns.tsig.Key('k1.', b'fedcba9876543210fedcba9876543210', dns.tsig.HMAC_SHA256)
ALGORITHMS = ['hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha256-128', 'hmac-sha384', 'hmac-sha384-192',
              'hmac-sha512', 'hmac-sha512-256', 'HMAC-MD5.SIG-ALG.REG.INT']


# ---------------------------------------------------------------- names

def _name_cases():
    """(wire, offset) pairs: well-formed, compressed, and broken names."""
    base = b'\x00' * 12 + b'\x07example\x04test\x00'  # the name at 12
    cases = [
        (base, 12),
        (base + b'\x03www\xc0\x0c', len(base)),                   # label + pointer
        (base + b'\xc0\x0c', len(base)),                          # pointer only
        (base + b'\xc0\x14', len(base)),                          # pointer into the name (suffix "test.")
        (base + b'\x03WwW\xc0\x0c', len(base)),                   # case kept, lowered separately
        (base + b'\xc0' + bytes([len(base)]), len(base)),         # pointer to itself
        (base + b'\xc0\x30', len(base)),                          # forward pointer
        (base + b'\x80\x00', len(base)),                          # bad label type
        (base + b'\x40\x00', len(base)),                          # extended label type
        (base + b'\x05ab', len(base)),                            # label past the end
        (base + b'\x03www', len(base)),                           # no terminator
        (b'\x00' * 12 + b'\x01a\xc0\x0c', 12),                    # pointer to its own first byte
    ]
    # A chain of 17 pointers (dnspython allows 16 hops) and one of 16.
    for hops in (16, 17):
        wire = bytearray(b'\x00' * 12 + b'\x00')
        offsets = [12]
        for dummy in range(hops):
            offsets.append(len(wire))
            wire += bytes([0xC0 | (offsets[-2] >> 8), offsets[-2] & 0xFF])
        cases.append((bytes(wire), offsets[-1]))
    # 255 and 256 octets.
    long_ok = b''.join(b'\x3f' + b'a' * 63 for dummy in range(3)) + b'\x3d' + b'b' * 61 + b'\x00'
    cases.append((b'\x00' * 12 + long_ok, 12))
    long_bad = b''.join(b'\x3f' + b'a' * 63 for dummy in range(3)) + b'\x3e' + b'b' * 62 + b'\x00'
    cases.append((b'\x00' * 12 + long_bad, 12))
    # A pointer whose target overlaps the pointing name.
    cases.append((b'\x00' * 12 + b'\x01a\x01b\xc0\x0e', 12))
    return cases


@pytest.mark.parametrize('wire, offset', _name_cases())
def test_read_name_agrees_with_dnspython(wire, offset):
    try:
        expected = dns.name.from_wire(wire, offset)
    except Exception:
        expected = None
    for cache in ({}, {12: read_name(wire, 12, len(wire), {})} if expected is not None and offset != 12 else {}):
        try:
            ent = read_name(wire, offset, len(wire), dict(cache))
        except Decline:
            ent = None
        if ent is None:
            continue  # declining is always allowed
        assert expected is not None, 'fast path accepted a name dnspython rejects'
        name, end = expected
        assert ent[0] == name.to_wire()
        assert ent[1] == offset + end
        assert ent[3] == name.to_digestable()


def test_read_name_takes_plain_names():
    wire = b'\x00' * 12 + b'\x07example\x04test\x00' + b'\x03www\xc0\x0c'
    cache = {}
    ent = read_name(wire, 26, len(wire), cache)
    assert ent[0] == b'\x03www\x07example\x04test\x00'
    assert ent[1] == 32
    assert ent[3] == ent[0]
    assert 12 in cache and 26 in cache


def test_read_name_fuzz_agrees():
    rng = random.Random(5)
    base = b'\x00' * 12 + b'\x07example\x04test\x00\x03www\xc0\x0c\x04mail\xc0\x1a'
    for dummy in range(3000):
        wire = bytearray(base)
        for dummy2 in range(rng.randint(1, 3)):
            wire[rng.randrange(12, len(wire))] = rng.randrange(256)
        wire = bytes(wire)
        offset = rng.choice([12, 26, 32])
        try:
            expected = dns.name.from_wire(wire, offset)
        except Exception:
            expected = None
        try:
            ent = read_name(wire, offset, len(wire), {})
        except Decline:
            continue
        assert expected is not None
        assert (ent[0], ent[1]) == (expected[0].to_wire(), offset + expected[1])


# ---------------------------------------------------------------- queries

@pytest.mark.parametrize('zone', ['example.test.', 'a.b.c.example.', '.', 'xn--bcher-kva.example.', 'UPPER.Example.'])
def test_template_is_make_soa_query(zone):
    name = dns.name.from_text(zone)
    template, question_len = soa_query_template(name)
    query = make_soa_query(name, qid=4660)
    assert struct.pack('!H', 4660) + template[2:] == query.to_wire()
    assert question_len == len(name.to_wire()) + 4


@pytest.mark.parametrize('algorithm', ALGORITHMS)
def test_signed_query_verifies_in_dnspython(algorithm):
    key = dns.tsig.Key('transfer-key.', b'0123456789abcdef0123456789abcdef', algorithm)
    template, dummy = soa_query_template(ZONE)
    signer = TsigSigner(key)
    assert signer.available
    wire, mac = signer.sign(struct.pack('!H', 999) + template[2:])
    parsed = dns.message.from_wire(wire, keyring=key)
    assert parsed.had_tsig and parsed.mac == mac
    assert parsed.id == 999 and parsed.question[0].name == ZONE
    # dnspython signs the same bytes: same MAC at the same time.
    query = make_soa_query(ZONE, key=key, qid=999)
    reference = dns.message.from_wire(query.to_wire(), keyring=key)
    now = reference.tsig[0].time_signed
    assert signer.sign(struct.pack('!H', 999) + template[2:], now=now)[1] == reference.mac


def test_signer_not_available_for_gss_tsig():
    key = dns.tsig.Key('k.', b'x' * 16, 'hmac-sha256')
    key.algorithm = dns.tsig.GSS_TSIG
    assert not TsigSigner(key).available


# ---------------------------------------------------------------- SOA answers

def _answer(query, serial=2024061501, aa=True, rcode=dns.rcode.NOERROR, options=(), tc=False, key=None,
            authority=(), additional=(), edns=True, extra_answer=()):
    response = dns.message.make_response(query)
    if aa:
        response.flags |= dns.flags.AA
    if tc:
        response.flags |= dns.flags.TC
    response.set_rcode(rcode)
    if serial is not None:
        response.answer.append(dns.rrset.from_text(ZONE, 300, 'IN', 'SOA',
                                                   'ns1.example.test. hostmaster.example.test. %d 3600 600 1209600 300'
                                                   % serial))
    for text in extra_answer:
        response.answer.append(dns.rrset.from_text(*text))
    for text in authority:
        response.authority.append(dns.rrset.from_text(*text))
    for text in additional:
        response.additional.append(dns.rrset.from_text(*text))
    if edns:
        response.use_edns(0, options=list(options))
    else:
        response.use_edns(False)
    response.tsig = None
    response.keyring = None
    if key is not None:
        response.use_tsig(key)
        response.request_mac = query.mac or b''
    return response.to_wire()


def _query(key=None, qid=4242, zone=ZONE):
    template, question_len = soa_query_template(zone)
    wire = struct.pack('!H', qid) + template[2:]
    mac = None
    signer = None
    if key is not None:
        signer = TsigSigner(key)
        wire, mac = signer.sign(wire)
    return wire, question_len, signer, mac


def _slow(sent, answer, key, zone=ZONE):
    return classify_soa_response(dns.message.from_wire(sent, keyring=False), answer, zone, key)


EXPIRE = dns.edns.GenericOption(dns.edns.OptionType.EXPIRE, struct.pack('!I', 86400))
NS_AUTH = ('example.test.', 300, 'IN', 'NS', 'ns1.example.test.', 'ns2.example.test.')
GLUE = ('ns1.example.test.', 300, 'IN', 'A', '192.0.2.1')
GLUE6 = ('ns2.example.test.', 300, 'IN', 'AAAA', '2001:db8::2')

# (answer keyword arguments, whether the fast path must take it)
SHAPES = [
    ({}, True),
    ({'options': [EXPIRE]}, True),
    ({'options': [dns.edns.GenericOption(dns.edns.OptionType.EXPIRE, b'')]}, True),
    ({'options': [dns.edns.GenericOption(dns.edns.OptionType.PADDING, b'\x00' * 40), EXPIRE]}, True),
    ({'authority': [NS_AUTH], 'additional': [GLUE, GLUE6]}, True),
    ({'edns': False}, True),
    ({'aa': False}, False),
    ({'tc': True}, False),
    ({'rcode': dns.rcode.REFUSED, 'serial': None}, False),
    ({'rcode': dns.rcode.NOTAUTH, 'serial': None}, False),
    ({'rcode': dns.rcode.SERVFAIL, 'serial': None}, False),
    ({'serial': None}, False),
    ({'rcode': dns.rcode.BADVERS, 'serial': None}, False),
    ({'options': [dns.edns.NSIDOption(b'ns1')]}, False),
    ({'options': [dns.edns.ECSOption('192.0.2.0', 24)]}, False),
    ({'extra_answer': [('example.test.', 300, 'IN', 'TXT', '"x"')]}, False),
    ({'authority': [('example.test.', 300, 'IN', 'TXT', '"x"')]}, False),
    ({'additional': [('x.example.test.', 300, 'IN', 'MX', '10 y.example.test.')]}, False),
]


def _agree(sent, question_len, answer, signer, mac, key, zone=ZONE):
    slow = _slow(sent, answer, key, zone)
    fast = classify_soa_wire(answer, sent, question_len, signer, mac)
    if fast is not None:
        assert fast == slow
    return fast, slow


@pytest.mark.parametrize('kwargs, taken', SHAPES)
@pytest.mark.parametrize('signed', [False, True])
def test_soa_shapes_agree(kwargs, taken, signed):
    key = KEY if signed else None
    sent, question_len, signer, mac = _query(key)
    query = dns.message.from_wire(sent, keyring=False)
    answer = _answer(query, key=key, **kwargs)
    fast, slow = _agree(sent, question_len, answer, signer, mac, key)
    assert (fast is not None) == taken, (fast, slow)
    if taken:
        assert fast['status'] == 'answered' and fast['serial'] == 2024061501


def test_signed_query_answered_unsigned_or_with_other_key():
    sent, question_len, signer, mac = _query(KEY)
    query = dns.message.from_wire(sent, keyring=False)
    for answer in (_answer(query), _answer(query, key=OTHER_KEY),
                   _answer(query, key=dns.tsig.Key('k2.', KEY.secret, KEY.algorithm)),
                   _answer(query, key=dns.tsig.Key('k1.', KEY.secret, 'hmac-sha512'))):
        fast, slow = _agree(sent, question_len, answer, signer, mac, KEY)
        assert fast is None
        assert slow['status'] == 'tsig_error'


def test_unsigned_query_answered_signed_declines():
    sent, question_len, signer, mac = _query()
    query = dns.message.from_wire(sent, keyring=False)
    answer = _answer(query, key=KEY)
    fast, slow = _agree(sent, question_len, answer, None, None, None)
    assert fast is None


def test_uncompressed_owner_is_taken():
    sent, question_len, signer, mac = _query()
    query = dns.message.from_wire(sent, keyring=False)
    answer = _answer(query)
    # Rewrite the answer owner (a pointer to the question) as the full name.
    owner_at = 12 + question_len
    assert answer[owner_at:owner_at + 2] == b'\xc0\x0c'
    answer = answer[:owner_at] + ZONE.to_wire() + answer[owner_at + 2:]
    fast, slow = _agree(sent, question_len, answer, None, None, None)
    assert fast is not None and fast['serial'] == 2024061501


def test_other_question_or_id_declines():
    sent, question_len, signer, mac = _query(qid=1)
    other = dns.message.from_wire(_query(qid=1, zone=dns.name.from_text('other.test.'))[0], keyring=False)
    fast, slow = _agree(sent, question_len, _answer(other), None, None, None)
    assert fast is None and slow['status'] == 'mismatch'
    wrong_id = dns.message.from_wire(_query(qid=2)[0], keyring=False)
    fast, slow = _agree(sent, question_len, _answer(wrong_id), None, None, None)
    assert fast is None and slow['status'] == 'mismatch'
    # The question in another case: dnspython matches it, the fast path declines.
    upper = dns.message.from_wire(_query(qid=1, zone=dns.name.from_text('EXAMPLE.test.'))[0], keyring=False)
    fast, slow = _agree(sent, question_len, _answer(upper), None, None, None)
    assert fast is None and slow['status'] == 'answered'


@pytest.mark.parametrize('signed', [False, True])
def test_mutations_agree(signed):
    """Every single-byte change, truncation and flag flip of an answer: the fast path agrees or declines."""
    key = KEY if signed else None
    sent, question_len, signer, mac = _query(key)
    query = dns.message.from_wire(sent, keyring=False)
    answer = _answer(query, key=key, options=[EXPIRE], authority=[NS_AUTH], additional=[GLUE])
    rng = random.Random(11)
    taken = 0
    variants = [answer[:cut] for cut in range(len(answer))]
    variants.append(answer + b'\x00')
    for pos in range(len(answer)):
        for value in (answer[pos] ^ 0x01, answer[pos] ^ 0x80, rng.randrange(256)):
            variants.append(answer[:pos] + bytes([value]) + answer[pos + 1:])
    for variant in variants:
        fast, slow = _agree(sent, question_len, variant, signer, mac, key)
        taken += fast is not None
    # Changes the fast path cannot tell from the original (TTLs, the rest of the SOA) are taken.
    assert taken > 0


# ---------------------------------------------------------------- canonical rdata

RDATAS = [
    ('A', '192.0.2.1'), ('AAAA', '2001:db8::1'), ('TXT', '"hello" "World"'), ('TXT', '""'),
    ('NS', 'NS1.Example.TEST.'), ('CNAME', 'Target.example.test.'), ('PTR', 'host.Example.test.'),
    ('MX', '10 Mail.Example.test.'), ('SRV', '10 20 5060 SIP.example.test.'),
    ('SOA', 'NS1.example.test. Hostmaster.example.test. 5 3600 600 1209600 300'),
    ('CAA', '0 issue "ca.example"'), ('SSHFP', '1 1 0123456789abcdef0123456789abcdef01234567'),
    ('DNAME', 'Other.example.'), ('NAPTR', '100 10 "U" "E2U+sip" "!^.*$!sip:x@example.test!" .'),
    ('DS', '12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'),
    ('NSEC', 'Next.example.test. A NS SOA RRSIG NSEC'), ('HINFO', '"x86" "Linux"'),
    ('RP', 'Admin.example.test. Info.example.test.'), ('LOC', '52 22 23.000 N 4 53 32.000 E -2.00m 0.00m'),
    ('TYPE65534', '\\# 3 010203'),
]


@pytest.mark.parametrize('rdtype, text', RDATAS)
def test_canonical_rdata_is_to_digestable(rdtype, text):
    """In a message with name compression, as a server sends it."""
    response = dns.message.make_response(dns.message.make_query(ZONE, 'AXFR'))
    response.answer.append(dns.rrset.from_text('www.example.test.', 300, 'IN', 'A', '192.0.2.9'))
    rrset = dns.rrset.from_text('Host.example.test.', 300, 'IN', rdtype, text)
    response.answer.append(rrset)
    wire = response.to_wire()
    cache = {}
    off = 12
    off = read_name(wire, off, len(wire), cache)[1] + 4
    for index in range(2):
        off = read_name(wire, off, len(wire), cache)[1]
        rdtype_value, rdclass, ttl, rdlen = struct.unpack_from('!HHIH', wire, off)
        off += 10
        if index == 1:
            got = canonical_rdata(wire, rdtype_value, rdclass, off, off + rdlen, cache)
            assert got == rrset[0].to_digestable()
        off += rdlen


BAD_RDATA = [(1, b'\x01\x02\x03'), (28, b'\x00' * 15), (16, b''), (16, b'\x05ab'), (2, b'\x03www'), (15, b'\x00'),
             (6, b'\x00\x00' + b'\x00' * 19)]


@pytest.mark.parametrize('rdtype, rdata', BAD_RDATA)
def test_canonical_rdata_declines_what_dnspython_rejects(rdtype, rdata):
    wire = b'\x00' * 12 + rdata
    with pytest.raises(Exception):
        dns.rdata.from_wire(1, rdtype, wire, 12, len(rdata))
    with pytest.raises((Decline, IndexError)):
        canonical_rdata(wire, rdtype, 1, 12, len(wire), {})
