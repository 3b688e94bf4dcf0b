#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: tsig_key
short_description: Generate, adopt and write TSIG keys for BIND and other DNS servers
version_added: 0.1.0
description:
  - Manages one TSIG key (RFC 8945) in a key file on the managed node, in BIND's C(key) clause syntax (which
    C(named-checkconf) accepts and C(include) can load) or as JSON.
  - A key is generated once, with a random secret as long as the algorithm's output, and kept on every later run,
    so the same task can run in every play without changing the key that servers already use.
  - Key files written by C(tsig-keygen) (for example C(tsig-keygen -a hmac-sha256 transfer-key > transfer.key)) are
    read too, so keys of an existing BIND installation are adopted as they are.
  - Without O(path), the module only validates O(name), O(algorithm) and O(secret), or generates a secret in memory
    (see O(return_secret)).
  - The secret never appears in the module's output, warnings, error messages or diff, unless O(return_secret=true).
author:
  - dnsops.zonesync maintainers (@dnsops)
requirements:
  - dnspython >= 2.3.0
extends_documentation_fragment:
  - ansible.builtin.files
  - dnsops.zonesync.attributes
  - dnsops.zonesync.attributes.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows metadata only (state, format, name, algorithm, file attributes), never the secret.
  safe_file_operations:
    support: full
options:
  name:
    description:
      - The key name, a DNS name such as V(transfer-key) or V(ns1-ns2.example.com).
      - It is normalised to lower case; the trailing dot is optional. It is written and returned without the
        trailing dot, as C(tsig-keygen) writes it.
      - Required when O(state=present).
    type: str
  algorithm:
    description:
      - The HMAC algorithm.
      - V(hmac-sha256), V(hmac-sha224), V(hmac-sha384) and V(hmac-sha512) are accepted, in any case and with or
        without a trailing dot.
      - V(hmac-sha1) is accepted with a warning (RFC 8945 does not recommend it).
      - V(hmac-md5) is refused, because RFC 8945 section 6 says it MUST NOT be used.
    type: str
    default: hmac-sha256
  secret:
    description:
      - The shared secret, base64-encoded.
      - It must decode to at least 16 bytes; a secret shorter than the algorithm's output (for example 32 bytes for
        V(hmac-sha256)) is accepted with a warning.
      - When not set, an existing matching key is kept, and a new key gets a random secret from Python's
        C(secrets) module, as long as the algorithm's output.
      - When set and the file holds the same key with another secret, the file is updated to this secret
        (unless O(regenerate=fail)).
    type: str
  path:
    description:
      - The key file on the managed node.
      - It is written atomically, through a temporary file in the same directory, which must exist.
      - A symbolic link is followed and the file it points to is written.
      - When not set, nothing is written and the module only validates or generates a key.
      - Required when O(state=absent).
    type: path
  format:
    description:
      - The layout of the file.
      - V(bind) writes a C(key "name" { algorithm ...; secret "..."; };) clause, the syntax of C(tsig-keygen),
        accepted by C(named-checkconf) and C(include) in C(named.conf).
      - V(json) writes an object with the keys C(name), C(algorithm) and C(secret).
      - An existing file holding the right key in the other format is converted (the secret is kept), unless
        O(regenerate=fail).
    type: str
    choices: [bind, json]
    default: bind
  regenerate:
    description:
      - What to do when O(path) already exists and does not hold exactly the key asked for.
      - V(never) keeps a file that holds a valid key with the same O(name) and O(algorithm); it writes the file
        only to apply an explicit O(secret) that differs from the file's, or a different O(format). A file holding
        another key name, another algorithm, several keys or anything this module cannot read is never replaced;
        the module fails, says what it found and leaves the file as it is, since that key may be serving.
      - V(fail) is stricter; it creates a missing file but fails on any difference between an existing file and the
        options, including O(secret) and O(format), and so never changes an existing key file.
      - V(always) replaces the file with a key built from the options, whatever the file holds. Without O(secret),
        a new secret is generated on every run, so the task always reports a change; use it for a one-off key
        rotation, not in a task that runs every time.
    type: str
    choices: [never, fail, always]
    default: never
  state:
    description:
      - V(present) makes sure O(path) holds the key, creating it when needed.
      - V(absent) removes O(path) (a symbolic link itself, not its target); O(name), O(algorithm) and O(secret)
        are then ignored.
    type: str
    choices: [present, absent]
    default: present
  return_secret:
    description:
      - Return the key's secret in RV(secret).
      - "B(Warning:) the secret then appears in the task result; give such a task C(no_log: true), or the secret
        lands in the output at C(-v) and in any callback or log that records results."
      - When O(secret) is set, RV(secret) is not returned; the playbook already has the value, and Ansible would
        mask it anyway since it comes from a C(no_log) option.
    type: bool
    default: false
  backup:
    description:
      - Make a time-stamped copy of O(path), with its mode and owner, before replacing or removing it.
      - The copy holds the old secret; remove it when it is no longer needed.
    type: bool
    default: false
  mode:
    description:
      - The permissions of the key file, as for M(ansible.builtin.file).
      - When not set, a file the module creates gets V(0640); an existing file keeps its mode (with a warning when
        every user can read it).
