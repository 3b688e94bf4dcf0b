# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The bind role's zones file: its zone statements written from a host plan, and read back from the file written
before (zones removed from the inventory, zones handed to or taken back from a catalog).

A zone removed from the inventory is kept (reported, still served) unless the operator opts in to purging: the
role writes those statements again as they were. The statements are written here in Python rather than in a
Jinja loop, which took about a millisecond a line: seconds per host at 10,000 zones.
"""

from __future__ import annotations

import hashlib
import re

_START = re.compile(r'^zone\s+"([^"]+)"\s*\{\s*$')


# The longest "<view>_<catalog>_<member>" BIND puts in a member's file name as it is: a SHA-256 in hex and its NUL.
_CATZ_PLAIN_MAX = 65


def catz_member_file(catalog, member, view='_default'):
    """The name BIND 9.18 gives the file of a catalog member in the catalog's zone-directory (catz.c,
    dns_catz_generate_masterfilename): ``__catz__<view>_<catalog>_<member>.db``, or ``__catz__<sha256>.db`` of that
    text when it is longer than 65 characters or holds a backslash, slash or colon. Names without the final dot,
    as given (BIND keeps the case the catalog spells).
    """
    text = '%s_%s_%s' % (view, str(catalog).rstrip('.'), str(member).rstrip('.'))
    if len(text.encode('utf-8')) > _CATZ_PLAIN_MAX or any(c in text for c in '\\/:'):
        text = hashlib.sha256(text.encode('utf-8')).hexdigest()
    return '__catz__%s.db' % text


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


def _transfer_acl(acl):
    """allow-transfer's elements. Transfers need the peer's address AND its key: "!{ !{ addresses; }; any; };"
    rejects every other address, then "key" admits only signed requests (key names are not secret:
    CVE-2017-3142/3143). The host's own address with the read-only check key is one of them (check.yml digests
    every copy). Peers without a key: address only, listed first (after the "!{ ... }" element every other address
    is already denied)."""
    if not (acl.get('keyed_sources') or acl.get('unkeyed_sources')):
        return 'none; '
    out = ''.join('%s; ' % a for a in acl.get('unkeyed_sources') or [])
    if acl.get('keyed_sources'):
        out += '!{ !{ %s}; any; }; ' % ''.join('%s; ' % a for a in acl['keyed_sources'])
        out += ''.join('key "%s"; ' % k for k in acl.get('keys') or [])
    return out


def zone_statement(zone, primary_dir, secondary_dir, ixfr_from_differences=True):
    """One zone statement of the zones file, for a zone of a host plan."""
    lines = ['zone "%s" {' % zone['name']]
    if zone['role'] == 'primary':
        lines += ['    // primary; secondaries: %s' % (', '.join(zone.get('secondaries') or []) or 'none'),
                  '    type primary;',
                  '    file "%s/%s.zone";' % (primary_dir, zone['name']),
                  '    ixfr-from-differences %s;' % ('yes' if ixfr_from_differences else 'no'),
                  '    allow-update { none; };']
        if zone.get('dnssec_policy'):
            # Signed as it is loaded: the file stays unsigned, named serves (and transfers) the signed copy.
            lines += ['    dnssec-policy "%s";' % zone['dnssec_policy'],
                      '    inline-signing yes;']
    else:
        upstream = zone['upstream']
        lines += ['    // secondary of %s' % upstream['host'],
                  '    type secondary;',
                  '    file "%s/%s.db";' % (secondary_dir, zone['name']),
                  '    primaries { %s%s; };' % (
                      upstream['address'], ' key "%s"' % upstream['key'] if upstream.get('key') else '')]
    if zone.get('also_notify'):
        lines += ['    notify explicit;',
                  '    also-notify { %s};' % ''.join('%s; ' % a for a in zone['also_notify'])]
    else:
        lines.append('    notify no;')
    lines.append('    allow-transfer { %s};' % _transfer_acl(zone['transfer_acl']))
    if zone.get('is_catalog'):
        keys = []
        for key in [zone['key']] + list(zone['transfer_acl'].get('keys') or []):
            if key not in keys:
                keys.append(key)
        lines += ['    // The catalog lists every member zone: signed queries only.',
                  '    allow-query { %s};' % ''.join('key "%s"; ' % k for k in keys)]
    else:
        lines.append('    allow-query { %s};' % ''.join('%s; ' % a for a in zone.get('allow_query') or []))
    lines.append('};')
    return '\n'.join(lines)


def zone_statements(plan, primary_dir, secondary_dir, keep_explicit=None, ixfr_from_differences=True):
    """Every zone statement of a host plan, in plan order, each followed by a blank line.

    A catalog member is left to the catalog (named.conf's catalog-zones), unless it is in ``keep_explicit``: a
    zone being handed over keeps its statement until the catalog that lists it has reached this host.
    """
    keep = set(str(z).rstrip('.').lower() for z in keep_explicit or [])
    out = []
    for zone in plan['zones']:
        if zone.get('catalog') and zone['role'] == 'secondary' and zone['name'] not in keep:
            continue
        out.append(zone_statement(zone, primary_dir, secondary_dir, ixfr_from_differences) + '\n\n')
    return ''.join(out)


def zone_changes(previous_text, plan):
    """What the zones file written before says about this run.

    ``kept``: the statements of zones no longer planned ([{name, text}], written again unless purged).
    ``handover``: catalog members this host still configures one by one ([{name, catalog, file}]), handed to the
    catalog once it has reached this host; ``file`` is the name BIND gives the member's file in the catalog's
    zone-directory. ``taken_back``: zones taken out of a catalog that have no statement yet (names): they get the
    copy the catalog saved, found among ``taken_back_files`` ([{name, files}]: the file names it would have in each
    catalog this host consumes).
    """
    names = [z['name'] for z in plan['zones']]
    configured = set(z['name'] for z in removed_zone_statements(previous_text, []))
    secondaries = [z for z in plan['zones'] if z['role'] == 'secondary']
    taken_back = [z['name'] for z in secondaries if not z.get('catalog') and z['name'] not in configured]
    consumed = [c['name'] for c in plan.get('catalogs') or []]
    return {
        'kept': removed_zone_statements(previous_text, names),
        'handover': [{'name': z['name'], 'catalog': z['catalog'], 'file': catz_member_file(z['catalog'], z['name'])}
                     for z in secondaries if z.get('catalog') and z['name'] in configured],
        'taken_back': taken_back,
        'taken_back_files': [{'name': name, 'files': [catz_member_file(c, name) for c in consumed]}
                             for name in taken_back],
    }
