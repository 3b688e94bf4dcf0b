# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The one argument spec of the fleet description (zonesync_zones, zonesync_keys, zonesync_catalogs), and the digest
of those inputs, used by the topology action."""

from __future__ import annotations

import hashlib
import json

ZONE_OPTIONS = dict(
    name=dict(type='str', required=True),
    primary=dict(type='str'),
    secondaries=dict(type='list', elements='raw', default=[]),
    key=dict(type='str', no_log=False),
    accept_keys=dict(type='list', elements='str', default=[], no_log=False),
    notify=dict(type='list', elements='str', default=[]),
    ns=dict(type='list', elements='str', default=[]),
    soa=dict(type='dict'),
    ttl=dict(type='int', default=3600),
    records=dict(type='list', elements='dict'),
    file=dict(type='path'),
    allow_query=dict(type='list', elements='str'),
    catalog=dict(type='raw'),
    catalog_label=dict(type='str'),
    dnssec_policy=dict(type='str'),
)

CATALOG_OPTIONS = dict(
    name=dict(type='str', required=True),
    primary=dict(type='str', required=True),
    key=dict(type='str', required=True, no_log=False),
    consumers=dict(type='list', elements='raw', required=True),
    default=dict(type='bool', default=True),
)

KEY_OPTIONS = dict(
    name=dict(type='str', required=True),
    algorithm=dict(type='str', default='hmac-sha256',
                   choices=['hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha1']),
    secret=dict(type='str', no_log=True),
)

ARGUMENT_SPEC = dict(
    # Left out, each is read from the play's variables (see plugins/action/topology.py).
    zones=dict(type='list', elements='dict', options=ZONE_OPTIONS),
    keys=dict(type='list', elements='dict', options=KEY_OPTIONS, no_log=False),
    catalogs=dict(type='list', elements='dict', options=CATALOG_OPTIONS),
    hosts=dict(type='list', elements='str'),
    host_vars=dict(type='dict'),
    previous_digest=dict(type='str'),
)

# The host variables the topology reads (P(dnsops.zonesync.topology_host_vars#filter) picks them).
HOST_VARS = ('zonesync_server', 'zonesync_listen', 'zonesync_transfer_source', 'zonesync_check_key', 'ansible_host',
             'ansible_default_ipv4')


def _key_identity(key):
    """What of a key the topology reads: its name and algorithm, as it normalises them (never the secret)."""
    if not isinstance(key, dict):
        return json.dumps(key, sort_keys=True, default=str)
    name, algorithm = key.get('name'), key.get('algorithm') or 'hmac-sha256'
    rest = dict((k, v) for k, v in key.items() if k not in ('name', 'algorithm', 'secret'))
    return json.dumps([name.rstrip('.').lower() if isinstance(name, str) else name,
                       algorithm.lower() if isinstance(algorithm, str) else algorithm, rest], sort_keys=True, default=str)


def inputs_digest(args):
    """The digest of the topology's inputs (zones, keys, catalogs, hosts, host_vars): plans worked out from
    inputs with the same digest are the same."""
    # Secrets stay out: plans never contain them, and no trace of one is kept in the facts. The keys are compared
    # in the topology's own terms and order (the plans list keys sorted): the tsig role completing zonesync_keys
    # with generated secrets (which moves them to the end) does not make the plans out of date.
    keys = args['keys']
    if isinstance(keys, dict):
        keys = [dict(v, name=v.get('name', k)) if isinstance(v, dict) else k for k, v in keys.items()]
    keys = sorted(_key_identity(key) for key in keys) if isinstance(keys, list) else keys
    text = json.dumps([args['zones'], keys, args['catalogs'], args['hosts'], args['host_vars']], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()
