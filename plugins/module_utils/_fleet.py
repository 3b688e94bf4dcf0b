# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The fleet's state, from soa_serial and zone_transfer_check results: what lags, tables, reports.

Pure functions over the topology's fleet plan (see _topology.fleet_plan) and
the modules' registered results, used by the convergence role and check.yml.
"""

from __future__ import annotations

import html


def _zone_key(name):
    return str(name).rstrip('.').lower()


def index_serials(soa_results):
    """(zone, address) -> the server entry of soa_serial's result, plus the zone's reference serial."""
    index = {}
    for result in soa_results or []:
        if not isinstance(result, dict):
            continue
        for zone in result.get('zones') or []:
            for server in zone.get('servers') or []:
                entry = dict(server)
                entry['reference_serial'] = zone.get('reference_serial')
                index[(_zone_key(zone.get('zone')), server.get('address'))] = entry
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
                'key': server.get('key'), 'serial': seen.get('serial'),
                'reference_serial': seen.get('reference_serial'),
                'status': seen.get('status', 'not_checked'), 'lag': seen.get('lag'), 'error': seen.get('error'),
            })
    return rows


def lagging(fleet, soa_results):
    """The rows that are not in sync with their primary (primaries that gave no serial included)."""
    return [row for row in matrix(fleet, soa_results) if row['status'] != 'in_sync']


def transfer_targets(fleet, soa_results, all_zones=False):
    """The transfers check.yml tries from each secondary.

    Every zone that lags, plus one zone per distinct (secondary, upstream, key),
    so that a path or key that would break the next transfer shows even while
    everything is in sync. ``all_zones`` tries every zone on every secondary.
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


def _upstream_server(fleet, zone, host):
    for entry in fleet:
        if entry['zone'] == zone:
            for server in entry['servers']:
                if server['host'] == host:
                    return server.get('server')
    return None


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


def diagnoses(fleet, soa_results, transfer_results):
    """Rows that lag, each with the transfer check run from that secondary (when there was one)."""
    by_pair = {}
    for host, result in _transfers(transfer_results):
        by_pair[(_zone_key(result['item'].get('zone') or result['item'].get('name')), host)] = result
    out = []
    for row in lagging(fleet, soa_results):
        check = by_pair.get((_zone_key(row['zone']), row['host']))
        entry = dict(row)
        if check is not None and not check.get('skipped'):
            upstream_server = _upstream_server(fleet, row['zone'], row['upstream']) or 'bind'
            remediation = check.get('remediation') or {}
            entry.update(transfer_status=check.get('status'), diagnosis=check.get('diagnosis') or check.get('msg'),
                         remediation=remediation.get(upstream_server) if isinstance(remediation, dict) else remediation)
            if check.get('status') == 'ok':
                entry['diagnosis'] = ('%s can transfer %s from %s (%s) with its key, so the path and the key work; it has '
                                      'not refreshed yet. NOTIFY from %s may not reach it, or its refresh timer has not '
                                      'fired.' % (row['host'], row['zone'], row['upstream'], row['upstream_address'], row['upstream']))
                entry['remediation'] = ('Force a refresh: ansible-playbook dnsops.zonesync.retransfer -l %s; check that '
                                        '%s sends NOTIFY from an address %s accepts (notify-source / query-local-address).'
                                        % (row['host'], row['upstream'], row['host']))
        elif row['role'] == 'primary':
            entry.update(transfer_status=None,
                         diagnosis='The primary %s (%s) gave no usable serial for %s: %s.' % (
                             row['host'], row['address'], row['zone'], row['error'] or row['status']),
                         remediation='Check that the zone loads on %s (named-checkzone, or pdnsutil check-zone) and that '
                                     'UDP 53 from the controller reaches it.' % row['host'])
        else:
            entry.update(transfer_status=None, diagnosis=row['error'] or row['status'], remediation=None)
        out.append(entry)
    return out


def problems_text(data):
    """Every problem as an operator reads it: where, what, why, and the fix."""
    lines = []
    for p in data['problems']:
        head = '- %s on %s (%s, %s): %s' % (p['zone'], p['host'], p.get('role') or '-', p.get('address') or '-', p['status'])
        if p.get('serial') is not None:
            head += ', serial %s' % p['serial']
        if p.get('reference_serial') is not None and p['status'] != 'open_transfer':
            head += ', primary has %s' % p['reference_serial']
        lines.append(head + '.')
        why = p.get('diagnosis') or ''
        if p.get('transfer_status'):
            why = 'Transfer check from %s to %s: %s. %s' % (p['host'], p.get('upstream') or 'its upstream', p['transfer_status'], why)
        lines.append('  ' + why.strip())
        lines.append('  Fix: %s' % (p.get('remediation') or 'see the transfer check above'))
    return '\n'.join(lines)


