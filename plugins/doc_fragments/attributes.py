# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Documentation fragments shared by the dnsops.zonesync modules.

Use them with ``extends_documentation_fragment``:

- ``dnsops.zonesync.attributes``: the descriptions of the ``check_mode`` and
  ``diff_mode`` attributes; each module then states its own ``support``.
- ``dnsops.zonesync.attributes.files``: the ``safe_file_operations``
  attribute, for modules that write files with ``atomic_move``.
- ``dnsops.zonesync.attributes.info_module``: check/diff support for modules
  that never change anything.
- ``dnsops.zonesync.attributes.tsig``: the ``tsig`` option, parsed by
  ``module_utils/_tsig.py`` (``TSIG_ARGSPEC`` and ``load_tsig_option``).
- ``dnsops.zonesync.attributes.as_json``: the ``as_json`` option of the modules
  that return one entry per zone (each documents its ``zones_json``).
"""

from __future__ import annotations


class ModuleDocFragment(object):

    # Standard documentation fragment
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
'''

    # Should be used together with the standard fragment
    FILES = r'''
options: {}
attributes:
  safe_file_operations:
    description: Uses Ansible's strict file operation functions to ensure proper permissions and avoid data corruption.
'''

    # Should be used together with the standard fragment
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
'''

    # The tsig option, as parsed by module_utils/_tsig.py (TSIG_ARGSPEC, load_tsig_option)
    TSIG = r'''
options:
  tsig:
    description:
      - The TSIG key (RFC 8945) that signs the DNS messages.
      - Give O(tsig.name) and O(tsig.secret) (and optionally O(tsig.algorithm)), or O(tsig.file).
      - Without this option, messages are not signed.
    type: dict
    suboptions:
      name:
        description:
          - The key name, a DNS name such as V(transfer-key) or V(ns1-ns2.example.com).
          - It is compared case-insensitively and with or without a trailing dot.
          - With O(tsig.file), selects one key of a file that holds several.
        type: str
      algorithm:
        description:
          - The HMAC algorithm of the key.
          - V(hmac-sha256) (the default), V(hmac-sha224), V(hmac-sha384) and V(hmac-sha512) are accepted;
            V(hmac-sha1) is accepted with a warning.
          - V(hmac-md5) is refused, as RFC 8945 section 6 requires.
          - Ignored with O(tsig.file), which names the algorithm of each key.
        type: str
        default: hmac-sha256
      secret:
        description:
          - The shared secret, base64-encoded, at least 16 bytes once decoded.
          - A secret shorter than the algorithm's output (32 bytes for V(hmac-sha256)) is used with a warning.
          - Never logged or returned.
        type: str
      file:
        description:
          - A key file on the managed node, read instead of O(tsig.name)/O(tsig.secret).
          - Either a BIND key file (one or more C(key "name" { algorithm ...; secret "..."; };) clauses, as written
            by C(tsig-keygen) or by M(dnsops.zonesync.tsig_key)), or a JSON key file written by
            M(dnsops.zonesync.tsig_key) with O(dnsops.zonesync.tsig_key#module:format=json).
          - When the file holds more than one key, set O(tsig.name) to choose one.
        type: path
'''

    # The as_json option of the modules that return one entry per zone (zone_content, server_state, soa_serial)
    AS_JSON = r'''
options:
  as_json:
    description:
      - Return the per-zone entries as one JSON string, RV(zones_json), instead of the list RV(zones). Ansible
        handles one string in a registered variable far faster than thousands of dictionaries; the collection's
        fleet filters read either. For fleets of thousands of zones.
    type: bool
    default: false
'''
