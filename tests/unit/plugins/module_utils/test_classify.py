"""Status classification of single answers, on messages built with dnspython.

The same classification is exercised against real BIND and PowerDNS answers
in tests/integration; here every branch is pinned down one by one.
"""

import struct
import time

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

from ansible_collections.dnsops.zonesync.plugins.module_utils._diagnosis import _TEXT, explain
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import (
    classify_against_reference, classify_soa_response, make_soa_query)
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import (
    ZoneDigest, classify_error_message, compare_records)

ZONE = dns.name.from_text('example.test.')
KEY = dns.tsig.Key('k1.', b'0123456789abcdef0123456789abcdef', dns.tsig.HMAC_SHA256)
OTHER_KEY = dns.tsig.Key('k1.', b'fedcba9876543210fedcba9876543210', dns.tsig.HMAC_SHA256)


def _answer(query, serial=2024061501, aa=True, rcode=dns.rcode.NOERROR, expire=None, tc=False, key=None):
    response = dns.message.make_response(query)
    if aa:
        response.flags |= dns.flags.AA
    if tc:
        response.flags |= dns.flags.TC
    response.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR and serial is not None:
        response.answer.append(dns.rrset.from_text(ZONE, 300, 'IN', 'SOA',
                                                   'ns1.example.test. hostmaster.example.test. %d 3600 600 1209600 300' % serial))
    options = [dns.edns.GenericOption(dns.edns.OptionType.EXPIRE, struct.pack('!I', expire))] if expire else []
    response.use_edns(0, options=options)
    # make_response() signs the answer with the query's key; drop that unless asked.
    response.tsig = None
    response.keyring = None
    if key is not None:
        response.use_tsig(key)
    return response.to_wire()


def test_query_is_non_recursive_with_expire_option():
    query = make_soa_query(ZONE)
    assert not query.flags & dns.flags.RD
    assert any(int(o.otype) == 9 for o in query.options)


def test_serial_and_expire():
    query = make_soa_query(ZONE)
    out = classify_soa_response(query, _answer(query, expire=86400), ZONE)
    assert out['status'] == 'answered'
    assert out['serial'] == 2024061501
    assert out['expire_remaining'] == 86400


def test_no_aa_is_not_authoritative():
    query = make_soa_query(ZONE)
    out = classify_soa_response(query, _answer(query, aa=False), ZONE)
    assert out['status'] == 'not_authoritative'
    assert out['serial'] is None


@pytest.mark.parametrize('rcode, status', [
    (dns.rcode.REFUSED, 'refused'),
    (dns.rcode.NOTAUTH, 'not_authoritative'),
    (dns.rcode.SERVFAIL, 'servfail'),
    (dns.rcode.NXDOMAIN, 'not_authoritative'),
])
def test_error_rcodes(rcode, status):
    query = make_soa_query(ZONE)
    out = classify_soa_response(query, _answer(query, rcode=rcode, serial=None), ZONE)
    assert out['status'] == status
    assert out['rcode'] == dns.rcode.to_text(rcode)


def test_truncated_goes_to_tcp():
    query = make_soa_query(ZONE)
    out = classify_soa_response(query, _answer(query, tc=True), ZONE)
    assert out['status'] == 'truncated'


def test_wrong_id_or_question_is_ignored():
    query = make_soa_query(ZONE, qid=100)
    other = make_soa_query(dns.name.from_text('other.test.'), qid=100)
    assert classify_soa_response(query, _answer(other), ZONE)['status'] == 'mismatch'


def test_signed_answer_accepted_and_unsigned_rejected():
    query = make_soa_query(ZONE, key=KEY)
    query.to_wire()  # computes the request MAC
    signed = classify_soa_response(query, _answer(query, key=KEY), ZONE, key=KEY)
    assert signed['status'] == 'answered'
    unsigned = classify_soa_response(query, _answer(query), ZONE, key=KEY)
    assert unsigned['status'] == 'tsig_error'
    assert 'not signed' in unsigned['error']


def test_answer_signed_with_other_secret():
    query = make_soa_query(ZONE, key=KEY)
    query.to_wire()
    out = classify_soa_response(query, _answer(query, key=OTHER_KEY), ZONE, key=KEY)
    assert out['status'] == 'tsig_error'


