# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Try a zone transfer as a secondary would, and name what went wrong.

A reader thread drains the TCP stream at wire speed (a primary such as Knot
cuts off a reader that stalls), spilling to a temporary file past a memory
limit; the messages are verified and parsed behind it. Each message is
checked (ID, TSIG, SOA framing) and its records are folded into a digest
without building dnspython objects (_wire); a message of an unusual shape is
parsed by dnspython instead, with the same TSIG context, so the outcome is
the same either way.

Comparing copies holds no records: each copy is summarised by the digest
and by per-owner-name bucket digests. Only when two copies differ are the
records of the differing buckets read again, in batches of bounded size,
to count and list the differences.
"""

from __future__ import annotations

import array
import collections
import errno
import hashlib
import os
import random
import socket
import struct
import tempfile
import threading
import time
import zlib

from ansible_collections.dnsops.zonesync.plugins.module_utils._compat import from_wire_unverified
from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, format_server
from ansible_collections.dnsops.zonesync.plugins.module_utils._diagnosis import explain
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import serial_compare, serial_distance
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SoaEngine, tsig_error_text
from ansible_collections.dnsops.zonesync.plugins.module_utils._wire import (
    CLASS_ANY,
    CLASS_IN,
    MAX_POINTER_HOPS,
    TYPE_DNSKEY,
    TYPE_OPT,
    TYPE_RRSIG,
    TYPE_SOA,
    TYPE_TSIG,
    Decline,
    TsigSigner,
    canonical_rdata,
    read_name,
)

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.tsig
except ImportError:
    pass  # reported by _common.assert_requirements_present

MAX_UNSIGNED_RUN = 99
# The records a signer adds, kept apart in ZoneDigest: RFC 4034, 5155, 7344 and 8976 types, and the private type
# in which BIND keeps its signing state in the zone (sig-signing-type, 65534 unless changed; transferred too).
DNSSEC_TYPES = frozenset(['RRSIG', 'NSEC', 'NSEC3', 'NSEC3PARAM', 'DNSKEY', 'CDS', 'CDNSKEY', 'ZONEMD', 'TYPE65534'])
DNSSEC_CODES = frozenset([46, 47, 48, 50, 51, 59, 60, 63, 65534])
_MOD256 = 1 << 256
# What ZoneDigest keeps apart: the DNSSEC records and the SOA (see ZoneDigest._note).
_NOTED = DNSSEC_CODES | frozenset([TYPE_SOA])

# Comparison outcomes that are not a problem.
COMPARE_OK = ('ok', 'serial_only')

# Statuses that mean: the server answered and declined to hand out the zone.
DECLINED = ('refused', 'not_authoritative', 'tsig_bad_key', 'tsig_bad_signature', 'tsig_bad_time')

# Bucket digests per copy when comparing (by owner name), records a copy may
# hold while it is read (small zones are then compared without reading them
# again), and records held at once while differences are listed.
BUCKETS = 1 << 14
HOLD_LIMIT = 10000
DETAIL_BUDGET = 100000
# Bytes of a transfer kept in memory ahead of the parser before the reader
# thread spills to a temporary file.
STREAM_MEMORY = 32 << 20
# What one transfer may cost at most, unless the caller says otherwise: sized
# for the largest zones a registry serves (tens of millions of records, a few
# GB on the wire), so that only a server that streams without end crosses them.
MAX_RECORDS = 50000000
MAX_BYTES = 8 << 30
MAX_TIME = 900.0

_HEADER = struct.Struct('!HHHHHH')
_RR = struct.Struct('!HHIH')
_U16 = struct.Struct('!H')
_U32 = struct.Struct('!I')
_QUESTION = struct.Struct('!HH')
# Header bits (RFC 1035 4.1.1).
_QR = 0x8000
_OPCODE = 0x7800
_RCODE = 0x000F

# Framing states
_FIRST, _SECOND, _AXFR, _IXFR_DELETE, _IXFR_ADD, _DONE = range(6)
# What a record is to the framing
_CONTENT, _COUNT, _SKIP = range(3)

try:
    _TSIG_ERRORS = (dns.tsig.PeerError, dns.message.UnknownTSIGKey, dns.tsig.BadKey, dns.tsig.BadAlgorithm,
                    dns.tsig.BadSignature, dns.tsig.BadTime)
except NameError:  # no dnspython: reported by _common.assert_requirements_present
    _TSIG_ERRORS = ()


class TransferFailed(Exception):
    def __init__(self, status, detail, **extra):
        Exception.__init__(self, detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def rdtype_set(names):
    """Numeric record types from names ('RRSIG', 'TYPE65534'); ZonesyncError for an unknown one."""
    out = set()
    for name in names or ():
        try:
            out.add(int(dns.rdatatype.from_text(str(name).strip().upper())))
        except (dns.rdatatype.UnknownRdatatype, ValueError):
            raise ZonesyncError('ignore_types: %r is not a DNS record type.' % (name,))
    return out


class ZoneDigest(object):
    """An order-independent digest of a zone's records (a sum of SHA-256 values, mod 2^256).

    Each record is hashed in canonical form (lower-case owner, type, class,
    TTL unless ignored, canonical rdata), in the spirit of ZONEMD (RFC 8976),
    so two copies of a zone can be compared without holding either.

    With ``buckets``, the same sums are also kept per bucket of owner names
    (crc32 of the owner), with a record count per bucket: two copies that
    differ tell in which buckets. With ``collect``, records are also held in
    compact canonical form, ``held[(owner, type, class)] = {rdata: ttl}``: all
    of them up to ``hold_limit`` records (beyond it the holding is dropped:
    ``held`` becomes None), or only those of the buckets in ``select``.

    What a signer adds is kept apart as well, so that two copies can be told
    apart by their data or by their signatures alone: ``data_hexdigest()`` is
    the digest without the DNSSEC types and with the apex SOA's serial read as
    0 (a signer may serve its own serial), and the earliest RRSIG expiration
    is kept with the RRset it covers (``rrsig_expires``, ``rrsig_first``), and
    the earliest of the apex SOA and DNSKEY signatures (``rrsig_apex_expires``).
    """

    def __init__(self, origin, ignore_ttl=False, ignore_dnssec=False, collect=False, ignore_types=(),
                 buckets=False, select=None, hold_limit=None):
        self.origin = origin
        self.ignore_ttl = ignore_ttl
        self.ignore_dnssec = ignore_dnssec
        ignored = set(int(t) for t in ignore_types)
        if ignore_dnssec:
            ignored |= set(int(dns.rdatatype.from_text(t)) for t in DNSSEC_TYPES)
        self.ignored = frozenset(ignored)
        self.total = 0
        self.count = 0
        self.mask = BUCKETS - 1
        if buckets or select is not None:
            self.buckets = [0] * BUCKETS
            self.bucket_counts = array.array('L', [0]) * BUCKETS
        else:
            self.buckets = None
            self.bucket_counts = None
        self.select = select
        self.hold_limit = hold_limit if select is None else None
        self.collecting = bool(collect or select is not None)
        self.held = {} if self.collecting else None
        self.held_records = 0
        # True once bucket sums hold part of a message the fast reader declined: they are then
        # not exact (the total and count are) and a comparison computes them again.
        self.buckets_dirty = False
        self.origin_wire = origin.to_digestable() if origin is not None else None
        self._reset_dnssec()

    def _reset_dnssec(self):
        self.dnssec_total = 0
        self.soa_adjust = 0
        self.rrsigs = 0
        self.rrsig_min = None        # (expiration, owner wire, type covered)
        self.rrsig_apex_min = None   # expiration

    def reset(self):
        """Forget every record added (a failed IXFR's opening SOA, before the AXFR asked in its place)."""
        self.total = 0
        self.count = 0
        if self.buckets is not None:
            self.buckets = [0] * BUCKETS
            self.bucket_counts = array.array('L', [0]) * BUCKETS
        self.held = {} if self.collecting else None
        self.held_records = 0
        self.buckets_dirty = False
        self._reset_dnssec()

    def add(self, name, ttl, rdata):
        """Add one record given as dnspython objects (owner name, TTL, rdata)."""
        owner = name.derelativize(self.origin) if not name.is_absolute() else name
        self.add_wire(owner.to_digestable(), rdata.rdtype, rdata.rdclass, ttl, rdata.to_digestable(self.origin))

    def add_wire(self, owner, rdtype, rdclass, ttl, rdata_wire):
        """Add one record in canonical wire form: lower-case uncompressed owner, canonical rdata."""
        if rdtype in self.ignored:
            return
        if self.ignore_ttl:
            ttl = 0
        value = int.from_bytes(hashlib.sha256(owner + _RR.pack(rdtype, rdclass, ttl, len(rdata_wire))
                                              + rdata_wire).digest(), 'big')
        self.total += value
        self.count += 1
        if rdtype in _NOTED:
            self._note(((owner, rdtype, rdclass, ttl, rdata_wire, value),))
        if self.buckets is not None:
            bucket = zlib.crc32(owner) & self.mask
            self.buckets[bucket] += value
            self.bucket_counts[bucket] += 1
            if self.held is not None and (self.select is None or bucket in self.select):
                self._hold(((owner, rdtype, rdclass, rdata_wire, ttl),))
        elif self.held is not None:
            self._hold(((owner, rdtype, rdclass, rdata_wire, ttl),))

    def commit(self, total, count, keep, noted=()):
        """Fold in what the fast reader gathered for one message (see _MessageReader._fast_scan)."""
        self.total += total
        self.count += count
        if keep and self.held is not None:
            self._hold(keep)
        if noted:
            self._note(noted)

    def _note(self, records):
        """DNSSEC records and the apex SOA, digested already: kept apart for data_hexdigest and the RRSIG times."""
        for owner, rdtype, rdclass, ttl, rdata_wire, value in records:
            if rdtype == TYPE_SOA:
                if owner != self.origin_wire or len(rdata_wire) < 20:
                    continue
                zeroed = rdata_wire[:-20] + b'\x00\x00\x00\x00' + rdata_wire[-16:]
                self.soa_adjust += int.from_bytes(hashlib.sha256(
                    owner + _RR.pack(rdtype, rdclass, ttl, len(zeroed)) + zeroed).digest(), 'big') - value
                continue
            self.dnssec_total += value
            if rdtype != TYPE_RRSIG or len(rdata_wire) < 18:
                continue
            self.rrsigs += 1
            covered = _U16.unpack_from(rdata_wire)[0]
            expires = _U32.unpack_from(rdata_wire, 8)[0]
            if self.rrsig_min is None or expires < self.rrsig_min[0]:
                self.rrsig_min = (expires, owner, covered)
            if owner == self.origin_wire and covered in (TYPE_SOA, TYPE_DNSKEY) \
                    and (self.rrsig_apex_min is None or expires < self.rrsig_apex_min):
                self.rrsig_apex_min = expires

    def _hold(self, records):
        held = self.held
        for owner, rdtype, rdclass, rdata_wire, ttl in records:
            key = (owner, rdtype, rdclass)
            entry = held.get(key)
            if entry is None:
                held[key] = {rdata_wire: ttl}
            else:
                entry[rdata_wire] = ttl
        self.held_records += len(records)
        if self.hold_limit is not None and self.held_records > self.hold_limit:
            self.held = None

    @property
    def keeping(self):
        return self.held is not None

    def hexdigest(self):
        return '%064x' % (self.total % _MOD256)

    def data_hexdigest(self):
        """The digest without what a signer adds: no DNSSEC records, the apex SOA with serial 0."""
        return '%064x' % ((self.total - self.dnssec_total + self.soa_adjust) % _MOD256)

    def signatures(self):
        """{signed, rrsigs, rrsig_expires, rrsig_first, rrsig_apex_expires}: expirations in seconds since the
        epoch (RFC 4034 3.1.5), rrsig_first the RRset whose signature expires first ('owner TYPE')."""
        out = {'signed': self.rrsigs > 0, 'rrsigs': self.rrsigs, 'rrsig_expires': None, 'rrsig_first': None,
               'rrsig_apex_expires': self.rrsig_apex_min}
        if self.rrsig_min is not None:
            expires, owner, covered = self.rrsig_min
            out['rrsig_expires'] = expires
            out['rrsig_first'] = '%s %s' % (dns.name.from_wire(owner, 0)[0].to_text(),
                                            dns.rdatatype.to_text(covered))
        return out


# --------------------------------------------------------------------------
# The TCP stream, drained by a reader thread
# --------------------------------------------------------------------------

# _Stream states
_FIRST_CHUNK, _DEFERRED, _RUNNING = range(3)


class _LimitReached(Exception):
    """The stream crossed max_bytes or max_time (see TransferLimits)."""

    def __init__(self, limit):
        Exception.__init__(self, limit)
        self.limit = limit


class TransferLimits(object):
    """What one transfer may cost: records, bytes on the wire, seconds in all (not per read)."""

    __slots__ = ('records', 'bytes', 'time')

    def __init__(self, max_records=MAX_RECORDS, max_bytes=MAX_BYTES, max_time=MAX_TIME):
        self.records = int(max_records)
        self.bytes = int(max_bytes)
        self.time = float(max_time)

    def failure(self, limit, result):
        """The TransferFailed for crossing ``limit`` ('max_records', 'max_bytes' or 'max_time')."""
        value = {'max_records': self.records, 'max_bytes': self.bytes, 'max_time': self.time}[limit]
        unit = {'max_records': 'records', 'max_bytes': 'bytes', 'max_time': 'seconds'}[limit]
        shown = '%g' % value if limit == 'max_time' else value
        detail = ('the transfer was stopped when it crossed %s=%s (%s) after %d message(s), %d record(s) and %d '
                  'byte(s)' % (limit, shown, unit, result['messages'], result['records'], result['bytes']))
        return TransferFailed('limit_exceeded', detail, limit=limit, limit_value=value)


def _whole_messages(data):
    """Whether ``data`` is a run of whole length-prefixed DNS messages (RFC 1035 4.2.2), ending at its end."""
    pos = 0
    end = len(data)
    while pos + 2 <= end:
        (length,) = _U16.unpack_from(data, pos)
        pos += 2 + length
    return pos == end


class _Stream(object):
    """The bytes of one transfer, read at wire speed by a thread, consumed by the parser.

    A primary may close a transfer whose reader stalls (Knot: 500 ms), so the
    socket is drained by a reader thread whatever the parser does; what the
    parser has not reached yet is kept in memory up to ``memory_limit`` bytes,
    beyond that in an unnamed temporary file. ``read(n)`` returns exactly n
    bytes, or raises what the socket raised (socket.timeout after ``timeout``
    seconds without data, ConnectionResetError, ...) or EOFError carrying the
    bytes of the incomplete read. With ``threaded=False`` the parser reads the
    socket itself (only for tests that show the difference).

    The first chunk is read by the parser itself: when it holds whole messages
    only (a small zone's whole transfer, most often), the thread is started
    only if the parser asks for more; when it ends inside a message, more is
    on its way and the thread starts at once. A small zone then costs no
    thread (about 1 ms of a 1.3 ms transfer).
    """

    CHUNK = 1 << 18

    def __init__(self, sock, threaded=True, memory_limit=STREAM_MEMORY, deadline=None, max_bytes=None):
        self.sock = sock
        # max_time: no read waits past ``deadline`` (time.monotonic()); max_bytes: the reader thread stops once
        # it has read a message's worth more than ``max_bytes``, so that the spill file stays bounded too.
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.received = 0
        self.buf = b''
        self.pos = 0
        self.threaded = threaded
        self.memory_limit = memory_limit
        self.spilled = 0
        self.peak = 0
        self.thread = None
        # _FIRST_CHUNK: nothing read yet; _DEFERRED: the first chunk held whole messages, the thread starts if more
        # is needed; _RUNNING: the thread reads.
        self.state = _FIRST_CHUNK if threaded else None
        if threaded:
            self.cond = threading.Condition()
            self.chunks = collections.deque()
            self.queued = 0
            self.spill = None
            self.end = None

    def _start(self):
        self.state = _RUNNING
        self.thread = threading.Thread(target=self._run, name='zonesync-xfr-reader')
        self.thread.daemon = True
        self.thread.start()

    # -- reader thread --------------------------------------------------------
    def _run(self):
        sock = self.sock
        end = None
        try:
            while True:
                data = sock.recv(self.CHUNK)
                if not data:
                    end = EOFError()
                    break
                self._put(data)
                self.received += len(data)
                if self.max_bytes is not None and self.received > self.max_bytes + 65537:
                    end = _LimitReached('max_bytes')
                    break
        except Exception as exc:  # handed to the parser, raised where it needs more data
            end = exc
        with self.cond:
            self.end = end
            self.cond.notify()

    def _put(self, data):
        size = len(data)
        entry = data
        if self.queued + size > self.memory_limit:
            if self.spill is None:
                self.spill = tempfile.TemporaryFile(prefix='zonesync-xfr-')
            offset = self.spilled
            self.spill.write(data)
            self.spill.flush()
            self.spilled += size
            entry = (offset, size)
        with self.cond:
            self.chunks.append(entry)
            if entry is data:
                self.queued += size
                if self.queued > self.peak:
                    self.peak = self.queued
            self.cond.notify()

    # -- parser side ---------------------------------------------------------
    def _recv(self, wait=None):
        """A chunk read from the socket by the caller; None when ``wait`` seconds passed without one."""
        if wait is None and self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise _LimitReached('max_time')
            saved = self.sock.gettimeout()
            if saved is None or saved > remaining:
                self.sock.settimeout(remaining)
                try:
                    data = self.sock.recv(self.CHUNK)
                except socket.timeout:
                    if time.monotonic() >= self.deadline:
                        raise _LimitReached('max_time')
                    raise
                finally:
                    self.sock.settimeout(saved)
                if not data:
                    raise EOFError()
                self.received += len(data)
                return data
        if wait is not None:
            saved = self.sock.gettimeout()
            self.sock.settimeout(wait)
            try:
                data = self.sock.recv(self.CHUNK)
            except (socket.timeout, OSError):
                return None
            finally:
                self.sock.settimeout(saved)
            return data or None
        data = self.sock.recv(self.CHUNK)
        if not data:
            raise EOFError()
        self.received += len(data)
        return data

    def _next_chunk(self, wait=None):
        """The next chunk of bytes; None when ``wait`` seconds passed without one."""
        if not self.threaded:
            return self._recv(wait)
        if self.state == _FIRST_CHUNK:
            data = self._recv(wait)
            if data is not None:
                if _whole_messages(data):
                    self.state = _DEFERRED
                else:
                    self._start()
            return data
        if self.state == _DEFERRED:
            self._start()
        with self.cond:
            if not self.chunks and self.end is None:
                if wait is not None:
                    self.cond.wait(wait)
                else:
                    while not self.chunks and self.end is None:
                        if self.deadline is None:
                            self.cond.wait()
                            continue
                        remaining = self.deadline - time.monotonic()
                        if remaining <= 0:
                            raise _LimitReached('max_time')
                        self.cond.wait(remaining)
            if not self.chunks:
                if wait is not None:
                    return None
                raise self.end
            entry = self.chunks.popleft()
            if isinstance(entry, bytes):
                self.queued -= len(entry)
                return entry
        offset, size = entry
        return os.pread(self.spill.fileno(), size, offset)

    def read(self, count):
        buf = self.buf
        pos = self.pos
        end = pos + count
        if end <= len(buf):
            self.pos = end
            return buf[pos:end]
        parts = [buf[pos:]]
        have = len(buf) - pos
        self.buf = b''
        self.pos = 0
        while True:
            try:
                chunk = self._next_chunk()
            except EOFError:
                raise EOFError(b''.join(parts))
            need = count - have
            if len(chunk) >= need:
                parts.append(chunk[:need])
                self.buf = chunk
                self.pos = need
                return b''.join(parts)
            parts.append(chunk)
            have += len(chunk)

    def peek(self, count, wait):
        """Up to ``count`` further bytes, waiting at most ``wait`` seconds for them (not consumed)."""
        data = self.buf[self.pos:self.pos + count]
        if data:
            return data
        try:
            chunk = self._next_chunk(wait)
        except Exception:
            return b''
        if not chunk:
            return b''
        self.buf = chunk
        self.pos = 0
        return chunk[:count]

    def close(self):
        if self.thread is None:
            return
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread from recv()
        except OSError:
            pass
        self.thread.join(10)
        if self.spill is not None:
            self.spill.close()
            self.spill = None
        self.chunks.clear()


def _preview(data):
    text = data[:60].decode('ascii', 'replace')
    return ''.join(c if 32 <= ord(c) < 127 else '.' for c in text)


def _read_first_head(stream, query_id):
    """Read the length prefix and the ID of the first message; detect a non-DNS peer early."""
    try:
        head = stream.read(4)
    except EOFError as exc:
        partial = exc.args[0] if exc.args else b''
        if partial:
            raise TransferFailed('malformed', 'the server sent %d byte(s) and closed the connection: %r is not '
                                 'a DNS answer' % (len(partial), _preview(partial)))
        raise
    (length,) = struct.unpack('!H', head[:2])
    (msg_id,) = struct.unpack('!H', head[2:4])
    if length < 12 or msg_id != query_id:
        more = stream.peek(200, 0.2)
        raise TransferFailed('malformed', 'the answer does not look like DNS (it starts with %r): this port is '
                             'probably not a DNS server' % _preview(head + more))
    return length, head[2:4]


def make_xfr_query(zone, rdtype, serial=None, key=None):
    query = dns.message.make_query(zone, rdtype)
    query.flags &= ~dns.flags.RD
    if rdtype == dns.rdatatype.IXFR:
        soa = dns.rrset.from_text(zone, 0, 'IN', 'SOA', '. . %d 0 0 0 0' % serial)
        query.authority.append(soa)
    if key is not None:
        query.use_tsig(key)
    return query


class XfrQuery(object):
    """A transfer request on the wire: its ID, its bytes and its TSIG MAC (None unsigned); what the reader needs."""

    __slots__ = ('id', 'wire', 'mac')

    def __init__(self, query_id, wire, mac):
        self.id = query_id
        self.wire = wire
        self.mac = mac


# The IXFR request's authority record: owner a pointer to the question name (offset 12), SOA, IN, TTL 0, rdata
# of two root names and the client's serial, then four zero timers (RFC 1995 section 3).
_IXFR_SOA_HEAD = struct.pack('!HHHIH', 0xC000 | _HEADER.size, TYPE_SOA, CLASS_IN, 0, 22) + b'\x00\x00'
_IXFR_SOA_TIMERS = b'\x00' * 16


def xfr_query(zone, rdtype, serial=None, key=None, signers=None):
    """The request of one AXFR or IXFR, built on the wire (and signed with hmac), or by dnspython for a key
    algorithm hmac does not do here. It carries what make_xfr_query()'s message does: no RD, the question,
    for IXFR the client's SOA in the authority section, and TSIG last.

    ``signers``: a dict kept by the caller to reuse one TsigSigner per key across many transfers.
    """
    signer = None
    if key is not None:
        signer = signers.get(key.name) if signers is not None else None
        if signer is None or signer.key is not key:
            signer = TsigSigner(key)
            if signers is not None:
                signers[key.name] = signer
        if not signer.available:
            message = make_xfr_query(zone, rdtype, serial, key)
            wire = message.to_wire()
            return XfrQuery(message.id, wire, message.mac)
    query_id = random.getrandbits(16)
    is_ixfr = rdtype == dns.rdatatype.IXFR
    wire = (_HEADER.pack(query_id, 0, 1, 0, 1 if is_ixfr else 0, 0) + zone.to_wire()
            + struct.pack('!HH', rdtype, CLASS_IN))
    if is_ixfr:
        wire += _IXFR_SOA_HEAD + _U32.pack(serial) + _IXFR_SOA_TIMERS
    if signer is None:
        return XfrQuery(query_id, wire, None)
    signed, mac = signer.sign(wire)
    return XfrQuery(query_id, signed, mac)


def _tsig_rdata(wire):
    """The TSIG rdata of a message, unvalidated, or None."""
    try:
        return from_wire_unverified(wire, xfr=True, multi=True, one_rr_per_rrset=True, ignore_trailing=True)
    except Exception:
        return None, None


def classify_error_message(wire, key, local_time):
    """Status and details for a first message whose rcode is not NOERROR."""
    raw, tsig = _tsig_rdata(wire)
    if raw is None:
        return 'malformed', 'the answer could not be parsed', {}
    rcode = raw.rcode()
    extra = {'rcode': dns.rcode.to_text(rcode)}
    if tsig is not None and tsig.error:
        if tsig.error == dns.rcode.BADTIME:
            server_time = None
            if tsig.other and len(tsig.other) == 6:
                high, low = struct.unpack('!HI', tsig.other)
                server_time = (high << 32) | low
            elif tsig.time_signed:
                server_time = tsig.time_signed
            if server_time is not None:
                extra['skew'] = int(server_time - local_time)
                extra['server_time'] = server_time
            return 'tsig_bad_time', 'the server rejected the request time (TSIG BADTIME)', extra
        if tsig.error == dns.rcode.BADKEY:
            return 'tsig_bad_key', 'the server does not know the key name with this algorithm (TSIG BADKEY)', extra
        if tsig.error == dns.rcode.BADSIG:
            return 'tsig_bad_signature', 'the server could not verify the signature (TSIG BADSIG)', extra
        return 'tsig_bad_signature', 'the server reported TSIG error %s' % dns.rcode.to_text(tsig.error), extra
    if rcode == dns.rcode.REFUSED:
        return 'refused', 'the server answered REFUSED', extra
    if rcode == dns.rcode.NOTAUTH:
        return 'not_authoritative', 'the server answered NOTAUTH: it is not authoritative for the zone', extra
    if rcode == dns.rcode.NXDOMAIN:
        return 'not_authoritative', 'the server answered NXDOMAIN: it does not serve the zone', extra
    if rcode == dns.rcode.SERVFAIL:
        return 'servfail', 'the server answered SERVFAIL', extra
    if rcode == dns.rcode.NOTIMP:
        return 'not_implemented', 'the server answered NOTIMP: it does not implement this kind of transfer', extra
    if rcode == dns.rcode.FORMERR:
        return 'malformed', 'the server answered FORMERR: it could not read the request', extra
    return 'malformed', 'unexpected response code %s' % dns.rcode.to_text(rcode), extra


def transfer(zone, address, port=53, rdtype='AXFR', serial=None, key=None, source=None, timeout=10.0,
             digest=None, fast=True, reader_thread=True, parse_delays=(), stream_memory=STREAM_MEMORY, stats=None,
             signers=None, limits=None):
    """Run one AXFR or IXFR and return a result dict (status 'ok' or a failure status).

    ``timeout`` bounds each wait for data; ``limits`` (TransferLimits, defaults when None) bounds the records,
    the bytes and the whole time of the transfer: crossing one ends it at once with status limit_exceeded.

    An IXFR that the server answers with NOTIMP or FORMERR, or whose increments break the framing, is asked
    again as AXFR (as secondaries do, RFC 1995 section 4), with ``fallback: axfr`` and the IXFR's failure in
    ``ixfr_failure``.

    Test hooks: ``fast=False`` parses every message with dnspython (the
    reference the fast reader is tested against); ``reader_thread=False``
    reads the socket from the parsing thread, and ``parse_delays`` are
    seconds to sleep before parsing the first, second, ... message: together
    they show what the reader thread is for. ``stats``, a dict, receives
    fast_messages (messages the fast reader took), buffered_peak (most bytes
    held in memory ahead of the parser) and spilled (bytes that went to the
    temporary file). ``signers``: see xfr_query().
    """
    limits = limits or TransferLimits()
    result = _transfer_once(zone, address, port, rdtype, serial, key, source, timeout, digest, fast, reader_thread,
                            parse_delays, stream_memory, stats, signers, limits)
    if result['type'] == 'IXFR' and _ixfr_falls_back(result):
        if digest is not None:
            digest.reset()
        failure = {'status': result['status'], 'detail': result['detail'], 'rcode': result.get('rcode')}
        spent = result['duration'] or 0.0
        remaining = TransferLimits(limits.records, limits.bytes, max(limits.time - spent, 0.001))
        result = _transfer_once(zone, address, port, 'AXFR', None, key, source, timeout, digest, fast,
                                reader_thread, (), stream_memory, stats, signers, remaining)
        result.update(type='IXFR', fallback='axfr', ixfr_failure=failure, ixfr_fallback_to_axfr=True,
                      up_to_date=False, duration=round(result['duration'] + spent, 4))
    return result


def _ixfr_falls_back(result):
    """Whether a failed IXFR is asked again as AXFR: NOTIMP, FORMERR, or increments that break the framing."""
    if result['status'] == 'not_implemented' or result.get('rcode') == 'FORMERR':
        return True
    return result['status'] == 'malformed' and 'ixfr_changes' in result


def _transfer_once(zone, address, port, rdtype, serial, key, source, timeout, digest, fast, reader_thread,
                   parse_delays, stream_memory, stats, signers, limits):
    rdtype_value = dns.rdatatype.from_text(rdtype)
    is_ixfr = rdtype_value == dns.rdatatype.IXFR
    query = xfr_query(zone, rdtype_value, serial, key, signers)
    wire = query.wire
    result = {'server': format_server(address, port), 'address': address, 'port': port, 'type': rdtype.upper(),
              'status': None, 'detail': None, 'serial': None, 'records': 0, 'messages': 0, 'bytes': 0,
              'duration': None, 'signed_messages': 0}
    if is_ixfr:
        result['ixfr_fallback_to_axfr'] = False
        result['up_to_date'] = False
        result['fallback'] = None
    start = time.monotonic()
    deadline = start + limits.time
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    stream = None
    reader = None
    try:
        sock.settimeout(timeout)
        if source:
            try:
                sock.bind((source, 0))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise ZonesyncError('source: %s is not an address of this host, so the transfer cannot be '
                                        'sent from it. Run the check on the secondary that owns it (delegate_to).'
                                        % source)
                raise ZonesyncError('source: cannot bind %s: %s' % (source, exc.strerror or exc))
        try:
            sock.settimeout(min(timeout, limits.time))
            sock.connect((address, port))
            sock.settimeout(timeout)
        except ConnectionRefusedError:
            return _tcp_failed(result, 'refused', zone, address, port, key, source, timeout, start)
        except socket.timeout:
            return _tcp_failed(result, 'timeout', zone, address, port, key, source, timeout, start)
        except OSError as exc:
            result.update(status='unreachable', detail='cannot connect to %s over TCP: %s'
                          % (format_server(address, port), exc.strerror or exc))
            return _finish(result, start)
        try:
            sock.sendall(struct.pack('!H', len(wire)) + wire)
            reader = _MessageReader(query, zone, key, serial, is_ixfr, result, digest, fast)
            stream = _Stream(sock, threaded=reader_thread, memory_limit=stream_memory, deadline=deadline,
                             max_bytes=limits.bytes)
            _read_stream(stream, query, result, reader, parse_delays, limits, deadline)
        except _LimitReached as exc:
            exc = limits.failure(exc.limit, result)
            result.update(status=exc.status, detail=exc.detail)
            result.update(exc.extra)
        except TransferFailed as exc:
            result.update(status=exc.status, detail=exc.detail)
            result.update(exc.extra)
            if exc.status == 'not_authoritative' and exc.extra.get('rcode') == 'NOTAUTH':
                _notauth_or_refused(result, zone, address, port, key, source, timeout)
            elif exc.status == 'tsig_bad_key':
                _bad_key_or_wrong_server(result, zone, address, port, source, timeout)
        except socket.timeout:
            if time.monotonic() >= deadline:
                exc = limits.failure('max_time', result)
                result.update(status=exc.status, detail=exc.detail)
                result.update(exc.extra)
            elif result['messages'] == 0 and result['bytes'] == 0:
                _silent_after_connect(result, zone, address, port, source, timeout)
            else:
                result.update(status='timeout', detail='the server stopped sending after %d message(s); no data '
                              'for %.1f s' % (result['messages'], timeout))
        except (EOFError, ConnectionResetError, BrokenPipeError):
            if result['messages'] == 0:
                result.update(status='malformed' if result['bytes'] else 'incomplete',
                              detail='the server closed the connection without a complete answer')
            else:
                result.update(status='incomplete', detail='the connection closed after %d message(s) and %d '
                              'record(s), before the closing SOA' % (result['messages'], result['records']))
    finally:
        if stream is not None:
            stream.close()
            if stats is not None:
                stats.update(fast_messages=reader.fast_messages, buffered_peak=stream.peak,
                             spilled=stream.spilled)
        sock.close()
    return _finish(result, start)


def _read_stream(stream, query, result, reader, parse_delays=(), limits=None, deadline=None):
    limits = limits or TransferLimits()
    length, head = _read_first_head(stream, query.id)
    while True:
        if result['bytes'] + length + 2 > limits.bytes:
            raise limits.failure('max_bytes', result)
        msg_wire = head + stream.read(length - len(head))
        result['bytes'] += length + 2
        result['messages'] += 1
        if result['messages'] <= len(parse_delays):
            time.sleep(parse_delays[result['messages'] - 1])
        done = reader.message(msg_wire)
        if result['records'] > limits.records:
            raise limits.failure('max_records', result)
        if done:
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise limits.failure('max_time', result)
        (length,) = struct.unpack('!H', stream.read(2))
        head = b''


class _Frame(object):
    """Where the SOA framing of a transfer stands (RFC 5936 section 2.2, RFC 1995 section 4)."""

    __slots__ = ('state', 'soa_serial', 'soa', 'records', 'deleted', 'added', 'incremental', 'fallback')

    def __init__(self):
        self.state = _FIRST
        self.soa_serial = None
        self.soa = None  # the opening SOA: (class, digestable rdata), which the closing one must equal
        self.records = 0
        self.deleted = 0
        self.added = 0
        self.incremental = False
        self.fallback = False

    def copy(self):
        other = _Frame()
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        return other


def _closing(frame, soa, serial):
    """Check that the closing SOA equals the opening one (RFC 5936 2.2: owner, class and every field)."""
    if serial != frame.soa_serial:
        raise TransferFailed('malformed', 'the closing SOA has serial %d, the opening one %d'
                             % (serial, frame.soa_serial))
    if soa != frame.soa:
        raise TransferFailed('malformed', 'the closing SOA has the opening serial %d but differs from the opening '
                             'SOA in its other fields (RFC 5936 2.2)' % serial)
    frame.state = _DONE
    return _SKIP


def _frame(frame, is_soa, serial, is_ixfr, zone, soa=None):
    """Advance the framing by one record; returns _CONTENT, _COUNT or _SKIP, or raises TransferFailed.

    ``soa`` is the record's (class, digestable rdata) when ``is_soa``.
    """
    state = frame.state
    if state == _AXFR:
        if is_soa:
            return _closing(frame, soa, serial)
        return _CONTENT
    if state == _FIRST:
        if not is_soa:
            raise TransferFailed('malformed', 'the transfer does not start with the SOA of %s' % zone.to_text())
        frame.soa_serial = serial
        frame.soa = soa
        frame.state = _SECOND
        return _CONTENT
    if state == _SECOND:
        if is_ixfr and is_soa and serial != frame.soa_serial:
            frame.state = _IXFR_DELETE
            frame.incremental = True
            return _COUNT
        if is_ixfr:
            frame.fallback = True
        frame.state = _AXFR
        return _frame(frame, is_soa, serial, is_ixfr, zone, soa)
    if state == _IXFR_DELETE:
        if is_soa:
            frame.state = _IXFR_ADD
        else:
            frame.deleted += 1
        return _COUNT
    if state == _IXFR_ADD:
        if is_soa and serial == frame.soa_serial:
            return _closing(frame, soa, serial)
        if is_soa:
            frame.state = _IXFR_DELETE
        else:
            frame.added += 1
        return _COUNT
    raise TransferFailed('malformed', 'records follow the closing SOA')


class _MessageReader(object):
    """Checks the messages of one transfer in order and folds their records into the digest.

    Each message is first read by the fast path (_fast_scan, then _fast_finish);
    when that declines (Decline, or any error from the wire), nothing of the
    message has been applied yet, and dnspython parses it instead (_slow) with
    the same TSIG context. TSIG is verified by dns.tsig.validate() either way.
    """

    def __init__(self, query, zone, key, client_serial, is_ixfr, result, digest, fast=True):
        self.query = query
        self.query_id = query.id
        self.request_mac = query.mac
        self.zone = zone
        self.zone_wire = zone.to_digestable()
        self.key = key
        self.keyring = key if key is not None else False
        self.client_serial = client_serial
        self.is_ixfr = is_ixfr
        self.qtype = dns.rdatatype.IXFR if is_ixfr else dns.rdatatype.AXFR
        self.result = result
        self.digest = digest
        self.fast = fast
        self.tsig_ctx = None
        self.unsigned_run = 0
        self.first = True
        self.frame = _Frame()
        self.fast_messages = 0
        self.touched = False

    # -- one message -------------------------------------------------------------
    def message(self, wire):
        """Process one message; True once the transfer is complete."""
        staged = None
        if self.fast:
            self.touched = False
            try:
                staged = self._fast_scan(wire)
            except Exception:  # Decline, TransferFailed, a malformed wire: dnspython decides what it is
                staged = None
                if self.touched:
                    self.digest.buckets_dirty = True
        if staged is None:
            return self._slow(wire)
        self.fast_messages += 1
        return self._fast_finish(wire, staged)

    def _tsig_failed(self, exc, wire, local_time):
        if isinstance(exc, (dns.tsig.BadKey, dns.tsig.BadAlgorithm, dns.message.UnknownTSIGKey)):
            # The answer is signed, by the server, with a key this client was not given: another name or algorithm.
            raw, tsig = _tsig_rdata(wire)
            name = raw.tsig.name.to_text(omit_final_dot=True) if raw is not None and raw.tsig else '?'
            algorithm = tsig.algorithm.to_text(omit_final_dot=True) if tsig is not None else '?'
            raise TransferFailed('tsig_unknown_key', 'message %d is signed with key "%s" (%s), but the request was '
                                 'signed with "%s" (%s): this check does not know that key' % (
                                     self.result['messages'], name, algorithm,
                                     self.key.name.to_text(omit_final_dot=True),
                                     self.key.algorithm.to_text(omit_final_dot=True)),
                                 response_key=name, response_algorithm=algorithm)
        if self.first:
            status, detail, extra = classify_error_message(wire, self.key, local_time)
            if status.startswith('tsig_') or status != 'malformed':
                raise TransferFailed(status, detail, **extra)
        raise TransferFailed('tsig_bad_signature', 'message %d of the transfer fails TSIG verification: %s'
                             % (self.result['messages'], tsig_error_text(exc)))

    def _signed(self, had_tsig):
        """The rules of RFC 8945 5.3.1 for signed transfers, once the message's TSIG (if any) verified."""
        result = self.result
        if self.key is not None:
            if had_tsig:
                result['signed_messages'] += 1
                self.unsigned_run = 0
            else:
                if self.first:
                    raise TransferFailed('tsig_unsigned_response', 'the query was signed with %s but the answer '
                                         'is not signed' % self.key.name.to_text(omit_final_dot=True))
                self.unsigned_run += 1
                if self.unsigned_run > MAX_UNSIGNED_RUN:
                    raise TransferFailed('tsig_unsigned_response', 'more than %d unsigned messages in a row '
                                         '(RFC 8945 5.3.1)' % MAX_UNSIGNED_RUN)
        elif had_tsig:
            result['signed_messages'] += 1
        self.first = False

    def _sync(self, records=True):
        frame = self.frame
        result = self.result
        if records:
            result['records'] = frame.records
        if frame.soa_serial is not None:
            result['serial'] = frame.soa_serial
        if frame.incremental:
            result['ixfr_changes'] = {'deleted': frame.deleted, 'added': frame.added}
        if frame.fallback:
            result['ixfr_fallback_to_axfr'] = True

    def _end_of_message(self, had_tsig):
        frame = self.frame
        if frame.state == _SECOND and self.is_ixfr and self.client_serial is not None \
                and serial_compare(frame.soa_serial, self.client_serial) in (0, -1):
            # A lone SOA no newer than ours: the client is up to date (RFC 1995 section 4).
            self.result['up_to_date'] = True
            frame.state = _DONE
        if frame.state == _DONE:
            if self.key is not None and not had_tsig:
                raise TransferFailed('tsig_unsigned_response', 'the last message of the transfer is not signed '
                                     '(RFC 8945 5.3.1)')
            return True
        return False

    # -- dnspython ---------------------------------------------------------------
    def _slow(self, wire):
        result = self.result
        local_time = time.time()
        try:
            message = dns.message.from_wire(wire, keyring=self.keyring, request_mac=self.request_mac, xfr=True,
                                            tsig_ctx=self.tsig_ctx, multi=True, one_rr_per_rrset=True)
        except _TSIG_ERRORS as exc:
            self._tsig_failed(exc, wire, local_time)
        except dns.exception.DNSException as exc:
            raise TransferFailed('malformed', 'message %d cannot be parsed: %s' % (result['messages'], exc))
        if message.id != self.query_id:
            raise TransferFailed('malformed', 'message %d carries ID %d, but the query had ID %d (RFC 5936 2.2)'
                                 % (result['messages'], message.id, self.query_id))
        if not message.flags & dns.flags.QR:
            raise TransferFailed('malformed', 'message %d is not a response' % result['messages'])
        if message.opcode() != dns.opcode.QUERY:
            raise TransferFailed('malformed', 'message %d has opcode %s, not QUERY (RFC 5936 2.2)'
                                 % (result['messages'], dns.opcode.to_text(message.opcode())))
        if message.rcode() != dns.rcode.NOERROR:
            if self.first:
                status, detail, extra = classify_error_message(wire, self.key, local_time)
                raise TransferFailed(status, detail, **extra)
            raise TransferFailed('incomplete', 'message %d ends the transfer with %s' % (
                result['messages'], dns.rcode.to_text(message.rcode())))
        if len(message.question) > 1:
            raise TransferFailed('malformed', 'message %d carries %d questions (RFC 5936 2.2.1 allows one)'
                                 % (result['messages'], len(message.question)))
        if message.question:
            asked = message.question[0]
            if asked.name != self.zone or asked.rdtype != self.qtype or asked.rdclass != dns.rdataclass.IN:
                raise TransferFailed('malformed', 'message %d answers %s %s %s, not the query\'s %s IN %s '
                                     '(RFC 5936 2.2.1)' % (
                                         result['messages'], asked.name.to_text(),
                                         dns.rdataclass.to_text(asked.rdclass), dns.rdatatype.to_text(asked.rdtype),
                                         self.zone.to_text(), dns.rdatatype.to_text(self.qtype)))
        if not message.answer:
            raise TransferFailed('malformed', 'message %d carries no records: an empty answer is not a zone '
                                 'transfer (RFC 5936 2.2)' % result['messages'])
        self._signed(message.had_tsig)
        self.tsig_ctx = message.tsig_ctx
        frame = self.frame
        digest = self.digest
        try:
            for rrset in message.answer:
                is_soa = rrset.rdtype == dns.rdatatype.SOA and rrset.name == self.zone
                for rdata in rrset:
                    action = _frame(frame, is_soa, rdata.serial if is_soa else None, self.is_ixfr, self.zone,
                                    (rdata.rdclass, rdata.to_digestable()) if is_soa else None)
                    if action == _SKIP:
                        continue
                    frame.records += 1
                    if action == _CONTENT and digest is not None:
                        digest.add(rrset.name, rrset.ttl, rdata)
        except TransferFailed:
            self._sync(records=False)  # as ever: the serial is known, the message's records not counted
            raise
        self._sync()
        return self._end_of_message(message.had_tsig)

    # -- the fast path -----------------------------------------------------------
    def _fast_scan(self, wire):
        """Read one message from the wire without side effects; returns what _fast_finish applies.

        Declines messages that are not NOERROR answers with this query's ID,
        that have authority records, or additional records other than one
        TSIG, or records the framing rejects (dnspython then reports the
        failure exactly as before).
        """
        size = len(wire)
        msg_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire, 0)
        if msg_id != self.query_id or not flags & _QR or flags & (_OPCODE | _RCODE) or nscount or arcount > 1:
            raise Decline('header')
        if not ancount or qdcount > 1:
            raise Decline('no answer, or more than one question')
        cache = {}
        off = 12
        zone_wire = self.zone_wire
        if qdcount:
            ent = read_name(wire, off, size, cache)
            off = ent[1] + 4
            if off > size or ent[3] != zone_wire or _QUESTION.unpack_from(wire, off - 4) != (self.qtype, 1):
                raise Decline('question')
        frame = self.frame.copy()
        digest = self.digest
        is_ixfr = self.is_ixfr
        total = 0
        count = 0
        keep = []
        noted = []
        noted_types = _NOTED
        if digest is not None:
            ignored = digest.ignored
            ignore_ttl = digest.ignore_ttl
            buckets = digest.buckets
            bucket_counts = digest.bucket_counts
            bucketed = buckets is not None
            mask = digest.mask
            keeping = digest.keeping
            select = digest.select
        else:
            ignored = ()
            ignore_ttl = bucketed = keeping = False
            buckets = bucket_counts = None
            mask = 0
            select = None
        sha256 = hashlib.sha256
        from_bytes = int.from_bytes
        unpack = _RR.unpack_from
        pack = _RR.pack
        crc32 = zlib.crc32
        read = read_name
        canonical_of = canonical_rdata
        max_hops = MAX_POINTER_HOPS
        axfr = _AXFR
        records = frame.records
        in_axfr = frame.state == axfr
        # Bucket sums are added at once, not staged: should this message be declined after some,
        # message() marks the buckets dirty for good (total and count are staged, so stay exact).
        touched = False
        for dummy in range(ancount):
            # The owner: a pointer to a name read before, or one label and such a pointer (how
            # servers compress most owners), else the general reader.
            first_byte = wire[off]
            if first_byte >= 0xC0:
                ent = cache.get(((first_byte & 0x3F) << 8) | wire[off + 1])
                if ent is not None and ent[2] < max_hops:
                    off += 2
                else:
                    ent = read(wire, off, size, cache)
                    off = ent[1]
            elif 0 < first_byte < 64:
                label_end = off + 1 + first_byte
                pointer = wire[label_end]
                tail = None
                if pointer >= 0xC0:
                    tail = cache.get(((pointer & 0x3F) << 8) | wire[label_end + 1])
                if tail is not None and tail[2] < max_hops and len(tail[0]) + first_byte < 255:
                    label = wire[off:label_end]
                    ent = (label + tail[0], label_end + 2, tail[2] + 1, label.lower() + tail[3])
                    cache[off] = ent
                    off = label_end + 2
                else:
                    ent = read(wire, off, size, cache)
                    off = ent[1]
            else:
                ent = read(wire, off, size, cache)
                off = ent[1]
            owner = ent[3]
            rdtype, rdclass, ttl, rdlen = unpack(wire, off)
            rdata_start = off + 10
            end = rdata_start + rdlen
            if end > size:
                raise Decline('rdata past the end')
            if rdclass == 1 and (rdtype == 1 and rdlen == 4 or rdtype == 28 and rdlen == 16):
                canonical = None
            elif rdtype == TYPE_OPT or rdtype == TYPE_TSIG:
                raise Decline('OPT or TSIG in the answer section')
            else:
                canonical = canonical_of(wire, rdtype, rdclass, rdata_start, end, cache)
            if rdtype == TYPE_SOA or not in_axfr:
                is_soa = rdtype == TYPE_SOA and owner == zone_wire
                action = _frame(frame, is_soa, _U32.unpack_from(wire, end - 20)[0] if is_soa else None,
                                is_ixfr, self.zone, (rdclass, canonical) if is_soa else None)
                in_axfr = frame.state == axfr
                if action == _SKIP:
                    off = end
                    continue
                records += 1
                if action == _COUNT or digest is None:
                    off = end
                    continue
            else:
                records += 1
                if digest is None:
                    off = end
                    continue
            if rdtype in ignored:
                off = end
                continue
            if ttl > 0x7FFFFFFF or ignore_ttl:
                ttl = 0
                if canonical is None:
                    canonical = wire[rdata_start:end]
            if canonical is None:
                value = from_bytes(sha256(owner + wire[off:end]).digest(), 'big')
            else:
                value = from_bytes(sha256(owner + pack(rdtype, rdclass, ttl, len(canonical)) + canonical).digest(),
                                   'big')
            total += value
            count += 1
            if rdtype in noted_types:
                noted.append((owner, rdtype, rdclass, ttl, wire[rdata_start:end] if canonical is None else canonical,
                              value))
            if bucketed:
                bucket = crc32(owner) & mask
                if not touched:
                    touched = self.touched = True
                buckets[bucket] += value
                bucket_counts[bucket] += 1
                if keeping and (select is None or bucket in select):
                    keep.append((owner, rdtype, rdclass, wire[rdata_start:end] if canonical is None else canonical,
                                 ttl))
            elif keeping:
                keep.append((owner, rdtype, rdclass, wire[rdata_start:end] if canonical is None else canonical, ttl))
            off = end
        frame.records = records
        tsig = None
        if arcount:
            tsig_start = off
            ent = read_name(wire, off, size, cache)
            off = ent[1]
            rdtype, rdclass, ttl, rdlen = unpack(wire, off)
            rdata_start = off + 10
            if rdtype != TYPE_TSIG or rdclass != CLASS_ANY or rdata_start + rdlen != size or self.key is None:
                raise Decline('additional section')
            tsig = (tsig_start, dns.name.from_wire(ent[0], 0)[0],
                    dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG, wire, rdata_start, rdlen))
        elif off != size:
            raise Decline('trailing bytes')
        return frame, total, count, keep, tsig, noted

    def _fast_finish(self, wire, staged):
        frame, total, count, keep, tsig, noted = staged
        had_tsig = tsig is not None
        try:
            if had_tsig:
                local_time = time.time()
                try:
                    self.tsig_ctx = dns.tsig.validate(wire, self.key, tsig[1], tsig[2], int(local_time),
                                                      self.request_mac, tsig[0], self.tsig_ctx, True)
                except _TSIG_ERRORS as exc:
                    self._tsig_failed(exc, wire, local_time)
            elif self.tsig_ctx is not None:
                # An unsigned message between signed ones is covered by the next MAC (as dnspython).
                self.tsig_ctx.update(wire)
            self._signed(had_tsig)
        except Exception:
            if self.touched:
                self.digest.buckets_dirty = True
            raise
        self.frame = frame
        if self.digest is not None:
            self.digest.commit(total, count, keep, noted)
        self._sync()
        return self._end_of_message(had_tsig)


