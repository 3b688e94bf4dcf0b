#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zone_transfer_check
short_description: Try a zone transfer as a secondary would, and name the exact failure
version_added: 0.1.0
description:
  - Requests an AXFR or IXFR of a zone from a server (normally the primary), optionally signed with TSIG and
    sent from a given source address, exactly as a secondary would.
  - Classifies the outcome into one status, and for every status other than V(ok) explains what is wrong
    (RV(diagnosis)) and what to change on BIND and on PowerDNS (RV(remediation)).
  - With O(compare_with), also compares the serial and the content of secondaries with the primary's, which
    finds a zone edited without a serial increment.
  - The transfer is read as a stream; every message is checked (query ID, TSIG, SOA framing). With O(tsig),
    the first and the last message must be signed, with at most 99 unsigned in between (RFC 8945).
  - A reader thread drains the connection at wire speed, so a primary that cuts off slow readers (Knot closes a
    transfer whose reader stalls for 500 ms) is never kept waiting; the messages are verified and parsed behind
    it. What the parser has not reached yet is kept in memory up to 32 MiB, beyond that in a temporary file.
  - Copies are compared by digest (RV(digest)), without holding the zone. Records are held only to list
    differences, after the digests differ, and then only those of the differing owner names, in batches of a
    bounded size (a large zone is then transferred again for that).
  - Never changes anything. The task fails unless the outcome is what O(expect) asked for.
author:
  - dnsops.zonesync maintainers (@dnsops)
requirements:
  - dnspython >= 2.3.0
  - netaddr
extends_documentation_fragment:
  - dnsops.zonesync.attributes
  - dnsops.zonesync.attributes.info_module
  - dnsops.zonesync.attributes.tsig
options:
  zone:
    description: The zone to transfer.
    type: str
    required: true
  server:
    description:
      - The server to transfer from, normally the primary, as an address or host name, optionally with a port
        (C(host:port), C([IPv6]:port)).
      - A host name is resolved with the system resolver; the first address is used.
    type: str
    required: true
  port:
    description: The port, when O(server) does not carry one.
    type: int
    default: 53
  type:
    description: V(axfr) for a full transfer; V(ixfr) for an incremental one from O(serial).
    type: str
    choices: [axfr, ixfr]
    default: axfr
  serial:
    description: The serial the client claims to have, required with O(type=ixfr).
    type: int
  source:
    description:
      - The source IP address to send from, to test the transfer ACL exactly as a given secondary would.
        The address must be configured on the host that runs the module (use C(delegate_to) the secondary).
    type: str
  expect:
    description:
      - V(allowed) requires the transfer to succeed (and the compared secondaries to match).
      - V(refused) requires the server to decline (REFUSED, NOTAUTH or a TSIG rejection); a successful transfer
        then gives status V(open_transfer) and fails the task.
    type: str
    choices: [allowed, refused]
    default: allowed
  compare_with:
    description:
      - Secondaries whose serial, and content when the serial is the same, are compared with the primary's.
      - Same format as O(server). They are asked with the same TSIG key and source address.
    type: list
    elements: str
    default: []
  ignore_ttl:
    description: Ignore TTLs when comparing content.
    type: bool
    default: false
  ignore_dnssec:
    description:
      - Ignore DNSSEC record types (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY, ZONEMD, and TYPE65534, in
        which BIND keeps its signing state in the zone) when comparing, for instance to compare a copy signed on the
        fly with an unsigned one.
      - The same as listing those types in O(ignore_types).
    type: bool
    default: false
  ignore_types:
    description:
      - Record types to leave out of the content comparison and of RV(digest), by name (V(TXT), V(TYPE65534)).
    type: list
    elements: str
    default: []
  max_differences:
    description: How many differing records to list when content differs.
    type: int
    default: 100
  timeout:
    description: Seconds to wait for the connection and for each read.
    type: float
    default: 10.0
  max_records:
    description:
      - The most records one transfer may carry. A transfer that crosses it stops at once with status
        V(limit_exceeded), so that a server streaming without end is not read for ever.
      - The default fits the largest zones a registry serves; raise it only for a zone larger than that.
    type: int
    default: 50000000
    version_added: 0.2.0
  max_bytes:
    description:
      - The most bytes one transfer may carry on the wire, length prefixes included. A transfer that crosses it stops
        at once with status V(limit_exceeded).
      - It also bounds the temporary file that holds what arrived ahead of the parser.
    type: int
    default: 8589934592
    version_added: 0.2.0
  max_time:
    description:
      - Seconds one transfer may take in all, from the connection to the closing SOA (O(timeout) bounds each
        read). A transfer that takes longer stops with status V(limit_exceeded).
    type: float
    default: 900
    version_added: 0.2.0
