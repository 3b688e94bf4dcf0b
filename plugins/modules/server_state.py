#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: server_state
short_description: What a BIND or PowerDNS server is really configured with, next to the keys you expect
version_added: 0.2.0
description:
  - Reads, on the DNS server itself, the configuration the server really uses, for the zones given in O(zones),
    each zone's type, the primaries it pulls from and the TSIG key it signs with.
  - BIND, the configuration as named parses it (C(named-checkconf -p)). PowerDNS (gsqlite3), the domains table,
    the AXFR-MASTER-TSIG and TSIG-ALLOW-AXFR metadata and the tsigkeys table, opened read-only.
  - Compares the server's TSIG keys with O(expect_keys) on the server and returns only whether each key is present
    and whether its algorithm and secret match, never a secret or a hash of one.
  - For the zones in O(details_for) (those that lag), also returns C(rndc zonestatus) (BIND) and the server's last
    journal lines that name the zone, with what they say (a TSIG error, a PowerDNS back-off and until when).
  - Never changes anything.
author:
  - dnsops.zonesync maintainers (@dnsops)
requirements:
  - named-checkconf and rndc (BIND), or read access to the gsqlite3 database (PowerDNS); journalctl for the logs
extends_documentation_fragment:
  - dnsops.zonesync.attributes
  - dnsops.zonesync.attributes.info_module
  - dnsops.zonesync.attributes.as_json
options:
  server:
    description: The server software.
    type: str
    choices: [bind, powerdns]
    required: true
  zones:
    description: The zones to report, configured or not.
    type: list
    elements: str
    required: true
  expect_keys:
    description: The TSIG keys the server should have (C(name), C(algorithm), C(secret)), to compare with its own.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The key name.
        type: str
        required: true
      algorithm:
        description: The algorithm.
        type: str
        default: hmac-sha256
      secret:
        description: The base64 secret (never logged, never returned).
        type: str
        required: true
  catalog_members:
    description:
      - The zones of O(zones) this server learns from a catalog zone, mapped to that catalog's name.
      - BIND has no zone statement for them; they count as configured when BIND consumes the catalog
        (C(catalog-zones) in C(options)), with the catalog's default primaries and key. PowerDNS has a row for each
        member it created from the catalog.
    type: dict
    default: {}
  details_for:
    description: Zones whose status and journal lines are returned too.
    type: list
    elements: str
    default: []
  config:
    description: The main BIND configuration file.
    type: path
    default: /etc/bind/named.conf
  database:
    description: The PowerDNS gsqlite3 database.
    type: path
    default: /var/lib/powerdns/pdns.sqlite3
  journal_unit:
    description: The systemd unit whose journal is read (default C(named) for BIND, C(pdns) for PowerDNS).
    type: str
notes:
  - BIND's configuration is read from disk as named parses it; a change written but not reloaded shows here before
    named uses it.
seealso:
  - module: dnsops.zonesync.zone_content
"""

EXAMPLES = r"""
- name: What this secondary really pulls, from where, with which key
  dnsops.zonesync.server_state:
    server: bind
    zones: [example.com, example.net]
    expect_keys:
      - name: xfr-example
        algorithm: hmac-sha256
        secret: "{{ vault_xfr_example }}"
    details_for: [example.net]
  register: state
"""

RETURN = r"""
zones_json:
  description: RV(zones) as one compact JSON string, when O(as_json=true) (RV(zones) is then not returned).
  returned: when O(as_json=true)
  type: str
  sample: '[{"zone": "example.test", "configured": true, "type": "secondary", "primaries": ["192.0.2.1"], "key": "transfer-key"}]'