def _finish(result, start):
    result['duration'] = round(time.monotonic() - start, 4)
    if result['status'] is None:
        result['status'] = 'ok'
    return result


def _udp_probe(zone, address, port, key, source, timeout, retries=1):
    """One SOA query over UDP from the same source: what the server says outside the transfer."""
    engine = SoaEngine(key=key, transport='udp', timeout=min(timeout, 2.0), retries=retries, source=source)
    return engine.run([(zone, address, port)])[0]


def _silent_after_connect(result, zone, address, port, source, timeout):
    """TCP connected but nothing came back: a stalled DNS server, or no DNS server at all?"""
    probe = _udp_probe(zone, address, port, None, source, timeout, retries=0)
    server = format_server(address, port)
    if probe['status'] in ('timeout', 'unreachable'):
        result.update(status='timeout', detail='%s accepts TCP connections but sent nothing within %.1f s, and gives '
                      'no DNS answer over UDP either: this port is probably not a DNS server' % (server, timeout))
    else:
        result.update(status='timeout', detail='%s answers DNS over UDP but sent nothing over TCP within %.1f s'
                      % (server, timeout))


def _notauth_or_refused(result, zone, address, port, key, source, timeout):
    """Settle what a NOTAUTH without a TSIG error means.

    BIND answers NOTAUTH for a zone it does not serve. PowerDNS answers NOTAUTH,
    unsigned and without a TSIG error code, both when its ACL denies the
    transfer and when it cannot verify the request's TSIG. An SOA query from
    the same source, signed with the same key, tells them apart: a valid
    signed authoritative answer means the key works and the transfer was
    refused; NOTAUTH to the signed query means the key was rejected; an
    authoritative answer to an unsigned query means the zone is served.
    """
    if key is not None:
        signed = _udp_probe(zone, address, port, key, source, timeout, retries=1)
        if signed['status'] == 'answered':
            result.update(status='refused', detail='the server answered NOTAUTH to the transfer, yet it accepts the '
                          'key for a signed SOA query (serial %d): the key works, but this key and source address are '
                          'not allowed to transfer the zone' % signed['serial'])
            return
        if signed['status'] == 'tsig_error' and signed.get('rcode') == 'NOTAUTH':
            if _zone_not_served(result, zone, address, port, source, timeout, 'an unsigned NOTAUTH'):
                return
            result.update(status='tsig_unsigned_response', detail='the server rejected the signed request with an '
                          'unsigned NOTAUTH that names no TSIG error (PowerDNS does this when the key name, the '
                          'algorithm, the secret or the clock is wrong)')
            return
    probe = _udp_probe(zone, address, port, None, source, timeout, retries=1)
    if probe['status'] == 'answered':
        result.update(status='refused', detail='the server answered NOTAUTH to the transfer although it serves '
                      'the zone (serial %d): it does not allow this client to transfer (PowerDNS answers an '
                      'ACL denial this way)' % probe['serial'])


