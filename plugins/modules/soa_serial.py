#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: soa_serial
short_description: Compare the SOA serials of many zones across many servers
version_added: 0.1.0
description:
  - Queries the SOA record of every zone on every server, concurrently, and compares the serials with
    RFC 1982 serial number arithmetic.
  - Reports per zone the reference serial and, per server, the serial, a status, the lag and the round-trip time.
  - Optionally waits until every server has the reference serial, which is how a deploy proves that the
    secondaries followed the primary.
  - Each query carries the EDNS EXPIRE option (RFC 7314). Secondaries that answer it report how many seconds
    they will keep serving the zone if they cannot refresh it (RV(zones[].servers[].expire_remaining)).
  - Queries are built from a wire template per zone (and signed with O(tsig) when given); an answer of the
    usual shape is checked field by field on the wire (ID, flags, question, the SOA, EDNS, TSIG), anything
    else is parsed in full by dnspython. The result is the same either way; tens of thousands of zone x
    server pairs take about a second.
  - Never changes anything.
author:
  - dnsops.zonesync maintainers (@dnsops)
requirements:
  - dnspython >= 2.3.0
  - netaddr
extends_documentation_fragment:
  - dnsops.zonesync.attributes
  - dnsops.zonesync.attributes.info_module
  - dnsops.zonesync.attributes.as_json
  - dnsops.zonesync.attributes.tsig
options:
  zones:
    description:
      - The zones to check. Names are normalised (lower case, absolute).
      - One of O(zones) and O(zone) is required.
    type: list
    elements: str
  zone:
    description:
      - A single zone to check; shorthand for O(zones) with one element.
    type: str
  servers:
    description:
      - The servers to ask, as C(address), C(host:port), C(address:port) or C([IPv6]:port).
      - A host name is resolved to all its addresses (with O(resolvers) when given, else the system resolver);
        each address is checked separately.
      - When omitted, the NS set of each zone is looked up and every address of every NS is queried.
    type: list
    elements: str
  reference:
    description:
      - The server whose serial is the truth, normally the primary. It is queried as well, even when it is
        not listed in O(servers).
      - When omitted, the newest serial seen for the zone (RFC 1982) is the reference.
    type: str
  resolvers:
    description:
      - Name servers used to resolve the NS set and host names, as IP addresses with an optional port.
      - When omitted, the system resolver is used.
    type: list
    elements: str
  transport:
    description:
      - V(udp) asks over UDP and falls back to TCP when an answer is truncated; V(tcp) asks over TCP only.
    type: str
    choices: [udp, tcp]
    default: udp
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 2.0
  retries:
    description: How many times an unanswered query is sent again.
    type: int
    default: 2
  wait_timeout:
    description:
      - V(0) makes a single pass.
      - A positive number of seconds polls every zone that has not converged until every server has the
        reference serial, or the time runs out.
    type: float
    default: 0
  poll_interval:
    description: Seconds between two passes when O(wait_timeout) is positive.
    type: float
    default: 1.0
  stall_timeout:
    description:
      - With a positive O(wait_timeout), stop waiting early once no server has reached the reference serial of one
        more zone for this many seconds, and return RV(stalled=true).
      - A fleet that is still transferring its zones keeps making progress and is waited for up to O(wait_timeout);
        a secondary that waits for its refresh timer, or cannot transfer at all, is found after this many seconds.
      - V(0) waits up to O(wait_timeout) in every case.
    type: float
    default: 0
    version_added: 0.2.0
  fail_on_divergence:
    description:
      - Fail the task when a zone has not converged (after waiting, when O(wait_timeout) is set).
      - When V(false), the result reports RV(converged) and the task succeeds.
    type: bool
    default: false
  concurrency:
    description:
      - The most queries in flight at once, and never more than 100 to one server (a server drops datagrams
        beyond what its socket buffer holds, and each drop costs a timeout).
    type: int
    default: 1000
  compact:
    description:
      - List per zone only the servers that are not in sync, with a count of those that are (RV(zones[].in_sync)),
        and every address asked once (RV(servers_asked)). For fleets of thousands of zones, where the full result
        is mostly rows saying V(in_sync). The rtt and EDNS EXPIRE of in-sync servers are then not returned.
    type: bool
    default: false
  newest_only:
    description:
      - Return only the newest serial each zone has on any of the servers (RV(newest)), and the zones whose serials
        cannot be ordered (RV(incomparable)); no per-server rows. What the roles read before they write a primary
        serial, so that it is never behind a secondary's, for thousands of zones at once.
    type: bool
    default: false