notes:
  - "Statuses: V(ok), V(refused), V(not_authoritative), V(not_implemented), V(tsig_bad_key), V(tsig_bad_signature),
    V(tsig_bad_time), V(tsig_unknown_key), V(tsig_unsigned_response), V(tcp_unreachable), V(unreachable),
    V(timeout), V(servfail), V(incomplete), V(malformed), V(limit_exceeded), V(serial_not_incremented),
    V(secondary_behind), V(secondary_ahead), V(not_comparable), V(open_transfer)."
  - Every message of the answer is checked as RFC 5936 asks (ID, QR, opcode, rcode, and the question when one is
    present); the zone must open and close with the same SOA, in every field, and nothing may follow it. A message
    with no records is V(malformed) at once.
  - An IXFR answered with NOTIMP or FORMERR, or whose increments break the framing, is asked again as AXFR, as a
    secondary does; the result then has RV(fallback=axfr) and RV(ixfr_failure).
  - With O(expect=refused), only a refusal of the transfer passes (REFUSED, NOTAUTH, or a TSIG refusal); NOTIMP,
    SERVFAIL or a broken answer do not.
  - V(tsig_bad_time) reports the clock skew in seconds, read from the server's signed BADTIME answer.
  - V(tcp_unreachable) means UDP answers the SOA query but TCP does not connect; transfers always use TCP.
seealso:
  - name: RFC 5936
    description: DNS Zone Transfer Protocol (AXFR).
    link: https://www.rfc-editor.org/rfc/rfc5936
  - name: RFC 1995
    description: Incremental Zone Transfer in DNS.
    link: https://www.rfc-editor.org/rfc/rfc1995
  - name: RFC 8945
    description: Secret Key Transaction Authentication for DNS (TSIG).
    link: https://www.rfc-editor.org/rfc/rfc8945
  - module: dnsops.zonesync.soa_serial
"""

EXAMPLES = r"""
- name: Transfer example.com from the primary with the transfer key, from this secondary's address
  dnsops.zonesync.zone_transfer_check:
    zone: example.com
    server: 192.0.2.53
    source: 198.51.100.53
    tsig:
      name: transfer-key
      algorithm: hmac-sha256
      secret: "{{ vault_transfer_key_secret }}"
  delegate_to: ns2.example.com

- name: Prove that a host outside the ACL cannot copy the zone
  dnsops.zonesync.zone_transfer_check:
    zone: example.com
    server: 192.0.2.53
    expect: refused

- name: Compare both secondaries with the primary, content included
  dnsops.zonesync.zone_transfer_check:
    zone: example.com
    server: 192.0.2.53
    tsig:
      file: /etc/bind/keys/transfer.key
    compare_with:
      - 198.51.100.53
      - "[2001:db8::53]"
    ignore_dnssec: true
  register: transfer

- name: Compare, ignoring TTLs and the records a signer adds
  dnsops.zonesync.zone_transfer_check:
    zone: example.com
    server: 192.0.2.53
    compare_with: [198.51.100.53]
    ignore_ttl: true
    ignore_types: [TYPE65534, NSEC3PARAM]

- name: Ask for the changes since serial 2024061500
  dnsops.zonesync.zone_transfer_check:
    zone: example.com
    server: 192.0.2.53:5353
    type: ixfr
    serial: 2024061500
"""

RETURN = r"""
status:
  description: The outcome, one of the statuses listed in the notes.
  returned: always
  type: str
  sample: ok
expected:
  description: Whether the outcome is what O(expect) asked for. The task fails when it is false.
  returned: always
  type: bool
