#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: topology
short_description: Check the fleet description once and work out what every host serves
version_added: 0.2.0
description:
  - Validates C(zonesync_zones), C(zonesync_keys) and C(zonesync_catalogs) (the one argument spec of the fleet description) and the
    topology they describe, once, on the controller, and returns the fleet plan and the plan of every host in
    O(hosts). The roles run it once per play and read their host's part of the result, instead of validating the
    whole inventory again on every host and in every role.
  - Every option defaults to the play's variables, read without templating them again when they hold no
    template (at 10,000 zones, templating C(zonesync_zones) into a task's arguments costs seconds). When the
    inputs are those of the plans already on C(localhost), nothing is checked or worked out again.
  - The plans are stored as JSON strings, which Ansible copies for free where it would walk and tag every node of
    a dictionary (seconds per megabyte); each host also gets a small summary that tasks and templates read
    directly. The collection's filters take a plan either way.
  - Runs on the controller as an action plugin; nothing is sent to the hosts. Give it C(run_once), and
    C(delegate_to) and C(delegate_facts) to put the result on C(localhost), as the roles do.
  - Fails with the same messages as the topology filters, naming the zone, the field and the fix.
author:
  - dnsops.zonesync maintainers (@dnsops)
extends_documentation_fragment:
  - dnsops.zonesync.attributes
attributes:
  check_mode:
    support: full
    details:
      - It only reads the inventory.
  diff_mode:
    support: none
options:
  zones:
    description:
      - The zones of the fleet. See the README, "Describing the fleet".
      - Default - the C(zonesync_zones) variable; the task fails when neither is given.
    type: list
    elements: dict
    suboptions:
      name:
        description: The zone name.
        type: str
        required: true
      primary:
        description: Inventory hostname of the primary (it may be hidden, that is, absent from O(zones[].ns)).
        type: str
      secondaries:
        description:
          - The secondaries, as inventory hostnames or as dictionaries with C(host), C(upstream) (the host it pulls
            from, by default the primary; a secondary of a secondary makes a second tier) and C(key).
        type: list
        elements: raw
        default: []
      key:
        description: Name of the TSIG key (from O(keys)) every transfer of the zone uses.
        type: str
      accept_keys:
        description: Keys that upstream servers accept besides O(zones[].key), during a key rotation.
        type: list
        elements: str
        default: []
      notify:
        description: Extra addresses to NOTIFY besides the secondaries.
        type: list
        elements: str
        default: []
      ns:
        description: The apex NS names. Leave the primary out to hide it.
        type: list
        elements: str
        default: []
      soa:
        description: SOA fields (mname, rname, refresh, retry, expire, minimum). The serial is managed.
        type: dict
      ttl:
        description: Default TTL of the zone's records.
        type: int
        default: 3600
      records:
        description: The records (name, type, value or list of values, ttl). Mutually exclusive with O(zones[].file).
        type: list
        elements: dict
      file:
        description: A zone file on the controller. Its serial is managed too.
        type: path
      allow_query:
        description: Addresses or CIDR networks that may query the zone, or C(any).
        type: list
        elements: str
      catalog:
        description:
          - The catalog (from O(catalogs)) this zone is a member of. Its secondaries are then the catalog's
            consumers, its key the catalog's key, and O(zones[].secondaries) must be left out.
          - Left out, a zone that lists no O(zones[].secondaries) joins the default catalog of its primary, if
            there is one. V(false) keeps it out of every catalog.
        type: raw
      catalog_label:
        description:
          - The member's unique label in the catalog (RFC 9432 4.1). By default the base32hex SHA-1 of the zone
            name, which never changes; set it only to keep the labels of a catalog produced elsewhere before.
        type: str
      dnssec_policy:
        description:
          - Sign the zone on its primary as it is loaded - BIND's C(dnssec-policy) with inline signing. The zone file
            stays unsigned; the primary serves and transfers the signed copy, under a serial of its own that grows
            at each signing.
          - V(default) is BIND's built-in policy (ECDSA P-256, signatures valid 14 days and refreshed 5 days before
            they expire); another name must be defined in the bind role's C(bind_dnssec_policies). V(insecure) unsigns
            the zone step by step.
          - BIND primaries only. The roles do not raise the file's serial to the secondaries' for a signed zone (the
            signed serial is ahead of the file's by design).
        type: str
  keys:
    description:
      - The TSIG keys. Their secrets are read to check them, and never returned.
      - Default - the C(zonesync_keys) variable, or none.
    type: list
    elements: dict
    suboptions:
      name:
        description: The key name.
        type: str
        required: true
      algorithm:
        description: The HMAC algorithm.
        type: str
        default: hmac-sha256
        choices: [hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha1]
      secret:
        description: The base64 secret.
        type: str
  catalogs:
    description:
      - The catalog zones (RFC 9432, version 2), normally C(zonesync_catalogs). The primary produces each catalog;
        its consumers learn the member zones from it, so adding a member changes the primary only.
      - Default - the C(zonesync_catalogs) variable, or none.
    type: list
    elements: dict
    suboptions:
      name:
        description: The catalog zone's name, for example C(catalog.zonesync.invalid). No zone may have it.
        type: str
        required: true
      primary:
        description: Inventory hostname of the producer (a BIND host), the primary of every member.
        type: str
        required: true
      key:
        description: The TSIG key (from O(keys)) of the catalog and of every member transfer. Required.
        type: str
        required: true
      consumers:
        description:
          - The secondaries that consume the catalog, as hostnames or dictionaries with C(host) and C(upstream)
            (a BIND consumer may feed a second tier).
        type: list
        elements: raw
        required: true
      default:
        description: Zones of O(catalogs[].primary) that name neither secondaries nor a catalog join this one.
        type: bool
        default: true
  hosts:
    description: The hosts to work out a plan for. Default - C(ansible_play_hosts_all).
    type: list
    elements: str
  host_vars:
    description:
      - Per inventory host, the variables the topology reads (C(zonesync_server), C(zonesync_listen),
        C(zonesync_transfer_source), C(zonesync_check_key), C(ansible_host), C(ansible_default_ipv4)), as
        P(dnsops.zonesync.topology_host_vars#filter) picks them. A host missing here is not in the inventory.
      - Default - those variables of every host of the inventory (C(groups['all'])).
    type: dict
  previous_digest:
    description:
      - The C(zonesync__topology_digest) fact already on localhost. When the inputs have that digest, the plans on
        localhost are current and nothing is worked out again.
      - Default - that fact, read from C(hostvars['localhost']).
    type: str
'''

EXAMPLES = r'''
- name: Check the topology once and work out every host's plan (from zonesync_zones, zonesync_keys, ...)
  dnsops.zonesync.topology:
  run_once: true
  delegate_to: localhost
  delegate_facts: true

- name: This host's summary
  ansible.builtin.debug:
    msg: "{{ hostvars['localhost'].zonesync__topology.hosts[inventory_hostname].zone_count }} zone(s)"

- name: This host's primary zones, read from its plan by a filter
  ansible.builtin.debug:
    msg: "{{ hostvars['localhost'].zonesync__topology.plans[inventory_hostname] | dnsops.zonesync.plan_zone_names('primary') }}"

- name: The same check for other zones, given explicitly
  dnsops.zonesync.topology:
    zones: "{{ my_zones }}"
    keys: "{{ my_keys }}"
    hosts: "{{ groups['dns'] }}"
    previous_digest: ""
  run_once: true
  delegate_to: localhost
  delegate_facts: true
'''

RETURN = r'''
ansible_facts:
  description: The result, as facts.
  returned: success
  type: dict
  contains:
    zonesync__topology:
      description:
        - C(plans) (host -> the JSON string of its plan, as P(dnsops.zonesync.host_plan#filter), without secrets),
          C(hosts) (host -> that plan without its C(zones), plus C(zone_count), C(primary_count), C(secondary_count),
          C(member_count), C(primary_secondary_addresses), C(primary_files), C(produced_catalogs),
          C(downstream_sources), C(upstream_sources) and C(transfer_keys)).
        - C(fleet) (the JSON string of every zone x server pair, as P(dnsops.zonesync.fleet_plan#filter)),
          C(fleet_zones), C(fleet_pairs) and C(fleet_hosts).
      type: dict
    zonesync__topology_digest:
      description: A digest of the inputs (zones, keys without their secrets, hosts, host variables).
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._topology_spec import ARGUMENT_SPEC


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg='dnsops.zonesync.topology runs on the controller as an action plugin; this module file '
                         'only documents it.')


if __name__ == '__main__':
    main()
