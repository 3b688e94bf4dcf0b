#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: powerdns_zones
short_description: All of a PowerDNS server's zones, transfer metadata and TSIG keys in one task
version_added: 0.2.0
description:
  - Brings the gsqlite3 database of a PowerDNS Authoritative Server to the zones, transfer metadata and TSIG keys
    the host must have, in one transaction, and loads primary zones from their files where needed.
  - Zones are created as primary (C(MASTER)) or secondary (C(SLAVE)), pointed at their primaries, and marked with
    the account C(dnsops.zonesync). The metadata kinds C(TSIG-ALLOW-AXFR), C(AXFR-MASTER-TSIG) and C(ALSO-NOTIFY)
    are set exactly as given; other metadata (DNSSEC, SOA-EDIT, ...) is left alone.
  - TSIG keys are written to the database by this module, never passed on a command line, so no other local user
    can read a secret from the process list.
  - A primary zone is loaded from its file with C(pdnsutil load-zone) when it is new, when O(zones[].load) says its
    file changed, or when the database has no SOA for it (an earlier load failed).
  - A zone that carries the mark but is no longer listed is reported in RV(unlisted). It is removed only with
    O(purge=true). Zones without the mark, made by hand or by other tools, are never changed or removed.
  - The server reads these tables on every use when its zone cache and metadata cache are off
    (C(zone-cache-refresh-interval=0), C(zone-metadata-cache-ttl=0), as the powerdns role sets them). With caches on,
    changes take effect when the caches expire.
author:
  - dnsops.zonesync maintainers (@dnsops)
extends_documentation_fragment:
  - dnsops.zonesync.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the changes are computed and returned, and nothing is written or loaded.
  diff_mode:
    support: none
options:
  database:
    description: The gsqlite3 database (C(gsqlite3-database) in pdns.conf).
    type: path
    required: true
  zones:
    description: Every zone this server must have.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The zone.
        type: str
        required: true
      kind:
        description:
          - Whether this server is the zone's primary or a secondary.
          - V(consumer) is a catalog zone (RFC 9432) this server consumes, from O(zones[].primaries). PowerDNS
            creates and removes the member zones the catalog lists.
          - V(member) is a zone this server learns from the catalog O(zones[].catalog). It is never created here.
            A copy made before in explicit mode is adopted (marked with the catalog and its O(zones[].label)), so
            that the catalog neither drops nor transfers it again. Members are never reported as unlisted.
        type: str
        required: true
        choices: [primary, secondary, consumer, member]
      primaries:
        description: The addresses a secondary or consumer zone transfers from.
        type: list
        elements: str
        default: []
      metadata:
        description:
          - Values of C(TSIG-ALLOW-AXFR), C(AXFR-MASTER-TSIG) and C(ALSO-NOTIFY). A kind not given is cleared.
        type: dict
        default: {}
      member_metadata:
        description:
          - For a V(consumer) zone, the metadata every member gets (same kinds as O(zones[].metadata)).
          - PowerDNS 4.7 gives the members it creates none of the catalog's metadata, so a primary that requires
            TSIG would refuse them. A trigger in the database copies these values to each member when PowerDNS
            creates it, and members that exist already are brought to them here.
        type: dict
        default: {}
      catalog:
        description: For a V(member), the consumer zone (catalog) it belongs to.
        type: str
      label:
        description: For a V(member), its unique label in the catalog, used when a copy is adopted.
        type: str
      file:
        description: The zone file a primary zone is loaded from.
        type: path
      load:
        description: Load the primary zone from O(zones[].file) even though it exists (its file changed).
        type: bool
        default: false
  keys:
    description: The TSIG keys this server must have, with their secrets.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The key name.
        type: str
        required: true
      algorithm:
        description: The algorithm, for example V(hmac-sha256).
        type: str
        required: true
      secret:
        description: The secret, base64. It is never logged or returned.
        type: str
        required: true
  managed_keys:
    description:
      - Names of the keys this collection manages (normally every key in C(zonesync_keys)). Such a key that the
        server has but O(keys) does not list, for example after a rotation, is removed. Other keys are kept.
    type: list
    elements: str
    default: []
  purge:
    description: Remove zones that carry the C(dnsops.zonesync) mark but are not in O(zones). Never the default.
    type: bool
    default: false
  pdnsutil:
    description: The pdnsutil command, for loading zone files.
    type: path
    default: pdnsutil
  config_dir:
    description: The directory of pdns.conf, when it is not where pdnsutil looks by default.
    type: path
'''

EXAMPLES = r'''
- name: Apply this host's zones, metadata and keys
  dnsops.zonesync.powerdns_zones:
    database: /var/lib/powerdns/pdns.sqlite3
    zones:
      - name: example.com
        kind: primary
        file: /var/lib/powerdns/zonesync/example.com.zone
        metadata:
          TSIG-ALLOW-AXFR: [xfr-key]
          ALSO-NOTIFY: [192.0.2.53]
      - name: example.net
        kind: secondary
        primaries: [192.0.2.1]
        metadata:
          AXFR-MASTER-TSIG: [xfr-key]
    keys:
      - name: xfr-key
        algorithm: hmac-sha256
        secret: "{{ vault_xfr_key_secret }}"
    managed_keys: [xfr-key, xfr-key-old]
  register: pdns_zones

