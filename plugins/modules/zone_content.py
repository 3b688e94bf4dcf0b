#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zone_content
short_description: Content digests of many zones as one server really serves them, and of their zone files
version_added: 0.2.0
description:
  - Transfers every zone in O(zones) from one server (AXFR, several at a time) and returns, per zone, the
    serial and an order-independent digest of every record. Two servers that return the same digest serve the
    same records, whatever their serials say.
  - Meant to run on each DNS server against itself (its own address as O(server) and O(source)), signed with a
    read-only check key that every server of the fleet accepts only from its own address. Copies are then
    compared on the controller, so secondaries never have to open transfers to anyone else.
  - For a zone given with a C(file), also digests that file as a server would load it, so that a primary
    serving something other than its zone file (a file it refused to load, a hand edit) is found.
  - Records are returned only for the zones in O(collect), to list the differences of the zones whose digests
    differ.
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
  server:
    description: The server to transfer from, an IP address, optionally with a port (C(addr:port), C([IPv6]:port)).
    type: str
    required: true
  port:
    description: The port, when O(server) does not carry one.
    type: int
    default: 53
  source:
    description: The source address to send from; it must be an address of the host that runs the module.
    type: str
  zones:
    description:
      - The zones, each a name, or a dictionary with C(name) and C(file) (the zone file the server loads, on the
        host that runs the module).
    type: list
    elements: raw
    required: true
  collect:
    description: Zones whose records are returned too (RV(zones[].record_lines)), up to O(collect_limit) each.
    type: list
    elements: str
    default: []
  collect_limit:
    description: Most records returned for one zone; a larger zone returns none (RV(zones[].record_lines) is null).
    type: int
    default: 5000
  workers:
    description: Transfers in flight at once.
    type: int
    default: 8
  timeout:
    description: Seconds to wait for the connection and for each read, per zone.
    type: float
    default: 10.0
notes:
  - Digests equal those of M(dnsops.zonesync.zone_transfer_check) for the same content (RV(zones[].digest)).
seealso:
  - module: dnsops.zonesync.zone_transfer_check
  - module: dnsops.zonesync.soa_serial
"""

EXAMPLES = r"""
- name: Digest every zone this server serves, from itself, with the read-only check key
  dnsops.zonesync.zone_content:
    server: 192.0.2.53
    source: 192.0.2.53
    tsig:
      file: /etc/bind/zonesync-keys.conf
      name: zonesync-check
    zones:
      - example.com
      - {name: example.net, file: /var/lib/bind/zonesync/example.net.zone}
  register: content

- name: List the records of a zone whose digest differs from the primary's
  dnsops.zonesync.zone_content:
    server: 192.0.2.53
    source: 192.0.2.53
    tsig:
      name: zonesync-check
      secret: "{{ vault_check_key_secret }}"
    zones: [example.com]
    collect: [example.com]
"""

RETURN = r"""
zones_json:
  description: RV(zones) as one compact JSON string, when O(as_json=true) (RV(zones) is then not returned).
  returned: when O(as_json=true)
  type: str
  sample: '[{"zone": "example.test", "status": "ok", "serial": 2026112801, "digest": "9f2c...", "records": 12, "detail": null}]'