def _bad_key_or_wrong_server(result, zone, address, port, source, timeout):
    """A BADKEY from a server that does not serve the zone at all is a wrong-primary problem, not a key problem.

    The server knows neither the key nor the zone: installing the key there would not help. An unsigned SOA query
    tells: an authoritative answer means the zone is served and the key is what is missing.
    """
    _zone_not_served(result, zone, address, port, source, timeout, 'BADKEY')


def _zone_not_served(result, zone, address, port, source, timeout, what):
    """Turn a key failure into not_authoritative when an unsigned SOA query shows the zone is not served there.

    BIND and PowerDNS answer REFUSED for a zone they do not serve (BIND also for a client its allow-query leaves
    out, which the detail says). Returns True when it did.
    """
    probe = _udp_probe(zone, address, port, None, source, timeout, retries=1)
    if probe['status'] not in ('not_authoritative', 'refused'):
        return False
    result.update(status='not_authoritative', detail=(
        'the server answered %s to the signed transfer, and an unsigned SOA query for %s gets %s: it does not serve '
        'the zone%s, so the request went to the wrong server or the zone is missing there; the key is not what to '
        'fix first' % (what, zone.to_text(), probe.get('error') or probe.get('rcode'),
                       ' (or its allow-query leaves this host out)' if probe['status'] == 'refused' else '')))
    return True


