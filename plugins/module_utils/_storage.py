# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Whether a DNS server can write where it keeps its copies, read on the server, changing nothing.

A secondary that cannot write its zone files keeps serving what it transferred, from memory: every serial
check and every transfer says it is fine. After a restart it has nothing to load, and with its primary
unreachable then it answers nothing at all. So the running server's own user (from /proc) and the directories
its configuration names are compared, the way the kernel would: owner, group or other write and search bits,
and a read-only mount. A secondary zone that the server serves but whose file does not exist is named too: that
is what a failed write leaves, whatever the reason (a mandatory access control profile included).
"""

from __future__ import annotations

import os
import stat

from ansible_collections.dnsops.zonesync.plugins.module_utils._server_state import _norm, storage_log_lines

# The process names of the servers.
PROCESS_NAMES = {'bind': ('named',), 'powerdns': ('pdns_server',)}


def process_ids(server, proc='/proc', cwd=None):
    """(uid, gids) of the running server's process (effective uid; gid and supplementary groups), or None.

    ``cwd``: named works in its configuration's ``directory``; with several named on one machine (containers
    included, which share the host's /proc), the ones working there are taken. With several processes (a PowerDNS
    guardian), the one that does not run as root is taken when there is one: that is the one that writes.
    """
    names = PROCESS_NAMES.get(server, ())
    found = []
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, 'comm')) as handle:
                if handle.read().strip() not in names:
                    continue
            with open(os.path.join(proc, pid, 'status')) as handle:
                fields = dict(line.split(':', 1) for line in handle.read().splitlines() if ':' in line)
        except (OSError, ValueError):
            continue
        try:
            uid = int(fields['Uid'].split()[1])
            gids = set(int(g) for g in [fields['Gid'].split()[1]] + fields.get('Groups', '').split())
        except (KeyError, IndexError, ValueError):
            continue
        here = None
        if cwd:
            try:
                here = os.path.realpath(os.readlink(os.path.join(proc, pid, 'cwd'))) == os.path.realpath(cwd)
            except OSError:
                here = None
        found.append((uid, gids, here))
    if any(f[2] for f in found):
        found = [f for f in found if f[2]]
    found = [(uid, gids) for uid, gids, dummy in found]
    if not found:
        return None
    found.sort(key=lambda ids: ids[0] == 0)
    return found[0]


def _mode_text(st):
    return '%s %d:%d' % (stat.filemode(st.st_mode), st.st_uid, st.st_gid)


def writable_directory(path, ids):
    """(True, None), or (False, why) when a process with ``ids`` (uid, gids) cannot create files in ``path``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False, '%s does not exist' % path
    except OSError as exc:
        return False, 'cannot inspect %s: %s' % (path, exc.strerror or exc)
    if not stat.S_ISDIR(st.st_mode):
        return False, '%s is not a directory' % path
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False, '%s is on a read-only file system' % path
    except OSError:
        pass
    if ids is None:
        return True, None
    uid, gids = ids
    if uid == 0:
        return True, None
    if st.st_uid == uid:
        bits, who = stat.S_IWUSR | stat.S_IXUSR, 'its owner'
    elif st.st_gid in gids:
        bits, who = stat.S_IWGRP | stat.S_IXGRP, 'its group'
    else:
        bits, who = stat.S_IWOTH | stat.S_IXOTH, 'others'
    if st.st_mode & bits == bits:
        return True, None
    return False, ('%s is %s: the server (uid %d) writes there as %s, which may not create files'
                   % (path, _mode_text(st), uid, who))


def zone_file_findings(zones, directory, ids):
    """For each secondary zone with a file, what keeps the server from writing it, if anything.

    ``zones``: name -> {'type', 'file'} (bind_state's zones); ``directory``: the server's working directory,
    against which relative file names are resolved. Returns name -> {'path', 'problem', 'directory'} for the
    zones with a problem: ``directory_not_writable`` (every zone in that directory) or ``file_missing``.
    """
    out = {}
    checked = {}
    for name, zone in sorted(zones.items()):
        if zone.get('type') != 'secondary' or not zone.get('file'):
            continue
        path = zone['file'] if os.path.isabs(zone['file']) else os.path.join(directory or '/', zone['file'])
        parent = os.path.dirname(path) or '/'
        if parent not in checked:
            checked[parent] = writable_directory(parent, ids)
        ok, why = checked[parent]
        if not ok:
            out[name] = {'path': path, 'directory': parent, 'problem': 'directory_not_writable', 'detail': why}
        elif not os.path.exists(path):
            out[name] = {'path': path, 'directory': parent, 'problem': 'file_missing',
                         'detail': '%s does not exist: the server never wrote the copy it serves' % path}
    return out


