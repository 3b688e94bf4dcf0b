# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""SOA serials of many zones on many servers, queried concurrently.

One event loop drives every UDP query: one connected UDP socket per server
address (so that ICMP port-unreachable is seen), queries matched to answers by
message ID, timeouts kept in a heap. Truncated answers and ``transport: tcp``
go through a small thread pool. No process and no resolver per query.
"""

from __future__ import annotations

import collections
import errno
import random
import selectors
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dnsops.zonesync.plugins.module_utils._compat import from_wire_unverified
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import newest
from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError,
    format_server,
    parse_server,
)
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import newest, serial_distance
from ansible_collections.dnsops.zonesync.plugins.module_utils._wire import (
    TsigSigner,
    classify_soa_wire,
    soa_query_template,
)

try:
    import dns.edns
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver
    import dns.tsig
except ImportError:
    pass  # reported by _common.assert_requirements_present

STATUSES = ('in_sync', 'behind', 'ahead', 'not_comparable', 'not_authoritative', 'servfail', 'refused', 'timeout',
            'unreachable', 'tsig_error')
_U16 = struct.Struct('!H')

# Queries in flight to one server at once: BIND drops datagrams beyond a few
# hundred queued in its socket buffer, and every drop costs a timeout.
PER_SERVER_WINDOW = 100


# --------------------------------------------------------------------------
# Queries and the classification of one answer
# --------------------------------------------------------------------------

def make_soa_query(zone, key=None, qid=None):
    """A non-recursive SOA query carrying the EDNS EXPIRE option (RFC 7314)."""
    query = dns.message.make_query(zone, dns.rdatatype.SOA, use_edns=0, payload=1232,
                                   options=[dns.edns.GenericOption(dns.edns.OptionType.EXPIRE, b'')])
    query.flags &= ~dns.flags.RD
    if qid is not None:
        query.id = qid
    if key is not None:
        query.use_tsig(key)
    return query


def _expire_option(message):
    for option in message.options or ():
        if int(option.otype) == 9:
            data = getattr(option, 'data', None)
            if data is None:
                data = option.to_wire() if hasattr(option, 'to_wire') else b''
            if len(data) == 4:
                return struct.unpack('!I', data)[0]
    return None


def _unsigned_answer(out, wire):
    """The answer to a signed query is not signed: a TSIG failure, or a refusal that says so."""
    out.update(status='tsig_error', error='the answer is not signed although the query was (TSIG required)')
    try:
        raw = from_wire_unverified(wire)[0]
        out['rcode'] = dns.rcode.to_text(raw.rcode())
        if raw.rcode() == dns.rcode.REFUSED:
            out.update(status='refused', error='the server answered REFUSED (unsigned)')
        elif raw.rcode() == dns.rcode.NOTAUTH:
            out['error'] = ('the server rejected the signed query with an unsigned NOTAUTH (PowerDNS does '
                            'this when the key name, algorithm, secret or clock is wrong)')
    except Exception:
        pass
    return out


def classify_soa_response(query, wire, zone, key=None):
    """Turn one wire answer to ``query`` into a result dict.

    Keys: status (a failure status or 'answered'), serial, rcode, aa,
    truncated, expire_remaining, error. 'answered' means a usable serial;
    the caller compares it with the reference.
    """
    out = {'status': None, 'serial': None, 'rcode': None, 'aa': False, 'truncated': False,
           'expire_remaining': None, 'error': None}
    try:
        if key is not None:
            response = dns.message.from_wire(wire, keyring=key, request_mac=query.mac)
        else:
            response = from_wire_unverified(wire)[0]
    except dns.message.Truncated:
        out.update(status='truncated', truncated=True)
        return out
    except (dns.tsig.PeerError, dns.tsig.BadSignature, dns.tsig.BadKey, dns.tsig.BadAlgorithm,
            dns.tsig.BadTime, dns.message.UnknownTSIGKey) as exc:
        out.update(status='tsig_error', error=tsig_error_text(exc, wire))
        try:
            raw = from_wire_unverified(wire)[0]
            out['rcode'] = dns.rcode.to_text(raw.rcode())
        except Exception:
            pass
        return out
    except dns.exception.FormError as exc:
        if key is not None and 'TSIG' in str(exc):
            return _unsigned_answer(out, wire)
        out.update(status='malformed', error='malformed answer: %s' % exc)
        return out
    except Exception as exc:
        out.update(status='malformed', error='malformed answer: %s' % exc)
        return out
    if key is not None and not response.had_tsig:
        # dnspython 2.4+ raises FormError above; 2.3 (Debian 12) accepts an unsigned answer to a signed query.
        return _unsigned_answer(out, wire)

    if not query.is_response(response):
        out.update(status='mismatch', error='answer does not match the question')
        return out
    rcode = response.rcode()
    out['rcode'] = dns.rcode.to_text(rcode)
    out['aa'] = bool(response.flags & dns.flags.AA)
    out['expire_remaining'] = _expire_option(response)
    if response.flags & dns.flags.TC:
        out.update(status='truncated', truncated=True)
        return out
    if rcode == dns.rcode.REFUSED:
        out.update(status='refused', error='the server answered REFUSED')
        return out
    if rcode == dns.rcode.NOTAUTH:
        out.update(status='not_authoritative', error='the server answered NOTAUTH: it does not serve this zone')
        return out
    if rcode == dns.rcode.SERVFAIL:
        out.update(status='servfail', error='the server answered SERVFAIL: it has the zone configured but cannot '
                   'serve it (a secondary copy that expired, or a zone that failed to load)')
        return out
    if rcode != dns.rcode.NOERROR:
        out.update(status='not_authoritative',
                   error='the server answered %s instead of the SOA' % dns.rcode.to_text(rcode))
        return out
    if not out['aa']:
        out.update(status='not_authoritative',
                   error='the answer lacks the AA bit: the server does not hold this zone authoritatively')
        return out
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zone and len(rrset):
            out['serial'] = list(rrset)[0].serial
            out['status'] = 'answered'
            return out
    out.update(status='not_authoritative', error='authoritative answer without the SOA of the zone')
    return out


def tsig_error_text(exc, wire=None):
    if isinstance(exc, dns.tsig.PeerBadKey):
        return 'the server does not know this key name and algorithm (TSIG BADKEY)'
    if isinstance(exc, dns.tsig.PeerBadSignature):
        return 'the server rejected the signature: the secret differs (TSIG BADSIG)'
    if isinstance(exc, dns.tsig.PeerBadTime):
        return 'the server rejected the time: clocks differ by more than the fudge (TSIG BADTIME)'
    if isinstance(exc, dns.tsig.PeerBadTruncation):
        return 'the server rejected the truncated MAC (TSIG BADTRUNC)'
    if isinstance(exc, dns.tsig.PeerError):
        return 'the server reported a TSIG error: %s' % exc
    if isinstance(exc, dns.tsig.BadTime):
        return 'the answer is signed with a time outside the fudge: clocks differ'
    if isinstance(exc, (dns.tsig.BadKey, dns.message.UnknownTSIGKey)):
        return 'the answer is signed with a different key name'
    if isinstance(exc, dns.tsig.BadAlgorithm):
        return 'the answer is signed with a different algorithm'
    if isinstance(exc, dns.tsig.BadSignature):
        return 'the signature of the answer does not verify: the secret differs'
    return 'TSIG failure: %s' % exc


# --------------------------------------------------------------------------
# The transport: a selector loop for UDP, a thread pool for TCP
# --------------------------------------------------------------------------

class Job(object):
    __slots__ = ('index', 'zone', 'address', 'port', 'attempts', 'query', 'qid', 'sent', 'result', 'wire', 'mac',
                 'template')

    def __init__(self, index, zone, address, port):
        self.index = index
        self.zone = zone
        self.address = address
        self.port = port
        self.attempts = 0
        self.query = None
        self.qid = None
        self.sent = None
        self.result = None
        self.wire = None
        self.mac = None
        self.template = None

    def dns_query(self):
        """The query as a dnspython message (parsed back from the wire sent), for the full classification."""
        if self.query is None:
            self.query = from_wire_unverified(self.wire)[0]
        return self.query


def _recv_exact(sock, count, deadline):
    chunks = []
    while count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        sock.settimeout(remaining)
        data = sock.recv(count)
        if not data:
            raise EOFError('connection closed')
        chunks.append(data)
        count -= len(data)
    return b''.join(chunks)


def tcp_exchange(wire, address, port, timeout, source=None):
    """Send one message over TCP and return the answer's wire form."""
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        deadline = time.monotonic() + timeout
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        sock.connect((address, port))
        sock.sendall(struct.pack('!H', len(wire)) + wire)
        (length,) = struct.unpack('!H', _recv_exact(sock, 2, deadline))
        return _recv_exact(sock, length, deadline)
    finally:
        sock.close()


