"""The SOA fast path against the full dnspython parse, on answers captured live from BIND and PowerDNS.

The servers are set up to give every kind of answer soa_serial meets: plain
authoritative answers (each server compresses names its own way), answers
with the NS set and glue, EDNS EXPIRE from a secondary, truncated answers
(TC), REFUSED, NOTAUTH, referrals without AA, TSIG-signed answers and TSIG
errors. Each captured wire, and mutations of it (another ID, another
question, the AA bit flipped, truncated, bytes changed), goes through both
parsers; the fast path must give the same result or decline.
"""

import random
import socket
import struct

import dns.message
import dns.name
import pytest

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils._compat import from_wire_unverified
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SerialCheck, classify_soa_response
from ansible_collections.dnsops.zonesync.plugins.module_utils._wire import (
    TsigSigner,
    classify_soa_wire,
    soa_query_template,
)

ZONE = 'example.test.'
BIG_SOA = 'bigsoa.test.'
# SOA names long enough that the answer exceeds 512 octets: truncated by a server limited to 512.
LONG_MNAME = '.'.join(['m' * 63, 'n' * 63, 'o' * 63, 'p' * 40]) + '.' + BIG_SOA
LONG_RNAME = '.'.join(['r' * 63, 's' * 63, 't' * 63, 'u' * 40]) + '.' + BIG_SOA


def zone_with_delegation(origin, serial):
    return dnslab.make_zone_text(origin, serial, count=3, records=[
        ('sub', 'NS', 'ns.sub'), ('ns.sub', 'A', '192.0.2.77'), ('www', 'A', '192.0.2.80')])


def big_soa_zone(serial):
    return ('$ORIGIN %s\n$TTL 300\n@ IN SOA %s %s %d 3600 600 1209600 300\n@ IN NS ns1\nns1 IN A 127.53.0.1\n'
            % (BIG_SOA, LONG_MNAME, LONG_RNAME, serial))


def capture(address, zone, key=None, qid=None):
    """Send one SOA query (the engine's wire: template, ID patched, TSIG by TsigSigner); return the exchange."""
    name = dns.name.from_text(zone)
    template, question_len = soa_query_template(name)
    qid = random.randrange(65536) if qid is None else qid
    sent = struct.pack('!H', qid) + template[2:]
    signer = mac = None
    if key is not None:
        signer = TsigSigner(key.dns_key)
        sent, mac = signer.sign(sent)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(2)
        sock.connect((address, 53))
        sock.send(sent)
        while True:
            answer = sock.recv(65535)
            if answer[:2] == sent[:2]:
                break
    finally:
        sock.close()
    return {'zone': name, 'sent': sent, 'question_len': question_len, 'answer': answer, 'signer': signer,
            'mac': mac, 'key': key.dns_key if key is not None else None}


def both(exchange, answer=None):
    """(fast result or None, full dnspython result) for one answer to the captured query."""
    answer = exchange['answer'] if answer is None else answer
    query = from_wire_unverified(exchange["sent"])[0]
    slow = classify_soa_response(query, answer, exchange['zone'], exchange['key'])
    fast = classify_soa_wire(answer, exchange['sent'], exchange['question_len'], exchange['signer'],
                             exchange['mac'])
    return fast, slow


def mutations(wire, rng):
    """Another ID, the AA bit flipped, TC set, another RCODE, truncations, changed and extra bytes."""
    out = [struct.pack('!H', (struct.unpack('!H', wire[:2])[0] + 1) & 0xFFFF) + wire[2:],
           wire[:2] + bytes([wire[2] ^ 0x04]) + wire[3:],
           wire[:2] + bytes([wire[2] | 0x02]) + wire[3:],
           wire[:3] + bytes([(wire[3] & 0xF0) | 5]) + wire[4:],
           wire + b'\x00']
    # Another question: a letter of the question name changed, and its case changed.
    out.append(wire[:13] + bytes([wire[13] ^ 0x01]) + wire[14:])
    out.append(wire[:13] + bytes([wire[13] ^ 0x20]) + wire[14:])
    cuts = sorted(set([11, 12, len(wire) // 2, len(wire) - 20, len(wire) - 1] +
                      [rng.randrange(len(wire)) for dummy in range(10)]))
    out.extend(wire[:cut] for cut in cuts if 0 <= cut < len(wire))
    for dummy in range(60):
        pos = rng.randrange(len(wire))
        out.append(wire[:pos] + bytes([rng.randrange(256)]) + wire[pos + 1:])
    return out


@pytest.fixture
def corpus(bind, pdns, tsig_key):
    """Live answers from BIND (a primary, a secondary (EDNS EXPIRE), one limited to 512-octet answers, one with
    minimal-responses no) and PowerDNS (limited to 512-octet answers)."""
    key = tsig_key('fast-key')
    unknown = dnslab.make_key('no-such-key')
    wrong_secret = dnslab.make_key(key.name)
    primary = bind(name='primary')
    primary.add_key(key)
    primary.add_primary(ZONE, zone_with_delegation(ZONE, 2024061501), allow_transfer=['key "%s"' % key.name])
    primary.start()
    secondary = bind(name='secondary')
    secondary.add_key(key)
    secondary.add_secondary(ZONE, [(primary.address, 53, key)])
    secondary.start()
    small = bind(name='small-udp')
    small.options_extra += ['max-udp-size 512']
    small.add_primary(BIG_SOA, big_soa_zone(7))
    small.add_primary(ZONE, zone_with_delegation(ZONE, 2024061501))
    small.start()
    full = bind(name='full')
    full.options_extra += ['minimal-responses no']
    full.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061501, ns=('ns1', 'ns2', 'ns3')))
    full.start()
    power = pdns(name='pdns')
    power.add_key(key)
    power.settings['udp-truncation-threshold'] = '512'
    power.add_primary(ZONE, zone_with_delegation(ZONE, 2024061501))
    power.add_primary(BIG_SOA, big_soa_zone(7))
    power.start()
    exchanges = {}
    for label, server in (('bind', primary), ('bind-secondary', secondary), ('bind-512', small), ('pdns', power)):
        exchanges[label + ' answer'] = capture(server.address, ZONE)
        exchanges[label + ' not served'] = capture(server.address, 'other.test.')
        exchanges[label + ' referral'] = capture(server.address, 'sub.' + ZONE)
    for label, server in (('bind', primary), ('bind-secondary', secondary), ('pdns', power)):
        exchanges[label + ' signed'] = capture(server.address, ZONE, key=key)
        exchanges[label + ' unknown key'] = capture(server.address, ZONE, key=unknown)
        exchanges[label + ' wrong secret'] = capture(server.address, ZONE, key=wrong_secret)
    exchanges['bind-full answer'] = capture(full.address, ZONE)
    exchanges['bind-512 truncated'] = capture(small.address, BIG_SOA)
    exchanges['pdns truncated'] = capture(power.address, BIG_SOA)
    return exchanges


