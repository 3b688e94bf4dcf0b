# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""A host plan's zones as the batched write modules take them (zone_files, powerdns_zones)."""

from __future__ import annotations

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError


def zone_file_entries(zones, contents=None):
    """A host plan's primary zones as dnsops.zonesync.zone_files wants them.

    ``contents`` maps the name of each zone given with ``file`` to that file's text (read on the controller with
    ``query('ansible.builtin.file', ...)``, which resolves the path the way the roles always did).
    """
    contents = dict((str(k).rstrip('.').lower(), v) for k, v in (contents or {}).items())
    entries = []
    for zone in zones or []:
        if not isinstance(zone, dict) or not zone.get('name'):
            raise ZonesyncError('expected host plan zones, got %r' % (zone,))
        name = str(zone['name']).rstrip('.').lower()
        if zone.get('file') is not None:
            if name not in contents:
                raise ZonesyncError('zone %s is given with file %s, but its text was not read; pass it in contents.'
                                    % (name, zone['file']))
            entries.append({'zone': name, 'content': contents[name]})
        else:
            entries.append({'zone': name, 'records': zone.get('records') or [], 'ns': zone.get('ns') or [],
                            'soa': zone.get('soa'), 'ttl': zone.get('ttl')})
    return entries


def powerdns_zone_entries(zones, zone_dir, changed=None):
    """A host plan's zones as dnsops.zonesync.powerdns_zones wants them: kind, primaries, the transfer metadata,
    and for primary zones their file and whether it changed (``changed``: zone_files' changed_zones)."""
    changed = set(str(z).rstrip('.').lower() for z in changed or [])
    entries = []
    for zone in zones or []:
        if not isinstance(zone, dict) or not zone.get('name') or zone.get('role') not in ('primary', 'secondary'):
            raise ZonesyncError('expected host plan zones, got %r' % (zone,))
        name = str(zone['name']).rstrip('.').lower()
        acl = zone.get('transfer_acl') or {}
        upstream = zone.get('upstream') or {}
        if zone.get('catalog') and zone['role'] == 'secondary':
            # PowerDNS creates the members of a catalog it consumes; listed so that a copy made before is adopted.
            entries.append({'name': name, 'kind': 'member', 'catalog': zone['catalog'],
                            'label': zone.get('catalog_label')})
            continue
        metadata = {'TSIG-ALLOW-AXFR': list(acl.get('keys') or []),
                    'ALSO-NOTIFY': sorted(zone.get('also_notify') or []),
                    'AXFR-MASTER-TSIG': [upstream['key']] if zone['role'] == 'secondary' and upstream.get('key') else []}
        entry = {'name': name, 'kind': zone['role'], 'metadata': metadata}
        if zone.get('is_catalog') and zone['role'] == 'secondary':
            # The members get the catalog's upstream key, the check key, and no onward notify (no second tier).
            entry.update(kind='consumer', member_metadata=dict(metadata))
        if zone['role'] == 'primary':
            entry.update(file='%s/%s.zone' % (zone_dir.rstrip('/'), name), load=name in changed)
        else:
            entry['primaries'] = [upstream['address']]
        entries.append(entry)
    return entries
