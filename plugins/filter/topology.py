# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn the inventory's DNS topology into each host's view.

Each filter is documented in the YAML file of the same name next to this file. Filters that read a plan take it
as data or as the JSON string the topology action stores.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, native_data as _native
from ansible_collections.dnsops.zonesync.plugins.module_utils import _bind_zones, _entries, _topology, _tuning
from ansible_collections.dnsops.zonesync.plugins.module_utils._topology_spec import HOST_VARS


def host_plan(zones, keys, hostvars, host, catalogs=None):
    try:
        plan = _topology.host_plan(_native(zones), _native(keys), hostvars, host, _native(catalogs))
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync topology: %s' % exc)
    # The plan is printed in verbose runs: keep key secrets out of it.
    plan['keys'] = [{'name': k['name'], 'algorithm': k['algorithm']} for k in plan['keys']]
    return plan


def host_plan_of(host, zones, keys, hostvars, catalogs=None):
    """host_plan with the host first, for ``map``: the plan of each host of a list."""
    return host_plan(zones, keys, hostvars, host, catalogs)


def fleet_plan(zones, keys, hostvars, catalogs=None):
    try:
        return _topology.fleet_plan(_native(zones), _native(keys), hostvars, _native(catalogs))
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync topology: %s' % exc)


def _find_key(keys, name):
    for key in keys or []:
        if isinstance(key, dict) and str(key.get('name', '')).rstrip('.').lower() == str(name).rstrip('.').lower():
            return key
    return None


def tsig_key(keys, name):
    """The key as the modules' ``tsig`` option wants it: name, algorithm, secret."""
    key = _find_key(keys, name)
    if key is None:
        raise AnsibleFilterError('dnsops.zonesync: TSIG key %r is not defined in zonesync_keys.' % (name,))
    return {'name': str(key['name']).rstrip('.').lower(), 'algorithm': key.get('algorithm') or 'hmac-sha256',
            'secret': tsig_secret(keys, name)}


def tsig_keys(keys, names):
    """Several keys as the modules want them (name, algorithm, secret), for the key names given."""
    return [tsig_key(keys, name) for name in names or []]


def tsig_secret(keys, name):
    for key in keys or []:
        if isinstance(key, dict) and str(key.get('name', '')).rstrip('.').lower() == str(name).rstrip('.').lower():
            secret = key.get('secret')
            if not secret:
                raise AnsibleFilterError(
                    'dnsops.zonesync: TSIG key %r has no secret in zonesync_keys. Generate one (ansible localhost -m '
                    'dnsops.zonesync.tsig_key -a "name=%s path=keys/%s.key") and set `secret` from the vault.' % (name, name, name))
            return secret
    raise AnsibleFilterError('dnsops.zonesync: TSIG key %r is not defined in zonesync_keys.' % (name,))


def _same_key(a, b):
    return a is not None and b is not None and str(a).rstrip('.').lower() == str(b).rstrip('.').lower()


def rotate_zone(zone, old, new, step):
    """One zone of zonesync_zones as it must be at a step of a key rotation (see playbooks/rotate_tsig.yml).

    Step 1: the zone keeps ``old`` and upstreams also accept ``new``. Step 2 (and 3):
    secondaries use ``new``, upstreams still accept ``old``. Step 4: ``new`` only.
    Zones and secondaries that do not use ``old`` are returned unchanged.
    """
    if not isinstance(zone, dict):
        raise AnsibleFilterError('dnsops.zonesync.rotate_zone: expected a zone (dictionary), got %r' % (zone,))
    step = int(step)
    if step not in (1, 2, 3, 4):
        raise AnsibleFilterError('dnsops.zonesync.rotate_zone: step must be 1, 2, 3 or 4, got %r' % (step,))
    if not _uses_key(zone, old):
        return zone
    current = new if step >= 2 else old
    other = {1: [new], 2: [old], 3: [old], 4: []}[step]
    result = dict(zone)
    if _same_key(zone.get('key'), old):
        result['key'] = current
    result['secondaries'] = [dict(s, key=current) if isinstance(s, dict) and _same_key(s.get('key'), old) else s
                             for s in zone.get('secondaries') or []]
    accept = [k for k in zone.get('accept_keys') or [] if not _same_key(k, old) and not _same_key(k, new)]
    result['accept_keys'] = accept + other
    return result


def _uses_key(zone, key):
    return _same_key(zone.get('key'), key) or any(
        isinstance(s, dict) and _same_key(s.get('key'), key) for s in zone.get('secondaries') or [])


