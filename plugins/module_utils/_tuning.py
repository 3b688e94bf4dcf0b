# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Server settings for transfer throughput, derived from the number of zones a host serves.

The servers' defaults suit a few hundred zones: BIND runs 2 transfers at a time from one primary and 20 SOA
queries a second, so a secondary that receives 10,000 new zones spends over eight minutes on the SOA queries
alone. Each value grows with the zone count, from the server's own default (never below it) up to a cap, and
each can be set by the operator instead.
"""

from __future__ import annotations

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError

# name: (zones per unit, server default = floor, cap)
BIND = {
    'transfers_in': (100, 10, 100),          # inbound transfers at once
    'transfers_per_ns': (200, 2, 50),        # inbound transfers at once from one upstream
    'transfers_out': (100, 10, 200),         # outbound transfers at once (upstreams, and the content checks)
    'serial_query_rate': (10, 20, 1000),     # SOA refresh queries per second
    'notify_rate': (10, 20, 1000),           # NOTIFY messages per second
    'startup_notify_rate': (10, 20, 1000),   # NOTIFY messages per second after a restart
}
POWERDNS = {
    'retrieval_threads': (1000, 2, 16),      # transfers at once
}


def size_class(zones):
    """The zone count rounded down to 1, 2 or 5 times a power of ten (0, 1, 2, 5, 10, 20, 50, 100, ...).

    Settings follow this, not the exact count, so that one zone more or less (a catalog member added on the
    primary) does not change a secondary's configuration; only crossing a step does.
    """
    if zones < 1:
        return 0
    step = 1
    while step * 10 <= zones:
        step *= 10
    for factor in (5, 2, 1):
        if factor * step <= zones:
            return factor * step
    return step


def _derive(table, zones, overrides):
    if not isinstance(zones, int) or isinstance(zones, bool) or zones < 0:
        raise ZonesyncError('the zone count must be a whole number, got %r.' % (zones,))
    zones = size_class(zones)
    out = {}
    for name, (per, floor, cap) in table.items():
        given = (overrides or {}).get(name)
        if given is not None:
            if isinstance(given, bool) or not isinstance(given, int) or given < 1:
                raise ZonesyncError('%s must be a whole number of at least 1, got %r.' % (name, given))
            out[name] = given
        else:
            out[name] = max(floor, min(cap, zones // per))
    return out


def bind_tuning(zones, overrides=None):
    """BIND's transfer settings for a host serving ``zones`` zones; ``overrides`` (name -> int or None) win.
    tcp_clients follows: enough for every outbound transfer twice over, and never below BIND's 150."""
    out = _derive(BIND, zones, overrides)
    given = (overrides or {}).get('tcp_clients')
    out['tcp_clients'] = given if given is not None else max(150, 2 * out['transfers_out'] + 100)
    return out


def powerdns_tuning(zones, overrides=None):
    """PowerDNS's transfer settings for a host serving ``zones`` zones; ``overrides`` win."""
    return _derive(POWERDNS, zones, overrides)