def _tcp_failed(result, how, zone, address, port, key, source, timeout, start):
    """TCP did not connect: does UDP answer? That separates a blocked TCP 53 from a dead server."""
    probe = _udp_probe(zone, address, port, None, source, timeout)
    server = format_server(address, port)
    udp_answers = probe['status'] not in ('timeout', 'unreachable')
    if udp_answers:
        result.update(status='tcp_unreachable',
                      detail='UDP to %s answers (%s), but a TCP connection %s' % (
                          server, 'serial %s' % probe['serial'] if probe['serial'] is not None else probe['rcode'],
                          'is refused' if how == 'refused' else 'times out after %.1f s' % timeout),
                      udp_serial=probe['serial'])
    elif how == 'refused' or probe['status'] == 'unreachable':
        result.update(status='unreachable', detail='nothing answers on %s: TCP connection %s, UDP %s' % (
            server, 'refused' if how == 'refused' else 'timed out', probe['error']))
    else:
        result.update(status='timeout', detail='no answer from %s: TCP connect and UDP query both timed out '
                      'after %.1f s' % (server, timeout))
    return _finish(result, start)


def compare_records(primary, secondary, limit=100):
    """Compare two collected record maps. Returns counts and up to ``limit`` differences."""
    missing = extra = changed = 0
    differences = []
    for key in sorted(set(primary) | set(secondary)):
        left = primary.get(key, {})
        right = secondary.get(key, {})
        if left == right:
            continue
        only_left = sorted(set(left) - set(right))
        only_right = sorted(set(right) - set(left))
        ttl_changed = sorted(r for r in set(left) & set(right) if left[r] != right[r])
        pairs = min(len(only_left), len(only_right))
        changed += pairs + len(ttl_changed)
        missing += len(only_left) - pairs
        extra += len(only_right) - pairs
        if len(differences) < limit:
            kind = 'changed' if (pairs or ttl_changed) else ('missing' if only_left else 'extra')
            differences.append({
                'name': key[0], 'type': key[1], 'kind': kind,
                'primary': ['%d %s' % (left[r], r) for r in sorted(left)],
                'secondary': ['%d %s' % (right[r], r) for r in sorted(right)],
            })
    return {'missing': missing, 'extra': extra, 'changed': changed, 'differences': differences}


