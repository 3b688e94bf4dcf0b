# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dnsops.zonesync.topology: check the fleet description once per play and work out every host's plan.

The roles call it with run_once, delegate_to localhost and delegate_facts, and read their host's part from
hostvars['localhost'].zonesync__topology: a small summary per host (``hosts``), and the plans themselves as JSON
strings (``plans``, ``fleet``), which Ansible copies for free where it would walk every node of a dictionary.

An option left out is read from the play's variables (zonesync_zones, zonesync_keys, zonesync_catalogs,
ansible_play_hosts_all, each inventory host's topology variables, localhost's zonesync__topology_digest) without
templating them again when they hold no template: at 10,000 zones, templating zonesync_zones into the task's
arguments cost seconds per call. When the inputs are those of the plans already on localhost, nothing is checked
or worked out again.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, native_data
from ansible_collections.dnsops.zonesync.plugins.module_utils._topology_spec import ARGUMENT_SPEC, HOST_VARS, inputs_digest

FACT = 'zonesync__topology'
DIGEST_FACT = 'zonesync__topology_digest'
# Options and the play variable each one defaults to.
FROM_VARS = (('zones', 'zonesync_zones'), ('keys', 'zonesync_keys'), ('catalogs', 'zonesync_catalogs'))
_TEMPLATE_MARKS = ('{{', '{%', '{#')


def has_template(value):
    """Whether a string anywhere in ``value`` looks like a Jinja template (then it must be rendered)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any(mark in item for mark in _TEMPLATE_MARKS):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _variable(self, task_vars, name, default):
        if name not in task_vars:
            return default
        value = task_vars[name]
        if has_template(value):
            value = self._templar.template(value)
        return native_data(value)

    def _host_vars(self, task_vars):
        hostvars = task_vars.get('hostvars') or {}
        out = {}
        for host in (task_vars.get('groups') or {}).get('all', []):
            facts = hostvars[host]
            out[str(host)] = dict((key, native_data(facts[key])) for key in HOST_VARS if key in facts)
        return out

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = native_data(self._task.args)
        for option, variable in FROM_VARS:
            if option not in args:
                args[option] = self._variable(task_vars, variable, None if option == 'zones' else [])
        if args['zones'] is None:
            result.update(failed=True, msg='dnsops.zonesync topology: zonesync_zones is not defined. Describe the '
                                           'fleet\'s zones in the inventory (README, "Describing the fleet").')
            return result
        if 'hosts' not in args:
            args['hosts'] = native_data(task_vars.get('ansible_play_hosts_all') or [])
        if 'host_vars' not in args:
            args['host_vars'] = self._host_vars(task_vars)
        if 'previous_digest' not in args:
            localhost = (task_vars.get('hostvars') or {}).get('localhost') or {}
            args['previous_digest'] = str(localhost.get(DIGEST_FACT) or '') if DIGEST_FACT in localhost else ''
        args['hosts'] = sorted(set(str(h) for h in args['hosts'] or []))
        args['keys'] = args['keys'] or []
        args['catalogs'] = args['catalogs'] or []
        args['host_vars'] = args['host_vars'] or {}
        args['previous_digest'] = args['previous_digest'] or ''
        # Unchanged inputs: the plans on localhost are current, and were checked when they were worked out.
        digest = inputs_digest(args)
        if args['previous_digest'] == digest:
            result.update(changed=False, msg='the topology and plans on localhost are current')
            return result

        validated = ArgumentSpecValidator(ARGUMENT_SPEC).validate(args)
        if validated.error_messages:
            result.update(failed=True, msg='dnsops.zonesync topology: the fleet description is invalid: %s. See the '
                                           'README, "Describing the fleet".' % '; '.join(validated.error_messages))
            return result
        # The spec checks the shape; the topology reads the zones as given (a field left out keeps its meaning,
        # for example allow_query, whose default depends on the zone), with the spec's top-level defaults.
        from ansible_collections.dnsops.zonesync.plugins.module_utils import _topology
        try:
            compiled = _topology.compile_topology(args['zones'], args['keys'], args['host_vars'], args['hosts'],
                                                  args['catalogs'])
        except ZonesyncError as exc:
            result.update(failed=True, msg='dnsops.zonesync topology: %s' % exc)
            return result
        result.update(changed=False, ansible_facts={FACT: _topology.plan_facts(compiled), DIGEST_FACT: digest})
        return result