def test_reference_comparison():
    assert classify_against_reference({'status': 'answered', 'serial': 10}, 10)['status'] == 'in_sync'
    row = classify_against_reference({'status': 'answered', 'serial': 4294967290}, 5)
    assert (row['status'], row['lag']) == ('behind', 11)
    row = classify_against_reference({'status': 'answered', 'serial': 6}, 5)
    assert (row['status'], row['lag']) == ('ahead', -1)
    row = classify_against_reference({'status': 'answered', 'serial': 2147483653}, 5)
    assert row['status'] == 'not_comparable'
    row = classify_against_reference({'status': 'timeout', 'serial': None}, 5)
    assert row['status'] == 'timeout'


def _tsig_error_wire(error, other=b''):
    query = dns.message.make_query(ZONE, 'AXFR')
    query.use_tsig(KEY)
    query.to_wire()
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NOTAUTH)
    response.use_tsig(KEY, tsig_error=error, other_data=other)
    return response.to_wire()


def test_badtime_skew_from_other_data():
    now = int(time.time())
    server_time = now + 900
    wire = _tsig_error_wire(dns.rcode.BADTIME, struct.pack('!HI', server_time >> 32, server_time & 0xffffffff))
    status, detail, extra = classify_error_message(wire, KEY, now)
    assert status == 'tsig_bad_time'
    assert extra['skew'] == 900


@pytest.mark.parametrize('error, status', [(dns.rcode.BADKEY, 'tsig_bad_key'),
                                           (dns.rcode.BADSIG, 'tsig_bad_signature')])
def test_tsig_errors(error, status):
    assert classify_error_message(_tsig_error_wire(error), KEY, time.time())[0] == status


def test_digest_is_order_independent_and_sensitive():
    def digest(records, **kw):
        d = ZoneDigest(ZONE, **kw)
        for name, ttl, text, rdtype in records:
            d.add(dns.name.from_text(name), ttl, dns.rdata.from_text('IN', rdtype, text))
        return d.hexdigest()
    records = [('www.example.test.', 300, '192.0.2.1', 'A'), ('mail.example.test.', 300, '192.0.2.2', 'A')]
    assert digest(records) == digest(list(reversed(records)))
    assert digest(records) != digest([records[0], ('mail.example.test.', 300, '192.0.2.3', 'A')])
    assert digest(records) != digest([records[0], ('mail.example.test.', 60, '192.0.2.2', 'A')])
    assert digest(records, ignore_ttl=True) == digest([records[0], ('mail.example.test.', 60, '192.0.2.2', 'A')],
                                                      ignore_ttl=True)
    # Owner names compare case-insensitively, as DNS does.
    assert digest(records) == digest([('WWW.example.test.', 300, '192.0.2.1', 'A'), records[1]])


def test_compare_records_counts():
    primary = {('a.example.test.', 'A'): {'192.0.2.1': 300},
               ('b.example.test.', 'A'): {'192.0.2.2': 300},
               ('c.example.test.', 'TXT'): {'"x"': 300}}
    secondary = {('a.example.test.', 'A'): {'192.0.2.9': 300},
                 ('b.example.test.', 'A'): {'192.0.2.2': 60},
                 ('d.example.test.', 'A'): {'192.0.2.4': 300}}
    out = compare_records(primary, secondary, limit=2)
    assert (out['missing'], out['extra'], out['changed']) == (1, 1, 2)
    assert len(out['differences']) == 2
    assert out['differences'][0]['kind'] == 'changed'


def test_every_status_has_diagnosis_and_both_remediations():
    for status in _TEXT:
        out = explain(status, {'zone': 'example.test', 'server': '192.0.2.1', 'key': 'k1', 'skew': 900,
                               'source': '192.0.2.2', 'detail': 'x'})
        assert out['diagnosis'] and '{' not in out['diagnosis']
        assert set(out['remediation']) == {'bind', 'powerdns'}
    assert '900 s' in explain('tsig_bad_time', {'skew': 900})['diagnosis']
