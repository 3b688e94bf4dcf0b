# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dnsops.zonesync.topology: check the fleet description once per play and work out every host's plan.

The roles call it with run_once, delegate_to localhost and delegate_facts, and read their host's plan from
hostvars['localhost'].zonesync__topology. When the inputs (zones, keys without their secrets, hosts, and the
host variables the topology reads) are those of the plans already on localhost (previous_digest), nothing is
worked out again.
"""

from __future__ import annotations

import hashlib
import json

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, native_data
from ansible_collections.dnsops.zonesync.plugins.module_utils._topology_spec import ARGUMENT_SPEC

FACT = 'zonesync__topology'
DIGEST_FACT = 'zonesync__topology_digest'


def _digest(args):
    # Secrets stay out: plans never contain them, and no trace of one is kept in the facts.
    keys = [dict((k, v) for k, v in key.items() if k != 'secret') for key in args['keys']]
    text = json.dumps([args['zones'], keys, args['catalogs'], args['hosts'], args['host_vars']], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        given = native_data(self._task.args)
        validated = ArgumentSpecValidator(ARGUMENT_SPEC).validate(given)
        if validated.error_messages:
            result.update(failed=True, msg='dnsops.zonesync topology: the fleet description is invalid: %s. See the '
                                           'README, "Describing the fleet".' % '; '.join(validated.error_messages))
            return result
        # The spec checks the shape; the topology reads the zones as given (a field left out keeps its meaning,
        # for example allow_query, whose default depends on the zone), with the spec's top-level defaults.
        args = dict(given)
        args.setdefault('keys', [])
        args.setdefault('catalogs', [])
        args.setdefault('previous_digest', '')
        args['hosts'] = sorted(set(args['hosts']))
        digest = _digest(args)
        if args['previous_digest'] == digest:
            result.update(changed=False, msg='the topology and plans on localhost are current')
            return result

        from ansible_collections.dnsops.zonesync.plugins.module_utils import _topology
        try:
            compiled = _topology.compile_topology(args['zones'], args['keys'], args['host_vars'], args['hosts'],
                                                  args['catalogs'])
        except ZonesyncError as exc:
            result.update(failed=True, msg='dnsops.zonesync topology: %s' % exc)
            return result
        result.update(changed=False, ansible_facts={FACT: compiled, DIGEST_FACT: digest})
        return result