notes:
  - A server whose answer lacks the AA bit, or answers NOTAUTH, SERVFAIL or NXDOMAIN, gets status
    V(not_authoritative); it is not serving the zone, whatever it says.
  - Two serials exactly 2^31 apart cannot be ordered (RFC 1982); such a server gets status V(not_comparable).
seealso:
  - name: RFC 1982
    description: Serial Number Arithmetic.
    link: https://www.rfc-editor.org/rfc/rfc1982
  - name: RFC 7314
    description: Extension Mechanisms for DNS (EDNS) EXPIRE Option.
    link: https://www.rfc-editor.org/rfc/rfc7314
  - module: dnsops.zonesync.zone_transfer_check
"""

EXAMPLES = r"""
- name: Compare the serial of two zones on the primary and two secondaries
  dnsops.zonesync.soa_serial:
    zones:
      - example.com
      - example.net
    servers:
      - 192.0.2.53
      - 198.51.100.53
      - "[2001:db8::53]:5353"
    reference: 192.0.2.53
  register: serials

- name: Wait up to 60 seconds for every NS of the zone to have the primary's serial, fail if not
  dnsops.zonesync.soa_serial:
    zone: example.com
    reference: 192.0.2.53
    wait_timeout: 60
    fail_on_divergence: true

- name: Check serials with TSIG-signed queries, key read from a BIND key file
  dnsops.zonesync.soa_serial:
    zone: example.com
    servers: [192.0.2.53, 198.51.100.53]
    tsig:
      file: /etc/bind/keys/transfer.key

- name: Show the secondaries that lag
  ansible.builtin.debug:
    msg: "{{ item.server }} is {{ item.lag }} behind on {{ serials.zones[0].zone }}"
  loop: "{{ serials.zones[0].servers | selectattr('status', 'equalto', 'behind') }}"
  loop_control:
    label: "{{ item.server }}"
"""

RETURN = r"""
zones_json:
  description:
    - RV(zones) as one compact JSON string, when O(as_json=true) (RV(zones) is then not returned).
    - O(newest_only=true) returns no per-zone entries, in either form.
  returned: when O(as_json=true), unless O(newest_only=true)
  type: str
  sample: '[{"zone": "example.test", "reference_serial": 2026112801, "converged": true, "in_sync": 3, "servers": []}]'
converged:
  description: Whether every server of every zone has the reference serial.
  returned: always
  type: bool
  sample: true
