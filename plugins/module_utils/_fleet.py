# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The fleet's state from the checks' results, and the root cause of everything that is wrong.

Pure functions over the topology's fleet plan (see _topology.fleet_plan) and
the modules' registered results, used by the convergence role and check.yml:

* soa_serial: the serial every server claims;
* zone_content run on each server against itself: the digest of what it
  really serves (and, on a primary, of its zone file);
* zone_content (or zone_transfer_check) run on each secondary against its
  upstream, from its own address with its key: whether the next transfer works;
* zone_transfer_check from the controller with expect=refused: exposure.

Every zone x server pair gets a row; every row that is wrong points at one
root cause, and a cause carries one diagnosis and one fix for all the zones and
servers it affects. A check that could not run is a cause too: the report is
green only when every check ran and nothing is wrong.
"""

from __future__ import annotations

import json
import time

from ansible_collections.dnsops.zonesync.plugins.module_utils._diagnosis import explain, fleet_cause
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import newest, serial_distance
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import DNSSEC_TYPES

# Transfer statuses that are a refusal by the upstream, each with its own cause text.
_TRANSFER_CAUSES = {
    'refused': 'refused', 'not_authoritative': 'not_authoritative_upstream', 'tsig_bad_key': 'tsig_bad_key',
    'tsig_bad_signature': 'tsig_bad_signature', 'tsig_bad_time': 'tsig_bad_time',
    'tsig_unsigned_response': 'tsig_unsigned_response', 'tcp_unreachable': 'tcp_unreachable',
    'unreachable': 'upstream_down', 'timeout': 'upstream_down', 'tsig_unknown_key': 'tsig_unknown_key',
}
# SOA statuses of a server that holds the zone and answered.
_ANSWERED = ('in_sync', 'behind', 'ahead', 'not_comparable')
_ZONES_SHOWN = 5
# Signatures that expire within this many seconds are a problem (check.yml's check_rrsig_warn_days: 3 days).
# BIND's dnssec-policy re-signs 5 days before expiry and PowerDNS keeps a week or more: a healthy signer is never
# named, and a stalled one is named days before validating resolvers fail the zone.
RRSIG_WARN = 3 * 86400


def utc_text(seconds):
    """Seconds since the epoch as '2026-12-15 00:00:00 UTC'."""
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(seconds))


def duration_text(seconds):
    """'3 d 4 h', '5 h 2 min', '40 s' for a non-negative number of seconds."""
    seconds = int(seconds)
    if seconds >= 86400:
        return '%d d %d h' % (seconds // 86400, seconds % 86400 // 3600)
    if seconds >= 3600:
        return '%d h %d min' % (seconds // 3600, seconds % 3600 // 60)
    if seconds >= 60:
        return '%d min' % (seconds // 60)
    return '%d s' % seconds


def result_zones(call):
    """The per-zone entries of a module result: ``zones``, or ``zones_json`` (the modules' as_json=true, which
    Ansible handles as one string instead of thousands of dictionaries). None when the result has neither."""
    zones = call.get('zones')
    if zones is None and isinstance(call.get('zones_json'), str):
        zones = json.loads(call['zones_json'])
    return zones


def _zone_key(name):
    return str(name).rstrip('.').lower()


def index_serials(soa_results):
    """(zone, address) -> the server entry of soa_serial's result, plus the zone's reference serial.

    A compact result (soa_serial compact=true) lists only the servers not in sync; every other address it asked
    (servers_asked) is in sync with the zone's reference serial, and is indexed so.
    """
    index = {}
    for result in soa_results or []:
        if not isinstance(result, dict):
            continue
        asked = result.get('servers_asked') if result.get('compact') else None
        for zone in result_zones(result) or []:
            key = _zone_key(zone.get('zone'))
            for address in asked or []:
                index[(key, address)] = {'address': address, 'serial': zone.get('reference_serial'),
                                         'status': 'in_sync', 'lag': 0, 'error': None,
                                         'reference_serial': zone.get('reference_serial')}
            for server in zone.get('servers') or []:
                entry = dict(server)
                entry['reference_serial'] = zone.get('reference_serial')
                index[(key, server.get('address'))] = entry
    return index


def matrix(fleet, soa_results):
    """One row per zone x server: zone, host, role, address, upstream, serial, status, lag, error."""
    index = index_serials(soa_results)
    rows = []
    for zone in fleet:
        for server in zone['servers']:
            seen = index.get((_zone_key(zone['zone']), server['address']), {})
            rows.append({
                'zone': zone['zone'], 'host': server['host'], 'role': server['role'], 'address': server['address'],
                'server': server.get('server'), 'upstream': server.get('upstream'),
                'upstream_address': server.get('upstream_address'), 'transfer_source': server.get('transfer_source'),
                'key': server.get('key'), 'check_key': server.get('check_key'), 'serial': seen.get('serial'),
                'reference_serial': seen.get('reference_serial'),
                'status': seen.get('status', 'not_checked'), 'lag': seen.get('lag'), 'error': seen.get('error'),
                'expire_remaining': seen.get('expire_remaining'), 'rtt': seen.get('rtt'),
            })
    return rows


def soa_groups(fleet):
    """The fleet plan's zones grouped by the servers that serve them (one soa_serial call per group).

    Each group: ``zones`` (names), ``servers`` (addresses, the primary first), ``reference`` (the primary's
    address), ``hosts`` (inventory names) and ``query_key`` (the key a catalog's SOA is asked with, or None).
    """
    groups = {}
    order = []
    for zone in fleet:
        key = zone['servers_key']
        if key not in groups:
            order.append(key)
            servers = zone['servers']
            groups[key] = {'zones': [], 'servers': [s['address'] for s in servers], 'reference': servers[0]['address'],
                           'hosts': [s['host'] for s in servers], 'query_key': zone.get('query_key')}
        groups[key]['zones'].append(zone['zone'])
    return [groups[key] for key in order]


def lagging(fleet, soa_results):
    """The rows that are not in sync with their primary (primaries that gave no serial included)."""
    return [row for row in matrix(fleet, soa_results) if row['status'] != 'in_sync']


def transfer_targets(fleet, soa_results, all_zones=True):
    """The transfers to try from each secondary against its upstream.

    Every zone x secondary path by default, so that a break that concerns some zones only (a per-zone ACL or key)
    is never missed. ``all_zones=False`` keeps every zone that lags plus one zone per distinct (secondary,
    upstream, key).
    """
    targets = []
    seen_pairs = set()
    for row in matrix(fleet, soa_results):
        if row['role'] != 'secondary':
            continue
        pair = (row['host'], row['upstream'], row['key'])
        if all_zones or row['status'] != 'in_sync' or pair not in seen_pairs:
            seen_pairs.add(pair)
            targets.append(row)
    return targets


def serial_floors(soa_results, skip=None):
    """zone -> the newest serial (RFC 1982) any server answered for it in soa_serial's results.

    The roles write no primary serial behind it: a rebuilt or restored primary then never serves a serial the
    secondaries ignore. ``skip``: zones left out (zones signed as they are loaded, whose served serial is ahead of
    their file's by design).
    """
    serials = {}
    for result in soa_results or []:
        # soa_serial newest_only=true: one serial per zone already.
        if isinstance(result, dict) and result.get('newest_only'):
            for zone, serial in (result.get('newest') or {}).items():
                serials.setdefault(_zone_key(zone), []).append(serial)
    for (zone, address), entry in index_serials(soa_results).items():
        if entry.get('serial') is not None and entry.get('status') in _ANSWERED:
            serials.setdefault(zone, []).append(entry['serial'])
    out = {}
    skipped = set(_zone_key(z) for z in skip or [])
    for zone, values in serials.items():
        if zone in skipped:
            continue
        best, comparable = newest(values)
        if best is not None and comparable:
            out[zone] = best
    return out


def path_groups(plan, zones=None):
    """The zones a host pulls, grouped by (upstream address, key): one zone_content call per group.

    ``plan`` is the host's plan (_topology.host_plan); ``zones``, when given, limits the groups to those zones
    (the convergence role: the zones that lag).
    """
    wanted = set(_zone_key(z) for z in zones) if zones is not None else None
    groups = {}
    for zone in plan.get('zones') or []:
        if zone['role'] != 'secondary' or (wanted is not None and _zone_key(zone['name']) not in wanted):
            continue
        upstream = zone['upstream']
        key = (upstream['address'], upstream.get('key') or '')
        group = groups.get(key)
        if group is None:
            group = groups[key] = {'upstream': upstream['host'], 'upstream_address': upstream['address'],
                                   'source': plan.get('transfer_source'), 'key': upstream.get('key'), 'zones': []}
        group['zones'].append(zone['name'])
    return [groups[k] for k in sorted(groups)]


def content_zones(plan, zone_dirs, only=None):
    """The zones of a host's plan as zone_content takes them: primaries with the zone file the server loads.

    ``only``: just these zones.
    """
    directory = (zone_dirs or {}).get(plan.get('server'))
    wanted = set(_zone_key(z) for z in only) if only is not None else None
    out = []
    for zone in plan.get('zones') or []:
        if wanted is not None and _zone_key(zone['name']) not in wanted:
            continue
        if zone['role'] == 'primary' and directory:
            out.append({'name': zone['name'], 'file': '%s/%s.zone' % (directory.rstrip('/'), zone['name'])})
        else:
            out.append(zone['name'])
    return out


def exposure_targets(fleet, all_zones=False):
    """(zone, server) pairs check.yml tries from the controller, expecting refusal: one zone per server and
    key (its ACLs are written the same way for every zone of the topology), or every pair."""
    out = []
    seen = set()
    for zone in fleet:
        for server in zone['servers']:
            key = (server['host'], zone.get('key'))
            if all_zones or key not in seen:
                seen.add(key)
                out.append(dict(server, zone=zone['zone']))
    return out


# --------------------------------------------------------------------------
# The modules' registered results, indexed
# --------------------------------------------------------------------------

def _calls(registered):
    """The single results of a registered variable: itself, or each entry of a loop's ``results``."""
    if not isinstance(registered, dict):
        return []
    if isinstance(registered.get('results'), list):
        return [r for r in registered['results'] if isinstance(r, dict)]
    return [registered]


def _failure(call):
    """Why a module call gave no usable result, or None when it did.

    A result is usable when it has what the modules return (``zones``, or a transfer ``status``). Its ``failed``
    flag says nothing here: the checks run with failed_when false, which clears it.
    """
    if call.get('unreachable'):
        return 'the host was unreachable: %s' % (call.get('msg') or 'no detail')
    if call.get('skipped'):
        return None
    if call.get('zones') is None and call.get('zones_json') is None and call.get('status') is None:
        return 'the check failed: %s' % (call.get('msg') or call.get('module_stderr') or 'it returned no result')
    return None


class _Seen(object):
    """What each host reported: its own copies (content) and its transfers from its upstream (paths)."""

    def __init__(self, content, paths, transfer_results, state=None):
        self.state_zones = {}
        self.state_keys = {}
        self.state_details = {}
        self.state_failed = {}
        self.state_invalid = {}
        self.state_storage = {}
        for host, registered in (state or {}).items():
            self._read_state(host, registered)
        self.content = {}
        self.content_hosts = set(content or {})
        self.content_failed = {}
        self.content_skipped = set()
        self.paths = {}
        self.paths_failed = {}
        for host, registered in (content or {}).items():
            self._read_content(host, registered)
        for host, registered in (paths or {}).items():
            if not registered:
                continue
            for call in _calls(registered):
                self._read_path(host, call)
        for host, call in _transfers(transfer_results):
            self._read_path(host, call)

    def _read_content(self, host, registered):
        calls = _calls(registered) if registered else []
        if not calls:
            self.content_failed[host] = 'no result from this host (it was unreachable, or the play stopped on it)'
        for call in calls:
            if call.get('skipped'):
                self.content_skipped.add(host)
                continue
            failure = _failure(call)
            if failure:
                self.content_failed[host] = failure
                continue
            for entry in result_zones(call) or []:
                self.content[(_zone_key(entry['zone']), host)] = entry

    def _read_state(self, host, registered):
        if not registered or registered.get('skipped'):
            return
        failure = _failure(registered)
        if failure:
            self.state_failed[host] = failure
            if registered.get('reason') == 'config_invalid':
                self.state_invalid[host] = (registered.get('config') or 'its configuration',
                                            registered.get('msg') or failure)
            return
        for entry in result_zones(registered) or []:
            self.state_zones[(_zone_key(entry['zone']), host)] = entry
        self.state_keys[host] = dict((k['name'], k) for k in registered.get('keys') or [])
        for problem in (registered.get('storage') or {}).get('problems') or []:
            for zone in problem.get('zones') or []:
                self.state_storage[(_zone_key(zone), host)] = problem
        for entry in registered.get('details') or []:
            self.state_details[(_zone_key(entry['zone']), host)] = entry

    def _read_path(self, host, call):
        if call.get('skipped'):
            return
        item = call.get('item') if isinstance(call.get('item'), dict) else {}
        failure = _failure(call)
        if failure:
            self.paths_failed[host] = failure
            return
        zones = result_zones(call)
        if zones is not None:
            for entry in zones:
                self.paths[(_zone_key(entry['zone']), host)] = entry
            return
        zone = item.get('zone') or item.get('name') or call.get('zone')
        if zone:
            self.paths[(_zone_key(zone), host)] = call


def _transfers(transfer_results):
    """(host, result) pairs from either a list of loop results whose item has zone and host, or a
    dictionary host -> registered loop variable (what each secondary registered for itself)."""
    if isinstance(transfer_results, dict):
        for host, registered in transfer_results.items():
            for result in (registered or {}).get('results') or []:
                if isinstance(result, dict) and isinstance(result.get('item'), dict):
                    yield host, result
        return
    for result in transfer_results or []:
        if isinstance(result, dict) and isinstance(result.get('item'), dict) and result['item'].get('host'):
            yield result['item']['host'], result


def _exposures(exposure_results):
    """Exposure results from a loop over fleet | subelements('servers'): item is [zone entry, server]."""
    for result in exposure_results or []:
        if not isinstance(result, dict):
            continue
        item = result.get('item')
        if isinstance(item, (list, tuple)) and len(item) == 2:
            zone, server = item
            yield dict(server, zone=zone.get('zone')), result
        elif isinstance(item, dict):
            yield item, result


# --------------------------------------------------------------------------
# Root causes
# --------------------------------------------------------------------------

class _Causes(object):
    """Problems grouped by root cause: each cause has one diagnosis, one fix and the rows it affects."""

    def __init__(self):
        self.causes = {}
        self.order = []

    def add(self, key, kind, row, status, context, detail=None):
        cause = self.causes.get(key)
        if cause is None:
            cause = self.causes[key] = {'id': 'C%d' % (len(self.order) + 1), 'key': key, 'kind': kind,
                                        'context': dict(context), 'affects': [], 'zones': [], 'zone_set': set()}
            self.order.append(key)
        if row['zone'] not in cause['zone_set']:
            cause['zone_set'].add(row['zone'])
            cause['zones'].append(row['zone'])
        cause['affects'].append({'zone': row['zone'], 'host': row['host']})
        if not row.get('cause'):
            # A row shows its first cause; every cause still lists all the rows it affects.
            row['cause'] = cause['id']
            row['cause_key'] = key
            row['cause_kind'] = kind
            row['problem'] = status
            if detail:
                row['detail'] = detail
        return cause

    def finish(self):
        out = []
        for key in self.order:
            cause = self.causes[key]
            zones = cause['zones']
            context = dict(cause['context'])
            context['zones_text'] = ', '.join(zones[:_ZONES_SHOWN]) + (
                ' and %d more zone(s)' % (len(zones) - _ZONES_SHOWN) if len(zones) > _ZONES_SHOWN else '')
            context['zones_json'] = ', '.join('"%s"' % z for z in zones)
            diagnosis, remediation = fleet_cause(cause['kind'], context)
            hosts = sorted(set(a['host'] for a in cause['affects']))
            out.append({'id': cause['id'], 'kind': cause['kind'], 'diagnosis': diagnosis, 'remediation': remediation,
                        'zones': len(zones), 'servers': hosts, 'affects': cause['affects']})
        return out


def _by_zone(rows):
    zones = {}
    for row in rows:
        zones.setdefault(row['zone'], []).append(row)
    return zones


def _tiers(zone_rows):
    """The zone's rows, each upstream before the servers that pull from it."""
    done = []
    placed = set()
    pending = list(zone_rows)
    while pending:
        progress = False
        for row in list(pending):
            if row['role'] == 'primary' or row['upstream'] in placed:
                done.append(row)
                placed.add(row['host'])
                pending.remove(row)
                progress = True
        if not progress:  # an upstream outside the zone: keep the rest in their order
            done.extend(pending)
            break
    return done


def _content_of(seen, row, expect_content):
    """(state, entry): state is 'read', 'failed', 'unverified' or None (content not part of this check)."""
    if not expect_content or row['host'] not in seen.content_hosts:
        return None, None
    entry = seen.content.get((_zone_key(row['zone']), row['host']))
    if entry is not None:
        return ('read' if entry.get('status') == 'ok' else 'unreadable'), entry
    if row['host'] in seen.content_failed:
        return 'failed', {'detail': seen.content_failed[row['host']]}
    if row['host'] in seen.content_skipped:
        return 'unverified', {'detail': 'no read-only check key is installed on %s' % row['host']}
    return 'failed', {'detail': 'no content result for this zone from %s' % row['host']}


def _analyse_primary(causes, row, seen, expect_content):
    """The primary's own problems; returns its content entry when its served copy was read."""
    ctx = {'host': row['host'], 'address': row['address'], 'server': row['server'], 'serial': row['serial'],
           'status': row['status'], 'detail': row.get('error'), 'check_key': row.get('check_key')}
    if row['status'] == 'not_checked':
        ctx['detail'] = 'the SOA check gave no result for %s on %s' % (row['zone'], row['host'])
        causes.add(('check_failed', 'controller'), 'check_failed', row, 'check_failed',
                   dict(ctx, host='the controller'), ctx['detail'])
        return None
    if row['status'] not in _ANSWERED:
        kind = 'primary_unanswered'
        causes.add(('primary_unanswered', row['host'], row['status']), kind, row, row['status'], ctx, row.get('error'))
        return None
    _drift(causes, row, seen, None)
    state, entry = _content_of(seen, row, expect_content)
    if state == 'read':
        row['content'] = 'read'
        file = entry.get('file') or {}
        if file.get('status') and file['status'] != 'ok':
            ctx.update(path=file.get('path'), detail=file.get('detail'), serial=entry.get('serial'))
            causes.add(('zone_file_not_loaded', row['host']), 'zone_file_not_loaded', row, 'zone_file_not_loaded',
                       ctx, file.get('detail'))
        elif file.get('digest') and _file_differs(file, entry):
            ctx.update(path=file.get('path'), file_serial=file.get('serial'), serial=entry.get('serial'))
            causes.add(('primary_not_serving_file', row['host']), 'primary_not_serving_file', row,
                       'primary_not_serving_file', ctx,
                       'serves serial %s, its file holds serial %s with other records'
                       % (entry.get('serial'), file.get('serial')))
        return entry
    if state is not None:
        _content_problem(causes, row, state, entry, ctx)
    return None


def _file_differs(file, entry):
    """Whether a primary serves other records than its zone file. A zone signed as it is loaded (BIND's
    dnssec-policy with inline signing) serves the file's records plus its signatures, under a serial of its own:
    it is compared without either."""
    if entry.get('signed') and not file.get('signed') and file.get('data_digest') and entry.get('data_digest'):
        return file['data_digest'] != entry['data_digest']
    return file['digest'] != entry.get('digest')


def _time_left(cause, row):
    """Note on a lost primary's cause how long ``row``'s server keeps answering without it (the least over the
    zones it serves), from its EDNS EXPIRE answer (RFC 7314)."""
    context = cause['context']
    left = context.setdefault('left_by_host', {})
    remaining = row.get('expire_remaining')
    have = left.get(row['host'], 'unknown')
    if remaining is not None and (have == 'unknown' or remaining < have):
        left[row['host']] = remaining
    else:
        left.setdefault(row['host'], have)
    parts = []
    for host in sorted(left):
        value = left[host]
        parts.append('%s %s' % (host, duration_text(value) if value != 'unknown'
                                else 'unknown (it does not report EDNS EXPIRE; SOA expire counts from its last refresh)'))
    context['expire_text'] = '; '.join(parts)


def _content_problem(causes, row, state, entry, ctx):
    row['content'] = state
    ctx = dict(ctx, detail=entry.get('detail'))
    if state == 'failed':
        causes.add(('check_failed', row['host']), 'check_failed', row, 'check_failed', ctx, entry.get('detail'))
    elif state == 'unreadable':
        ctx['detail'] = '%s: %s' % (entry.get('status'), entry.get('detail'))
        causes.add(('content_unverified', row['host'], entry.get('status')), 'content_unverified', row,
                   'content_unverified', ctx, ctx['detail'])
    else:
        causes.add(('content_unverified', row['host'], 'no_key'), 'content_unverified', row, 'content_unverified',
                   ctx, entry.get('detail'))


def _analyse_secondary(causes, row, rows_by_host, seen, primary_row, primary_entry, expect_content, entries):
    ctx = {'host': row['host'], 'address': row['address'], 'server': row['server'], 'upstream': row['upstream'],
           'upstream_address': row['upstream_address'], 'source': row['transfer_source'], 'key': row['key'],
           'serial': row['serial'], 'status': row['status'], 'detail': row.get('error'),
           'check_key': row.get('check_key')}
    upstream_row = rows_by_host.get(row['upstream'])
    ctx['upstream_server'] = upstream_row['server'] if upstream_row else None
    path = seen.paths.get((_zone_key(row['zone']), row['host']))
    if row['status'] == 'not_checked':
        detail = 'the SOA check gave no result for %s on %s' % (row['zone'], row['host'])
        causes.add(('check_failed', 'controller'), 'check_failed', row, 'check_failed',
                   {'host': 'the controller', 'detail': detail}, detail)
        return
    if primary_row.get('cause_kind') == 'primary_unanswered':
        # Nothing to compare with: the primary's own cause says it all; a secondary that still answers is fine, for
        # as long as its copy has left before it expires.
        if row['status'] not in _ANSWERED:
            causes.add(('primary_unanswered', primary_row['host'], primary_row['status']), 'primary_unanswered', row,
                       row['status'], {})
        else:
            _time_left(causes.causes[primary_row['cause_key']], row)
        return
    if _drift(causes, row, seen, upstream_row) and row['status'] != 'in_sync':
        return
    if row['status'] == 'ahead':
        pctx = {'host': primary_row['host'], 'serial': primary_row['serial'], 'ahead': row['host'],
                'ahead_serial': row['serial'], 'next_serial': (row['serial'] + 1) % 4294967296}
        cause = causes.add(('primary_serial_backwards', primary_row['host']), 'primary_serial_backwards', row,
                           'primary_serial_backwards', pctx,
                           'holds serial %s, the primary serves the older %s' % (row['serial'], primary_row['serial']))
        _merge_ahead(cause, row)
        return
    if row['status'] not in _ANSWERED:
        kind = {'servfail': 'copy_unusable', 'not_authoritative': 'not_serving'}.get(row['status'], 'server_unanswered')
        causes.add((kind, row['host'], row['status']), kind, row, row['status'], ctx, row.get('error'))
        return
    if row['status'] == 'behind' or row['status'] == 'not_comparable':
        if upstream_row is not None and upstream_row['role'] == 'secondary' and upstream_row.get('cause') \
                and upstream_row['status'] != 'in_sync':
            # Its upstream lags: the upstream's cause is this row's cause too.
            cause = causes.causes[upstream_row['cause_key']]
            causes.add(cause['key'], cause['kind'], row, row['status'], {},
                       'its upstream %s lags too' % row['upstream'])
            return
        _path_cause(causes, row, path, ctx, True, seen)
        return
    # In sync by serial: the next transfer must work, and the records must be the primary's.
    if path is not None and path.get('status') not in (None, 'ok'):
        _path_cause(causes, row, path, ctx, False, seen)
    elif row['host'] in seen.paths_failed:
        ctx['detail'] = seen.paths_failed[row['host']]
        causes.add(('check_failed', row['host']), 'check_failed', row, 'check_failed', ctx, ctx['detail'])
    state, entry = _content_of(seen, row, expect_content)
    if state is None:
        return
    if state != 'read':
        if not row.get('cause'):
            _content_problem(causes, row, state, entry, ctx)
        return
    row['content'] = 'read'
    entries[row['host']] = entry
    if primary_entry is None:
        return
    if entry.get('digest') == primary_entry.get('digest'):
        row['content'] = 'match'
        return
    row['content'] = 'differs'
    dist = serial_distance(primary_entry.get('serial'), entry.get('serial')) \
        if primary_entry.get('serial') is not None and entry.get('serial') is not None else None
    if dist:
        # The serial moved between the SOA check and the transfer: it lags after all.
        row['status'] = 'behind' if dist > 0 else 'ahead'
        row['serial'] = entry.get('serial')
        row['lag'] = dist
        _path_cause(causes, row, path, ctx, True, seen)
        return
    if entry.get('data_digest') and entry['data_digest'] == primary_entry.get('data_digest'):
        # The same records and serial, other signatures: the zone was signed again without a new serial, and the
        # secondaries, which compare serials only, kept the signatures they had (they expire there first).
        pctx = {'host': primary_row['host'], 'serial': entry.get('serial')}
        cause = causes.add(('signatures_differ', primary_row['host']), 'signatures_differ', row,
                           'signatures_differ', pctx,
                           'same serial %s and records as the primary, other signatures: %s'
                           % (entry.get('serial'), _signature_compare(entry, primary_entry)))
        others = cause['context'].setdefault('others_list', [])
        if row['host'] not in others:
            others.append(row['host'])
        cause['context']['others'] = ', '.join(others)
        return
    upstream_entry = entries.get(row['upstream'])
    if row['upstream'] != primary_row['host'] and upstream_entry is not None \
            and upstream_entry.get('digest') != entry.get('digest'):
        ctx['serial'] = entry.get('serial')
        causes.add(('copy_differs', row['host'], row['upstream']), 'copy_differs', row, 'copy_differs', ctx,
                   'same serial %s as %s, other records' % (entry.get('serial'), row['upstream']))
        return
    pctx = {'host': primary_row['host'], 'serial': entry.get('serial')}
    cause = causes.add(('serial_not_incremented', primary_row['host']), 'serial_not_incremented', row,
                       'serial_not_incremented', pctx,
                       'same serial %s as the primary, other records (%s records here, %s on the primary)'
                       % (entry.get('serial'), entry.get('records'), primary_entry.get('records')))
    others = cause['context'].setdefault('others_list', [])
    if row['host'] not in others:
        others.append(row['host'])
    cause['context']['others'] = ', '.join(others)


def _storage(causes, rows, seen):
    """A secondary that cannot write its copy serves from memory only: named for every zone it affects, next to
    any other cause. A missing file alone counts only for a copy in sync (a lagging one may never have arrived)."""
    for row in rows:
        if row['role'] != 'secondary':
            continue
        problem = seen.state_storage.get((_zone_key(row['zone']), row['host']))
        if problem is None:
            continue
        if problem['problem'] == 'file_missing' and row['status'] != 'in_sync':
            continue
        entry = seen.state_zones.get((_zone_key(row['zone']), row['host'])) or {}
        ctx = {'host': row['host'], 'address': row['address'], 'server': row['server'],
               'directory': problem.get('directory'), 'detail': problem.get('detail'),
               'log': (problem.get('log') or ['nothing about it in its recent journal'])[-1]}
        causes.add(('cannot_write_copy', row['host'], problem.get('directory'), problem['problem']),
                   'cannot_write_copy' if problem['problem'] != 'file_missing' else 'copy_not_saved', row,
                   'cannot_write_copy', ctx, entry.get('storage_detail') or problem.get('detail'))


def _signature_compare(entry, primary_entry):
    def first(e):
        if not e.get('rrsig_expires'):
            return 'none'
        return '%s (%s)' % (utc_text(e['rrsig_expires']), e.get('rrsig_first'))
    return 'its earliest signature expires %s, the primary\'s %s' % (first(entry), first(primary_entry))


def _signatures(causes, rows, seen, now, warn):
    """Each server's earliest RRSIG expiration on its row, signatures expiring within ``warn`` seconds as a cause
    (on any server: the earliest counts, never the latest), and per signed zone the fleet's earliest."""
    earliest = {}
    for zone, zone_rows in _by_zone(rows).items():
        primary_entry = None
        for row in zone_rows:
            entry = seen.content.get((_zone_key(zone), row['host']))
            if not entry or entry.get('status') != 'ok' or not entry.get('signed') or not entry.get('rrsig_expires'):
                continue
            if row['role'] == 'primary':
                primary_entry = entry
            expires = entry['rrsig_expires']
            row['rrsig_expires'] = expires
            row['rrsig_first'] = entry.get('rrsig_first')
            best = earliest.get(zone)
            if best is None or expires < best['expires']:
                earliest[zone] = {'expires': expires, 'expires_text': utc_text(expires), 'host': row['host'],
                                  'rrset': entry.get('rrsig_first')}
        for row in zone_rows:
            expires = row.get('rrsig_expires')
            if expires is None or expires - now >= warn:
                continue
            entry = seen.content.get((_zone_key(zone), row['host']))
            kind = 'signatures_expired' if expires <= now else 'signatures_expiring'
            # A copy equal to the primary's: its signer stalled. Any other: this server's copy is old.
            own = row['role'] != 'primary' and not (primary_entry is not None
                                                    and entry.get('digest') == primary_entry.get('digest'))
            origin = row['host'] if own else next((r['host'] for r in zone_rows if r['role'] == 'primary'), row['host'])
            ctx = {'host': origin, 'address': row['address'] if own else None, 'server': row['server'],
                   'expires': utc_text(expires), 'rrset': entry.get('rrsig_first'), 'copy': 'own' if own else 'signer',
                   'remaining': duration_text(abs(expires - now))}
            detail = ('its earliest signature (%s) %s %s (%s %s)'
                      % (entry.get('rrsig_first'), 'expired' if expires <= now else 'expires', utc_text(expires),
                         duration_text(abs(expires - now)), 'ago' if expires <= now else 'from now'))
            causes.add((kind, origin, 'own' if own else 'signer'), kind + ('_copy' if own else ''), row, kind, ctx,
                       detail)
    return earliest


def _key_drift(seen, host, key):
    """What is wrong with ``key`` on ``host`` according to its own state, or None."""
    have = seen.state_keys.get(host, {}).get(key) if key else None
    if have is None:
        return None
    if not have.get('present'):
        return 'does not have the key %s' % key
    if have.get('algorithm_matches') is False:
        return 'has the key %s with algorithm %s, not the inventory\'s' % (key, have.get('algorithm'))
    if have.get('secret_matches') is False:
        return 'has another secret for the key %s than the inventory' % key
    return None


def _zone_drift(seen, row):
    """How ``row``'s server is configured otherwise than the inventory says, for that zone, or None."""
    entry = seen.state_zones.get((_zone_key(row['zone']), row['host']))
    if entry is None:
        return None
    if not entry.get('configured'):
        if entry.get('catalog') and not entry.get('catalog_consumed'):
            return 'does not consume the catalog %s, which lists %s' % (entry['catalog'], row['zone'])
        if entry.get('catalog'):
            return ('consumes the catalog %s but has not created its member %s: it has not transferred the catalog\'s '
                    'current version' % (entry['catalog'], row['zone']))
        return 'does not have the zone %s in its configuration' % row['zone']
    if entry.get('type') != row['role']:
        return 'serves %s as %s, the inventory says %s' % (row['zone'], entry.get('type'), row['role'])
    if row['role'] != 'secondary':
        return None
    primaries = entry.get('primaries') or []
    if primaries != [row['upstream_address']]:
        return 'pulls %s from %s, the inventory says from %s (%s)' % (
            row['zone'], ', '.join(primaries) or 'nowhere', row['upstream'], row['upstream_address'])
    if (entry.get('key') or None) != (row['key'] or None):
        return 'signs its transfers of %s with %s, the inventory says %s' % (
            row['zone'], entry.get('key') or 'no key', row['key'] or 'no key')
    return _key_drift(seen, row['host'], row['key'])


def _add_drift(causes, row, host, text):
    cause = causes.add(('config_drift', host), 'config_drift', row, 'config_drift', {'host': host},
                       '%s %s' % (host, text))
    drifts = cause['context'].setdefault('drift_list', [])
    if text not in drifts:
        drifts.append(text)
    cause['context']['drift_text'] = '; '.join(drifts[:_ZONES_SHOWN]) + (
        '; and %d more' % (len(drifts) - _ZONES_SHOWN) if len(drifts) > _ZONES_SHOWN else '')


def _acl_drift(causes, rows, seen):
    """Zones whose transfer ACL on a server differs from the other zones the inventory gives the same peers and key.

    The roles write one ACL per set of peers and key, so the exposure check tries one zone of each; an ACL changed
    by hand on one zone would never be tried. Each server says which ACL each zone has (server_state's
    transfer_acl, a short name of its elements): within a group, the zones that do not share the group's most
    common ACL are named."""
    groups = {}
    for zone, zone_rows in _by_zone(rows).items():
        for row in zone_rows:
            entry = seen.state_zones.get((_zone_key(zone), row['host']))
            if not entry or not entry.get('transfer_acl'):
                continue
            peers = tuple(sorted((r['transfer_source'] or r['address'] or '', r['key'] or '')
                                 for r in zone_rows if r['upstream'] == row['host']))
            zone_key = next((r['key'] for r in zone_rows if r['key']), None)
            groups.setdefault((row['host'], zone_key, peers), []).append((row, entry['transfer_acl']))
    for (host, dummy_key, dummy_peers), members in sorted(groups.items(), key=lambda item: item[0][0]):
        if len(members) < 2:
            continue
        counts = {}
        for dummy_row, acl in members:
            counts[acl] = counts.get(acl, 0) + 1
        usual = max(sorted(counts), key=lambda acl: counts[acl])
        like = next(row['zone'] for row, acl in members if acl == usual)
        for row, acl in members:
            if acl != usual:
                _add_drift(causes, row, host, 'allows transfers of %s otherwise than of %s, which has the same peers and '
                                              'key in the inventory (its allow-transfer was changed by hand)'
                           % (row['zone'], like))


def _drift(causes, row, seen, upstream_row):
    """Name the server whose real configuration differs from the inventory (this one or its upstream)."""
    found = []
    mine = _zone_drift(seen, row)
    if mine:
        found.append((row['host'], mine))
    if row['role'] == 'secondary' and upstream_row is not None and row['key']:
        theirs = _key_drift(seen, upstream_row['host'], row['key'])
        if theirs:
            found.append((upstream_row['host'], theirs))
    for host, text in found:
        _add_drift(causes, row, host, text)
    if row['host'] in seen.state_invalid:
        config, message = seen.state_invalid[row['host']]
        causes.add(('config_invalid', row['host']), 'config_invalid', row, 'config_invalid',
                   {'host': row['host'], 'config': config, 'detail': message}, message)
    elif row['host'] in seen.state_failed:
        causes.add(('check_failed', row['host']), 'check_failed', row, 'check_failed',
                   {'host': row['host'], 'detail': seen.state_failed[row['host']]}, seen.state_failed[row['host']])
    return bool(found)


def _log_detail(seen, row):
    """What the server's own journal says about a lagging zone, for the row's detail."""
    details = seen.state_details.get((_zone_key(row['zone']), row['host']))
    if not details:
        return None, None
    parts = []
    if details.get('backoff_until'):
        parts.append('%s backs off this zone until %s' % (row['host'], details['backoff_until']))
    status = details.get('status') or {}
    if status.get('next_refresh'):
        parts.append('next refresh %s' % status['next_refresh'])
    if details.get('tsig_error'):
        parts.append('its log: %s' % details['tsig_error'])
    elif details.get('last'):
        parts.append('its log: %s' % details['last'])
    return '; '.join(parts) or None, details.get('tsig_error')


def _merge_ahead(cause, row):
    ahead = cause['context'].setdefault('ahead_list', [])
    if row['host'] not in ahead:
        ahead.append(row['host'])
    cause['context']['ahead'] = ', '.join(ahead)
    best = cause['context'].get('max_serial')
    if best is None or (serial_distance(best, row['serial']) or 0) < 0:
        cause['context'].update(max_serial=row['serial'], ahead_serial=row['serial'],
                                next_serial=(row['serial'] + 1) % 4294967296)


def _path_cause(causes, row, path, ctx, lagging, seen):
    status = row['status'] if lagging else 'transfer_failing'
    if path is None:
        if lagging:
            ctx['detail'] = 'no transfer was tried from %s for this zone' % row['host']
            causes.add(('lagging_unchecked', row['host'], row['upstream']), 'lagging_unchecked', row, status, ctx,
                       ctx['detail'])
        return
    result = path.get('status')
    ctx = dict(ctx, detail=path.get('detail') or path.get('diagnosis'), skew=path.get('skew'), status=result)
    if result == 'ok':
        if lagging:
            log, tsig_line = _log_detail(seen, row) if seen is not None else (None, None)
            if tsig_line:
                ctx['log_line'] = tsig_line
                causes.add(('server_log_tsig', row['host'], row['upstream']), 'server_log_tsig', row, status, ctx,
                           log)
                return
            causes.add(('not_refreshed', row['host'], row['upstream']), 'not_refreshed', row, status, ctx,
                       'the transfer from %s works; %s has not refreshed%s' % (
                           row['upstream'], row['host'], ('; ' + log) if log else ''))
        return
    kind = _TRANSFER_CAUSES.get(result, 'transfer_broken')
    cause = causes.add((kind, row['host'], row['upstream'], row['key'], result), kind, row, status, ctx,
                       '%s from %s: %s' % (result, row['upstream'], ctx['detail']))
    row['transfer_status'] = result
    remediation = path.get('remediation')
    if not remediation:
        remediation = explain(result, {'zone': row['zone'], 'server': row['upstream_address'],
                                       'source': row['transfer_source'], 'key': row['key'],
                                       'skew': path.get('skew'), 'detail': path.get('detail')})['remediation']
    row['server_fix'] = remediation.get(ctx.get('upstream_server') or 'bind') if isinstance(remediation, dict) \
        else remediation
    return cause


def report(fleet, soa_results, transfer_results=None, exposure_results=None, generated_at=None, content=None,
           paths=None, state=None, rrsig_warn=RRSIG_WARN, now=None):
    """The whole check as one dictionary (the JSON report).

    ``rrsig_warn``: signatures that expire within this many seconds of ``now`` (default: this moment) are a problem.

    ``content``: host -> what zone_content registered on that host against itself (None: content is not part
    of this check). ``paths``: host -> what zone_content registered on that host against its upstreams (one
    call or a loop). ``state``: host -> what server_state registered on that host (None: the servers'
    configuration is not part of this check). ``transfer_results``: zone_transfer_check results of transfers
    from secondaries (a list of loop results whose item has zone and host, or host -> registered loop variable).
    """
    expect_content = content is not None
    seen = _Seen(content, paths, transfer_results, state)
    rows = matrix(fleet, soa_results)
    causes = _Causes()
    for zone, zone_rows in _by_zone(rows).items():
        rows_by_host = dict((r['host'], r) for r in zone_rows)
        ordered = _tiers(zone_rows)
        primary_row = ordered[0]
        primary_entry = _analyse_primary(causes, primary_row, seen, expect_content)
        entries = {primary_row['host']: primary_entry} if primary_entry else {}
        for row in ordered[1:]:
            _analyse_secondary(causes, row, rows_by_host, seen, primary_row, primary_entry, expect_content, entries)
    _storage(causes, rows, seen)
    _acl_drift(causes, rows, seen)
    signed = _signatures(causes, rows, seen, time.time() if now is None else now, rrsig_warn)
    # A secondary whose own check could not run: named once per host.
    for host, detail in sorted(seen.paths_failed.items()):
        for row in rows:
            if row['host'] == host and row['role'] == 'secondary' and not row.get('cause'):
                causes.add(('check_failed', host), 'check_failed', row, 'check_failed',
                           {'host': host, 'detail': detail}, detail)
    index = dict(((r['zone'], r['host']), r) for r in rows)
    for item, result in _exposures(exposure_results):
        if result.get('status') == 'open_transfer':
            row = index.get((item.get('zone'), item.get('host')))
            if row is None:
                continue
            causes.add(('open_transfer', row['host']), 'open_transfer', row, 'open_transfer',
                       {'host': row['host'], 'address': row['address']}, result.get('diagnosis'))
        elif _failure(result):
            row = index.get((item.get('zone'), item.get('host')))
            if row is not None and not row.get('cause'):
                causes.add(('check_failed', 'controller'), 'check_failed', row, 'check_failed',
                           {'host': 'the controller', 'detail': _failure(result)}, _failure(result))
    # What the lagging servers' own journals say (a PowerDNS back-off and until when), whatever the cause.
    for row in rows:
        if row.get('cause') and row['status'] in ('behind', 'not_comparable'):
            log, dummy = _log_detail(seen, row)
            if log and log not in (row.get('detail') or ''):
                row['detail'] = '%s; %s' % (row['detail'], log) if row.get('detail') else log
    found = causes.finish()
    by_id = dict((c['id'], c) for c in found)
    problems = []
    for row in rows:
        if row.get('cause'):
            cause = by_id[row['cause']]
            problems.append({'zone': row['zone'], 'host': row['host'], 'role': row['role'], 'address': row['address'],
                             'upstream': row['upstream'], 'serial': row['serial'],
                             'reference_serial': row['reference_serial'], 'status': row['problem'],
                             'cause': row['cause'], 'detail': row.get('detail'),
                             'transfer_status': row.get('transfer_status'), 'server_fix': row.get('server_fix'),
                             'diagnosis': cause['diagnosis'], 'remediation': cause['remediation']})
    zones = sorted(set(r['zone'] for r in rows))
    bad_zones = set(p['zone'] for p in problems)
    return {
        'derived_by': 'dnsops.zonesync.fleet_report',
        'generated_at': generated_at,
        'summary': {'zones': len(zones), 'servers': len(set(r['host'] for r in rows)), 'pairs': len(rows),
                    'in_sync': sum(1 for r in rows if r['status'] == 'in_sync' and not r.get('cause')),
                    'content_proven': sum(1 for r in rows if r.get('content') in ('match', 'read') and not r.get('cause')),
                    'zones_converged': len([z for z in zones if z not in bad_zones]),
                    'problems': len(problems), 'causes': len(found),
                    'content_checked': expect_content,
                    'signed_zones': len(signed),
                    'rrsig_earliest': min(signed.values(), key=lambda e: e['expires']) if signed else None},
        'signatures': signed,
        'rows': rows,
        'problems': problems,
        'causes': found,
    }


# --------------------------------------------------------------------------
# Listing the records that differ, for the zones whose digests differ
# --------------------------------------------------------------------------

# Causes whose records are worth listing.
_LISTED = ('serial_not_incremented', 'copy_differs', 'primary_not_serving_file', 'signatures_differ')


def _reference(report, kind, zone, host):
    """(host, use the file) whose records the copy of ``zone`` on ``host`` is compared with, for a cause ``kind``."""
    if kind == 'primary_not_serving_file':
        return host, True
    for row in report['rows']:
        if row['zone'] != zone:
            continue
        if kind == 'copy_differs' and row['host'] == host:
            return row['upstream'], False
        if kind in ('serial_not_incremented', 'signatures_differ') and row['role'] == 'primary':
            return row['host'], False
    return None, False


def _listed(report, max_zones):
    """(cause, affected entry, reference host, use the file) for the copies whose records are worth listing."""
    for cause in report.get('causes') or []:
        if cause['kind'] not in _LISTED:
            continue
        zones = set()
        for affected in cause['affects']:
            if affected['zone'] not in zones and len(zones) >= max_zones:
                continue
            zones.add(affected['zone'])
            reference, use_file = _reference(report, cause['kind'], affected['zone'], affected['host'])
            if reference:
                yield cause, affected, reference, use_file


def records_to_list(report, max_zones=20):
    """host -> zones whose records that host must return (collect) to list the differences; at most
    ``max_zones`` zones per cause."""
    wanted = {}
    for dummy, affected, reference, dummy_file in _listed(report, max_zones):
        for host in (affected['host'], reference):
            if affected['zone'] not in wanted.setdefault(host, []):
                wanted[host].append(affected['zone'])
    return wanted


_SIGNER_TYPES = DNSSEC_TYPES | frozenset(['SOA'])


def _signer_line(line):
    """Whether an 'owner ttl type rdata' line is the SOA or a record a signer adds."""
    parts = line.split(None, 3)
    return len(parts) > 2 and parts[2] in _SIGNER_TYPES


def _signed_lines(lines):
    return any(_signer_line(line) and line.split(None, 3)[2] == 'RRSIG' for line in lines)


def add_differences(report, collected, limit=20, max_zones=20):
    """The report with ``differences`` on each affected copy of the causes whose records were collected: the
    records the reference copy has and this one lacks (missing), and the other way round (extra), ``limit`` of
    each at most. They go on the cause's ``affects`` entry, and on the problem row when that is its cause.

    ``collected``: host -> what zone_content registered there with ``collect``.
    """
    lines = {}
    for host, registered in (collected or {}).items():
        for call in _calls(registered) if registered else []:
            for entry in result_zones(call) or []:
                zone = _zone_key(entry['zone'])
                lines[(zone, host, False)] = entry.get('record_lines')
                if entry.get('file'):
                    lines[(zone, host, True)] = entry['file'].get('record_lines')
    out = dict(report)
    out['causes'] = [dict(c, affects=[dict(a) for a in c['affects']]) for c in report.get('causes') or []]
    out['problems'] = [dict(p) for p in report.get('problems') or []]
    rows = dict(((p['zone'], p['host']), p) for p in out['problems'])
    for cause, affected, reference, use_file in _listed(out, max_zones):
        zone = _zone_key(affected['zone'])
        theirs = lines.get((zone, reference, use_file))
        mine = lines.get((zone, affected['host'], False))
        if theirs is None or mine is None:
            continue
        if use_file and _signed_lines(mine) and not _signed_lines(theirs):
            # Signed as it was loaded: its file has neither the signatures nor the signer's serial.
            mine = [line for line in mine if not _signer_line(line)]
            theirs = [line for line in theirs if not _signer_line(line)]
        missing = sorted(set(theirs) - set(mine))
        extra = sorted(set(mine) - set(theirs))
        affected['differences'] = {'compared_with': '%s%s' % (reference, "'s zone file" if use_file else ''),
                                   'missing': missing[:limit], 'extra': extra[:limit],
                                   'missing_count': len(missing), 'extra_count': len(extra)}
        problem = rows.get((affected['zone'], affected['host']))
        if problem is not None and problem['cause'] == cause['id']:
            problem['differences'] = affected['differences']
    return out