- name: Transfer the new secondary zones now
  ansible.builtin.command:
    argv: [xargs, -r, -n1, pdns_control, retrieve]
    stdin: "{{ pdns_zones.retrieve | join('\n') }}"
  when: pdns_zones.retrieve | length > 0
'''

RETURN = r'''
created:
  description: Zones added to the database.
  returned: success
  type: list
  elements: str
updated:
  description: Zones whose kind, primaries or mark changed.
  returned: success
  type: list
  elements: str
metadata_changed:
  description: Zones whose transfer metadata changed.
  returned: success
  type: list
  elements: str
loaded:
  description: Primary zones loaded (in check mode, to be loaded) from their files.
  returned: success
  type: list
  elements: str
retrieve:
  description: Secondary zones that are new or have new primaries, to be transferred now (C(pdns_control retrieve)).
  returned: success
  type: list
  elements: str
keys_added:
  description: Names of the TSIG keys added. Secrets are never returned.
  returned: success
  type: list
  elements: str
keys_updated:
  description: Names of the TSIG keys whose algorithm or secret changed.
  returned: success
  type: list
  elements: str
keys_removed:
  description: Names of the managed TSIG keys removed.
  returned: success
  type: list
  elements: str
purged:
  description:
    - Zones removed because O(purge=true).
    - With them, the members PowerDNS made for a catalog this collection set up that this server no longer consumes
      (its consumer zone removed now or before), which PowerDNS keeps and never updates again. Without
      O(purge=true) they are listed in RV(unlisted).
  returned: success
  type: list
  elements: str
adopted:
  description: Zones made before in explicit mode that are now marked as members of their catalog.
  returned: success
  type: list
  elements: str
catalog_templates_removed:
  description: Catalogs whose member template was removed with their members (O(purge=true)).
  returned: success
  type: list
  elements: str
catalog_templates:
  description: Catalogs whose member metadata (the template the trigger copies) was written.
  returned: success
  type: list
  elements: str
unlisted:
  description:
    - Zones with the C(dnsops.zonesync) mark that are not in O(zones) and were kept (O(purge=false)), and the
      members of a catalog of this collection that this server no longer consumes (see RV(purged)).
  returned: success
  type: list
  elements: str
  sample: [old.example.com]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, short_invocation


def main():
    module = AnsibleModule(
        argument_spec=dict(
            database=dict(type='path', required=True),
            zones=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                kind=dict(type='str', required=True, choices=['primary', 'secondary', 'consumer', 'member']),
                primaries=dict(type='list', elements='str', default=[]),
                metadata=dict(type='dict', default={}),
                member_metadata=dict(type='dict', default={}),
                catalog=dict(type='str'),
                label=dict(type='str'),
                file=dict(type='path'),
                load=dict(type='bool', default=False),
            )),
            keys=dict(type='list', elements='dict', default=[], no_log=False, options=dict(
                name=dict(type='str', required=True),
                algorithm=dict(type='str', required=True),
                secret=dict(type='str', required=True, no_log=True),
            )),
            managed_keys=dict(type='list', elements='str', default=[], no_log=False),
            purge=dict(type='bool', default=False),
            pdnsutil=dict(type='path', default='pdnsutil'),
            config_dir=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _powerdns_db

    params = module.params
    files = dict((z['name'].strip().rstrip('.').lower(), z['file']) for z in params['zones'])
    for zone in params['zones']:
        if zone['kind'] == 'member' and not zone.get('catalog'):
            module.fail_json(msg='zones: member %s has no catalog.' % zone['name'])
    try:
        db = _powerdns_db.connect(params['database'])
        try:
            changes = _powerdns_db.plan(_powerdns_db.read_state(db), params['zones'], params['keys'],
                                        params['managed_keys'], purge=params['purge'])
            missing = [name for name in changes['load'] if not files.get(name)]
            if missing:
                raise ZonesyncError('zones: primary zone(s) %s must be loaded but have no file.' % ', '.join(missing))
            if not module.check_mode:
                _powerdns_db.apply(db, changes)
        finally:
            db.close()
            _powerdns_db.keep_owner(params['database'])
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))

    result = _powerdns_db.summary(changes)
    if not module.check_mode:
        for name in changes['load']:
            argv = [params['pdnsutil']] + (['--config-dir=%s' % params['config_dir']] if params['config_dir'] else [])
            rc, out, err = module.run_command(argv + ['load-zone', name, files[name]])
            if rc != 0:
                module.fail_json(msg='pdnsutil load-zone %s %s failed (exit %d): %s. The zone stays in the database '
                                     'without its new records; the next run loads it again.'
                                     % (name, files[name], rc, (err + out).strip() or 'no output'), **result)
        _powerdns_db.keep_owner(params['database'])
    result['changed'] = any(result[k] for k in ('created', 'updated', 'metadata_changed', 'loaded', 'keys_added',
                                                'keys_updated', 'keys_removed', 'purged', 'adopted',
                                                'catalog_templates', 'catalog_templates_removed'))
    if result['unlisted']:
        module.warn('%d zone(s) that this collection created are no longer in the inventory and were kept: %s. '
                    'Set powerdns_purge_removed: true to remove them.'
                    % (len(result['unlisted']), ', '.join(result['unlisted'][:10])
                       + (' and %d more' % (len(result['unlisted']) - 10) if len(result['unlisted']) > 10 else '')))
    module.exit_json(invocation=short_invocation(module.params), **result)


if __name__ == '__main__':
    main()