notes:
  - Only one key per file is managed. A file with several keys (such as a hand-written C(named.conf) fragment)
    is never changed unless O(regenerate=always).
  - The secret is compared by value, so a file written by C(tsig-keygen), with its own spacing or an upper-case
    key name, is kept as it is when it holds the right key.
  - A new file is readable by its owner only (V(0600)) until its final mode and ownership are set.
  - To let C(named) read a key file in C(/etc/bind), set O(group=bind) and keep the default O(mode=0640).
seealso:
  - name: RFC 8945
    description: Secret Key Transaction Authentication for DNS (TSIG).
    link: https://www.rfc-editor.org/rfc/rfc8945
  - name: tsig-keygen
    description: BIND's tool that writes TSIG key files this module can adopt.
    link: https://bind9.readthedocs.io/en/v9.18.0/manpages.html#tsig-keygen-tsig-key-generation-tool
'''

EXAMPLES = r'''
- name: Create a TSIG key for zone transfers, readable by named (kept on every later run)
  dnsops.zonesync.tsig_key:
    name: transfer-key
    path: /etc/bind/transfer.key
    owner: root
    group: bind

- name: Adopt a key written earlier by tsig-keygen (nothing changes if it is valid)
  dnsops.zonesync.tsig_key:
    name: ns1-ns2.example.com
    algorithm: hmac-sha512
    path: /etc/bind/ns1-ns2.key

- name: Install a key whose secret comes from the vault
  dnsops.zonesync.tsig_key:
    name: transfer-key
    secret: "{{ vault_transfer_key_secret }}"
    path: /etc/bind/transfer.key
    group: bind

- name: Write a key as JSON for a tool that reads JSON
  dnsops.zonesync.tsig_key:
    name: monitoring
    path: /etc/zonesync/monitoring.json
    format: json
    mode: '0600'

- name: Read the key back to configure the secondaries (the secret is in the result)
  dnsops.zonesync.tsig_key:
    name: transfer-key
    path: /etc/bind/transfer.key
    return_secret: true
  register: transfer_key
  no_log: true

- name: Generate a secret in memory, without writing any file
  dnsops.zonesync.tsig_key:
    name: update-key
    algorithm: hmac-sha512
    return_secret: true
  register: update_key
  no_log: true

- name: Rotate a key (a new secret on every run; run it once)
  dnsops.zonesync.tsig_key:
    name: transfer-key
    path: /etc/bind/transfer.key
    regenerate: always
    backup: true

- name: Check that a deployed key is exactly as expected, without ever changing it
  dnsops.zonesync.tsig_key:
    name: transfer-key
    path: /etc/bind/transfer.key
    regenerate: fail

- name: Remove a retired key
  dnsops.zonesync.tsig_key:
    path: /etc/bind/old.key
    state: absent
'''

RETURN = r'''
name:
  description: The key name, normalised (lower case, without the trailing dot).
  returned: when O(state=present)
  type: str
  sample: transfer-key
algorithm:
  description: The canonical algorithm name.
  returned: when O(state=present)
  type: str
  sample: hmac-sha256
format:
  description: The format of the key file, the value of O(format).
  returned: when O(state=present)
  type: str
  sample: bind
path:
  description: The key file, as given in O(path).
  returned: when O(path) is set
  type: str
  sample: /etc/bind/transfer.key
secret:
  description:
    - The key's secret, base64-encoded.
    - In check mode, when a key would be created, this is a fresh random secret that was not stored anywhere.
  returned: when O(return_secret=true) and O(secret) is not set
  type: str
  sample: 3Cz1lq0Ymo5Bh1XhXk2w9xfyN+mv4y8Vp1Q9d2qoC9A=
backup_file:
  description: The copy of the old file made because of O(backup=true).
  returned: when O(backup=true) and a file was replaced or removed
  type: str
  sample: /etc/bind/transfer.key.2602.2024-06-15@12:00:00~
owner:
  description: The owner of the key file.
  returned: when O(path) exists after the task
  type: str
  sample: root
group:
  description: The group of the key file.
  returned: when O(path) exists after the task
  type: str
  sample: bind
uid:
  description: The owner's user ID.
  returned: when O(path) exists after the task
  type: int
  sample: 0
gid:
  description: The group's ID.
  returned: when O(path) exists after the task
  type: int
  sample: 113
mode:
  description: The permissions of the key file, in octal.
  returned: when O(path) exists after the task
  type: str
  sample: '0640'
size:
  description: The size of the key file in bytes.
  returned: when O(path) exists after the task
  type: int
  sample: 103
state:
  description: What O(path) is, as reported by Ansible for file results (V(file) for a key file).
  returned: when O(path) exists after the task
  type: str
  sample: file
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import assert_requirements_present
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import DEFAULT_ALGORITHM
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig_key_file import (
    FORMATS,
    REGENERATE,
    STATES,
    run_tsig_key,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            algorithm=dict(type='str', default=DEFAULT_ALGORITHM),
            secret=dict(type='str', no_log=True),
            path=dict(type='path'),
            format=dict(type='str', default='bind', choices=list(FORMATS)),
            regenerate=dict(type='str', default='never', choices=list(REGENERATE)),
            state=dict(type='str', default='present', choices=list(STATES)),
            return_secret=dict(type='bool', default=False, no_log=False),
            backup=dict(type='bool', default=False),
        ),
        required_if=[
            ('state', 'present', ['name']),
            ('state', 'absent', ['path']),
        ],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    assert_requirements_present(module, need_netaddr=False)
    run_tsig_key(module)


if __name__ == '__main__':
    main()