def _rdata_text(rdclass, rdtype, rdata_wire):
    try:
        return dns.rdata.from_wire(rdclass, rdtype, rdata_wire, 0, len(rdata_wire)).to_text()
    except Exception:
        return '\\# %d %s' % (len(rdata_wire), rdata_wire.hex())


def textual(held):
    """Held records (canonical wire) as compare_records() takes them: {(name, type): {rdata text: ttl}}."""
    out = {}
    for (owner, rdtype, rdclass), rdatas in held.items():
        key = (dns.name.from_wire(owner, 0)[0].to_text(), dns.rdatatype.to_text(rdtype))
        entry = out.setdefault(key, {})
        for rdata_wire, ttl in rdatas.items():
            entry[_rdata_text(rdclass, rdtype, rdata_wire)] = ttl
    return out


def _compare_held(left, right, limit):
    """compare_records() on held records, turning only the differing record sets into text."""
    differing = {}
    for key in set(left) | set(right):
        a = left.get(key, {})
        b = right.get(key, {})
        if a != b:
            differing[key] = (a, b)
    primary = textual(dict((k, v[0]) for k, v in differing.items()))
    secondary = textual(dict((k, v[1]) for k, v in differing.items()))
    return compare_records(primary, secondary, limit)


def _plan_batches(differing, counts_a, counts_b, budget):
    """Group differing buckets so that each group holds about ``budget`` records of both copies together."""
    batches = []
    batch = []
    size = 0
    for bucket in differing:
        cost = counts_a[bucket] + counts_b[bucket]
        if batch and size + cost > budget:
            batches.append(batch)
            batch = []
            size = 0
        batch.append(bucket)
        size += cost
    if batch:
        batches.append(batch)
    return batches


