import dns.message
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring

from ansible_collections.dnsops.zonesync.plugins.module_utils import _compat

KEYRING = dns.tsigkeyring.from_text({'xfr-key': '4Sx2bQ3m5Wc0p3uHkq8sF9yT1aZ6vN7rJ2dL5gE8hXw='})


def signed_refused():
    query = dns.message.make_query('example.test', dns.rdatatype.AXFR)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.REFUSED)
    response.use_tsig(KEYRING, keyname='xfr-key', tsig_error=dns.rcode.BADTIME, other_data=b'\x00\x00\x00\x00\x00\x07')
    return response.to_wire()


def test_strip_tsig_reads_the_record_dnspython_2_3_cannot_skip():
    # The fallback used on dnspython 2.3, where keyring=False fails.
    stripped, rdata, keyname = _compat._strip_tsig(signed_refused())
    message = dns.message.from_wire(stripped)
    assert message.rcode() == dns.rcode.REFUSED and not message.additional
    assert keyname.to_text() == 'xfr-key.'
    assert rdata.error == dns.rcode.BADTIME and rdata.other == b'\x00\x00\x00\x00\x00\x07'


def test_strip_tsig_leaves_unsigned_messages_alone():
    query = dns.message.make_query('example.test', dns.rdatatype.SOA, use_edns=True)
    wire = query.to_wire()
    assert _compat._strip_tsig(wire) == (wire, None, None)


def test_from_wire_unverified_agrees_with_the_fallback():
    message, rdata = _compat.from_wire_unverified(signed_refused())
    assert message.rcode() == dns.rcode.REFUSED
    assert rdata.error == dns.rcode.BADTIME


def test_fallback_keeps_the_mac_of_a_signed_query(monkeypatch):
    query = dns.message.make_query('example.test', dns.rdatatype.SOA)
    query.use_tsig(KEYRING, keyname='xfr-key')
    wire = query.to_wire()
    real = dns.message.from_wire

    def like_dnspython_2_3(data, **kwargs):
        if kwargs.get('keyring') is False:
            raise AttributeError("'bool' object has no attribute 'name'")
        return real(data, **kwargs)

    monkeypatch.setattr(dns.message, 'from_wire', like_dnspython_2_3)
    message, rdata = _compat.from_wire_unverified(wire)
    assert message.mac == query.mac and rdata.mac == query.mac
