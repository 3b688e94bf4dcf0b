# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The topology action's input digest: plans are worked out again exactly when what they are made of changed."""

from __future__ import annotations

from ansible_collections.dnsops.zonesync.plugins.module_utils._topology_spec import inputs_digest as _digest

ZONES = [{'name': 'example.test', 'primary': 'p', 'secondaries': ['s'], 'key': 'k2'}]


def args(keys, zones=None, hosts=('p', 's')):
    return {'zones': ZONES if zones is None else zones, 'keys': keys, 'catalogs': [], 'hosts': list(hosts), 'host_vars': {}}


def test_keys_completed_by_the_tsig_role_leave_the_plans_current():
    inventory = [{'name': 'k2'}, {'name': 'K1.', 'algorithm': 'HMAC-SHA512', 'secret': 'c2VjcmV0'}]
    completed = [{'name': 'k1', 'algorithm': 'hmac-sha512', 'secret': 'c2VjcmV0'},
                 {'name': 'k2', 'algorithm': 'hmac-sha256', 'secret': 'Z2VuZXJhdGVk'}]
    assert _digest(args(inventory)) == _digest(args(completed))
    as_dict = {'k2': {}, 'k1': {'algorithm': 'hmac-sha512'}}
    assert _digest(args(as_dict)) == _digest(args(completed))


def test_what_the_topology_reads_of_a_key_changes_the_digest():
    base = _digest(args([{'name': 'k2', 'algorithm': 'hmac-sha256'}]))
    assert _digest(args([{'name': 'k2', 'algorithm': 'hmac-sha512'}])) != base
    assert _digest(args([{'name': 'k3', 'algorithm': 'hmac-sha256'}])) != base
    assert _digest(args([{'name': 'k2'}, {'name': 'k2'}])) != base          # a duplicate is still seen (and refused)
    assert _digest(args([{'name': 'k2', 'algorithm': 'hmac-sha256', 'typo': 1}])) != base
    assert _digest(args(['k2'])) != base
    assert _digest(args([{'name': 'k2'}], hosts=('p', 's', 't'))) != base
    assert _digest(args([{'name': 'k2'}], zones=[dict(ZONES[0], key='k3')])) != base
