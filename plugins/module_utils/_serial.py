# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""RFC 1982 serial number arithmetic with SERIAL_BITS = 32."""

from __future__ import annotations

SERIAL_BITS = 32
_MOD = 1 << SERIAL_BITS
_HALF = 1 << (SERIAL_BITS - 1)


def check_serial(value):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MOD:
        raise ValueError('a SOA serial is an integer from 0 to 4294967295, got %r' % (value,))
    return value


def serial_distance(newer, older):
    """Signed RFC 1982 distance from ``older`` to ``newer``.

    Positive when ``newer`` is ahead of ``older``, negative when it is behind,
    0 when equal, and None when the two are exactly 2^31 apart, where RFC 1982
    leaves the comparison undefined.
    """
    check_serial(newer)
    check_serial(older)
    diff = (newer - older) % _MOD
    if diff == 0:
        return 0
    if diff == _HALF:
        return None
    if diff < _HALF:
        return diff
    return diff - _MOD


def serial_compare(a, b):
    """Return -1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``; None if undefined."""
    dist = serial_distance(a, b)
    if dist is None:
        return None
    return (dist > 0) - (dist < 0)


def serial_add(serial, increment):
    """RFC 1982 addition; the increment must be in 0 .. 2^31-1."""
    check_serial(serial)
    if not 0 <= increment <= _HALF - 1:
        raise ValueError('RFC 1982 allows increments from 0 to 2147483647, got %r' % (increment,))
    return (serial + increment) % _MOD


def newest(serials):
    """The newest serial of an iterable under RFC 1982.

    Returns (serial, comparable). ``comparable`` is False when some serial in
    the set cannot be ordered against the chosen one (exactly 2^31 apart) or
    when the set has no single newest member (the relation is not transitive
    across more than half the serial space).
    """
    values = sorted(set(serials))
    if not values:
        return None, True
    best = None
    for candidate in values:
        ok = True
        for other in values:
            cmp = serial_compare(candidate, other)
            if cmp is None or cmp < 0:
                ok = False
                break
        if ok:
            best = candidate
            break
    if best is None:
        # No serial is newer-or-equal than all others: pick the one with the most
        # others behind it, and report the set as not comparable.
        scored = []
        for candidate in values:
            score = sum(1 for other in values if serial_compare(candidate, other) == 1)
            scored.append((score, candidate))
        scored.sort(reverse=True)
        return scored[0][1], False
    return best, True
