# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn the inventory's DNS topology into each host's view.

host_plan, fleet_plan and tsig_secret are documented in host_plan.yml,
fleet_plan.yml and tsig_secret.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils import _topology


def _plain(hostvars):
    """Accept Ansible's lazy hostvars mapping as well as a plain dict."""
    return hostvars


def host_plan(zones, keys, hostvars, host):
    try:
        plan = _topology.host_plan(zones, keys, _plain(hostvars), host)
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync topology: %s' % exc)
    # The plan is printed in verbose runs: keep key secrets out of it.
    plan['keys'] = [{'name': k['name'], 'algorithm': k['algorithm']} for k in plan['keys']]
    return plan


def fleet_plan(zones, keys, hostvars):
    try:
        return _topology.fleet_plan(zones, keys, _plain(hostvars))
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync topology: %s' % exc)


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


class FilterModule(object):
    def filters(self):
        return {'host_plan': host_plan, 'fleet_plan': fleet_plan, 'tsig_secret': tsig_secret}
