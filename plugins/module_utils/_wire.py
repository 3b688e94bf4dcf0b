# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Fast paths that read DNS wire format without building dnspython objects.

Everything here follows one rule: for a given wire it either gives exactly the
result dnspython's full parse leads to, or it declines (raises Decline or
returns None) and the caller hands the wire to dnspython. It declines on
anything it does not fully check itself: an unexpected section count, record
type, class, EDNS option, compression shape, a TSIG problem, trailing bytes.

* read_name(): compressed names, validated as dns.name.from_wire_parser does
  (pointers strictly backwards, no overlap, at most 16 hops, 255 octets).
* SOA queries from a per-zone template, only the ID patched; TSIG signing
  and verification with hmac (RFC 8945), the same bytes dnspython signs.
* classify_soa_wire(): the answer to one SOA query, checked field by field.
* canonical_rdata(): the digestable (RFC 4034 6.2) form of common types.
"""

from __future__ import annotations

import hmac
import struct
import time

try:
    import dns.name
    import dns.rdata
    import dns.tsig
except ImportError:
    pass  # reported by _common.assert_requirements_present

MAX_POINTER_HOPS = 16  # dns.name.MAX_COMPRESSION_POINTER_CHAIN

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_OPT = 41
TYPE_DS = 43
TYPE_RRSIG = 46
TYPE_NSEC = 47
TYPE_DNSKEY = 48
TYPE_NSEC3PARAM = 51
TYPE_CDS = 59
TYPE_CDNSKEY = 60
TYPE_BIND_SIGNING = 65534   # BIND's signing state (sig-signing-type), transferred with a signed zone
# DS digest lengths by digest type (RFC 4509, 6605): dnspython rejects another length for these.
_DS_DIGEST_LENGTHS = {1: 20, 2: 32, 4: 48}
TYPE_TSIG = 250
CLASS_IN = 1
CLASS_ANY = 255

OPT_EXPIRE = 9
OPT_PADDING = 12
# EDNS options dnspython reads as opaque data (GenericOption): anything else
# may be validated by a dedicated class, so the fast path declines it.
_GENERIC_OPTIONS = frozenset([OPT_EXPIRE, OPT_PADDING])

_HEADER = struct.Struct('!HHHHHH')
_RR = struct.Struct('!HHIH')
_U16 = struct.Struct('!H')
_U32 = struct.Struct('!I')

# TSIG algorithm -> (hashlib name, MAC length when truncated)
_HASHES = {
    'hmac-md5.sig-alg.reg.int.': ('md5', None),
    'hmac-sha1.': ('sha1', None),
    'hmac-sha224.': ('sha224', None),
    'hmac-sha256.': ('sha256', None),
    'hmac-sha256-128.': ('sha256', 16),
    'hmac-sha384.': ('sha384', None),
    'hmac-sha384-192.': ('sha384', 24),
    'hmac-sha512.': ('sha512', None),
    'hmac-sha512-256.': ('sha512', 32),
}


class Decline(Exception):
    """The fast path does not take this wire; dnspython's full parse decides."""


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------

