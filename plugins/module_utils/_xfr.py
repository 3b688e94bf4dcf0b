# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Try a zone transfer as a secondary would, and name what went wrong.

The transfer is read message by message from the TCP stream; each message is
checked (ID, TSIG, SOA framing) and folded into a streaming digest. Records
are kept in memory only when the content is to be compared with another
server's copy.
"""

from __future__ import annotations

import errno
import hashlib
import socket
import struct
import time

from ansible_collections.dnsops.zonesync.plugins.module_utils._compat import from_wire_unverified
from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, format_server
from ansible_collections.dnsops.zonesync.plugins.module_utils._diagnosis import explain
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import serial_compare, serial_distance
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SoaEngine, tsig_error_text

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.tsig
except ImportError:
    pass  # reported by _common.assert_requirements_present

MAX_UNSIGNED_RUN = 99
DNSSEC_TYPES = frozenset(['RRSIG', 'NSEC', 'NSEC3', 'NSEC3PARAM', 'DNSKEY', 'CDS', 'CDNSKEY', 'ZONEMD'])
_MOD256 = 1 << 256

# Comparison outcomes that are not a problem.
COMPARE_OK = ('ok', 'serial_only')

# Statuses that mean: the server answered and declined to hand out the zone.
DECLINED = ('refused', 'not_authoritative', 'tsig_bad_key', 'tsig_bad_signature', 'tsig_bad_time')


class TransferFailed(Exception):
    def __init__(self, status, detail, **extra):
        Exception.__init__(self, detail)
        self.status = status
        self.detail = detail
        self.extra = extra


class ZoneDigest(object):
    """An order-independent digest of a zone's records (a sum of SHA-256 values, mod 2^256).

    Each record is hashed in canonical form (lower-case owner, type, class,
    TTL unless ignored, canonical rdata), in the spirit of ZONEMD (RFC 8976),
    so two copies of a zone can be compared without holding either.
    """

    def __init__(self, origin, ignore_ttl=False, ignore_dnssec=False, collect=False):
        self.origin = origin
        self.ignore_ttl = ignore_ttl
        self.ignore_dnssec = ignore_dnssec
        self.total = 0
        self.count = 0
        self.records = {} if collect else None

    def add(self, name, ttl, rdata):
        rdtype = rdata.rdtype
        type_text = dns.rdatatype.to_text(rdtype)
        if self.ignore_dnssec and type_text in DNSSEC_TYPES:
            return
        owner = name.derelativize(self.origin) if not name.is_absolute() else name
        canonical_owner = owner.to_digestable()
        rdata_wire = rdata.to_digestable(self.origin)
        head = struct.pack('!HHI', rdtype, rdata.rdclass, 0 if self.ignore_ttl else ttl)
        value = hashlib.sha256(canonical_owner + head + struct.pack('!H', len(rdata_wire)) + rdata_wire).digest()
        self.total = (self.total + int.from_bytes(value, 'big')) % _MOD256
        self.count += 1
        if self.records is not None:
            key = (owner.canonicalize().to_text(), type_text)
            self.records.setdefault(key, {})[rdata.to_text(origin=None, relativize=False)] = \
                0 if self.ignore_ttl else ttl

    def hexdigest(self):
        return '%064x' % self.total


def _recv_exact(sock, count):
    chunks = []
    while count:
        data = sock.recv(count)
        if not data:
            raise EOFError(b''.join(chunks))
        chunks.append(data)
        count -= len(data)
    return b''.join(chunks)


def _preview(data):
    text = data[:60].decode('ascii', 'replace')
    return ''.join(c if 32 <= ord(c) < 127 else '.' for c in text)


def _read_first_head(sock, query_id):
    """Read the length prefix and the ID of the first message; detect a non-DNS peer early."""
    try:
        head = _recv_exact(sock, 4)
    except EOFError as exc:
        partial = exc.args[0] if exc.args else b''
        if partial:
            raise TransferFailed('malformed', 'the server sent %d byte(s) and closed the connection: %r is not '
                                 'a DNS answer' % (len(partial), _preview(partial)))
        raise
    (length,) = struct.unpack('!H', head[:2])
    (msg_id,) = struct.unpack('!H', head[2:4])
    if length < 12 or msg_id != query_id:
        try:
            sock.settimeout(0.2)
            more = sock.recv(200)
        except (socket.timeout, OSError):
            more = b''
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
        return 'refused', 'the server answered NOTIMP: it does not do zone transfers', extra
    return 'malformed', 'unexpected response code %s' % dns.rcode.to_text(rcode), extra


def transfer(zone, address, port=53, rdtype='AXFR', serial=None, key=None, source=None, timeout=10.0,
             digest=None):
    """Run one AXFR or IXFR and return a result dict (status 'ok' or a failure status)."""
    rdtype_value = dns.rdatatype.from_text(rdtype)
    is_ixfr = rdtype_value == dns.rdatatype.IXFR
    query = make_xfr_query(zone, rdtype_value, serial, key)
    wire = query.to_wire()
    result = {'server': format_server(address, port), 'address': address, 'port': port, 'type': rdtype.upper(),
              'status': None, 'detail': None, 'serial': None, 'records': 0, 'messages': 0, 'bytes': 0,
              'duration': None, 'signed_messages': 0}
    if is_ixfr:
        result['ixfr_fallback_to_axfr'] = False
        result['up_to_date'] = False
    start = time.monotonic()
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
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
            sock.connect((address, port))
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
            _read_stream(sock, query, zone, key, serial, is_ixfr, result, digest)
        except TransferFailed as exc:
            result.update(status=exc.status, detail=exc.detail)
            result.update(exc.extra)
            if exc.status == 'not_authoritative' and exc.extra.get('rcode') == 'NOTAUTH':
                _notauth_or_refused(result, zone, address, port, key, source, timeout)
        except socket.timeout:
            if result['messages'] == 0 and result['bytes'] == 0:
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
        sock.close()
    return _finish(result, start)


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
            result.update(status='tsig_unsigned_response', detail='the server rejected the signed request with an '
                          'unsigned NOTAUTH that names no TSIG error (PowerDNS does this when the key name, the '
                          'algorithm, the secret or the clock is wrong)')
            return
    probe = _udp_probe(zone, address, port, None, source, timeout, retries=1)
    if probe['status'] == 'answered':
        result.update(status='refused', detail='the server answered NOTAUTH to the transfer although it serves '
                      'the zone (serial %d): it does not allow this client to transfer (PowerDNS answers an '
                      'ACL denial this way)' % probe['serial'])


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


def _read_stream(sock, query, zone, key, client_serial, is_ixfr, result, digest):
    keyring = key if key is not None else False
    tsig_ctx = None
    unsigned_run = 0
    first = True
    soa_serial = None
    state = 'first'  # first -> second -> axfr | ixfr_delete | ixfr_add -> done
    record_count = 0
    while True:
        if first:
            length, msg_start = _read_first_head(sock, query.id)
            msg_wire = msg_start + _recv_exact(sock, length - 2)
        else:
            (length,) = struct.unpack('!H', _recv_exact(sock, 2))
            msg_wire = _recv_exact(sock, length)
        result['bytes'] += length + 2
        result['messages'] += 1
        local_time = time.time()
        try:
            message = dns.message.from_wire(msg_wire, keyring=keyring, request_mac=query.mac, xfr=True,
                                            tsig_ctx=tsig_ctx, multi=True, one_rr_per_rrset=True)
        except (dns.tsig.PeerError, dns.message.UnknownTSIGKey, dns.tsig.BadKey, dns.tsig.BadAlgorithm,
                dns.tsig.BadSignature, dns.tsig.BadTime) as exc:
            if first:
                status, detail, extra = classify_error_message(msg_wire, key, local_time)
                if status.startswith('tsig_') or status != 'malformed':
                    raise TransferFailed(status, detail, **extra)
            raise TransferFailed('tsig_bad_signature', 'message %d of the transfer fails TSIG verification: %s'
                                 % (result['messages'], tsig_error_text(exc)))
        except dns.exception.DNSException as exc:
            raise TransferFailed('malformed', 'message %d cannot be parsed: %s' % (result['messages'], exc))
        if message.id != query.id:
            raise TransferFailed('malformed', 'message %d carries ID %d, but the query had ID %d (RFC 5936 2.2)'
                                 % (result['messages'], message.id, query.id))
        if not message.flags & dns.flags.QR:
            raise TransferFailed('malformed', 'message %d is not a response' % result['messages'])
        if message.rcode() != dns.rcode.NOERROR:
            if first:
                status, detail, extra = classify_error_message(msg_wire, key, local_time)
                raise TransferFailed(status, detail, **extra)
            raise TransferFailed('incomplete', 'message %d ends the transfer with %s' % (
                result['messages'], dns.rcode.to_text(message.rcode())))
        if first and not message.question and not message.answer:
            raise TransferFailed('malformed', 'the first message has neither question nor answer')
        if key is not None:
            if message.had_tsig:
                result['signed_messages'] += 1
                unsigned_run = 0
            else:
                if first:
                    raise TransferFailed('tsig_unsigned_response', 'the query was signed with %s but the answer '
                                         'is not signed' % key.name.to_text(omit_final_dot=True))
                unsigned_run += 1
                if unsigned_run > MAX_UNSIGNED_RUN:
                    raise TransferFailed('tsig_unsigned_response', 'more than %d unsigned messages in a row '
                                         '(RFC 8945 5.3.1)' % MAX_UNSIGNED_RUN)
        elif message.had_tsig:
            result['signed_messages'] += 1
        tsig_ctx = message.tsig_ctx
        first = False
        rrs = message.answer
        for index, rrset in enumerate(rrs):
            for rdata in rrset:
                is_soa = rrset.rdtype == dns.rdatatype.SOA and rrset.name == zone
                if state == 'first':
                    if not is_soa:
                        raise TransferFailed('malformed', 'the transfer does not start with the SOA of %s'
                                             % zone.to_text())
                    soa_serial = rdata.serial
                    result['serial'] = soa_serial
                    state = 'second'
                    if digest is not None:
                        digest.add(rrset.name, rrset.ttl, rdata)
                    record_count += 1
                    continue
                if state == 'second':
                    if is_ixfr and is_soa and rdata.serial != soa_serial:
                        state = 'ixfr_delete'
                        result['ixfr_changes'] = {'deleted': 0, 'added': 0}
                        record_count += 1
                        continue
                    if is_ixfr:
                        result['ixfr_fallback_to_axfr'] = True
                    state = 'axfr'
                if state == 'axfr':
                    if is_soa:
                        if rdata.serial != soa_serial:
                            raise TransferFailed('malformed', 'the closing SOA has serial %d, the opening one %d'
                                                 % (rdata.serial, soa_serial))
                        state = 'done'
                        continue
                    record_count += 1
                    if digest is not None:
                        digest.add(rrset.name, rrset.ttl, rdata)
                    continue
                if state == 'ixfr_delete':
                    record_count += 1
                    if is_soa:
                        state = 'ixfr_add'
                    else:
                        result['ixfr_changes']['deleted'] += 1
                    continue
                if state == 'ixfr_add':
                    if is_soa and rdata.serial == soa_serial:
                        state = 'done'
                        continue
                    record_count += 1
                    if is_soa:
                        state = 'ixfr_delete'
                    else:
                        result['ixfr_changes']['added'] += 1
                    continue
                if state == 'done':
                    raise TransferFailed('malformed', 'records follow the closing SOA')
        result['records'] = record_count
        if state == 'second' and is_ixfr and client_serial is not None \
                and serial_compare(soa_serial, client_serial) in (0, -1):
            # A lone SOA no newer than ours: the client is up to date (RFC 1995 section 4).
            result['up_to_date'] = True
            state = 'done'
        if state == 'done':
            if key is not None and not message.had_tsig:
                raise TransferFailed('tsig_unsigned_response', 'the last message of the transfer is not signed '
                                     '(RFC 8945 5.3.1)')
            return


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


def check_zone_transfer(zone, server, port=53, rdtype='AXFR', serial=None, key=None, source=None,
                        expect='allowed', compare_with=None, timeout=10.0, ignore_ttl=False, ignore_dnssec=False,
                        max_differences=100, key_name=None):
    """zone_transfer_check's logic. Returns (ok, result)."""
    compare_with = compare_with or []
    collect = bool(compare_with)
    digest = ZoneDigest(zone, ignore_ttl=ignore_ttl, ignore_dnssec=ignore_dnssec, collect=collect)
    primary = transfer(zone, server['address'], server['port'], rdtype=rdtype, serial=serial, key=key,
                       source=source, timeout=timeout, digest=digest)
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
        for entry, probe in zip(compare_with, probes):
            comparisons.append(_compare_one(zone, primary, digest, entry, probe, key, source, timeout,
                                            ignore_ttl, ignore_dnssec, max_differences))
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


def _compare_one(zone, primary, digest, entry, probe, key, source, timeout, ignore_ttl, ignore_dnssec, limit):
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
    other = ZoneDigest(zone, ignore_ttl=ignore_ttl, ignore_dnssec=ignore_dnssec, collect=True)
    copy = transfer(zone, entry['address'], entry['port'], key=key, source=source, timeout=timeout, digest=other)
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
    diff = compare_records(digest.records, other.records, limit)
    out.update(diff)
    out['content_compared'] = True
    out.update(status='serial_not_incremented',
               detail='%s has the same serial %d as the primary but different content (%d missing, %d extra, '
               '%d changed): the zone was edited without incrementing its serial'
               % (entry['server'], probe['serial'], diff['missing'], diff['extra'], diff['changed']))
    return out