zones:
  description: One entry per zone of O(zones).
  returned: unless O(as_json=true)
  type: list
  elements: dict
  contains:
    zone:
      description: The zone, lower case, without the final dot.
      type: str
    configured:
      description: Whether the server has the zone at all.
      type: bool
    type:
      description: V(primary), V(secondary), or another kind the server names.
      type: str
    primaries:
      description: The addresses a secondary pulls from.
      type: list
      elements: str
    key:
      description: The TSIG key a secondary signs its requests with.
      type: str
    kind:
      description: V(producer) or V(consumer) for a PowerDNS catalog zone (RV(zones[].type) is then primary or secondary).
      type: str
      returned: for PowerDNS catalog zones
    catalog:
      description: The catalog the zone comes from, for a member of one.
      type: str
      returned: for catalog members
    catalog_consumed:
      description: For a member that is not configured, whether the server consumes its catalog at all.
      type: bool
      returned: for catalog members that are not configured
    transfer_acl:
      description:
        - A short name (12 hex digits) for the transfer ACL the server applies to the zone - BIND its
          C(allow-transfer) as named-checkconf prints it (the options' when the zone has none), PowerDNS its
          C(ALLOW-AXFR-FROM) and C(TSIG-ALLOW-AXFR) metadata. Zones with the same ACL have the same name; the ACLs
          themselves are not returned.
        - The fleet report names a zone whose ACL differs from the other zones with the same peers and key (a hand
          edit the exposure check, which tries one zone of each, would not see).
      type: str
      returned: for configured zones with a statement (BIND) or a row (PowerDNS) of their own
    storage:
      description: V(directory_not_writable), V(file_not_writable) or V(file_missing), when the server cannot write
        this zone's copy (see RV(storage)).
      type: str
      returned: for zones whose copy cannot be written
    storage_detail:
      description: What was found for this zone.
      type: str
      returned: for zones whose copy cannot be written
storage:
  description:
    - Whether the running server can write where it keeps its copies. The server's own user is read from /proc, and
      compared, as the kernel would, with the directories of its secondary zone files (BIND, catalog
      C(zone-directory) included) or its gsqlite3 database and the directory SQLite writes its journal to (PowerDNS);
      a read-only mount counts. A BIND secondary zone whose file does not exist is named too (that is what any
      failed write leaves).
    - A secondary that cannot write keeps serving what it transferred, from memory; after a restart it has nothing
      to load.
  returned: always
  type: dict
  contains:
    process_uid:
      description: The server process's user id, or null when no such process runs.
      type: int
    problems:
      description: One entry per directory (or database) and kind of problem.
      type: list
      elements: dict
      contains:
        problem:
          description: V(directory_not_writable), V(file_not_writable) (the PowerDNS database), or V(file_missing).
          type: str
        directory:
          description: The directory.
          type: str
        detail:
          description: What was found, such as the directory's mode and owner and the server's user id.
          type: str
        zones:
          description: The zones of O(zones) it affects.
          type: list
          elements: str
        log:
          description: The server's last journal lines that say a write there failed.
          type: list
          elements: str
keys:
  description: One entry per O(expect_keys) key.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The key name.
      type: str
    present:
      description: Whether the server has a key of that name.
      type: bool
    algorithm:
      description: The server's algorithm for it.
      type: str
    algorithm_matches:
      description: Whether it is the expected algorithm.
      type: bool
    secret_matches:
      description: Whether the server's secret is the expected one.
      type: bool
details:
  description: One entry per O(details_for) zone.
  returned: always
  type: list
  elements: dict
  contains:
    zone:
      description: The zone.
      type: str
    status:
      description: The fields of C(rndc zonestatus) (BIND), such as serial, next_refresh and expires.
      type: dict
    log:
      description: The last journal lines that name the zone.
      type: list
      elements: str
    backoff_until:
      description: When PowerDNS will next try the zone, when its journal says it backed off.
      type: str
    tsig_error:
      description: The last journal line that reports a TSIG failure for the zone.
      type: str
reason:
  description:
    - Why the module failed, when the cause is the server's own configuration rather than the check.
    - V(config_invalid) when C(named-checkconf -p) rejects O(config). named keeps serving what it loaded last,
      but will neither reload that file nor start with it.
  returned: on failure, when known
  type: str
  sample: config_invalid
config:
  description: The configuration file that did not parse.
  returned: when RV(reason) is V(config_invalid)
  type: str
  sample: /etc/bind/named.conf
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, short_invocation
from ansible_collections.dnsops.zonesync.plugins.module_utils._storage import server_storage
from ansible_collections.dnsops.zonesync.plugins.module_utils._server_state import (
    LOG_LINES,
    bind_state,
    log_findings,
    parse_zonestatus,
    powerdns_state,
    summarize,
    zone_log_lines,
)


class ConfigInvalid(ZonesyncError):
    """The server's configuration does not parse: named will not reload it, nor start with it."""


def _checkconf(module, checkconf, config):
    rc, out, err = module.run_command([checkconf, '-p', config])
    if rc != 0:
        raise ConfigInvalid('named-checkconf -p %s failed (exit %d): %s'
                            % (config, rc, (err or out).strip() or 'no output'))
    return out


def _journal(module, params, lines=LOG_LINES):
    journalctl = module.get_bin_path('journalctl', required=False)
    if not journalctl:
        return ''
    unit = params['journal_unit'] or ('named' if params['server'] == 'bind' else 'pdns')
    rc, out, err = module.run_command([journalctl, '-u', unit, '-n', str(lines), '--no-pager', '-o', 'short-iso'])
    return out if rc == 0 else ''


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type='str', choices=['bind', 'powerdns'], required=True),
            zones=dict(type='list', elements='str', required=True),
            expect_keys=dict(type='list', elements='dict', default=[], no_log=False, options=dict(
                name=dict(type='str', required=True, no_log=False),
                algorithm=dict(type='str', default='hmac-sha256'),
                secret=dict(type='str', required=True, no_log=True),
            )),
            catalog_members=dict(type='dict', default={}),
            details_for=dict(type='list', elements='str', default=[]),
            config=dict(type='path', default='/etc/bind/named.conf'),
            database=dict(type='path', default='/var/lib/powerdns/pdns.sqlite3'),
            journal_unit=dict(type='str'),
            as_json=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params['server'] == 'bind':
            checkconf = module.get_bin_path('named-checkconf', required=False)
            if not checkconf:
                raise ZonesyncError('named-checkconf is not installed on this host (package bind9-utils or bind-utils).')
            state = bind_state(_checkconf(module, checkconf, params['config']))
        else:
            state = powerdns_state(params['database'])
        state['server'] = params['server']
        result = summarize(state, params['zones'], params['expect_keys'], params['catalog_members'])
        details = []
        if params['details_for']:
            journal = _journal(module, params)
            lines = zone_log_lines(journal, params['details_for'])
            rndc = module.get_bin_path('rndc', required=False) if params['server'] == 'bind' else None
            for zone in params['details_for']:
                entry = {'zone': zone.rstrip('.').lower(), 'log': lines.get(zone.rstrip('.').lower(), [])}
                entry.update(log_findings(entry['log']))
                if rndc:
                    rc, out, err = module.run_command([rndc, 'zonestatus', zone])
                    entry['status'] = parse_zonestatus(out) if rc == 0 else {'error': (err or out).strip()}
                details.append(entry)
        result['details'] = details
        result['storage'] = server_storage(params['server'], state, result['zones'], params['catalog_members'],
                                           params['database'], lambda: _journal(module, params))
    except ConfigInvalid as exc:
        module.fail_json(msg=str(exc), reason='config_invalid', config=params['config'])
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))
    if params['as_json']:
        result['zones_json'] = json.dumps(result.pop('zones'), separators=(',', ':'))
    module.exit_json(changed=False, invocation=short_invocation(params), **result)


if __name__ == '__main__':
    main()