def read_name(wire, off, limit, cache):
    """The (possibly compressed) name at ``off``, as dnspython would accept it.

    Returns the cache entry ``(name, next_offset, hops, lowercase_name)``;
    ``name`` is the uncompressed wire form as sent, ``next_offset`` where the
    record continues. ``limit`` is where the name must end at the latest
    (the end of the rdata or of the message). ``cache`` maps offsets of
    names already read in this message (and of every label and pointer
    target met on the way) to their entries, so a pointer to a known name
    costs one lookup. Raises Decline where dnspython would raise (or where
    this code is stricter).
    """
    ent = cache.get(off)
    if ent is not None and ent[1] <= limit:
        return ent
    parts = []
    labels = []  # (offset, index in parts, segment number)
    segment_ends = []
    pos = off
    seg_start = off
    end = limit
    hops = 0
    tail = None
    while True:
        if pos >= end:
            raise Decline('name runs past its limit')
        count = wire[pos]
        if count == 0:
            segment_ends.append(pos + 1)
            break
        if count < 64:
            nxt = pos + 1 + count
            if nxt > end:
                raise Decline('label runs past its limit')
            labels.append((pos, len(parts), hops))
            parts.append(wire[pos:nxt])
            pos = nxt
            continue
        if count < 192:
            raise Decline('bad label type')
        if pos + 2 > end:
            raise Decline('pointer runs past its limit')
        target = ((count & 0x3F) << 8) | wire[pos + 1]
        if target >= seg_start:
            raise Decline('compression pointer does not point backwards')
        hops += 1
        if hops > MAX_POINTER_HOPS:
            raise Decline('compression pointer chain too long')
        segment_ends.append(pos + 2)
        known = cache.get(target)
        if known is not None and known[1] <= seg_start and hops + known[2] <= MAX_POINTER_HOPS:
            tail = known
            break
        # As dnspython: the target must end before the segment that pointed to it.
        end = seg_start
        seg_start = target
        pos = target
        labels.append((target, len(parts), hops))
    parts.append(b'\x00' if tail is None else tail[0])
    name = b''.join(parts)
    if len(name) > 255:
        raise Decline('name too long')
    total = hops + (tail[2] if tail is not None else 0)
    ent = (name, segment_ends[0], total, name.lower())
    cache[off] = ent
    # Every label met, and every pointer target, is the start of a name too.
    for start, index, before in labels:
        if start != off and start not in cache:
            suffix = b''.join(parts[index:])
            cache[start] = (suffix, segment_ends[before], total - before, suffix.lower())
    return ent


def name_wire(name):
    """Uncompressed wire form of a dnspython name (absolute)."""
    return name.to_wire()


# --------------------------------------------------------------------------
# SOA queries
# --------------------------------------------------------------------------

# An OPT record: root owner, type OPT, payload 1232, extended rcode/version/
# flags 0, one option: EXPIRE with no data (RFC 7314). As make_soa_query().
_OPT_EXPIRE = b'\x00' + struct.pack('!HHIH', TYPE_OPT, 1232, 0, 4) + struct.pack('!HH', OPT_EXPIRE, 0)


def soa_query_template(zone):
    """The wire form of make_soa_query(zone) with ID 0 and no TSIG: header, question, OPT."""
    question = name_wire(zone) + struct.pack('!HH', TYPE_SOA, CLASS_IN)
    return _HEADER.pack(0, 0, 1, 0, 0, 1) + question + _OPT_EXPIRE, len(question)


