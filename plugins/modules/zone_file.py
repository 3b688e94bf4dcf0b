#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: zone_file
short_description: Write a primary zone file whose SOA serial follows its content
version_added: 0.1.0
description:
  - Writes the zone file of a primary server from structured records or from the text of a zone file.
  - The desired content is compared with the file on disk, ignoring the SOA serial. When they are equal, nothing is
    written and the serial stays as it is, so a second run reports no change.
  - When the content differs, the serial is bumped to today's C(YYYYMMDD00) (UTC, on the managed node) or, when
    that is not newer under RFC 1982, to the current serial plus one. It never goes backwards, and it keeps counting
    after the 99th change of a day (V(2024061599) is followed by V(2024061600)).
  - The new file is checked with O(validate) (for example C(named-checkzone)) before it replaces the old one, and is
    moved in atomically. A file that fails validation is never put in place.
  - The file is written in a canonical form (one record per line, names relative to the origin, sorted in DNS
    order), headed by a comment that says it is managed.
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
    details:
      - In check mode the serial that would be written is returned.
  diff_mode:
    support: full
  safe_file_operations:
    support: full
options:
  path:
    description: The zone file on the managed node. Its directory must exist.
    type: path
    required: true
  zone:
    description: The zone's origin, for example V(example.com).
    type: str
    required: true
  records:
    description:
      - The zone's records, except the SOA and the apex NS records (see O(soa) and O(ns)).
      - Mutually exclusive with O(content).
    type: list
    elements: dict
    suboptions:
      name:
        description: The owner, relative to the zone (V(www)), V(@) for the apex, or absolute with a final dot.
        type: str
        default: '@'
      type:
        description: The record type, for example V(A), V(AAAA), V(MX), V(TXT).
        type: str
        required: true
      value:
        description: The record data in zone file syntax, or a list of them for several records of one set.
        type: raw
        required: true
      ttl:
        description: The TTL of the record; O(ttl) when not set.
        type: int
  content:
    description:
      - The text of a complete zone file (with its SOA and NS records), for example from C(lookup('file', ...)).
      - Its SOA serial is used only when it is newer than the serial the module would choose.
      - Mutually exclusive with O(records).
    type: str
  soa:
    description: The SOA fields, used with O(records).
    type: dict
    suboptions:
      mname:
        description: The primary name server's name. Defaults to the first of O(ns).
        type: str
      rname:
        description: The responsible mailbox as a DNS name. Defaults to C(hostmaster.<zone>).
        type: str
      refresh:
        description: Seconds between a secondary's serial checks.
        type: int
        default: 3600
      retry:
        description: Seconds before a secondary retries a failed refresh.
        type: int
        default: 600
      expire:
        description: Seconds after which a secondary that cannot refresh stops answering.
        type: int
        default: 1209600
      minimum:
        description: The negative caching TTL.
        type: int
        default: 300
  ns:
    description: The zone's name servers (apex NS records), used with O(records). A hidden primary is simply left out.
    type: list
    elements: str
    default: []
  ttl:
    description: The default TTL, used with O(records).
    type: int
    default: 3600
  validate:
    description:
      - A command run on the new file before it replaces the old one; C(%s) stands for the file's path.
      - For example V(named-checkzone example.com %s).
    type: str
  backup:
    description: Keep a timestamped copy of the previous file when it is replaced.
    type: bool
    default: false
  min_serial:
    description:
      - The highest serial a secondary of the zone serves. When the file's serial is behind it (RFC 1982), as on a
        rebuilt or restored primary, the file is written again with a serial past it, even if the content is the
        same, so that the secondaries take it. The roles read it from the secondaries before they write.
    type: int
  bump:
    description:
      - Write the next serial even when the content is the same, for a zone that was changed without a serial
        increment, so that the secondaries take the file's content.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Zone from structured records, checked by named-checkzone
  dnsops.zonesync.zone_file:
    path: /var/lib/bind/zonesync/example.com.zone
    zone: example.com
    ns: [ns1.example.com, ns2.example.com]
    soa:
      rname: hostmaster.example.com
    records:
      - {name: www, type: A, value: 192.0.2.10, ttl: 300}
      - {name: "@", type: MX, value: "10 mail.example.com."}
    validate: named-checkzone example.com %s
    owner: root
    group: bind
    mode: "0644"
  notify: Reload example.com

- name: Zone from the operator's own file; the serial is still managed
  dnsops.zonesync.zone_file:
    path: /var/lib/bind/zonesync/example.net.zone
    zone: example.net
    content: "{{ lookup('ansible.builtin.file', 'zones/example.net.zone') }}"
    validate: named-checkzone example.net %s