zones:
  description: One entry per zone, in the order given.
  returned: unless O(as_json=true)
  type: list
  elements: dict
  contains:
    zone:
      description: The zone name, absolute.
      type: str
      sample: example.com.
    reference_serial:
      description: The serial every server should have; null when no server gave one.
      type: int
      sample: 2024061501
    reference_server:
      description: The server the reference serial came from.
      type: str
      sample: 192.0.2.53
    comparable:
      description: False when some serials are exactly 2^31 apart and cannot be ordered.
      type: bool
    converged:
      description: Whether every server of this zone is V(in_sync).
      type: bool
    in_sync:
      description: With O(compact=true), how many servers of this zone are V(in_sync) (and not listed).
      type: int
      returned: when O(compact=true)
    servers:
      description: One entry per server address; with O(compact=true), only the servers that are not V(in_sync).
      type: list
      elements: dict
      contains:
        server:
          description: The address, with the port when it is not 53.
          type: str
        address:
          description: The IP address asked.
          type: str
        port:
          description: The port asked.
          type: int
        name:
          description: The host or NS name the address came from, if any.
          type: str
        reference:
          description: Whether this server is the O(reference).
          type: bool
        serial:
          description: The serial the server answered, or null.
          type: int
        status:
          description:
            - V(in_sync), V(behind), V(ahead), V(not_comparable) compare the serial with the reference.
            - V(not_authoritative), V(servfail), V(refused), V(timeout), V(unreachable), V(tsig_error) mean no usable
              serial. V(servfail) is a server that has the zone configured but cannot serve it (an expired secondary
              copy, or a zone that failed to load).
          type: str
          sample: in_sync
        lag:
          description: RFC 1982 distance from this serial to the reference; positive when behind, negative when ahead.
          type: int
        rtt:
          description: Round-trip time of the answer in milliseconds.
          type: float
        expire_remaining:
          description: Seconds until this server stops serving the zone if it cannot refresh (EDNS EXPIRE), when it says.
          type: int
        rcode:
          description: The DNS response code, when there was an answer.
          type: str
        transport:
          description: V(udp) or V(tcp), as the answer came.
          type: str
        error:
          description: What went wrong, for a failure status.
          type: str
summary:
  description: Counts over all zones and servers.
  returned: always
  type: dict
  contains:
    zones:
      description: Number of zones.
      type: int
    checks:
      description: Number of zone x server pairs.
      type: int
    converged_zones:
      description: Zones where every server is in sync.
      type: int
    diverged_zones:
      description: Zones where some server is not.
      type: int
    in_sync:
      description: Pairs per status; one key for each status.
      type: int
  sample: {zones: 2, checks: 6, converged_zones: 2, diverged_zones: 0, in_sync: 6, behind: 0, ahead: 0,
           not_comparable: 0, not_authoritative: 0, servfail: 0, refused: 0, timeout: 0, unreachable: 0, tsig_error: 0}
elapsed:
  description: Seconds spent, including waiting.
  returned: always
  type: float
passes:
  description: How many times the servers were queried.
  returned: always
  type: int
stalled:
  description: True when the wait stopped because no more pair reached the reference serial for O(stall_timeout) seconds.
  returned: always
  type: bool
servers_asked:
  description: With O(compact=true), every address asked, once.
  returned: when O(compact=true)
  type: list
  elements: str
compact:
  description: True when the result is compact (O(compact=true)).
  returned: when O(compact=true)
  type: bool
newest:
  description: With O(newest_only=true), zone -> the newest serial (RFC 1982) any server answered, for every zone
    some server answered with serials that can be ordered.
  returned: when O(newest_only=true)
  type: dict
  sample: {"example.com": 2026112801}
incomparable:
  description: With O(newest_only=true), the zones whose serials are exactly 2^31 apart and cannot be ordered.
  returned: when O(newest_only=true)
  type: list
  elements: str
zones_asked:
  description: With O(newest_only=true), how many zones were asked.
  returned: when O(newest_only=true)
  type: int
