# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The fleet report (see _fleet.report) as text: a terminal table, the causes, Markdown and HTML."""

from __future__ import annotations

import html
import time

from ansible_collections.dnsops.zonesync.plugins.module_utils._fleet import duration_text

# Rows listed under one cause before "and N more".
AFFECTS_SHOWN = 10


def verdict(data):
    """One sentence: green only when every check ran and no cause was found."""
    s = data['summary']
    if data.get('causes'):
        return '%d problem(s) from %d cause(s).' % (s['problems'], s['causes'])
    if s.get('content_checked'):
        return 'All zones are in sync: every server serves the primary\'s serial and records.'
    return 'Every server serves the primary\'s serial (records not compared in this check).'


def _row_status(row):
    if row.get('cause'):
        return '%s [%s]' % (row['problem'], row['cause'])
    status = row['status']
    if row.get('lag') and status in ('behind', 'ahead'):
        status = '%s by %d' % (status, abs(row['lag']))
    return status


def _records(row):
    return {'match': 'same', 'read': 'read', 'differs': 'DIFFER', 'unverified': 'unproven',
            'unreadable': 'unproven', 'failed': 'unknown'}.get(row.get('content'), '-')


def _expiry(row):
    """The row's earliest RRSIG expiration as 'YYYY-MM-DD HH:MM' (UTC), '-' for an unsigned or unread copy."""
    if not row.get('rrsig_expires'):
        return '-'
    return time.strftime('%Y-%m-%d %H:%M', time.gmtime(row['rrsig_expires']))


def _expire_in(row):
    """How long a secondary keeps serving the zone without a refresh (its EDNS EXPIRE answer), '-' unknown."""
    seconds = row.get('expire_remaining')
    return '-' if seconds is None else duration_text(seconds)


def _signed(rows):
    return any(r.get('rrsig_expires') for r in rows)


def signatures_line(data):
    """One sentence on the signed zones and the fleet's earliest signature expiry, or None."""
    s = data['summary']
    first = s.get('rrsig_earliest')
    if not s.get('signed_zones') or not first:
        return None
    return ('%d signed zone(s); the earliest signature on any server expires %s (%s on %s).'
            % (s['signed_zones'], first['expires_text'], first['rrset'], first['host']))


# Up to this many zone x server rows, every row is listed; beyond it, only the rows with a problem are, and the
# rest is summed up in one line (show_all lists everything).
ROWS_SHOWN = 40


def shown_rows(rows, show_all=False, limit=ROWS_SHOWN):
    """(rows to list, problems first; the number of good rows left out). A row is good when it is in sync and
    no cause claims it."""
    bad = [r for r in rows if r.get('cause') or r.get('status') != 'in_sync']
    if show_all or len(rows) <= limit:
        good = [r for r in rows if not (r.get('cause') or r.get('status') != 'in_sync')]
        return bad + good, 0
    return bad, len(rows) - len(bad)


def _left_out(count):
    return ('%d zone x server pair(s) in sync, with nothing wrong found, are not listed (show them all with '
            '-e check_show_all=true, or convergence_show_all for the convergence role).' % count)