'''

RETURN = r'''
serial:
  description: The serial of the file after the task (in check mode, the serial it would get).
  returned: success
  type: int
  sample: 2026112101
previous_serial:
  description: The serial of the file before the task, or null when there was no readable file.
  returned: success
  type: int
  sample: 2026112100
content_changed:
  description: Whether the zone's content (anything but the serial) differed from the file.
  returned: success
  type: bool
records:
  description: The number of records in the zone, the SOA included.
  returned: success
  type: int
  sample: 12
reason:
  description: Why the file was or was not written.
  returned: success
  type: str
  sample: content changed
backup_file:
  description: The backup copy, when O(backup=true) and the file was replaced.
  returned: changed and backup made
  type: str
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError,
    assert_requirements_present,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            zone=dict(type='str', required=True),
            records=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', default='@'),
                type=dict(type='str', required=True),
                value=dict(type='raw', required=True),
                ttl=dict(type='int'),
            )),
            content=dict(type='str'),
            soa=dict(type='dict', options=dict(
                mname=dict(type='str'),
                rname=dict(type='str'),
                refresh=dict(type='int', default=3600),
                retry=dict(type='int', default=600),
                expire=dict(type='int', default=1209600),
                minimum=dict(type='int', default=300),
            )),
            ns=dict(type='list', elements='str', default=[]),
            ttl=dict(type='int', default=3600),
            validate=dict(type='str'),
            backup=dict(type='bool', default=False),
            min_serial=dict(type='int'),
            bump=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('records', 'content')],
        required_one_of=[('records', 'content', 'ns')],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    assert_requirements_present(module, need_netaddr=False)
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _zonefile

    params = module.params
    path = params['path']
    zone = params['zone'].strip().rstrip('.').lower()
    if not zone:
        module.fail_json(msg='zone: an empty name is not a zone.')
    try:
        desired = _zonefile.desired_text(zone, content=params['content'], soa=params['soa'], ttl=params['ttl'],
                                         ns=params['ns'], records=params['records'])
        existing = None
        if os.path.isdir(path):
            raise ZonesyncError('path: %s is a directory; give the zone file itself.' % path)
        if os.path.exists(path):
            with open(path, 'rb') as handle:
                existing = handle.read().decode('utf-8', errors='replace')
        elif not os.path.isdir(os.path.dirname(path) or '.'):
            raise ZonesyncError('path: the directory %s does not exist. Create it first (the roles do).'
                                % (os.path.dirname(path) or '.'))
        if params['min_serial'] is not None and not 0 <= params['min_serial'] <= 4294967295:
            raise ZonesyncError('min_serial: %s is not a SOA serial (0 to 4294967295).' % params['min_serial'])
        plan = _zonefile.plan_zone_file(zone, desired, existing, min_serial=params['min_serial'], bump=params['bump'])
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))

    result = dict(changed=False, serial=plan['serial'], previous_serial=plan['previous_serial'],
                  content_changed=plan['changed'], records=plan['records'], reason=plan['reason'])
    if plan['changed']:
        result['changed'] = True
        if module._diff:
            result['diff'] = dict(before=existing or '', after=plan['text'], before_header=path, after_header=path)
        if not module.check_mode:
            directory = os.path.dirname(path) or '.'
            fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
            try:
                with os.fdopen(fd, 'wb') as handle:
                    handle.write(to_bytes(plan['text']))
                if params['validate']:
                    if '%s' not in params['validate']:
                        module.fail_json(msg='validate: the command must contain %%s for the file, got %r.' % params['validate'])
                    rc, out, err = module.run_command(params['validate'] % tmp)
                    if rc != 0:
                        module.fail_json(msg='The new zone file for %s failed validation, so the file in place was kept. '
                                             '%s exited with %d: %s' % (zone, params['validate'].split()[0], rc, (err + out).strip() or 'no output'),
                                         rc=rc, stdout=out, stderr=err, **result)
                if params['backup'] and existing is not None:
                    result['backup_file'] = module.backup_local(path)
                if existing is not None:
                    # Keep the old file's owner and mode unless the task says otherwise.
                    st = os.stat(path)
                    os.chmod(tmp, st.st_mode & 0o7777)
                    try:
                        os.chown(tmp, st.st_uid, st.st_gid)
                    except OSError:
                        pass
                else:
                    os.chmod(tmp, 0o644)
                module.atomic_move(tmp, path, unsafe_writes=module.params['unsafe_writes'])
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    file_args = module.load_file_common_arguments(module.params)
    if not module.check_mode or os.path.exists(path):
        try:
            result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
        except Exception as exc:  # pylint: disable=broad-except
            module.fail_json(msg='Could not set the attributes of %s: %s' % (path, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