def test_fast_path_agrees_on_live_answers(corpus):
    seen = {}
    taken = []
    for label, exchange in sorted(corpus.items()):
        fast, slow = both(exchange)
        seen[label] = slow['status']
        if fast is not None:
            assert fast == slow, label
            taken.append(label)
    # The corpus covers what it claims to cover (as the full parse sees it).
    assert seen['bind answer'] == seen['pdns answer'] == 'answered'
    assert seen['bind-512 answer'] == seen['bind-full answer'] == 'answered'
    # minimal-responses no: the NS set in the authority section and glue in the additional one.
    full = dns.message.from_wire(corpus['bind-full answer']['answer'])
    assert len(full.authority[0]) == 3 and len(full.additional) == 3
    assert seen['bind-512 truncated'] == seen['pdns truncated'] == 'truncated'
    assert seen['bind not served'] == seen['pdns not served'] == 'refused'
    assert seen['bind referral'] == seen['pdns referral'] == 'not_authoritative'
    assert seen['bind signed'] == seen['pdns signed'] == seen['bind-secondary signed'] == 'answered'
    assert seen['bind unknown key'] == seen['bind wrong secret'] == 'tsig_error'
    assert seen['pdns unknown key'] in ('tsig_error', 'refused')
    assert corpus['pdns unknown key']['answer'][3] & 0x0F == 9  # PowerDNS: an unsigned NOTAUTH
    assert both(corpus['bind-secondary answer'])[1]['expire_remaining'] is not None
    # Plain and signed answers from both servers take the fast path.
    for label in ('bind answer', 'pdns answer', 'bind-secondary answer', 'bind-512 answer', 'bind-full answer',
                  'bind signed',
                  'pdns signed', 'bind-secondary signed'):
        assert label in taken, label
    # Failures are left to dnspython.
    for label in ('bind-512 truncated', 'pdns truncated', 'bind not served', 'pdns referral', 'bind unknown key'):
        assert label not in taken, label


def test_fast_path_agrees_on_mutated_answers(corpus):
    rng = random.Random(1982)
    checked = 0
    for label, exchange in sorted(corpus.items()):
        for answer in mutations(exchange['answer'], rng):
            fast, slow = both(exchange, answer)
            if fast is not None:
                assert fast == slow, (label, answer)
            checked += 1
    assert checked > 1000


def test_compression_styles_differ_and_both_are_read(corpus):
    """BIND and PowerDNS answers are not byte-identical, and the fast path reads both the same way."""
    bind_answer = corpus['bind answer']['answer']
    pdns_answer = corpus['pdns answer']['answer']
    assert bind_answer[2:] != pdns_answer[2:]
    assert both(corpus['bind answer'])[0]['serial'] == both(corpus['pdns answer'])[0]['serial'] == 2024061501


def test_engine_statuses_with_signed_queries(bind, pdns, tsig_key):
    """The engine's signed queries (TsigSigner) are accepted by both servers; a wrong key is told apart."""
    key = tsig_key('fast-key')
    primary = bind()
    primary.add_key(key)
    primary.add_primary(ZONE, dnslab.make_zone_text(ZONE, 41))
    primary.start()
    power = pdns()
    power.add_key(key)
    power.add_primary(ZONE, dnslab.make_zone_text(ZONE, 41))
    power.start()
    zones = [dns.name.from_text(ZONE)]
    report = SerialCheck(zones, servers=[primary.address, power.address], key=key.dns_key, timeout=1.0,
                         retries=1).run()
    assert [row['status'] for row in report['zones'][0]['servers']] == ['in_sync', 'in_sync']
    wrong = dnslab.make_key(key.name).dns_key
    report = SerialCheck(zones, servers=[primary.address, power.address], key=wrong, timeout=1.0, retries=0).run()
    assert [row['status'] for row in report['zones'][0]['servers']] == ['tsig_error', 'tsig_error']