diagnosis:
  description: What is wrong, in an operator's words.
  returned: when status is not V(ok), or when O(expect=refused)
  type: str
  sample: 192.0.2.53 refused to transfer example.com to 198.51.100.53 ...
remediation:
  description: What to change, per server software.
  returned: when status is not V(ok)
  type: dict
  contains:
    bind:
      description: The fix on BIND 9.
      type: str
    powerdns:
      description: The fix on PowerDNS.
      type: str
detail:
  description: The low-level observation behind the status.
  returned: always
  type: str
zone:
  description: The zone, absolute.
  returned: always
  type: str
server:
  description: The server asked, with the port when it is not 53.
  returned: always
  type: str
type:
  description: AXFR or IXFR.
  returned: always
  type: str
serial:
  description: The serial of the transferred zone.
  returned: when the transfer got its first message
  type: int
records:
  description: Records in the zone (AXFR, closing SOA not counted), or in the IXFR answer.
  returned: always
  type: int
messages:
  description: DNS messages received.
  returned: always
  type: int
bytes:
  description: Bytes received, length prefixes included.
  returned: always
  type: int
duration:
  description: Seconds the transfer took.
  returned: always
  type: float
signed_messages:
  description: How many messages carried a TSIG record.
  returned: always
  type: int
digest:
  description:
    - Order-independent digest of the zone content, to compare copies; in the spirit of ZONEMD (RFC 8976), the sum
      of the SHA-256 of every record in canonical form (lower-case owner, type, class, TTL, canonical rdata).
    - Without TTLs when O(ignore_ttl) is set, and without the types of O(ignore_types) and O(ignore_dnssec).
  returned: after a full transfer
  type: str
digest_records:
  description: How many records went into RV(digest).
  returned: after a full transfer
  type: int
skew:
  description: Seconds the server's clock is ahead (positive) or behind (negative) of this host's.
  returned: when status is V(tsig_bad_time)
  type: int
rcode:
  description: The response code of an error answer.
  returned: when the server answered with an error
  type: str
ixfr_fallback_to_axfr:
  description: Whether the server answered an IXFR with the full zone.
  returned: when O(type=ixfr)
  type: bool
up_to_date:
  description: Whether the server answered an IXFR with its lone SOA, no newer than O(serial).
  returned: when O(type=ixfr)
  type: bool
ixfr_changes:
  description: Records deleted and added in an incremental answer.
  returned: when the IXFR answer was incremental
  type: dict
fallback:
  description: V(axfr) when the IXFR failed (RV(ixfr_failure)) and the zone was asked again as AXFR, else V(null).
  returned: when O(type=ixfr)
  type: str
  version_added: 0.2.0
ixfr_failure:
  description: What the IXFR that was replaced by an AXFR answered.
  returned: when RV(fallback=axfr)
  type: dict
  version_added: 0.2.0
  contains:
    status:
      description: Its status (V(not_implemented), V(malformed)).
      type: str
    detail:
      description: What was observed.
      type: str
    rcode:
      description: Its response code, when it was an error answer.
      type: str
limit:
  description: The option whose limit the transfer crossed (V(max_records), V(max_bytes) or V(max_time)).
  returned: when status is V(limit_exceeded)
  type: str
  version_added: 0.2.0
response_key:
  description: The name of the key that signed the answer.
  returned: when status is V(tsig_unknown_key)
  type: str
  version_added: 0.2.0
