# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The one argument spec of the fleet description (zonesync_zones, zonesync_keys, zonesync_catalogs), used by the
topology action."""

from __future__ import annotations

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