def zones_using_key(zones, key):
    """Normalised names of the zones that use ``key`` anywhere: as their key, or for one of their secondaries.

    After a rotation away from ``key`` (the tsig role's rotation record), these are the zones whose inventory was
    not updated: deploying them would put the old key back.
    """
    return [str(z.get('name')).rstrip('.').lower() for z in zones or [] if isinstance(z, dict) and _uses_key(z, key)]


def rotated_zone_names(zones, key):
    """Normalised names (lower case, no final dot) of the zones whose key is ``key``."""
    return [str(z.get('name')).rstrip('.').lower() for z in zones or []
            if isinstance(z, dict) and _same_key(z.get('key'), key)]


def _plan(value, what='plan'):
    """A host plan (or fleet plan) as data: the topology action stores them as JSON strings."""
    try:
        return _topology.loads(value, what)
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync: %s' % exc)


def _zones_of(value):
    """The zones of a host plan (data or JSON string), or a list of zones given as is."""
    value = _plan(value)
    return value['zones'] if isinstance(value, dict) else value


def zone_file_entries(zones, contents=None):
    """``zones``: a host plan (its primary zones are taken) or a list of its zones."""
    zones = _zones_of(zones)
    try:
        return _entries.zone_file_entries([z for z in zones if not isinstance(z, dict) or z.get('role', 'primary') == 'primary'],
                                          contents)
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync.zone_file_entries: %s' % exc)


def powerdns_zone_entries(zones, zone_dir, changed=None):
    try:
        return _entries.powerdns_zone_entries(_zones_of(zones), zone_dir, changed)
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync.powerdns_zone_entries: %s' % exc)


def removed_zone_statements(text, planned):
    """The zone statements of a zones file written before whose zones are no longer planned."""
    return _bind_zones.removed_zone_statements(text, _native(planned))


def plan_zone_names(plan, role=None):
    """The names of a host plan's zones, of one role (primary, secondary) or all."""
    return [z['name'] for z in _zones_of(plan) if role is None or z['role'] == role]


def catalog_members(plan):
    """The catalog members a host consumes, name -> catalog."""
    return dict((z['name'], z['catalog']) for z in _zones_of(plan) if z['role'] == 'secondary' and z.get('catalog'))


def bind_zone_statements(plan, primary_dir, secondary_dir, keep_explicit=None, ixfr_from_differences=True):
    """The zone statements of the bind role's zones file for a host plan."""
    return _bind_zones.zone_statements(_plan(plan), primary_dir, secondary_dir, _native(keep_explicit),
                                       bool(ixfr_from_differences))


def bind_zone_changes(previous_text, plan):
    """What the zones file written before means for this run: kept, handover, taken_back."""
    return _bind_zones.zone_changes(previous_text, _plan(plan))


def topology_host_vars(hostvars_of_host):
    """The variables of one host that the topology reads, as plain data (see dnsops.zonesync.topology)."""
    out = {}
    for key in HOST_VARS:
        # A variable the host does not set stays out, so that the topology applies its default.
        if key in hostvars_of_host:
            out[key] = _native(hostvars_of_host[key])
    return out


def server_tuning(zones, server, overrides=None):
    """Transfer settings for a host serving ``zones`` zones (bind or powerdns); ``overrides`` win."""
    try:
        if server == 'bind':
            return _tuning.bind_tuning(int(zones), _native(overrides))
        if server == 'powerdns':
            return _tuning.powerdns_tuning(int(zones), _native(overrides))
        raise ZonesyncError('the server must be bind or powerdns, got %r.' % (server,))
    except (ZonesyncError, ValueError) as exc:
        raise AnsibleFilterError('dnsops.zonesync.server_tuning: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'host_plan': host_plan, 'host_plan_of': host_plan_of, 'fleet_plan': fleet_plan, 'tsig_secret': tsig_secret, 'tsig_key': tsig_key,
                'tsig_keys': tsig_keys,
                'rotate_zone': rotate_zone, 'rotated_zone_names': rotated_zone_names,
                'zones_using_key': zones_using_key, 'zone_file_entries': zone_file_entries,
                'powerdns_zone_entries': powerdns_zone_entries, 'topology_host_vars': topology_host_vars,
                'server_tuning': server_tuning, 'removed_zone_statements': removed_zone_statements,
                'plan_zone_names': plan_zone_names, 'catalog_members': catalog_members,
                'bind_zone_statements': bind_zone_statements, 'bind_zone_changes': bind_zone_changes}