class _Copy(object):
    """Where one copy of the zone is read from, and how: enough to read it again."""

    def __init__(self, zone, entry, serial, key, source, timeout, ignore_ttl, ignore_types, limits=None):
        self.limits = limits
        self.zone = zone
        self.entry = entry
        self.serial = serial
        self.key = key
        self.source = source
        self.timeout = timeout
        self.ignore_ttl = ignore_ttl
        self.ignore_types = ignore_types

    def digest(self, **kw):
        return ZoneDigest(self.zone, ignore_ttl=self.ignore_ttl, ignore_types=self.ignore_types, **kw)

    def read(self, select=None):
        """Transfer the copy again with bucket sums, holding the records of the buckets in ``select``.

        Returns (digest, None), or (None, what went wrong).
        """
        digest = self.digest(buckets=True, select=frozenset(select) if select is not None else None)
        result = transfer(self.zone, self.entry['address'], self.entry['port'], key=self.key, source=self.source,
                          timeout=self.timeout, digest=digest, limits=self.limits)
        if result['status'] != 'ok':
            return None, '%s: %s' % (result['server'], result['detail'])
        if result['serial'] != self.serial:
            return None, '%s moved from serial %d to %d' % (result['server'], self.serial, result['serial'])
        return digest, None


def compare_copies(primary, first_digest, secondary, second_digest, limit, budget=None):
    """Counts and up to ``limit`` differences between two copies whose digests differ.

    When both copies were small enough to be held while they were read, they
    are compared at once. Otherwise both are read again, holding only the
    records of the buckets whose digests differ, in batches of about
    ``budget`` records (DETAIL_BUDGET); ``passes`` says how many times each was read again.
    """
    budget = DETAIL_BUDGET if budget is None else budget
    if first_digest.held is not None and second_digest.held is not None:
        out = _compare_held(first_digest.held, second_digest.held, limit)
        out.update(passes=0, complete=True)
        return out
    out = {'missing': 0, 'extra': 0, 'changed': 0, 'differences': [], 'passes': 0, 'complete': True}
    if first_digest.buckets_dirty or second_digest.buckets_dirty:
        # A message was declined half-way through by the fast reader: sum the buckets afresh.
        out['passes'] += 1
        digests = []
        for copy, old in ((primary, first_digest), (secondary, second_digest)):
            new, problem = copy.read()
            if problem is None and new.total != old.total:
                problem = 'the content changed under the same serial while it was being compared'
            if problem is not None:
                out.update(complete=False, problem=problem)
                return out
            digests.append(new)
        first_digest, second_digest = digests
    differing = [b for b in range(BUCKETS) if first_digest.buckets[b] != second_digest.buckets[b]]
    batches = _plan_batches(differing, first_digest.bucket_counts, second_digest.bucket_counts, budget)
    for batch in batches:
        out['passes'] += 1
        left, problem = primary.read(batch)
        right = None
        if problem is None:
            right, problem = secondary.read(batch)
        if problem is None:
            for new, old in ((left, first_digest), (right, second_digest)):
                if not new.buckets_dirty and any(new.buckets[b] != old.buckets[b] for b in batch):
                    problem = 'the content changed under the same serial while it was being compared'
        if problem is not None:
            out.update(complete=False, problem=problem)
            break
        part = _compare_held(left.held, right.held, max(0, limit - len(out['differences'])))
        for name in ('missing', 'extra', 'changed'):
            out[name] += part[name]
        out['differences'].extend(part['differences'])
    return out