class SoaEngine(object):
    """Query SOA serials for many (zone, address, port) pairs at once."""

    def __init__(self, key=None, transport='udp', timeout=2.0, retries=2, concurrency=1000, tcp_workers=32,
                 source=None):
        self.key = key
        self.source = source
        self.transport = transport
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.concurrency = max(1, int(concurrency))
        self.tcp_workers = max(1, int(tcp_workers))

    # -- public -----------------------------------------------------------
    def run(self, pairs):
        """pairs: list of (zone Name, address, port). Returns a list of result dicts in order."""
        jobs = [Job(i, zone, address, port) for i, (zone, address, port) in enumerate(pairs)]
        tcp_jobs = []
        if self.transport == 'tcp':
            tcp_jobs = list(jobs)
        else:
            tcp_jobs = self._run_udp(jobs)
        if tcp_jobs:
            self._run_tcp(tcp_jobs)
        return [job.result for job in jobs]

    # -- UDP ----------------------------------------------------------------
    def _run_udp(self, jobs):
        """Every job over UDP: one connected socket per server, at most PER_SERVER_WINDOW queries in flight
        to each (a server's socket buffer drops a burst beyond a few hundred), ``concurrency`` in all.

        Queries are built from a per-zone wire template with only the ID patched (and signed with hmac when
        there is a key); answers are read by _wire.classify_soa_wire(), and only those it declines are parsed
        by dnspython (classify_soa_response). Returns the jobs whose answers were truncated (for TCP).
        """
        sel = selectors.DefaultSelector()
        sockets = {}
        dead = {}
        inflight = {}  # (address, port, qid) -> job
        used_ids = {}
        busy = {}  # (address, port) -> queries in flight
        timeouts = collections.deque()  # (deadline, job, qid), in the order sent: one timeout for all
        queues = collections.OrderedDict()  # (address, port) -> jobs to send, last first
        for job in reversed(jobs):
            queues.setdefault((job.address, job.port), []).append(job)
        need_tcp = []
        templates = {}
        key = self.key
        signer = TsigSigner(key) if key is not None else None
        if signer is not None and not signer.available:
            signer = None  # an algorithm hmac does not do here (GSS-TSIG): dnspython signs and checks
        fast = key is None or signer is not None
        window = min(self.concurrency, PER_SERVER_WINDOW)
        timeout = self.timeout
        monotonic = time.monotonic
        getrandbits = random.getrandbits
        pack_id = _U16.pack
        classify_fast = classify_soa_wire

        def get_socket(address, port):
            dest = (address, port)
            sock = sockets.get(dest)
            if sock is None:
                family = socket.AF_INET6 if ':' in address else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
                except OSError:
                    pass
                if self.source:
                    sock.bind((self.source, 0))
                sock.connect(dest)
                sockets[dest] = sock
                used_ids[dest] = set()
                busy[dest] = 0
                sel.register(sock, selectors.EVENT_READ, dest)
            return sock

        def finish(job, result):
            job.result = result
            if job.qid is not None:
                dest = (job.address, job.port)
                used_ids[dest].discard(job.qid)
                if inflight.pop((job.address, job.port, job.qid), None) is not None:
                    busy[dest] -= 1
                job.qid = None

        def send(job, dest):
            if dest in dead:
                finish(job, dict(_failure('unreachable', dead[dest]), transport='udp'))
                return
            try:
                sock = get_socket(job.address, job.port)
            except OSError as exc:
                dead[dest] = 'cannot reach %s: %s' % (format_server(*dest), exc.strerror or exc)
                finish(job, dict(_failure('unreachable', dead[dest]), transport='udp'))
                return
            ids = used_ids[dest]
            qid = getrandbits(16)
            while qid in ids:
                qid = getrandbits(16)
            ids.add(qid)
            job.qid = qid
            job.query = None
            if fast:
                template = job.template
                if template is None:
                    # Keyed by the name object: hashing a dnspython name costs more than the query.
                    template = templates.get(id(job.zone))
                    if template is None:
                        wire, question_len = soa_query_template(job.zone)
                        template = templates[id(job.zone)] = (wire[2:], question_len, job.zone)
                    job.template = template
                wire = pack_id(qid) + template[0]
                if signer is not None:
                    wire, job.mac = signer.sign(wire)
            else:
                job.query = make_soa_query(job.zone, key, qid)
                wire = job.query.to_wire()
            job.wire = wire
            job.attempts += 1
            try:
                sock.send(wire)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.ENOBUFS):
                    pass  # treated like a lost datagram: the timeout retries it
                elif exc.errno == errno.ECONNREFUSED:
                    dead[dest] = 'nothing listens on %s (ICMP port unreachable)' % format_server(*dest)
                    finish(job, dict(_failure('unreachable', dead[dest]), transport='udp'))
                    return
                else:
                    dead[dest] = 'cannot send to %s: %s' % (format_server(*dest), exc.strerror or exc)
                    finish(job, dict(_failure('unreachable', dead[dest]), transport='udp'))
                    return
            job.sent = now = monotonic()
            inflight[(job.address, job.port, qid)] = job
            busy[dest] += 1
            timeouts.append((now + timeout, job, qid))

        def fill():
            for dest in list(queues):
                queue = queues[dest]
                while queue and len(inflight) < self.concurrency and busy.get(dest, 0) < window:
                    send(queue.pop(), dest)
                if not queue:
                    del queues[dest]
                if len(inflight) >= self.concurrency:
                    return

        while queues or inflight:
            fill()
            if not inflight:
                continue
            now = monotonic()
            wait = max(0.0, timeouts[0][0] - now) if timeouts else timeout
            for selkey, dummy in sel.select(min(wait, 0.25)):
                sock = selkey.fileobj
                dest = selkey.data
                address, port = dest
                while True:
                    try:
                        wire = sock.recv(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        dead[dest] = 'nothing listens on %s (ICMP port unreachable)' % format_server(*dest)
                        for k in [k for k in inflight if (k[0], k[1]) == dest]:
                            finish(inflight[k], dict(_failure('unreachable', dead[dest]), transport='udp'))
                        break
                    except OSError as exc:
                        dead[dest] = 'cannot reach %s: %s' % (format_server(*dest), exc.strerror or exc)
                        for k in [k for k in inflight if (k[0], k[1]) == dest]:
                            finish(inflight[k], dict(_failure('unreachable', dead[dest]), transport='udp'))
                        break
                    if len(wire) < 12:
                        continue
                    job = inflight.get((address, port, (wire[0] << 8) | wire[1]))
                    if job is None:
                        continue  # late answer to a retried query, or junk
                    rtt = (monotonic() - job.sent) * 1000.0
                    result = None
                    if fast:
                        result = classify_fast(wire, job.wire, job.template[1], signer, job.mac)
                    if result is None:
                        result = classify_soa_response(job.dns_query(), wire, job.zone, key)
                        if result['status'] == 'mismatch':
                            continue  # not the answer to our question; keep waiting
                        if result['status'] == 'truncated':
                            finish(job, None)
                            need_tcp.append(job)
                            continue
                    result['rtt'] = round(rtt, 3)
                    result['transport'] = 'udp'
                    finish(job, result)
            now = monotonic()
            while timeouts and timeouts[0][0] <= now:
                dummy, job, qid = timeouts.popleft()
                if job.qid != qid or job.result is not None:
                    continue  # already answered or re-sent
                dest = (job.address, job.port)
                used_ids[dest].discard(qid)
                if inflight.pop((job.address, job.port, qid), None) is not None:
                    busy[dest] -= 1
                job.qid = None
                if job.attempts <= self.retries:
                    queues.setdefault(dest, []).append(job)
                else:
                    job.result = dict(_failure('timeout', 'no answer from %s after %d attempt(s) of %.1f s'
                                               % (format_server(job.address, job.port), job.attempts,
                                                  self.timeout)), transport='udp')
        for sock in sockets.values():
            sel.unregister(sock)
            sock.close()
        sel.close()
        return need_tcp

    # -- TCP ----------------------------------------------------------------
    def _tcp_one(self, job):
        last = None
        for attempt in range(self.retries + 1):
            query = make_soa_query(job.zone, self.key)
            start = time.monotonic()
            try:
                wire = tcp_exchange(query.to_wire(), job.address, job.port, self.timeout, source=self.source)
            except ConnectionRefusedError:
                return dict(_failure('unreachable', 'TCP connection to %s refused'
                                     % format_server(job.address, job.port)), transport='tcp')
            except socket.timeout:
                last = dict(_failure('timeout', 'no TCP answer from %s within %.1f s'
                                     % (format_server(job.address, job.port), self.timeout)), transport='tcp')
                continue
            except EOFError:
                last = dict(_failure('unreachable', '%s closed the TCP connection without an answer'
                                     % format_server(job.address, job.port)), transport='tcp')
                continue
            except OSError as exc:
                return dict(_failure('unreachable', 'cannot reach %s over TCP: %s'
                                     % (format_server(job.address, job.port), exc.strerror or exc)), transport='tcp')
            result = classify_soa_response(query, wire, job.zone, self.key)
            result['rtt'] = round((time.monotonic() - start) * 1000.0, 3)
            result['transport'] = 'tcp'
            if result['status'] in ('mismatch', 'truncated'):
                result.update(status='not_authoritative', error='unusable TCP answer: %s' % result['status'])
            return result
        return last

    def _run_tcp(self, jobs):
        workers = min(self.tcp_workers, len(jobs))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for job, result in zip(jobs, pool.map(self._tcp_one, jobs)):
                job.result = result


def _failure(status, error):
    return {'status': status, 'serial': None, 'rcode': None, 'aa': False, 'truncated': False,
            'expire_remaining': None, 'error': error, 'rtt': None}


# --------------------------------------------------------------------------
# Server lists: given, or the zone's NS set
# --------------------------------------------------------------------------

def make_resolver(resolvers, timeout):
    if not resolvers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = []
        resolver.nameserver_ports = {}
        for spec in resolvers:
            parsed = parse_server(spec, param='resolvers')
            if not parsed['is_ip']:
                raise ZonesyncError('resolvers: %r must be an IP address (optionally with a port).' % spec)
            resolver.nameservers.append(parsed['host'])
            resolver.nameserver_ports[parsed['host']] = parsed['port']
    resolver.timeout = timeout
    resolver.lifetime = max(timeout * 3, timeout + 1)
    resolver.cache = None
    return resolver


def resolve_host(host, resolver, use_system):
    """Addresses of a host name: the system's resolution when use_system, else the given resolver."""
    addresses = []
    if use_system:
        try:
            for info in socket.getaddrinfo(host, 53, 0, socket.SOCK_DGRAM):
                addr = info[4][0]
                if addr not in addresses:
                    addresses.append(addr)
        except socket.gaierror as exc:
            raise ZonesyncError('cannot resolve %s: %s' % (host, exc.strerror or exc))
        return addresses
    errors = []
    for rdtype in ('A', 'AAAA'):
        try:
            answer = resolver.resolve(host, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            errors.append('%s %s: %s' % (host, rdtype, exc))
            continue
        for rdata in answer.rrset or ():
            if rdata.address not in addresses:
                addresses.append(rdata.address)
    if not addresses:
        raise ZonesyncError('cannot resolve %s to an address%s' % (host, (': ' + '; '.join(errors)) if errors else ''))
    return addresses


def resolve_ns(zone, resolver):
    """Every address of every NS of the zone, as (ns name, address) pairs."""
    try:
        answer = resolver.resolve(zone, 'NS')
    except dns.exception.DNSException as exc:
        raise ZonesyncError('cannot look up the NS set of %s: %s. Give servers explicitly, or point resolvers '
                            'at a server that answers for the zone.' % (zone.to_text(), exc))
    out = []
    for rdata in sorted(answer.rrset, key=lambda r: r.target.to_text()):
        name = rdata.target.to_text()
        try:
            addresses = resolve_host(name, resolver, use_system=False)
        except ZonesyncError:
            out.append((name, None))
            continue
        for address in addresses:
            out.append((name, address))
    return out


def expand_servers(specs, resolver, use_system, default_port=53, param='servers'):
    """Server entries, one per address. Each: dict(server, name, address, port).

    ``specs`` are strings (``host``, ``host:port``, ``[v6]:port``) or dicts
    already returned by parse_server().
    """
    entries = []
    seen = set()
    for spec in specs:
        parsed = spec if isinstance(spec, dict) else parse_server(spec, default_port=default_port, param=param)
        if parsed['is_ip']:
            addresses = [parsed['host']]
            name = None
        else:
            addresses = resolve_host(parsed['host'], resolver, use_system)
            name = parsed['host']
        for address in addresses:
            key = (address, parsed['port'])
            if key in seen:
                continue
            seen.add(key)
            entries.append({'server': format_server(address, parsed['port']), 'name': name,
                            'address': address, 'port': parsed['port']})
    return entries


# --------------------------------------------------------------------------
# The whole check
# --------------------------------------------------------------------------

def classify_against_reference(result, reference_serial):
    """Set status and lag of one server's result against the reference serial."""
    if result['status'] != 'answered':
        result['lag'] = None
        return result
    if reference_serial is None:
        result['status'] = 'not_comparable'
        result['lag'] = None
        return result
    if result['serial'] == reference_serial:
        result['status'] = 'in_sync'
        result['lag'] = 0
        return result
    dist = serial_distance(reference_serial, result['serial'])   # never 0 here: equal serials returned above
    if dist is None:
        result['status'] = 'not_comparable'
        result['lag'] = None
    elif dist > 0:
        result['status'] = 'behind'
        result['lag'] = dist
    else:
        result['status'] = 'ahead'
        result['lag'] = dist
    return result


class SerialCheck(object):
    """soa_serial's logic: build the zone x server matrix, query, compare, poll."""

    def __init__(self, zones, servers=None, reference=None, key=None, transport='udp', timeout=2.0,
                 retries=2, wait_timeout=0, poll_interval=1.0, resolvers=None, concurrency=1000,
                 stall_timeout=0):
        self.zones = zones
        self.server_specs = servers or []
        self.reference_spec = reference
        self.engine = SoaEngine(key=key, transport=transport, timeout=timeout, retries=retries,
                                concurrency=concurrency)
        self.wait_timeout = float(wait_timeout or 0)
        self.poll_interval = max(0.05, float(poll_interval))
        # Stop waiting early when no server reached the reference serial of one more zone for this long.
        self.stall_timeout = float(stall_timeout or 0)
        self.resolvers = resolvers or []
        self.timeout = float(timeout)
        self.warnings = []
        self._warned = set()

    def _matrix(self):
        resolver = None
        if self.resolvers or not self.server_specs:
            resolver = make_resolver(self.resolvers, self.timeout)
        use_system = not self.resolvers
        reference = None
        if self.reference_spec:
            refs = expand_servers([self.reference_spec], resolver, use_system)
            reference = refs[0]
        common = expand_servers(self.server_specs, resolver, use_system) if self.server_specs else None
        matrix = []
        for zone in self.zones:
            if common is not None:
                entries = [dict(e) for e in common]
            else:
                entries = []
                for ns_name, address in resolve_ns(zone, resolver):
                    if address is None:
                        entries.append({'server': ns_name, 'name': ns_name, 'address': None, 'port': 53})
                    else:
                        entries.append({'server': format_server(address, 53), 'name': ns_name,
                                        'address': address, 'port': 53})
            if reference is not None and not any(e['address'] == reference['address'] and
                                                 e['port'] == reference['port'] for e in entries):
                entries.insert(0, dict(reference))
            for entry in entries:
                entry['reference'] = bool(reference is not None and entry['address'] == reference['address']
                                          and entry['port'] == reference['port'])
            matrix.append((zone, entries))
        return matrix

    def run(self):
        start = time.monotonic()
        matrix = self._matrix()
        results = {}
        # Pairs whose address could not be resolved fail at once.
        todo = []
        for zi, (zone, entries) in enumerate(matrix):
            for si, entry in enumerate(entries):
                if entry['address'] is None:
                    results[(zi, si)] = dict(_failure('unreachable', 'the NS name %s has no address'
                                                      % entry['name']), transport=None)
                else:
                    todo.append((zi, si))
        passes = 0
        deadline = start + self.wait_timeout
        most_in_sync, last_progress, stalled = -1, start, False
        while True:
            passes += 1
            pairs = [(matrix[zi][0], matrix[zi][1][si]['address'], matrix[zi][1][si]['port']) for zi, si in todo]
            for (zi, si), result in zip(todo, self.engine.run(pairs)):
                results[(zi, si)] = result
            report = self._report(matrix, results)
            if self.wait_timeout <= 0 or report['converged']:
                break
            now = time.monotonic()
            if report['summary']['in_sync'] > most_in_sync:
                most_in_sync, last_progress = report['summary']['in_sync'], now
            if now + self.poll_interval > deadline:
                break
            if self.stall_timeout > 0 and now - last_progress >= self.stall_timeout:
                stalled = True
                break
            time.sleep(self.poll_interval)
            # Re-query every pair of every zone that has not converged: the
            # reference may move too.
            todo = [(zi, si) for zi, zone_report in enumerate(report['zones']) if not zone_report['converged']
                    for si, entry in enumerate(matrix[zi][1]) if entry['address'] is not None]
        report['passes'] = passes
        report['stalled'] = stalled
        report['elapsed'] = round(time.monotonic() - start, 3)
        report['warnings'] = self.warnings
        return report

    def _report(self, matrix, results):
        zones_out = []
        counts = dict((status, 0) for status in STATUSES)
        for zi, (zone, entries) in enumerate(matrix):
            rows = []
            for si, entry in enumerate(entries):
                res = dict(results[(zi, si)])
                if res['status'] not in STATUSES and res['status'] != 'answered':
                    # malformed or unusable answers: the server does not serve the zone usefully
                    res['status'] = 'not_authoritative'
                row = {'server': entry['server'], 'address': entry['address'], 'port': entry['port'],
                       'name': entry['name'], 'reference': entry['reference'],
                       'serial': res.get('serial'), 'status': res['status'], 'lag': None,
                       'rtt': res.get('rtt'), 'expire_remaining': res.get('expire_remaining'),
                       'rcode': res.get('rcode'), 'transport': res.get('transport'), 'error': res.get('error')}
                rows.append(row)
            ref_rows = [r for r in rows if r['reference']]
            comparable = True
            reference_server = None
            if ref_rows:
                reference_server = ref_rows[0]['server']
                if ref_rows[0]['status'] == 'answered':
                    ref_serial = ref_rows[0]['serial']
                else:
                    ref_serial, comparable = newest([r['serial'] for r in rows if r['status'] == 'answered'])
                    self._warn('%s: the reference %s gave no serial (%s); comparing with the newest serial seen.'
                               % (zone.to_text(), reference_server, ref_rows[0]['status']))
            else:
                ref_serial, comparable = newest([r['serial'] for r in rows if r['status'] == 'answered'])
                if ref_serial is not None:
                    reference_server = next(r['server'] for r in rows if r['serial'] == ref_serial)
            for row in rows:
                classify_against_reference(row, ref_serial)
                counts[row['status']] += 1
            converged = bool(rows) and all(r['status'] == 'in_sync' for r in rows)
            zones_out.append({
                'zone': zone.to_text(),
                'reference_serial': ref_serial,
                'reference_server': reference_server,
                'comparable': comparable and all(r['status'] != 'not_comparable' for r in rows),
                'converged': converged,
                'servers': rows,
            })
        summary = dict(counts)
        summary.update({
            'zones': len(zones_out),
            'checks': sum(len(z['servers']) for z in zones_out),
            'converged_zones': sum(1 for z in zones_out if z['converged']),
            'diverged_zones': sum(1 for z in zones_out if not z['converged']),
        })
        return {'zones': zones_out, 'summary': summary,
                'converged': all(z['converged'] for z in zones_out)}

    def _warn(self, text):
        if text not in self._warned:
            self._warned.add(text)
            self.warnings.append(text)


def compact_report(report):
    """``report`` (SerialCheck.run) with only the servers that are not in sync listed per zone (all of them when
    the reference server gave no serial).

    Each zone keeps zone, reference_serial, reference_server, comparable and converged, and gets ``in_sync``
    (how many of its servers are); ``servers`` lists the others. ``servers_asked`` (top level) lists every address
    asked, so that a reader can tell "in sync" from "not asked". At 10,000 zones x 4 servers this is the
    difference between a few kilobytes and megabytes for Ansible to carry.
    """
    asked = []
    zones = []
    for zone in report['zones']:
        for row in zone['servers']:
            if row['address'] not in asked:
                asked.append(row['address'])
        out = dict((k, v) for k, v in zone.items() if k != 'servers')
        out['in_sync'] = sum(1 for r in zone['servers'] if r['status'] == 'in_sync')
        reference = [r for r in zone['servers'] if r.get('reference')]
        keep_all = bool(reference) and reference[0]['status'] != 'in_sync'
        # Without the reference's answer every row matters (how long each server keeps the zone, above all).
        out['servers'] = [r for r in zone['servers'] if r['status'] != 'in_sync' or keep_all]
        zones.append(out)
    return dict(report, zones=zones, servers_asked=asked, compact=True)


# Statuses of a server that answered with a serial for the zone.
ANSWERED = ('in_sync', 'behind', 'ahead', 'not_comparable')


def newest_report(report):
    """``report`` (SerialCheck.run) reduced to the newest serial per zone: what the roles' serial floors need.

    ``newest``: zone -> the newest serial (RFC 1982) any server answered, for the zones some server answered and
    whose serials can be ordered; ``incomparable``: zones whose serials cannot. On a first deploy nobody serves
    the 10,000 zones yet, and a full result of 30,000 rows saying so cost Ansible minutes to carry.
    """
    out = {}
    incomparable = []
    for zone in report['zones']:
        serials = [r['serial'] for r in zone['servers'] if r.get('serial') is not None and r['status'] in ANSWERED]
        if not serials:
            continue
        best, comparable = newest(serials)
        if best is None or not comparable:
            incomparable.append(zone['zone'])
            continue
        out[zone['zone']] = best
    kept = ('queries', 'converged')
    return dict(dict((k, v) for k, v in report.items() if k in kept), newest=out, incomparable=incomparable,
                zones_asked=len(report['zones']), newest_only=True)
