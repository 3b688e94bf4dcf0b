"""The UDP loop of SoaEngine against a small fake server on 127.0.0.1 that this test starts.

The server holds back its answers until it has seen every query that arrives within a moment: so it
sees how many queries the engine keeps in flight to one server (PER_SERVER_WINDOW), then answers
them all, authoritatively, some signed, some not.
"""

import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rrset
import dns.tsig

from ansible_collections.dnsops.zonesync.plugins.module_utils import _soa
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SoaEngine

KEY = dns.tsig.Key('k1.', b'0123456789abcdef0123456789abcdef', dns.tsig.HMAC_SHA256)


class HoldingServer(object):
    """Collects queries until none arrives for ``quiet`` seconds, then answers all of them; repeats."""

    def __init__(self, key=None, quiet=0.5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(quiet)
        self.port = self.sock.getsockname()[1]
        self.key = key
        self.batches = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run)
        self.thread.daemon = True
        self.thread.start()

    def answer(self, data):
        query = dns.message.from_wire(data, keyring=self.key if self.key else False)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        zone = query.question[0].name
        response.answer.append(dns.rrset.from_text(zone, 300, 'IN', 'SOA', 'ns1.%s hostmaster.%s 7 1 1 1 1'
                                                   % (zone, zone)))
        return response.to_wire()

    def run(self):
        while not self.stopping:
            batch = []
            while True:
                try:
                    batch.append(self.sock.recvfrom(4096))
                except socket.timeout:
                    break
                except OSError:
                    return
            if batch:
                self.batches.append(len(batch))
                for data, peer in batch:
                    try:
                        wire = self.answer(data)
                    except dns.exception.DNSException:
                        continue  # a query it cannot verify goes unanswered
                    self.sock.sendto(wire, peer)

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def _pairs(port, count):
    return [(dns.name.from_text('z%d.example.' % i), '127.0.0.1', port) for i in range(count)]


def test_at_most_a_window_in_flight_to_one_server():
    server = HoldingServer()
    try:
        results = SoaEngine(timeout=5.0, retries=0, concurrency=1000).run(_pairs(server.port, 250))
    finally:
        server.close()
    # No retries were allowed: every query was answered the first time.
    assert [r['status'] for r in results] == ['answered'] * 250
    assert max(server.batches) == _soa.PER_SERVER_WINDOW
    assert sum(server.batches) == 250


def test_concurrency_below_the_window_is_kept():
    server = HoldingServer()
    try:
        results = SoaEngine(timeout=5.0, retries=0, concurrency=30).run(_pairs(server.port, 70))
    finally:
        server.close()
    assert [r['status'] for r in results] == ['answered'] * 70
    assert max(server.batches) == 30


def test_signed_queries_and_answers_through_the_engine():
    server = HoldingServer(key=KEY, quiet=0.05)
    try:
        results = SoaEngine(key=KEY, timeout=5.0, retries=0).run(_pairs(server.port, 20))
        wrong = dns.tsig.Key('k1.', b'x' * 32, dns.tsig.HMAC_SHA256)
        refused = SoaEngine(key=wrong, timeout=1.0, retries=0).run(_pairs(server.port, 2))
    finally:
        server.close()
    assert [(r['status'], r['serial']) for r in results] == [('answered', 7)] * 20
    # The fake server cannot verify the wrong key and never answers: a timeout, not a wrong serial.
    assert [r['status'] for r in refused] == ['timeout', 'timeout']