def check_zone_transfer(zone, server, port=53, rdtype='AXFR', serial=None, key=None, source=None,
                        expect='allowed', compare_with=None, timeout=10.0, ignore_ttl=False, ignore_dnssec=False,
                        max_differences=100, key_name=None, ignore_types=(), limits=None):
    """zone_transfer_check's logic. Returns (ok, result)."""
    compare_with = compare_with or []
    collect = bool(compare_with)
    ignored = set(ignore_types)
    if ignore_dnssec:
        ignored |= rdtype_set(DNSSEC_TYPES)
    digest = ZoneDigest(zone, ignore_ttl=ignore_ttl, ignore_types=ignored, collect=collect, buckets=collect,
                        hold_limit=HOLD_LIMIT)
    primary = transfer(zone, server['address'], server['port'], rdtype=rdtype, serial=serial, key=key,
                       source=source, timeout=timeout, digest=digest, limits=limits)
    is_full = primary['status'] == 'ok' and not primary.get('up_to_date') and \
        (rdtype.upper() == 'AXFR' or primary.get('ixfr_fallback_to_axfr'))
    if is_full:
        primary['digest'] = digest.hexdigest()
        primary['digest_records'] = digest.count
    result = dict(primary)
    result['zone'] = zone.to_text()
    result['expect'] = expect
    context = {'zone': zone.to_text(omit_final_dot=True), 'server': primary['server'], 'source': source,
               'key': key_name, 'skew': primary.get('skew'), 'detail': primary['detail']}
    comparisons = []
    if compare_with and primary['status'] == 'ok':
        if not is_full:
            raise ZonesyncError('compare_with: the content can only be compared after a full transfer; '
                                'use type=axfr (the IXFR answer was incremental or up to date).')
        engine = SoaEngine(key=key, transport='udp', timeout=min(timeout, 3.0), retries=1, source=source)
        probes = engine.run([(zone, entry['address'], entry['port']) for entry in compare_with])
        first = _Copy(zone, server, primary['serial'], key, source, timeout, ignore_ttl, ignored, limits)
        for entry, probe in zip(compare_with, probes):
            comparisons.append(_compare_one(zone, primary, digest, first, entry, probe, max_differences))
    result['compared'] = comparisons
    status = primary['status']
    if status == 'ok':
        for wanted in ('serial_not_incremented', 'secondary_ahead', 'secondary_behind', 'not_comparable', None):
            hit = [c for c in comparisons if c['status'] == wanted or
                   (wanted is None and c['status'] not in COMPARE_OK)]
            if hit:
                status = hit[0]['status']
                context.update(secondary=hit[0]['server'], secondary_serial=hit[0]['serial'],
                               detail=hit[0]['detail'])
                if wanted is None:
                    # The secondary itself could not be asked: explain that server's failure.
                    context['server'] = hit[0]['server']
                break
    if expect == 'refused':
        if status == 'ok' or primary['status'] == 'ok':
            status = 'open_transfer'
            ok = False
        else:
            ok = status in DECLINED
    else:
        ok = status == 'ok'
    result['status'] = status
    result['expected'] = ok
    if status != 'ok' or not ok:
        diag = explain(status, context)
        result['diagnosis'] = diag['diagnosis']
        result['remediation'] = diag['remediation']
    if expect == 'refused' and ok:
        result['diagnosis'] = 'the transfer was declined as expected (%s): %s' % (status, primary['detail'])
        result['remediation'] = {}
    return ok, result


