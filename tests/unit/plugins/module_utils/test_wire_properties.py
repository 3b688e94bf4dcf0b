"""Property tests of the wire fast paths (hypothesis): SOA answers and transfer streams, generated and mutated.

For every input, the fast path either agrees with dnspython's parse or declines, and nothing raises past the
classifier (the SOA classifier returns a status; the transfer reader returns, or raises TransferFailed). The
runs are seeded (derandomize) so that `make test` is repeatable: ZONESYNC_FUZZ_EXAMPLES cases per property
(1,000 by default, 3,000 cases in all); `make fuzz` runs many more, with a random seed.
"""

import os

import dns.message
import dns.rdatatype
import dns.rrset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_fastxfr import KEY, ZONE, axfr_query, both, make_stream, zone_records
from test_wire import SHAPES, _agree, _answer, _query

from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import make_xfr_query

EXAMPLES = int(os.environ.get('ZONESYNC_FUZZ_EXAMPLES', '1000'))
RANDOM = os.environ.get('ZONESYNC_FUZZ_RANDOM') == '1'
SETTINGS = settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

# A mutation: (kind, position, value); positions are taken modulo the length of what they apply to.
MUTATION = st.tuples(st.sampled_from(['set', 'cut', 'insert', 'delete', 'append']),
                     st.integers(min_value=0, max_value=1 << 20), st.integers(min_value=0, max_value=255))


def mutate(wire, mutations, floor=0):
    data = bytearray(wire)
    for kind, pos, value in mutations:
        if len(data) <= floor:
            break
        at = floor + pos % (len(data) - floor)
        if kind == 'set':
            data[at] = value
        elif kind == 'cut':
            del data[at:]
        elif kind == 'insert':
            data[at:at] = bytes([value])
        elif kind == 'delete':
            del data[at]
        else:
            data += bytes([value]) * (1 + value % 8)
    return bytes(data)


@SETTINGS
@given(shape=st.sampled_from([kwargs for kwargs, dummy in SHAPES]), signed=st.booleans(),
       mutations=st.lists(MUTATION, max_size=4))
def test_soa_answers_fast_path_agrees_or_declines(shape, signed, mutations):
    key = KEY if signed else None
    sent, question_len, signer, mac = _query(key)
    query = dns.message.from_wire(sent, keyring=False)
    answer = mutate(_answer(query, key=key, **shape), mutations)
    # _agree asserts equality whenever the fast path takes the answer; the slow classifier must not raise.
    fast, slow = _agree(sent, question_len, answer, signer, mac, key)
    assert isinstance(slow, dict) and slow['status']


HOSTS = 12


@SETTINGS
@given(signed=st.booleans(), per_message=st.integers(min_value=1, max_value=20),
       message=st.integers(min_value=0, max_value=1 << 10), mutations=st.lists(MUTATION, min_size=1, max_size=3),
       drop=st.booleans(), duplicate=st.booleans())
def test_axfr_streams_fast_path_agrees_or_declines(signed, per_message, message, mutations, drop, duplicate):
    key = KEY if signed else None
    soa, body = zone_records(hosts=HOSTS)
    query = axfr_query(key)
    wires = make_stream(query, [soa] + body + [soa], per_message=per_message, key=key)
    index = message % len(wires)
    wires[index] = mutate(wires[index], mutations)
    if drop and len(wires) > 1:
        del wires[(index + 1) % len(wires)]
    if duplicate:
        index = min(index, len(wires) - 1)
        wires.insert(index, wires[index])
    # both() runs the fast and the dnspython reader and asserts the same result, failure and digest.
    result, failure, done, state, dummy = both(query, wires, key, digest_kw={'buckets': True, 'collect': True})
    assert failure is None or failure[0]


def _ixfr_stream(condensed):
    soa = {serial: dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', 'ns1.example.test. h.example.test. %d 1 1 1 1'
                                       % serial) for serial in (10, 11, 12)}
    a = [dns.rrset.from_text('www.example.test.', 300, 'IN', 'A', '192.0.2.%d' % i) for i in range(1, 4)]
    if condensed:
        return [soa[12], soa[10], a[0], soa[12], a[2], soa[12]]
    return [soa[12], soa[10], a[0], soa[11], a[1], soa[11], a[1], soa[12], a[2], soa[12]]


@SETTINGS
@given(condensed=st.booleans(), per_message=st.integers(min_value=1, max_value=4),
       message=st.integers(min_value=0, max_value=64), mutations=st.lists(MUTATION, max_size=3))
def test_ixfr_streams_fast_path_agrees_or_declines(condensed, per_message, message, mutations):
    query = make_xfr_query(ZONE, dns.rdatatype.IXFR, serial=10)
    query.to_wire()
    wires = make_stream(query, _ixfr_stream(condensed), per_message=per_message)
    index = message % len(wires)
    wires[index] = mutate(wires[index], mutations)
    result, failure, done, state, dummy = both(query, wires, is_ixfr=True, client_serial=10)
    if not mutations:
        assert done and failure is None, failure
        assert result['ixfr_changes'] == ({'deleted': 1, 'added': 1} if condensed else {'deleted': 2, 'added': 2})


def test_the_generators_reach_both_outcomes():
    """The mutations are not all harmless, nor all fatal: the properties above test something."""
    soa, body = zone_records(hosts=HOSTS)
    query = axfr_query(None)
    clean = make_stream(query, [soa] + body + [soa], per_message=5)
    assert both(query, clean)[2] is True
    broken = list(clean)
    broken[1] = mutate(broken[1], [('set', 2, 0x00)])  # QR cleared
    assert both(query, broken)[1][0] == 'malformed'