def table(rows, show_all=False, limit=ROWS_SHOWN):
    """A plain-text table of zone x server rows for the terminal: problems first; at fleet size only the problems,
    and one line for the rest."""
    headers = ['zone', 'server', 'role', 'address', 'serial', 'records', 'status']
    data = []
    listed, left_out = shown_rows(rows, show_all, limit)
    signed = _signed(listed)
    if signed:
        headers.insert(6, 'signatures until')
    for row in listed:
        data.append([row['zone'], row['host'], row['role'], row['address'] or '-',
                     '-' if row['serial'] is None else str(row['serial']), _records(row), _row_status(row)])
        if signed:
            data[-1].insert(6, _expiry(row))
    widths = [max([len(h)] + [len(r[i]) for r in data]) for i, h in enumerate(headers)]
    lines = ['  '.join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip(),
             '  '.join('-' * w for w in widths)]
    for r in data:
        lines.append('  '.join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    if left_out:
        lines.append(_left_out(left_out))
    return lines


def _affected(data, cause):
    """The rows a cause affects: its own (with their status and detail), then those whose first cause is another
    one (status "also"), each with the records that differ when they were listed."""
    problems = dict(((p['zone'], p['host']), p) for p in data['problems'])
    own = []
    others = []
    seen = set()
    for a in cause['affects']:
        where = (a['zone'], a['host'])
        if where in seen:
            continue
        seen.add(where)
        problem = problems.get(where)
        if problem is not None and problem['cause'] == cause['id']:
            own.append(dict(problem, differences=a.get('differences') or problem.get('differences')))
        else:
            others.append({'zone': a['zone'], 'host': a['host'], 'status': 'also', 'detail': None,
                           'differences': a.get('differences')})
    return own + others


def _affected_text(p):
    text = '%s on %s: %s' % (p['zone'], p['host'], p['status'])
    if p.get('detail'):
        text += ' (%s)' % p['detail']
    return text


def _difference_lines(p):
    """The records that differ, against the copy named in compared_with."""
    diff = p.get('differences')
    if not diff:
        return []
    out = []
    for kind, sign in (('missing', '-'), ('extra', '+')):
        for line in diff[kind]:
            out.append('%s %s' % (sign, line))
        more = diff['%s_count' % kind] - len(diff[kind])
        if more > 0:
            out.append('%s ... and %d more' % (sign, more))
    if out:
        out.insert(0, 'records against %s (- only there, + only here):' % diff['compared_with'])
    return out


def problems_text(data):
    """Every cause as an operator reads it: what, where, and the one fix; then the rows it affects."""
    lines = []
    for cause in data.get('causes') or []:
        lines.append('- [%s] %s' % (cause['id'], cause['diagnosis']))
        lines.append('  Fix: %s' % cause['remediation'])
        affected = _affected(data, cause)
        for p in affected[:AFFECTS_SHOWN]:
            lines.append('  * %s' % _affected_text(p))
            lines.extend('    %s' % d for d in _difference_lines(p))
            if p.get('server_fix'):
                lines.append('    by hand on the server: %s' % p['server_fix'])
        if len(affected) > AFFECTS_SHOWN:
            lines.append('  * ... and %d more (report.json lists all)' % (len(affected) - AFFECTS_SHOWN))
    return '\n'.join(lines)


def markdown(data, show_all=False):
    """A human report in Markdown: verdict, causes with their fix and what they affect, then the table (problems
    first; at fleet size only the problems, see shown_rows)."""
    s = data['summary']
    out = ['# DNS fleet check', '']
    if data.get('generated_at'):
        out += ['Generated %s.' % data['generated_at'], '']
    out += ['%s %d zone(s) on %d server(s): %d of %d zone x server pairs in sync, %d zone(s) fully converged.'
            % ('**%s**' % verdict(data) if data.get('causes') else verdict(data), s['zones'], s['servers'],
               s['in_sync'], s['pairs'], s['zones_converged']), '']
    if signatures_line(data):
        out += [signatures_line(data), '']
    if data.get('causes'):
        out += ['## Problems, by cause', '']
        for cause in data['causes']:
            out += ['### %s: %s (%d zone(s), %s)' % (cause['id'], cause['kind'], cause['zones'],
                                                     ', '.join(cause['servers'])), '']
            out += ['- Why: %s' % cause['diagnosis'], '- Fix: %s' % cause['remediation']]
            affected = _affected(data, cause)
            for p in affected[:AFFECTS_SHOWN]:
                out.append('  - %s' % _affected_text(p))
                diff = _difference_lines(p)
                if diff:
                    out += ['', '    ```'] + ['    %s' % d for d in diff] + ['    ```', '']
            if len(affected) > AFFECTS_SHOWN:
                out.append('  - ... and %d more (report.json lists all)' % (len(affected) - AFFECTS_SHOWN))
            out.append('')
    listed, left_out = shown_rows(data['rows'], show_all)
    signed = _signed(listed)
    out += ['## Zones and servers', '',
            '| zone | server | role | address | serial | records |%s status |' % (' signatures until |' if signed else ''),
            '|---|---|---|---|---|---|%s---|' % ('---|' if signed else '')]
    for r in listed:
        status = _row_status(r)
        status = status if not r.get('cause') else '**%s**' % status
        serial = '-' if r['serial'] is None else r['serial']
        out.append('| %s | %s | %s | %s | %s | %s |%s %s |' % (
            r['zone'], r['host'], r['role'], r['address'] or '-', serial, _records(r),
            (' %s |' % _expiry(r)) if signed else '', status))
    if left_out:
        out += ['', _left_out(left_out)]
    return '\n'.join(out) + '\n'


def html_report(data, show_all=False):
    """The same report as a standalone HTML page."""
    esc = html.escape
    s = data['summary']
    ok = not data.get('causes')
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>DNS fleet check</title><style>',
             'body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;'
             'padding:.3em .6em;text-align:left}.bad{background:#fdd}.ok{background:#dfd}.problem{border-left:4px solid '
             '#c00;padding-left:1em;margin-bottom:1em}</style></head><body>',
             '<h1>DNS fleet check</h1>',
             '<p class="%s">%s %d zone(s) on %d server(s): %d of %d pairs in sync.</p>' % (
                 'ok' if ok else 'bad', esc(verdict(data)), s['zones'], s['servers'], s['in_sync'], s['pairs'])]
    if data.get('generated_at'):
        parts.append('<p>Generated %s.</p>' % esc(str(data['generated_at'])))
    if signatures_line(data):
        parts.append('<p>%s</p>' % esc(signatures_line(data)))
    for cause in data.get('causes') or []:
        parts.append('<div class="problem" id="%s"><h3>%s: %s</h3>'
                     % (esc(cause['id']), esc(cause['id']), esc(cause['kind'])))
        parts.append('<p><b>Why:</b> %s</p>' % esc(cause['diagnosis']))
        parts.append('<p><b>Fix:</b> %s</p><ul>' % esc(cause['remediation']))
        affected = _affected(data, cause)
        for p in affected[:AFFECTS_SHOWN]:
            diff = _difference_lines(p)
            parts.append('<li>%s%s</li>' % (esc(_affected_text(p)),
                                            '<pre>%s</pre>' % esc('\n'.join(diff)) if diff else ''))
        if len(affected) > AFFECTS_SHOWN:
            parts.append('<li>... and %d more (report.json lists all)</li>' % (len(affected) - AFFECTS_SHOWN))
        parts.append('</ul></div>')
    listed, left_out = shown_rows(data['rows'], show_all)
    signed = _signed(listed)
    parts.append('<table><tr><th>zone</th><th>server</th><th>role</th><th>upstream</th><th>address</th><th>serial</th>'
                 '<th>records</th><th>rtt (ms)</th><th>expires in</th>%s<th>status</th></tr>'
                 % ('<th>signatures until (UTC)</th>' if signed else ''))
    for r in listed:
        parts.append('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
                     '<td>%s</td><td>%s</td>%s<td>%s</td></tr>'
                     % ('bad' if r.get('cause') else 'ok', esc(r['zone']), esc(r['host']), esc(r['role']),
                        esc(r.get('upstream') or '-'), esc(r['address'] or '-'),
                        '-' if r['serial'] is None else r['serial'], esc(_records(r)),
                        '-' if r.get('rtt') is None else '%.1f' % r['rtt'], esc(_expire_in(r)),
                        '<td>%s</td>' % esc(_expiry(r)) if signed else '', esc(_row_status(r))))
    parts.append('</table>')
    if left_out:
        parts.append('<p>%s</p>' % esc(_left_out(left_out)))
    parts.append('</body></html>')
    return '\n'.join(parts) + '\n'