class TsigSigner(object):
    """TSIG (RFC 8945) for single messages, with hmac: sign queries, verify answers.

    Gives the same bytes as dnspython's dns.tsig.sign()/validate() for one
    message. ``available`` is False for algorithms it does not know (GSS-TSIG):
    the caller then uses dnspython throughout.
    """

    def __init__(self, key, fudge=300):
        self.key = key
        self.fudge = fudge
        info = _HASHES.get(key.algorithm.to_text().lower())
        self.available = info is not None
        if not self.available:
            return
        self.digestmod, self.truncate = info
        self.key_name = key.name.to_digestable()
        self.algorithm = key.algorithm.to_digestable()
        self.algorithm_wire = key.algorithm.to_wire()
        # Owner, type, class, TTL of the TSIG record, then the start of its rdata.
        self.rr_head = key.name.to_wire() + struct.pack('!HHI', TYPE_TSIG, CLASS_ANY, 0)
        self.variables_head = self.key_name + struct.pack('!HI', CLASS_ANY, 0) + self.algorithm

    def _mac(self, parts):
        mac = hmac.digest(self.key.secret, b''.join(parts), self.digestmod)
        if self.truncate:
            mac = mac[:self.truncate]
        return mac

    def sign(self, wire, now=None):
        """Sign a complete unsigned message; returns (signed wire, MAC)."""
        now = int(time.time()) if now is None else now
        times = struct.pack('!HIH', (now >> 32) & 0xFFFF, now & 0xFFFFFFFF, self.fudge)
        mac = self._mac((wire[0:2], wire[2:], self.variables_head, times, b'\x00\x00\x00\x00'))
        rdata = self.algorithm_wire + times + _U16.pack(len(mac)) + mac + wire[0:2] + b'\x00\x00\x00\x00'
        (arcount,) = _U16.unpack_from(wire, 10)
        signed = wire[0:10] + _U16.pack(arcount + 1) + wire[12:] + self.rr_head + _U16.pack(len(rdata)) + rdata
        return signed, mac

    def verify(self, wire, tsig_start, rdata_start, rdata_end, owner_lower, request_mac, arcount, now=None):
        """Check the TSIG record at ``tsig_start`` of an answer; Decline unless it verifies.

        A TSIG error code, another key or algorithm, a bad MAC, a time outside
        the fudge: dnspython's exceptions (and the texts built from them) say
        which, so all of them decline.
        """
        if owner_lower != self.key_name:
            raise Decline('TSIG key name')
        pos = rdata_start
        algorithm_end = pos + len(self.algorithm_wire)
        if algorithm_end > rdata_end or wire[pos:algorithm_end].lower() != self.algorithm:
            raise Decline('TSIG algorithm')
        pos = algorithm_end
        if pos + 10 > rdata_end:
            raise Decline('short TSIG')
        high, low, fudge, mac_size = struct.unpack_from('!HIHH', wire, pos)
        pos += 10
        mac_end = pos + mac_size
        if mac_end + 6 > rdata_end:
            raise Decline('short TSIG')
        mac = wire[pos:mac_end]
        original_id, error, other_size = struct.unpack_from('!HHH', wire, mac_end)
        other_end = mac_end + 6 + other_size
        if other_end != rdata_end:
            raise Decline('TSIG rdata length')
        if error:
            raise Decline('TSIG error')
        signed_time = (high << 32) | low
        parts = []
        if request_mac:
            parts.append(_U16.pack(len(request_mac)))
            parts.append(request_mac)
        parts.extend((_U16.pack(original_id), wire[2:10], _U16.pack(arcount - 1), wire[12:tsig_start],
                      self.variables_head, wire[algorithm_end:algorithm_end + 8], wire[mac_end + 2:other_end]))
        if not hmac.compare_digest(self._mac(parts), mac):
            raise Decline('TSIG MAC')
        now = int(time.time()) if now is None else now
        if abs(signed_time - now) > fudge:
            raise Decline('TSIG time')
        return mac


# --------------------------------------------------------------------------
# SOA answers
# --------------------------------------------------------------------------

def _soa_name_end(wire, pos, end, qname_len, cache):
    """Where a name in SOA rdata ends: labels, then the end or a pointer to the question name (how servers
    write MNAME and RNAME), checked here; any other shape goes to read_name()."""
    start = pos
    length = 0
    while pos < end:
        count = wire[pos]
        if count == 0:
            return pos + 1 if length < 255 else read_name(wire, start, end, cache)[1]
        if count < 64:
            pos += count + 1
            length += count + 1
            continue
        if count == 0xC0 and pos + 1 < end and wire[pos + 1] == 12 and length + qname_len <= 255:
            return pos + 2
        break
    return read_name(wire, start, end, cache)[1]