compared:
  description: One entry per O(compare_with) server.
  returned: always
  type: list
  elements: dict
  contains:
    server:
      description: The secondary.
      type: str
    serial:
      description: Its serial.
      type: int
    status:
      description:
        - V(ok) (same serial, same content), V(serial_only) (same serial; the secondary declined to transfer, so
          the content was not compared), V(secondary_behind), V(secondary_ahead), V(serial_not_incremented),
          V(not_comparable), or why it could not be asked (V(timeout), V(unreachable), ...).
      type: str
    content_compared:
      description: Whether the content was transferred from the secondary and compared.
      type: bool
    detail:
      description: What was seen.
      type: str
    digest:
      description: The secondary's RV(digest), when its content was read.
      type: str
    missing:
      description: Records the primary has and the secondary lacks (content compared only).
      type: int
    extra:
      description: Records the secondary has and the primary lacks.
      type: int
    changed:
      description: Records that differ in data or TTL.
      type: int
    differences:
      description:
        - Up to O(max_differences) differing record sets, with both sides, names and data in canonical
          (lower-case) form.
      type: list
      elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError,
    assert_requirements_present,
    check_ip,
    check_port,
    normalize_zone,
    parse_server,
)
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import expand_servers
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import TSIG_ARGSPEC, load_tsig_option
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import (
    MAX_BYTES,
    MAX_RECORDS,
    MAX_TIME,
    TransferLimits,
    check_zone_transfer,
    rdtype_set,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zone=dict(type='str', required=True),
            server=dict(type='str', required=True),
            port=dict(type='int', default=53),
            type=dict(type='str', choices=['axfr', 'ixfr'], default='axfr'),
            serial=dict(type='int'),
            tsig=TSIG_ARGSPEC,
            source=dict(type='str'),
            expect=dict(type='str', choices=['allowed', 'refused'], default='allowed'),
            compare_with=dict(type='list', elements='str', default=[]),
            ignore_ttl=dict(type='bool', default=False),
            ignore_dnssec=dict(type='bool', default=False),
            ignore_types=dict(type='list', elements='str', default=[]),
            max_differences=dict(type='int', default=100),
            timeout=dict(type='float', default=10.0),
            max_records=dict(type='int', default=MAX_RECORDS),
            max_bytes=dict(type='int', default=MAX_BYTES),
            max_time=dict(type='float', default=MAX_TIME),
        ),
        required_if=[('type', 'ixfr', ('serial',))],
        supports_check_mode=True,
    )
    assert_requirements_present(module)
    params = module.params
    try:
        zone = normalize_zone(params['zone'], param='zone')
        check_port(params['port'], param='port')
        server_spec = parse_server(params['server'], default_port=params['port'], param='server')
        compare_specs = [parse_server(spec, param='compare_with') for spec in params['compare_with']]
        if params['serial'] is not None and not 0 <= params['serial'] <= 4294967295:
            raise ZonesyncError('serial: %s is not a SOA serial (0 to 4294967295).' % params['serial'])
        if params['timeout'] <= 0:
            raise ZonesyncError('timeout: must be greater than 0, got %s.' % params['timeout'])
        if params['max_differences'] < 0:
            raise ZonesyncError('max_differences: must be 0 or more.')
        for name in ('max_records', 'max_bytes', 'max_time'):
            if params[name] <= 0:
                raise ZonesyncError('%s: must be greater than 0, got %s.' % (name, params[name]))
        limits = TransferLimits(params['max_records'], params['max_bytes'], params['max_time'])
        ignore_types = rdtype_set(params['ignore_types'])
        source = check_ip(params['source'], 'source') if params['source'] else None
        key, warnings = load_tsig_option(params['tsig'])
        for warning in warnings:
            module.warn(warning)
        server = expand_servers([server_spec], None, True)[0]
        compare = [expand_servers([spec], None, True)[0] for spec in compare_specs]
        ok, result = check_zone_transfer(
            zone, server, rdtype=params['type'].upper(), serial=params['serial'], key=key, source=source,
            expect=params['expect'], compare_with=compare, timeout=params['timeout'],
            ignore_ttl=params['ignore_ttl'], ignore_dnssec=params['ignore_dnssec'],
            max_differences=params['max_differences'], ignore_types=ignore_types, limits=limits,
            key_name=key.name.to_text(omit_final_dot=True) if key is not None else None)
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))
    result.pop('address', None)
    result.pop('port', None)
    if not ok:
        if params['expect'] == 'refused':
            msg = '%s: expected the transfer of %s to be refused, got %s: %s' % (
                result['server'], result['zone'], result['status'], result.get('diagnosis'))
        else:
            msg = 'zone transfer check of %s from %s: %s: %s' % (
                result['zone'], result['server'], result['status'], result.get('diagnosis'))
        module.fail_json(msg=msg, changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
