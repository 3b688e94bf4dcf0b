# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Zone files whose serial follows their content.

The desired zone is given as structured records or as the text of a zone file.
It is compared with the file on disk ignoring the SOA serial. Equal content
keeps the file and its serial untouched; different content gets the next
serial in YYYYMMDDNN form, which never moves backwards under RFC 1982 and keeps
counting after the 99th change of a day (2024061599 -> 2024061600).
"""

from __future__ import annotations

import hashlib
import re
import time

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import serial_add, serial_compare
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import ZoneDigest

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.zone
except ImportError:  # the module checks with assert_requirements_present
    pass

_SOA_SERIAL_RE = re.compile(r'\bSOA\s+\S+\s+\S+\s+\(?\s*(\d+)', re.IGNORECASE)
SOA_DEFAULTS = {'refresh': 3600, 'retry': 600, 'expire': 1209600, 'minimum': 300}
HEADER = '; Managed by dnsops.zonesync. Edits here are overwritten; change the inventory instead.\n'


def date_serial(now=None):
    """YYYYMMDD00 for the given (or current) UTC time."""
    tm = time.gmtime(now)
    return (tm.tm_year * 10000 + tm.tm_mon * 100 + tm.tm_mday) * 100


def next_serial(current, now=None, floor=None):
    """The serial for changed content.

    Today's YYYYMMDD00 when that is newer than ``current`` (RFC 1982), otherwise
    ``current + 1``. ``floor`` (for example the serial in an operator's own zone
    file) wins when it is newer still.
    """
    candidate = date_serial(now)
    if candidate > 4294967295:
        raise ZonesyncError('the date serial %d does not fit in 32 bits' % candidate)
    if current is not None:
        cmp = serial_compare(candidate, current)
        if cmp is None or cmp <= 0:
            candidate = serial_add(current, 1)
    if floor is not None and serial_compare(floor, candidate) == 1:
        candidate = floor
    return candidate


class ZoneContent(object):
    """A parsed zone: SOA fields without the serial, and every other record."""

    def __init__(self, origin, soa_ttl, soa, serial, rrsets, zone=None):
        self.origin = origin
        self.zone = zone        # the dns.zone.Zone it was read from, for content_digest()
        self.soa_ttl = soa_ttl
        self.soa = soa          # (mname, rname, refresh, retry, expire, minimum)
        self.serial = serial
        self.rrsets = rrsets    # sorted list of (owner_text, type_text, ttl, [rdata texts sorted])

    def digest(self):
        h = hashlib.sha256()
        h.update(repr((self.soa_ttl, self.soa)).encode('utf-8'))
        for item in self.rrsets:
            h.update(repr(item).encode('utf-8'))
        return h.hexdigest()

    def record_count(self):
        return 1 + sum(len(item[3]) for item in self.rrsets)

    def content_digest(self, serial):
        """The digest zone_content computes for a file of these records with ``serial`` (what a server loads)."""
        origin = self.origin
        digest = ZoneDigest(origin)
        for name, node in self.zone.nodes.items():
            for rdataset in node.rdatasets:
                for rdata in rdataset:
                    if rdataset.rdtype == dns.rdatatype.SOA:
                        rdata = rdata.replace(serial=serial)
                    digest.add(name, rdataset.ttl, rdata)
        return digest.hexdigest()

    def to_text(self, serial):
        origin = self.origin
        lines = [HEADER, '$ORIGIN %s\n' % origin.to_text()]
        mname, rname, refresh, retry, expire, minimum = self.soa
        fields = (self.soa_ttl, _rel(mname, origin), _rel(rname, origin), serial, refresh, retry, expire, minimum)
        lines.append('@ %d IN SOA %s %s %d %d %d %d %d\n' % fields)
        for owner, rtype, ttl, texts in self.rrsets:
            rel = _rel(dns.name.from_text(owner), origin)
            for text in texts:
                lines.append('%s %d IN %s %s\n' % (rel, ttl, rtype, text))
        return ''.join(lines)


def _rel(name, origin):
    if name == origin:
        return '@'
    if name.is_subdomain(origin):
        return name.relativize(origin).to_text()
    return name.to_text()


def _sort_key(owner_name):
    # Canonical DNS order (RFC 4034 6.1): compare labels from the root down.
    return tuple(reversed([label.lower() for label in owner_name.labels]))


def _from_zone(zone):
    origin = zone.origin
    soa_rdataset = zone.get_rdataset(origin, 'SOA')
    if soa_rdataset is None:
        raise ZonesyncError('the zone has no SOA record at its apex %s' % origin)
    soa = soa_rdataset[0]
    rrsets = []
    names = sorted(zone.nodes.keys(), key=lambda n: _sort_key(n.derelativize(origin)))
    for name in names:
        node = zone.nodes[name]
        absolute = name.derelativize(origin)
        for rdataset in sorted(node.rdatasets, key=lambda r: dns.rdatatype.to_text(r.rdtype)):
            if rdataset.rdtype == dns.rdatatype.SOA:
                continue
            texts = sorted(rd.to_text(origin=origin, relativize=True) for rd in rdataset)
            rrsets.append((absolute.to_text().lower(), dns.rdatatype.to_text(rdataset.rdtype), rdataset.ttl, texts))
    fields = (soa.mname.derelativize(origin), soa.rname.derelativize(origin), soa.refresh, soa.retry, soa.expire, soa.minimum)
    return ZoneContent(origin, soa_rdataset.ttl, fields, soa.serial, rrsets, zone)


def parse_text(text, origin, where='the zone file'):
    """Parse zone file text for ``origin``; raise ZonesyncError with the line on failure."""
    try:
        zone = dns.zone.from_text(text, origin=origin, relativize=True, check_origin=True)
    except dns.exception.DNSException as exc:
        raise ZonesyncError('%s is not a valid zone file for %s: %s' % (where, origin, exc))
    return _from_zone(zone)


def build_text(zone, soa, ttl, ns, records):
    """Zone file text (serial 0) from the structured description used by the roles."""
    origin = dns.name.from_text(zone)
    lines = ['$ORIGIN %s\n' % origin.to_text(), '$TTL %d\n' % ttl,
             '@ %d IN SOA %s %s 0 %d %d %d %d\n' % (ttl, _abs(soa['mname']), _abs(soa['rname']),
                                                    soa['refresh'], soa['retry'], soa['expire'], soa['minimum'])]
    for server in ns or []:
        lines.append('@ %d IN NS %s\n' % (ttl, _abs(server)))
    for index, record in enumerate(records or []):
        name = record.get('name') or '@'
        values = record.get('values', record.get('value'))
        if not isinstance(values, list):
            values = [values]
        rttl = record.get('ttl')
        for value in values:
            lines.append('%s %d IN %s %s\n' % (name, ttl if rttl is None else rttl, record['type'], value))
    return ''.join(lines)


def desired_text(zone, content=None, soa=None, ttl=3600, ns=None, records=None):
    """The desired zone file text of ``zone`` from a module's parameters: ``content`` as given, or built from
    ``soa``, ``ttl``, ``ns`` and ``records`` (soa.mname defaults to the first NS, soa.rname to hostmaster)."""
    if content is not None:
        return content
    given = dict((k, v) for k, v in (soa or {}).items() if v is not None)
    unknown = sorted(set(given) - set(SOA_DEFAULTS) - {'mname', 'rname'})
    if unknown:
        raise ZonesyncError('soa: unknown field(s) %s; the fields are mname, rname, %s.'
                            % (', '.join(unknown), ', '.join(SOA_DEFAULTS)))
    soa = dict(SOA_DEFAULTS, **given)
    if not soa.get('mname'):
        if not ns:
            raise ZonesyncError('soa.mname is not set and ns is empty: name the primary name server.')
        soa['mname'] = ns[0]
    soa['rname'] = soa.get('rname') or 'hostmaster.' + zone
    return build_text(zone, soa, 3600 if ttl is None else ttl, ns or [], records or [])


def _abs(name):
    return name if name.endswith('.') else name + '.'


def plan_zone_file(zone, desired_text, existing_text, now=None, min_serial=None, bump=False):
    """Decide what to write.

    ``min_serial``: the highest serial a secondary of the zone serves. A file whose serial is behind it (a
    rebuilt or restored primary) is written again with a serial past it, content changed or not, so that the
    secondaries take it. ``bump``: write the next serial even when the content is the same (a zone that was
    changed without a serial increment: the secondaries then take the file's content).

    Returns a dict: changed, serial, previous_serial, text (the text to write, or
    None when unchanged), records, reason, digest (the content digest of the file as it will be, as
    zone_content computes it).
    """
    origin = dns.name.from_text(zone)
    desired = parse_text(desired_text, origin, 'The desired content of %s' % zone)
    existing = None
    reason = None
    if existing_text is not None:
        try:
            existing = parse_text(existing_text, origin, 'The file on disk')
        except ZonesyncError as exc:
            reason = str(exc)
    previous = existing.serial if existing is not None else None
    if existing is None and existing_text:
        # A file we cannot parse may still tell its serial: never go below it.
        match = _SOA_SERIAL_RE.search(existing_text)
        if match and int(match.group(1)) <= 4294967295:
            previous = int(match.group(1))
    behind = min_serial is not None and (previous is None or serial_compare(previous, min_serial) in (-1, None))
    if existing is not None and existing.digest() == desired.digest() and not bump and not behind:
        return {'changed': False, 'serial': existing.serial, 'previous_serial': existing.serial, 'text': None,
                'records': desired.record_count(), 'reason': 'content unchanged',
                'digest': desired.content_digest(existing.serial)}
    floor = desired.serial or None   # a serial the source gives is never gone below
    serial = next_serial(min_serial if behind else previous, now=now, floor=floor)
    if existing is None:
        reason = 'replacing an unreadable file (%s)' % reason if reason else 'new zone file'
    elif existing.digest() != desired.digest():
        reason = 'content changed'
    elif behind:
        reason = 'serial %s is behind %d, which a secondary serves' % (previous, min_serial)
    else:
        reason = 'serial bump requested'
    return {'changed': True, 'serial': serial, 'previous_serial': previous, 'text': desired.to_text(serial),
            'records': desired.record_count(), 'reason': reason, 'digest': desired.content_digest(serial)}