def classify_soa_wire(wire, sent, question_len, signer=None, request_mac=None):
    """The result of one SOA answer read from the wire, or None to let dnspython decide.

    ``sent`` is the query as sent (its ID and question are compared byte for
    byte), ``question_len`` the length of its question entry. Only the plain
    shape is taken: NOERROR, AA, not TC, one question equal to ours, one SOA
    record for the zone, NS records in the authority section, A/AAAA glue,
    one OPT with EXPIRE or PADDING options, and a TSIG that verifies when the
    query was signed (``signer``). Returns the same dict as
    _soa.classify_soa_response() would.
    """
    size = len(wire)
    qend = 12 + question_len
    if size < qend + 11 or wire[0] != sent[0] or wire[1] != sent[1]:
        return None
    flags_high = wire[2]
    # QR set, opcode QUERY, AA set, TC clear; RCODE NOERROR.
    if flags_high & 0xFE != 0x84 or wire[3] & 0x0F:
        return None
    qdcount, ancount, nscount, arcount = struct.unpack_from('!HHHH', wire, 4)
    if qdcount != 1 or ancount != 1 or wire[12:qend] != sent[12:qend]:
        return None
    try:
        qname_end = qend - 4
        qname = wire[12:qname_end]
        cache = {12: (qname, qname_end, 0, qname.lower())}
        off = qend
        # The answer: the SOA, its owner a pointer to the question name or the name itself.
        if wire[off] == 0xC0 and wire[off + 1] == 12:
            off += 2
        else:
            if wire[off:off + qname_end - 12] != qname:
                return None
            off += qname_end - 12
        if off + 10 > size:
            return None
        rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, off)
        off += 10
        rdata_end = off + rdlen
        if rdtype != TYPE_SOA or rdclass != CLASS_IN or rdata_end > size:
            return None
        qname_len = qname_end - 12
        off = _soa_name_end(wire, off, rdata_end, qname_len, cache)
        off = _soa_name_end(wire, off, rdata_end, qname_len, cache)
        if off + 20 != rdata_end:
            return None
        (serial,) = _U32.unpack_from(wire, off)
        off = rdata_end
        for dummy in range(nscount):
            off = read_name(wire, off, size, cache)[1]
            if off + 10 > size:
                return None
            rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, off)
            off += 10
            rdata_end = off + rdlen
            if rdtype != TYPE_NS or rdclass != CLASS_IN or rdata_end > size:
                return None
            if read_name(wire, off, rdata_end, cache)[1] != rdata_end:
                return None
            off = rdata_end
        expire = None
        seen_opt = False
        tsig_ok = signer is None
        for index in range(arcount):
            start = off
            if wire[off] == 0:
                off += 1  # the root name (of the OPT record)
            else:
                off = read_name(wire, off, size, cache)[1]
            if off + 10 > size:
                return None
            rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, off)
            off += 10
            rdata_end = off + rdlen
            if rdata_end > size:
                return None
            if rdtype == TYPE_A or rdtype == TYPE_AAAA:
                if rdclass != CLASS_IN or rdlen != (4 if rdtype == TYPE_A else 16):
                    return None
            elif rdtype == TYPE_OPT:
                # Root owner, once, no extended RCODE, EDNS version 0.
                if seen_opt or off - 10 != start + 1 or ttl & 0xFFFF0000:
                    return None
                seen_opt = True
                pos = off
                while pos < rdata_end:
                    if pos + 4 > rdata_end:
                        return None
                    code, length = struct.unpack_from('!HH', wire, pos)
                    pos += 4
                    if code not in _GENERIC_OPTIONS or pos + length > rdata_end:
                        return None
                    if code == OPT_EXPIRE and length == 4 and expire is None:
                        (expire,) = _U32.unpack_from(wire, pos)
                    pos += length
            elif rdtype == TYPE_TSIG:
                if signer is None or index != arcount - 1 or rdclass != CLASS_ANY or rdata_end != size:
                    return None
                if start not in cache:
                    return None
                signer.verify(wire, start, off, rdata_end, cache[start][3], request_mac, arcount)
                tsig_ok = True
            else:
                return None
            off = rdata_end
        if off != size or not tsig_ok:
            return None
    except (Decline, IndexError, struct.error):
        return None
    return {'status': 'answered', 'serial': serial, 'rcode': 'NOERROR', 'aa': True, 'truncated': False,
            'expire_remaining': expire, 'error': None}


# --------------------------------------------------------------------------
# Records of a zone transfer, in canonical form
# --------------------------------------------------------------------------

def txt_ok(wire, start, end):
    """Whether TXT/SPF rdata is what dnspython accepts: one or more counted strings, exactly filling it."""
    if start >= end:
        return False
    pos = start
    while pos < end:
        pos += 1 + wire[pos]
    return pos == end


