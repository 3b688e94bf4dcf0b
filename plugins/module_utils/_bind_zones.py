# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The zone statements of a zones file the bind role wrote before, for the zones that are no longer planned.

A zone removed from the inventory is kept (reported, still served) unless the operator opts in to purging: the
role writes those statements again as they were.
"""

from __future__ import annotations

import re

_START = re.compile(r'^zone\s+"([^"]+)"\s*\{\s*$')


def removed_zone_statements(text, planned):
    """[{name, text}] for each ``zone "name" { ... };`` statement of ``text`` whose zone is not in ``planned``.

    Only statements that start a line and end with a line ``};`` are found: the shape the role's template writes.
    """
    planned = set(str(name).rstrip('.').lower() for name in planned or [])
    out = []
    lines = (text or '').splitlines()
    index = 0
    while index < len(lines):
        match = _START.match(lines[index])
        if not match:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != '};':
            end += 1
        if end >= len(lines):
            break
        name = match.group(1).rstrip('.').lower()
        if name not in planned:
            out.append({'name': name, 'text': '\n'.join(lines[index:end + 1])})
        index = end + 1
    return out
