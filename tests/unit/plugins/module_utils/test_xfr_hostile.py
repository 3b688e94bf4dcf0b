"""transfer() against scripted servers on loopback that misbehave: limits, IXFR fallback, NOTIMP.

Each server is a thread that accepts TCP connections on 127.0.0.1, reads one
query and answers with what the test scripts. Every test bounds its own time:
a transfer that hangs fails the test instead of running into the CI timeout.
"""

import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import (
    TransferLimits,
    ZoneDigest,
    check_zone_transfer,
    transfer,
)

ZONE = dns.name.from_text('example.test.')
SOA = 'ns1.example.test. hostmaster.example.test. %d 3600 600 1209600 300'


def soa(serial):
    return dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', SOA % serial)


def records(count):
    return [dns.rrset.from_text('h%d.example.test.' % i, 60, 'IN', 'A', '192.0.2.%d' % (i % 250 + 1))
            for i in range(count)]


def frame(message):
    wire = message.to_wire()
    return struct.pack('!H', len(wire)) + wire


def answer(query, rrsets, rcode=dns.rcode.NOERROR):
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.set_rcode(rcode)
    response.answer.extend(rrsets)
    return frame(response)


class Scripted(object):
    """A TCP server on loopback; ``script(query, conn)`` answers each connection's query."""

    def __init__(self, script):
        self.script = script
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, dummy = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            conn.settimeout(5)
            (length,) = struct.unpack('!H', conn.recv(2, socket.MSG_WAITALL))
            query = dns.message.from_wire(conn.recv(length, socket.MSG_WAITALL))
            self.queries.append(dns.rdatatype.to_text(query.question[0].rdtype))
            self.script(query, conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(2)


@pytest.fixture
def server():
    made = []

    def make(script):
        made.append(Scripted(script))
        return made[-1]
    yield make
    for each in made:
        each.close()


def run(srv, rdtype='AXFR', serial=None, limits=None, timeout=5.0, digest=True):
    started = time.monotonic()
    result = transfer(ZONE, '127.0.0.1', srv.port, rdtype=rdtype, serial=serial, timeout=timeout,
                      digest=ZoneDigest(ZONE) if digest else None, limits=limits)
    return result, time.monotonic() - started


def endless(query, conn, stop):
    """A server that streams A records after the opening SOA and never closes the zone."""
    conn.sendall(answer(query, [soa(5)]))
    batch = records(200)
    while not stop.is_set():
        conn.sendall(answer(query, batch))


def test_max_records_stops_an_endless_stream(server):
    result, took = run(server(endless), limits=TransferLimits(max_records=5000))
    assert result['status'] == 'limit_exceeded' and result['limit'] == 'max_records', result
    assert 'max_records=5000' in result['detail']
    assert 5000 < result['records'] <= 5000 + 200 + 1
    assert took < 10


def test_max_bytes_stops_an_endless_stream_and_bounds_what_is_read(server):
    result, took = run(server(endless), limits=TransferLimits(max_bytes=200000))
    assert result['status'] == 'limit_exceeded' and result['limit'] == 'max_bytes', result
    assert result['bytes'] <= 200000
    assert took < 10


def trickle(query, conn, stop):
    """The opening SOA, then one record every 0.2 s: never idle for a read timeout, never done."""
    conn.sendall(answer(query, [soa(5)]))
    for rrset in records(1000):
        if stop.wait(0.2):
            return
        conn.sendall(answer(query, [rrset]))


def test_max_time_is_the_whole_transfer_not_each_read(server):
    result, took = run(server(trickle), limits=TransferLimits(max_time=1.5), timeout=5.0)
    assert result['status'] == 'limit_exceeded' and result['limit'] == 'max_time', result
    assert 1.4 < took < 4


def silent_after_soa(query, conn, stop):
    conn.sendall(answer(query, [soa(5)]))
    stop.wait(10)


def test_max_time_shorter_than_the_read_timeout(server):
    result, took = run(server(silent_after_soa), limits=TransferLimits(max_time=1.0), timeout=8.0)
    assert result['status'] == 'limit_exceeded' and result['limit'] == 'max_time', result
    assert took < 4


def empty_noerror(query, conn, stop):
    conn.sendall(answer(query, []))
    stop.wait(10)


def test_an_empty_answer_is_malformed_at_once(server):
    result, took = run(server(empty_noerror), timeout=8.0)
    assert result['status'] == 'malformed' and 'no records' in result['detail'], result
    assert took < 4


def ixfr_then_axfr(rcode):
    def script(query, conn, stop):
        if query.question[0].rdtype == dns.rdatatype.IXFR:
            if rcode is None:
                # A broken increment: 3 -> 5, closed by an SOA that differs from the opening one.
                other = dns.rrset.from_text(ZONE, 300, 'IN', 'SOA', SOA.replace('3600', '7200') % 5)
                conn.sendall(answer(query, [soa(5), soa(3), records(1)[0], soa(5), records(2)[1], other]))
            else:
                conn.sendall(answer(query, [], rcode))
            return
        conn.sendall(answer(query, [soa(5)] + records(10) + [soa(5)]))
    return script


@pytest.mark.parametrize('rcode', [dns.rcode.NOTIMP, dns.rcode.FORMERR, None])
def test_ixfr_falls_back_to_axfr(server, rcode):
    srv = server(ixfr_then_axfr(rcode))
    result, took = run(srv, rdtype='IXFR', serial=3)
    assert srv.queries == ['IXFR', 'AXFR']
    assert result['status'] == 'ok', result
    assert result['fallback'] == 'axfr' and result['ixfr_fallback_to_axfr'] is True
    assert result['records'] == 11 and result['serial'] == 5
    assert result['ixfr_failure']['status'] in ('not_implemented', 'malformed')
    assert took < 10
    # The digest holds the AXFR's zone only, not the failed IXFR's opening SOA as well.
    after_fallback, direct = ZoneDigest(ZONE), ZoneDigest(ZONE)
    transfer(ZONE, '127.0.0.1', srv.port, rdtype='IXFR', serial=3, timeout=5.0, digest=after_fallback)
    transfer(ZONE, '127.0.0.1', srv.port, rdtype='AXFR', timeout=5.0, digest=direct)
    assert after_fallback.count == direct.count == 11
    assert after_fallback.hexdigest() == direct.hexdigest()


def notimp(query, conn, stop):
    conn.sendall(answer(query, [], dns.rcode.NOTIMP))


def test_notimp_is_not_a_refusal(server):
    srv = server(notimp)
    server_spec = {'address': '127.0.0.1', 'port': srv.port}
    ok, result = check_zone_transfer(ZONE, server_spec, port=srv.port, expect='refused', timeout=3.0)
    assert result['status'] == 'not_implemented'
    assert ok is False


def open_axfr_notimp_ixfr(query, conn, stop):
    if query.question[0].rdtype == dns.rdatatype.IXFR:
        conn.sendall(answer(query, [], dns.rcode.NOTIMP))
        return
    conn.sendall(answer(query, [soa(5)] + records(3) + [soa(5)]))


def test_expect_refused_fails_when_ixfr_notimp_hides_an_open_axfr(server):
    srv = server(open_axfr_notimp_ixfr)
    server_spec = {'address': '127.0.0.1', 'port': srv.port}
    ok, result = check_zone_transfer(ZONE, server_spec, port=srv.port, rdtype='IXFR', serial=1, expect='refused',
                                     timeout=3.0)
    assert ok is False
    assert result['status'] == 'open_transfer'
