# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Reading a signed DNS message without verifying its TSIG, on every supported dnspython.

dnspython 2.4 and later skip TSIG verification with ``keyring=False``. dnspython
2.3 (Debian 12's python3-dnspython, which the managed hosts run) does not: it
fails with AttributeError on ``keyring=False``, or raises the peer's TSIG error
(PeerBadKey for a BADKEY answer, PeerBadTime for BADTIME) before the caller can
read it. There, the TSIG record (always the last one of the message, RFC 8945
5.1) is cut off the wire and read on its own.
"""

from __future__ import annotations

import struct

try:
    import dns.message
    import dns.tsig
    import dns.version
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
except ImportError:  # the modules check with assert_requirements_present
    pass

_TSIG = 250

try:
    _SKIPS_TSIG = (dns.version.MAJOR, dns.version.MINOR) >= (2, 4)
except NameError:  # no dnspython: the modules check with assert_requirements_present
    _SKIPS_TSIG = False


def _skip_name(wire, offset):
    while True:
        length = wire[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def _strip_tsig(wire):
    """(wire without its TSIG record, TSIG rdata, key name) or (wire, None, None)."""
    qd, an, ns, ar = struct.unpack('!4H', wire[4:12])
    if ar == 0:
        return wire, None, None
    offset = 12
    for _question in range(qd):
        offset = _skip_name(wire, offset) + 4
    last = None
    for _record in range(an + ns + ar):
        last = offset
        offset = _skip_name(wire, offset)
        rdlen = struct.unpack('!H', wire[offset + 8:offset + 10])[0]
        offset += 10 + rdlen
    name_end = _skip_name(wire, last)
    rtype, rclass = struct.unpack('!2H', wire[name_end:name_end + 4])
    if rtype != _TSIG:
        return wire, None, None
    rdlen = struct.unpack('!H', wire[name_end + 8:name_end + 10])[0]
    keyname = dns.name.from_wire(wire, last)[0]
    rdata = dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG, wire, name_end + 10, rdlen)
    stripped = wire[:10] + struct.pack('!H', ar - 1) + wire[12:last]
    return stripped, rdata, keyname


def from_wire_unverified(wire, **kwargs):
    """Parse ``wire`` without checking its TSIG. Returns (message, TSIG rdata or None)."""
    try:
        if not _SKIPS_TSIG:
            raise TypeError('dnspython %s verifies TSIG whatever keyring says' % dns.version.version)
        message = dns.message.from_wire(wire, keyring=False, **kwargs)
    except (AttributeError, TypeError, dns.tsig.PeerError):
        stripped, rdata, keyname = _strip_tsig(wire)
        message = dns.message.from_wire(stripped, **kwargs)
        if rdata is not None:
            # Keep the record on the message, unverified, as dnspython 2.4+ does:
            # message.mac (request_mac for the answer) reads it.
            message.tsig = dns.rrset.from_rdata(keyname, 0, rdata)
        return message, rdata
    tsig = message.tsig[0] if message.tsig else None
    return message, tsig
