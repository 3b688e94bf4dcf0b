#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: zone_files
short_description: Write many primary zone files in one task, each serial following its content
version_added: 0.2.0
description:
  - The batched form of M(dnsops.zonesync.zone_file), for a primary that serves hundreds or thousands of zones.
    One task writes all of them, with the same rules for each zone.
  - Each zone's desired content is compared with its file, ignoring the SOA serial. Equal content keeps the file
    and its serial. Changed content gets the next serial (today's C(YYYYMMDD00), or the current serial plus one),
    never going backwards under RFC 1982.
  - The changed files are written beside the old ones and checked with O(validate), several at a time. Only when
    every zone can be planned and every new file passes is any file moved in (atomically, one by one). When any
    zone fails, no file is changed and the failure names each zone and why.
  - Zones that are not listed are left alone; this module never deletes a zone file.
author:
  - dnsops.zonesync maintainers (@dnsops)
requirements:
  - dnspython >= 2.3.0
extends_documentation_fragment:
  - ansible.builtin.files
  - dnsops.zonesync.attributes
  - dnsops.zonesync.attributes.files
attributes:
  check_mode:
    support: full
    details:
      - In check mode the serial each zone would get is returned and nothing is written or validated.
  diff_mode:
    support: full
    details:
      - One diff per changed zone.
  safe_file_operations:
    support: full
options:
  zones:
    description:
      - The zones to write. Each entry takes the options of M(dnsops.zonesync.zone_file) for one zone.
      - The filter P(dnsops.zonesync.zone_file_entries#filter) turns a host plan's primary zones into this list.
    type: list
    elements: dict
    required: true
    suboptions:
      zone:
        description: The zone's origin, for example V(example.com).
        type: str
        required: true
      path:
        description: The zone file. Default V(<directory>/<zone>.zone).
        type: path
      records:
        description: The zone's records except the SOA and apex NS, as in M(dnsops.zonesync.zone_file).
        type: list
        elements: dict
      content:
        description: The text of a complete zone file. Mutually exclusive with O(zones[].records).
        type: str
      soa:
        description: The SOA fields (mname, rname, refresh, retry, expire, minimum), used with O(zones[].records).
        type: dict
      ns:
        description: The zone's apex NS names, used with O(zones[].records).
        type: list
        elements: str
      ttl:
        description: The default TTL, used with O(zones[].records).
        type: int
        default: 3600
  directory:
    description:
      - Where the zone files are, for zones given without O(zones[].path). The directory must exist.
      - The module keeps C(.zonesync-zone-files.json) there - the SHA-256 of each file's source and of the text it
        wrote, its serial and record count. A file whose source and text both match is not parsed again (parsing
        10,000 zones twice took 25 s a run); a file edited by hand no longer matches and is compared in full.
    type: path
  validate:
    description:
      - A command run on each new file before any file is replaced. V(%s) stands for the file's path and V(%z) for
        the zone's name, for example V(named-checkzone %z %s). It is run without a shell.
    type: str
  workers:
    description: How many validation commands run at once. Default the number of CPUs, at least 2.
    type: int
  min_serials:
    description:
      - Per zone, the highest serial a secondary serves (see O(dnsops.zonesync.zone_file#module:min_serial)); a file
        behind it is written again past it. The filter P(dnsops.zonesync.serial_floors#filter) builds it.
    type: dict
    default: {}
  bump:
    description: Zones that get the next serial even when their content is the same.
    type: list
    elements: str
    default: []
  backup:
    description: Keep a timestamped copy of each file that is replaced.
    type: bool
    default: false
  list_unchanged:
    description:
      - List every zone in RV(zones). With V(false), RV(zones) lists only the zones that changed (RV(summary) still
        counts all); at 10,000 zones the full list is most of what Ansible carries for this task.
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Write every primary zone of this host in one task
  dnsops.zonesync.zone_files:
    directory: /var/lib/bind/zonesync/primary
    zones: "{{ hostvars['localhost'].zonesync__topology.plans[inventory_hostname] | dnsops.zonesync.zone_file_entries }}"
    validate: named-checkzone %z %s
    owner: root
    group: bind
    mode: "0644"
  register: zone_files
  notify: Reload BIND

- name: Two zones given directly
  dnsops.zonesync.zone_files:
    directory: /var/lib/bind/zonesync/primary
    zones:
      - zone: example.com
        ns: [ns1.example.com]
        records:
          - {name: www, type: A, value: 192.0.2.10}
      - zone: example.net
        content: "{{ lookup('ansible.builtin.file', 'zones/example.net.zone') }}"
    bump: [example.net]
'''

RETURN = r'''
zones:
  description: One entry per zone, in the order given; with O(list_unchanged=false), only the zones that changed.
  returned: success
  type: list
  elements: dict
  contains:
    zone:
      description: The zone.
      type: str
    path:
      description: Its file.
      type: str
    changed:
      description: Whether the file was (in check mode, would be) written.
      type: bool
    serial:
      description: The serial of the file after the task (in check mode, the serial it would get).
      type: int
    previous_serial:
      description: The serial before the task, or null when there was no readable file.
      type: int
    records:
      description: The number of records, the SOA included.
      type: int
    reason:
      description: Why the file was or was not written.
      type: str
changed_zones:
  description: The zones whose file was (in check mode, would be) written, in the order given.
  returned: success
  type: list
  elements: str
  sample: [example.com]
summary:
  description: How many zones were given, and how many of them changed.
  returned: success
  type: dict
  sample: {zones: 2, changed: 1, unchanged: 1}
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError,
    assert_requirements_present,
    short_invocation,
)


def _entries(params):
    """The module's zones with their paths, serial floors and bump flags resolved."""
    bump = set(name.strip().rstrip('.').lower() for name in params['bump'])
    floors = dict((str(k).strip().rstrip('.').lower(), v) for k, v in (params['min_serials'] or {}).items())
    entries = []
    for given in params['zones']:
        entry = dict(given)
        zone = (entry['zone'] or '').strip().rstrip('.').lower()
        if entry.get('records') is not None and entry.get('content') is not None:
            raise ZonesyncError('zones: %s gives both records and content; give one.' % zone)
        if entry.get('records') is None and entry.get('content') is None and not entry.get('ns'):
            raise ZonesyncError('zones: %s gives neither records, ns nor content.' % zone)
        if not entry.get('path'):
            if not params['directory']:
                raise ZonesyncError('zones: %s has no path, and directory is not set.' % zone)
            entry['path'] = os.path.join(params['directory'], zone + '.zone')
        floor = floors.get(zone)
        if floor is not None:
            try:
                entry['min_serial'] = int(floor)
            except (TypeError, ValueError):
                raise ZonesyncError('min_serials: the value for %s, %r, is not a serial.' % (zone, floor))
        entry['bump'] = zone in bump
        entries.append(entry)
    return entries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zones=dict(type='list', elements='dict', required=True, options=dict(
                zone=dict(type='str', required=True),
                path=dict(type='path'),
                records=dict(type='list', elements='dict'),
                content=dict(type='str'),
                soa=dict(type='dict'),
                ns=dict(type='list', elements='str'),
                ttl=dict(type='int', default=3600),
            )),
            directory=dict(type='path'),
            validate=dict(type='str'),
            workers=dict(type='int'),
            min_serials=dict(type='dict', default={}),
            bump=dict(type='list', elements='str', default=[]),
            backup=dict(type='bool', default=False),
            list_unchanged=dict(type='bool', default=True),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    assert_requirements_present(module, need_netaddr=False)
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _zonefile_batch

    params = module.params
    if params['workers'] is not None and params['workers'] < 1:
        module.fail_json(msg='workers: must be 1 or more, got %s.' % params['workers'])
    try:
        planned = _zonefile_batch.plan_all(_entries(params), cache=_zonefile_batch.read_cache(params['directory']))
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))

    staged = []
    result = dict(changed=False)
    if not module.check_mode:
        try:
            staged = _zonefile_batch.stage(planned, validate=params['validate'], workers=params['workers'])
        except ZonesyncError as exc:
            module.fail_json(msg=str(exc))
        try:
            for item in staged:
                _zonefile_batch.carry_attributes(item)
                if params['backup'] and item['existing'] is not None:
                    item['backup_file'] = module.backup_local(item['path'])
                module.atomic_move(item['tmp'], item['path'], unsafe_writes=params['unsafe_writes'])
        finally:
            _zonefile_batch.discard(staged)
        if params['directory']:
            try:
                _zonefile_batch.write_cache(params['directory'], planned)
            except OSError as exc:
                module.warn('Could not write the digest cache in %s (%s); the next run compares every file in full.'
                            % (params['directory'], to_native(exc)))

    zones = []
    diffs = []
    for item in planned:
        plan = item['plan']
        zones.append(dict(zone=item['zone'], path=item['path'], changed=plan['changed'], serial=plan['serial'],
                          previous_serial=plan['previous_serial'], records=plan['records'], reason=plan['reason']))
        if item.get('backup_file'):
            zones[-1]['backup_file'] = item['backup_file']
        if plan['changed'] and module._diff:
            diffs.append(dict(before=item['existing'] or '', after=plan['text'], before_header=item['path'],
                              after_header=item['path']))
    changed_zones = [z['zone'] for z in zones if z['changed']]
    result['changed'] = bool(changed_zones)

    for entry in zones:
        if module.check_mode and not os.path.exists(entry['path']):
            continue
        args = module.load_file_common_arguments(params, path=entry['path'])
        try:
            if module.set_fs_attributes_if_different(args, False):
                result['changed'] = True
                if not entry['changed']:
                    entry['reason'] += '; attributes set'
        except Exception as exc:  # pylint: disable=broad-except
            module.fail_json(msg='Could not set the attributes of %s: %s' % (entry['path'], to_native(exc)), zones=zones)
    listed = zones if params['list_unchanged'] else [z for z in zones if z['changed'] or 'attributes set' in z['reason']]
    result.update(zones=listed, changed_zones=changed_zones,
                  summary=dict(zones=len(zones), changed=len(changed_zones), unchanged=len(zones) - len(changed_zones)))
    if diffs:
        result['diff'] = diffs
    module.exit_json(invocation=short_invocation(params), **result)


if __name__ == '__main__':
    main()