def _compare_one(zone, primary, digest, first, entry, probe, limit):
    out = {'server': entry['server'], 'serial': probe.get('serial'), 'status': None, 'detail': None}
    if probe['status'] != 'answered':
        out.update(status=probe['status'], detail='no serial from %s: %s' % (entry['server'], probe['error']))
        return out
    dist = serial_distance(primary['serial'], probe['serial'])
    out['lag'] = dist
    if dist is None:
        out.update(status='not_comparable', detail='serials %d and %d are 2^31 apart and cannot be compared'
                   % (primary['serial'], probe['serial']))
        return out
    if dist > 0:
        out.update(status='secondary_behind', detail='%s has serial %d, %d behind the primary\'s %d'
                   % (entry['server'], probe['serial'], dist, primary['serial']))
        return out
    if dist < 0:
        out.update(status='secondary_ahead', detail='%s has serial %d, %d ahead of the primary\'s %d'
                   % (entry['server'], probe['serial'], -dist, primary['serial']))
        return out
    second = _Copy(zone, entry, probe['serial'], first.key, first.source, first.timeout, first.ignore_ttl,
                   first.ignore_types, first.limits)
    # The secondary's records are worth holding only when the primary's could all be held too.
    other = second.digest(collect=digest.held is not None, buckets=True, hold_limit=HOLD_LIMIT)
    copy = transfer(zone, entry['address'], entry['port'], key=first.key, source=first.source, timeout=first.timeout,
                    digest=other, limits=first.limits)
    if copy['status'] in DECLINED:
        # Secondaries commonly allow no transfers at all: the serials agree, the content cannot be read.
        out.update(status='serial_only', detail='same serial; content not compared because %s declined the '
                   'transfer (%s)' % (entry['server'], copy['detail']), content_compared=False)
        return out
    if copy['status'] != 'ok':
        out.update(status=copy['status'], detail='same serial, but its content could not be read for comparison: '
                   '%s' % copy['detail'])
        return out
    out['digest'] = other.hexdigest()
    if out['digest'] == digest.hexdigest():
        out.update(status='ok', detail='same serial and same content', missing=0, extra=0, changed=0,
                   differences=[], content_compared=True)
        return out
    if copy['serial'] != probe['serial']:
        second.serial = copy['serial']
    diff = compare_copies(first, digest, second, other, limit)
    out.update(missing=diff['missing'], extra=diff['extra'], changed=diff['changed'],
               differences=diff['differences'], content_compared=True)
    detail = ('%s has the same serial %d as the primary but different content (%d missing, %d extra, %d changed): '
              'the zone was edited without incrementing its serial'
              % (entry['server'], probe['serial'], diff['missing'], diff['extra'], diff['changed']))
    if not diff['complete']:
        detail += '; the differences could not all be listed: %s' % diff['problem']
    out.update(status='serial_not_incremented', detail=detail)
    return out