def canonical_rdata(wire, rdtype, rdclass, start, end, cache):
    """The digestable form (RFC 4034 6.2, as dnspython's to_digestable) of the rdata at wire[start:end].

    Types read here: A, AAAA, TXT, NS, CNAME, PTR, MX, SRV, SOA, and what a
    signer adds (RRSIG, NSEC, DNSKEY, CDNSKEY, DS, CDS, NSEC3PARAM, BIND's
    TYPE65534) in class IN (names lowercased where RFC 4034/6840 say, compression
    undone). Others go to dnspython. Raises
    Decline (or an exception from dnspython) where dnspython rejects the rdata.
    """
    if rdclass == CLASS_IN:
        if rdtype == TYPE_A:
            if end - start != 4:
                raise Decline('A rdata length')
            return wire[start:end]
        if rdtype == TYPE_AAAA:
            if end - start != 16:
                raise Decline('AAAA rdata length')
            return wire[start:end]
        if rdtype == TYPE_TXT:
            if not txt_ok(wire, start, end):
                raise Decline('TXT strings')
            return wire[start:end]
        if rdtype == TYPE_NS or rdtype == TYPE_CNAME or rdtype == TYPE_PTR:
            ent = read_name(wire, start, end, cache)
            if ent[1] != end:
                raise Decline('rdata length')
            return ent[3]
        if rdtype == TYPE_MX:
            ent = read_name(wire, start + 2, end, cache)
            if ent[1] != end:
                raise Decline('rdata length')
            return wire[start:start + 2] + ent[3]
        if rdtype == TYPE_SRV:
            ent = read_name(wire, start + 6, end, cache)
            if ent[1] != end:
                raise Decline('rdata length')
            return wire[start:start + 6] + ent[3]
        if rdtype == TYPE_SOA:
            mname = read_name(wire, start, end, cache)
            rname = read_name(wire, mname[1], end, cache)
            if rname[1] + 20 != end:
                raise Decline('rdata length')
            return mname[3] + rname[3] + wire[rname[1]:end]
        canonical = _dnssec_rdata(wire, rdtype, start, end, cache)
        if canonical is not None:
            return canonical
    rdata = dns.rdata.from_wire(rdclass, rdtype, wire, start, end - start)
    return rdata.to_digestable()


def _bitmap_ok(wire, start, end):
    """An NSEC type bitmap as dnspython accepts it: windows in increasing order, 1 to 32 octets each, the last
    octet of each not zero, ending exactly at ``end``."""
    last = -1
    off = start
    while off < end:
        if off + 2 > end:
            return False
        window, length = wire[off], wire[off + 1]
        if window <= last or not 1 <= length <= 32 or off + 2 + length > end or wire[off + 1 + length] == 0:
            return False
        last = window
        off += 2 + length
    return True


def _dnssec_rdata(wire, rdtype, start, end, cache):
    """The digestable form of the records a signer adds, or None for a type read by dnspython. Declines what
    dnspython might read otherwise (a compressed name where RFC 4034 forbids one, a bitmap it rejects)."""
    length = end - start
    if rdtype == TYPE_RRSIG:
        # type covered, algorithm, labels, original TTL, expiration, inception, key tag; then the signer's name,
        # lower-cased in canonical form, and the signature.
        if length < 19:
            raise Decline('RRSIG rdata length')
        ent = read_name(wire, start + 18, end, cache)
        if ent[2]:
            raise Decline('compressed RRSIG signer')
        return wire[start:start + 18] + ent[3] + wire[ent[1]:end]
    if rdtype == TYPE_NSEC:
        # the next owner, as sent (RFC 6840 5.1: not lower-cased), and the type bitmap
        ent = read_name(wire, start, end, cache)
        if ent[2]:
            raise Decline('compressed NSEC next name')
        if not _bitmap_ok(wire, ent[1], end):
            raise Decline('NSEC type bitmap')
        return ent[0] + wire[ent[1]:end]
    if rdtype == TYPE_DNSKEY or rdtype == TYPE_CDNSKEY:
        if length < 4:
            raise Decline('DNSKEY rdata length')
        return wire[start:end]
    if rdtype == TYPE_DS or rdtype == TYPE_CDS:
        if length < 4 or wire[start + 3] == 0 or \
                _DS_DIGEST_LENGTHS.get(wire[start + 3], length - 4) != length - 4:
            raise Decline('DS rdata')
        return wire[start:end]
    if rdtype == TYPE_NSEC3PARAM:
        if length < 5 or length != 5 + wire[start + 4]:
            raise Decline('NSEC3PARAM rdata length')
        return wire[start:end]
    if rdtype == TYPE_BIND_SIGNING:
        return wire[start:end]     # a type dnspython does not know: its rdata as sent
    return None