zones:
  description: One entry per zone of O(zones), in the same order.
  returned: unless O(as_json=true)
  type: list
  elements: dict
  contains:
    zone:
      description: The zone, without the final dot.
      type: str
    status:
      description: V(ok), or why the transfer failed (the statuses of M(dnsops.zonesync.zone_transfer_check)).
      type: str
    serial:
      description: The serial served.
      type: int
    digest:
      description: The content digest, when the transfer worked.
      type: str
    records:
      description: Records in the digest.
      type: int
    data_digest:
      description:
        - The digest without what a signer adds (no RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY, ZONEMD or
          TYPE65534 records, the last BIND's signing state, and the apex SOA with serial 0), when the transfer worked. Two copies with the same serial and
          the same RV(zones[].data_digest) but another RV(zones[].digest) differ in their signatures only.
      type: str
    signed:
      description: Whether the copy holds RRSIG records, when the transfer worked.
      type: bool
    rrsigs:
      description: RRSIG records in the copy.
      type: int
    rrsig_expires:
      description: The earliest expiration of any RRSIG in the copy, in seconds since the epoch (UTC); null unsigned.
      type: int
    rrsig_first:
      description: The RRset (C(owner TYPE)) whose signature expires first.
      type: str
    rrsig_apex_expires:
      description: The earliest expiration of the signatures over the apex SOA and DNSKEY sets, in seconds since the
        epoch (UTC).
      type: int
    detail:
      description: What was seen when the transfer failed.
      type: str
    skew:
      description: The server's clock minus this host's, in seconds, on V(tsig_bad_time).
      type: int
    attempts:
      description:
        - How many transfers it took, when more than one. A zone answered with SERVFAIL (as BIND does when its
          C(transfers-out) quota is full, which this module's own parallel transfers can cause) is tried again up to
          twice, one zone at a time, before its status is reported.
      type: int
    record_lines:
      description: The records as C(owner ttl type rdata) lines, sorted, for the zones in O(collect).
      type: list
      elements: str
    file:
      description: The zone file's own digest, when a file was given.
      type: dict
      contains:
        path:
          description: The file.
          type: str
        status:
          description: V(ok), V(missing), V(unreadable), or V(unloadable) (it does not parse as the zone).
          type: str
        serial:
          description: The serial in the file.
          type: int
        digest:
          description: The digest of the file's records.
          type: str
        data_digest:
          description:
            - As RV(zones[].data_digest), for the file. Given when the file was parsed; a file that
              M(dnsops.zonesync.zone_files) wrote and nobody changed since is digested from its record instead, and
              is parsed when the served copy is signed.
          type: str
        signed:
          description: Whether the file holds RRSIG records (a zone signed before it is loaded), when it was parsed.
          type: bool
        records:
          description: Records in the file.
          type: int
        detail:
          description: Why the file could not be digested.
          type: str
summary:
  description: Zones whose transfer worked (C(ok)) and failed (C(failed)).
  returned: always
  type: dict
  sample: {ok: 2, failed: 0}
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError,
    assert_requirements_present,
    check_ip,
    check_port,
    normalize_zone,
    parse_server,
    short_invocation,
)
from ansible_collections.dnsops.zonesync.plugins.module_utils._content import zone_digests
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import TSIG_ARGSPEC, load_tsig_option


def _zone_entries(params):
    collect = set(normalize_zone(z, param='collect') for z in params['collect'])
    entries = []
    seen = set()
    for index, item in enumerate(params['zones']):
        where = 'zones[%d]' % index
        if isinstance(item, dict):
            unknown = sorted(set(item) - set(['name', 'file']))
            if unknown or not item.get('name'):
                raise ZonesyncError('%s: give a zone name, or a dictionary with name and optionally file (got keys %s).'
                                    % (where, ', '.join(sorted(item)) or 'none'))
            name, path = item['name'], item.get('file')
        elif isinstance(item, str):
            name, path = item, None
        else:
            raise ZonesyncError('%s: %r is neither a zone name nor a dictionary with name and file.' % (where, item))
        zone = normalize_zone(name, param=where)
        if zone in seen:
            raise ZonesyncError('%s: zone %s is listed twice.' % (where, name))
        seen.add(zone)
        entries.append({'zone': zone, 'file': str(path) if path else None, 'collect': zone in collect})
    return entries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type='str', required=True),
            port=dict(type='int', default=53),
            source=dict(type='str'),
            tsig=TSIG_ARGSPEC,
            zones=dict(type='list', elements='raw', required=True),
            collect=dict(type='list', elements='str', default=[]),
            collect_limit=dict(type='int', default=5000),
            workers=dict(type='int', default=8),
            timeout=dict(type='float', default=10.0),
            as_json=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    assert_requirements_present(module)
    params = module.params
    try:
        check_port(params['port'], param='port')
        server = parse_server(params['server'], default_port=params['port'], param='server')
        address = check_ip(server['host'], 'server')
        if params['timeout'] <= 0:
            raise ZonesyncError('timeout: must be greater than 0, got %s.' % params['timeout'])
        if params['collect_limit'] < 0:
            raise ZonesyncError('collect_limit: must be 0 or more.')
        source = check_ip(params['source'], 'source') if params['source'] else None
        entries = _zone_entries(params)
        key, warnings = load_tsig_option(params['tsig'])
        for warning in warnings:
            module.warn(warning)
        zones = zone_digests(entries, address, server['port'], key=key, source=source, timeout=params['timeout'],
                             workers=params['workers'], collect_limit=params['collect_limit'])
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))
    ok = sum(1 for z in zones if z['status'] == 'ok')
    summary = {'ok': ok, 'failed': len(zones) - ok}
    if params['as_json']:
        module.exit_json(changed=False, zones_json=json.dumps(zones, separators=(',', ':')), summary=summary,
                         invocation=short_invocation(params))
    module.exit_json(changed=False, zones=zones, summary=summary, invocation=short_invocation(params))


if __name__ == '__main__':
    main()