def table(rows, width=None):
    """A plain-text table of zone x server rows, for the terminal."""
    headers = ['zone', 'server', 'role', 'address', 'serial', 'status']
    data = []
    for row in rows:
        status = row['status']
        if row.get('lag') and status in ('behind', 'ahead'):
            status = '%s by %d' % (status, abs(row['lag']))
        data.append([row['zone'], row['host'], row['role'], row['address'] or '-',
                     '-' if row['serial'] is None else str(row['serial']), status])
    widths = [max([len(h)] + [len(r[i]) for r in data]) for i, h in enumerate(headers)]
    lines = ['  '.join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip(),
             '  '.join('-' * w for w in widths)]
    for r in data:
        lines.append('  '.join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    return lines


def report(fleet, soa_results, transfer_results=None, exposure_results=None, generated_at=None):
    """The whole check as one dictionary (the JSON report)."""
    rows = matrix(fleet, soa_results)
    problems = diagnoses(fleet, soa_results, transfer_results)
    # A secondary in sync today whose transfer fails now will fall behind at the next change.
    index = dict(((r['zone'], r['host']), r) for r in rows)
    for host, result in _transfers(transfer_results):
        zone = _zone_key(result['item'].get('zone') or result['item'].get('name'))
        row = index.get((zone, host))
        if row is None or row['status'] != 'in_sync' or result.get('status') in (None, 'ok') or result.get('skipped'):
            continue
        remediation = result.get('remediation') or {}
        upstream_server = _upstream_server(fleet, row['zone'], row['upstream']) or 'bind'
        problems.append(dict(row, status='transfer_failing', transfer_status=result.get('status'),
                             diagnosis='In sync for now, but the next transfer will fail: %s' % (
                                 result.get('diagnosis') or result.get('msg')),
                             remediation=remediation.get(upstream_server) if isinstance(remediation, dict) else remediation))
    for item, result in _exposures(exposure_results):
        if result.get('status') == 'open_transfer':
            problems.append({'zone': item.get('zone'), 'host': item.get('host'), 'role': item.get('role'),
                             'address': item.get('address'), 'status': 'open_transfer',
                             'transfer_status': 'open_transfer', 'diagnosis': result.get('diagnosis'),
                             'remediation': (result.get('remediation') or {}).get(item.get('server') or 'bind')})
    zones = sorted(set(r['zone'] for r in rows))
    converged = [z for z in zones if all(r['status'] == 'in_sync' for r in rows if r['zone'] == z)]
    return {
        'generated_at': generated_at,
        'summary': {'zones': len(zones), 'servers': len(set(r['host'] for r in rows)), 'pairs': len(rows),
                    'in_sync': sum(1 for r in rows if r['status'] == 'in_sync'),
                    'zones_converged': len(converged), 'problems': len(problems)},
        'rows': rows,
        'problems': problems,
    }


def markdown(data):
    """A human report in Markdown: summary, problems first with their fixes, then the full table."""
    s = data['summary']
    out = ['# DNS fleet check', '']
    if data.get('generated_at'):
        out += ['Generated %s.' % data['generated_at'], '']
    verdict = 'All zones are in sync.' if not data['problems'] else '**%d problem(s) found.**' % len(data['problems'])
    out += ['%s %d zone(s) on %d server(s): %d of %d zone x server pairs in sync, %d zone(s) fully converged.'
            % (verdict, s['zones'], s['servers'], s['in_sync'], s['pairs'], s['zones_converged']), '']
    if data['problems']:
        out += ['## Problems', '']
        for p in data['problems']:
            out.append('### %s on %s (%s): %s' % (p['zone'], p['host'], p.get('role') or '-', p['status']))
            out.append('')
            if p.get('transfer_status'):
                out.append('- Transfer check from %s: `%s`' % (p['host'], p['transfer_status']))
            if p.get('diagnosis'):
                out.append('- Why: %s' % p['diagnosis'])
            if p.get('remediation'):
                out.append('- Fix: %s' % p['remediation'])
            out.append('')
    out += ['## Zones and servers', '', '| zone | server | role | address | serial | status |', '|---|---|---|---|---|---|']
    for r in data['rows']:
        status = r['status'] if r['status'] == 'in_sync' else '**%s**' % r['status']
        serial = '-' if r['serial'] is None else r['serial']
        out.append('| %s | %s | %s | %s | %s | %s |' % (r['zone'], r['host'], r['role'], r['address'] or '-', serial, status))
    return '\n'.join(out) + '\n'


def html_report(data):
    """The same report as a standalone HTML page."""
    esc = html.escape
    s = data['summary']
    ok = not data['problems']
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>DNS fleet check</title><style>',
             'body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;'
             'padding:.3em .6em;text-align:left}.bad{background:#fdd}.ok{background:#dfd}.problem{border-left:4px solid '
             '#c00;padding-left:1em;margin-bottom:1em}</style></head><body>',
             '<h1>DNS fleet check</h1>',
             '<p class="%s">%s %d zone(s) on %d server(s): %d of %d pairs in sync.</p>' % (
                 'ok' if ok else 'bad', 'All zones are in sync.' if ok else '%d problem(s) found.' % len(data['problems']),
                 s['zones'], s['servers'], s['in_sync'], s['pairs'])]
    if data.get('generated_at'):
        parts.append('<p>Generated %s.</p>' % esc(str(data['generated_at'])))
    for p in data['problems']:
        parts.append('<div class="problem"><h3>%s on %s: %s</h3>' % (esc(str(p['zone'])), esc(str(p['host'])), esc(str(p['status']))))
        if p.get('diagnosis'):
            parts.append('<p><b>Why:</b> %s</p>' % esc(str(p['diagnosis'])))
        if p.get('remediation'):
            parts.append('<p><b>Fix:</b> %s</p>' % esc(str(p['remediation'])))
        parts.append('</div>')
    parts.append('<table><tr><th>zone</th><th>server</th><th>role</th><th>address</th><th>serial</th><th>status</th></tr>')
    for r in data['rows']:
        parts.append('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
            'ok' if r['status'] == 'in_sync' else 'bad', esc(r['zone']), esc(r['host']), esc(r['role']),
            esc(r['address'] or '-'), '-' if r['serial'] is None else r['serial'], esc(r['status'])))
    parts.append('</table></body></html>')
    return '\n'.join(parts) + '\n'