newest_only:
  description: True when the result holds only the newest serials (O(newest_only=true)).
  returned: when O(newest_only=true)
  type: bool
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError,
    assert_requirements_present,
    normalize_zone,
    parse_server,
    short_invocation,
)
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SerialCheck, compact_report, newest_report
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import TSIG_ARGSPEC, load_tsig_option


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zones=dict(type='list', elements='str'),
            zone=dict(type='str'),
            servers=dict(type='list', elements='str'),
            reference=dict(type='str'),
            resolvers=dict(type='list', elements='str'),
            tsig=TSIG_ARGSPEC,
            transport=dict(type='str', choices=['udp', 'tcp'], default='udp'),
            timeout=dict(type='float', default=2.0),
            retries=dict(type='int', default=2),
            wait_timeout=dict(type='float', default=0),
            poll_interval=dict(type='float', default=1.0),
            stall_timeout=dict(type='float', default=0),
            fail_on_divergence=dict(type='bool', default=False),
            concurrency=dict(type='int', default=1000),
            compact=dict(type='bool', default=False),
            newest_only=dict(type='bool', default=False),
            as_json=dict(type='bool', default=False),
        ),
        required_one_of=[('zones', 'zone')],
        mutually_exclusive=[('zones', 'zone'), ('compact', 'newest_only')],
        supports_check_mode=True,
    )
    assert_requirements_present(module)
    params = module.params
    try:
        names = params['zones'] if params['zones'] is not None else [params['zone']]
        if not names:
            raise ZonesyncError('zones: give at least one zone.')
        zones = []
        seen = set()
        for name in names:
            zone = normalize_zone(name, param='zones' if params['zones'] is not None else 'zone')
            # A set: a list's "in" made 10,000 zones cost 50 million name comparisons (about 150 s).
            if zone not in seen:
                seen.add(zone)
                zones.append(zone)
        for spec in params['servers'] or []:
            parse_server(spec, param='servers')
        if params['reference']:
            parse_server(params['reference'], param='reference')
        if params['timeout'] <= 0:
            raise ZonesyncError('timeout: must be greater than 0, got %s.' % params['timeout'])
        if params['retries'] < 0:
            raise ZonesyncError('retries: must be 0 or more, got %s.' % params['retries'])
        if params['wait_timeout'] < 0:
            raise ZonesyncError('wait_timeout: must be 0 or more, got %s.' % params['wait_timeout'])
        if params['stall_timeout'] < 0:
            raise ZonesyncError('stall_timeout: must be 0 or more, got %s.' % params['stall_timeout'])
        if params['concurrency'] < 1:
            raise ZonesyncError('concurrency: must be at least 1, got %s.' % params['concurrency'])
        if params['servers'] is not None and not params['servers']:
            raise ZonesyncError('servers: the list is empty; omit it to use the NS set of each zone.')
        key, warnings = load_tsig_option(params['tsig'])
        for warning in warnings:
            module.warn(warning)
        check = SerialCheck(zones, servers=params['servers'], reference=params['reference'], key=key,
                            transport=params['transport'], timeout=params['timeout'], retries=params['retries'],
                            wait_timeout=params['wait_timeout'], poll_interval=params['poll_interval'],
                            resolvers=params['resolvers'], concurrency=params['concurrency'],
                            stall_timeout=params['stall_timeout'])
        report = check.run()
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))
    for warning in report.pop('warnings'):
        module.warn(warning)
    if params['fail_on_divergence'] and not report['converged']:
        lines = []
        for zone in report['zones']:
            if zone['converged']:
                continue
            bad = ['%s %s%s' % (row['server'], row['status'],
                                ' (serial %s, lag %s)' % (row['serial'], row['lag']) if row['serial'] is not None
                                else ' (%s)' % row['error'] if row['error'] else '')
                   for row in zone['servers'] if row['status'] != 'in_sync']
            lines.append('%s: reference serial %s; %s' % (zone['zone'], zone['reference_serial'], '; '.join(bad)))
        shown = lines[:10]
        more = len(lines) - len(shown)
        module.fail_json(msg='%d zone(s) not converged%s: %s%s' % (
            len(lines), ' after waiting %s s' % params['wait_timeout'] if params['wait_timeout'] else '',
            ' | '.join(shown), ' | and %d more' % more if more > 0 else ''), changed=False, **report)
    if params['compact']:
        report = compact_report(report)
    elif params['newest_only']:
        report = newest_report(report)
    if params['as_json'] and 'zones' in report:
        report['zones_json'] = json.dumps(report.pop('zones'), separators=(',', ':'))
    module.exit_json(changed=False, invocation=short_invocation(params), **report)


if __name__ == '__main__':
    main()