def database_findings(database, ids):
    """What keeps PowerDNS from writing its gsqlite3 database (SQLite also writes a journal next to it): None, or
    {'path', 'directory', 'problem', 'detail'}."""
    parent = os.path.dirname(database) or '/'
    ok, why = writable_directory(parent, ids)
    if not ok:
        return {'path': database, 'directory': parent, 'problem': 'directory_not_writable', 'detail': why}
    try:
        st = os.stat(database)
    except OSError as exc:
        return {'path': database, 'directory': parent, 'problem': 'file_missing',
                'detail': 'cannot inspect %s: %s' % (database, exc.strerror or exc)}
    if ids is None or ids[0] == 0:
        return None
    uid, gids = ids
    if st.st_uid == uid:
        bit = stat.S_IWUSR
    elif st.st_gid in gids:
        bit = stat.S_IWGRP
    else:
        bit = stat.S_IWOTH
    if st.st_mode & bit:
        return None
    return {'path': database, 'directory': parent, 'problem': 'file_not_writable',
            'detail': '%s is %s: the server (uid %d) cannot write it' % (database, _mode_text(st), uid)}


def server_storage(server, state, zones, catalog_members, database, read_journal, proc='/proc'):
    """Where the running server cannot write its copies (server_state's ``storage``).

    ``state``: bind_state or powerdns_state; ``zones``: server_state's zone entries (each affected one gets
    ``storage`` and ``storage_detail``); ``catalog_members``: member -> catalog; ``read_journal``: returns the
    server's journal text, called only when there is a problem. Returns {'process_uid', 'problems'}: one problem
    per directory (or database) and kind, with its zones and the server's own log lines about it.
    """
    ids = process_ids(server, proc, state.get('directory') if server == 'bind' else None)
    if server == 'bind':
        findings = zone_file_findings(state['zones'], state.get('directory'), ids)
        # Catalog members have no statement: BIND saves them in the catalog's zone-directory.
        for member, catalog in (catalog_members or {}).items():
            zone_directory = (state.get('catalogs') or {}).get(_norm(catalog), {}).get('zone_directory')
            if not zone_directory:
                continue
            if not os.path.isabs(zone_directory):
                zone_directory = os.path.join(state.get('directory') or '/', zone_directory)
            ok, why = writable_directory(zone_directory, ids)
            if not ok:
                findings[_norm(member)] = {'path': zone_directory, 'directory': zone_directory,
                                           'problem': 'directory_not_writable', 'detail': why}
    else:
        found = database_findings(database, ids)
        findings = dict((name, found) for name, zone in state['zones'].items()
                        if zone['type'] in ('secondary', 'consumer')) if found else {}
    wanted = set(z['zone'] for z in zones)
    problems = {}
    for name, finding in sorted(findings.items()):
        entry = problems.setdefault((finding['directory'], finding['problem']), dict(finding, zones=[]))
        if name in wanted:
            entry['zones'].append(name)
    for zone in zones:
        finding = findings.get(zone['zone'])
        if finding is not None:
            zone['storage'] = finding['problem']
            zone['storage_detail'] = finding['detail']
    out = [p for p in problems.values() if p['zones']]
    if out:
        journal = read_journal() or ''
        for problem in out:
            # named logs paths as its configuration gives them, often relative to its directory.
            marks = [problem['directory'] + '/', 'zone %s/' % problem['zones'][0]] + \
                ['zone %s/' % z for z in problem['zones'][1:20]]
            if state.get('directory') and problem['directory'].startswith(state['directory'].rstrip('/') + '/'):
                marks.append(os.path.relpath(problem['directory'], state['directory']) + '/')
            problem['log'] = storage_log_lines(journal, marks)
            if problem['problem'] == 'file_missing':
                del problem['path']   # one file per zone; storage_detail names each
                problem['detail'] = 'the files of %d zone(s) it serves do not exist' % len(problem['zones'])
    return {'process_uid': ids[0] if ids else None, 'problems': out}
