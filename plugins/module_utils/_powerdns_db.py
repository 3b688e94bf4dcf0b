# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Bring a PowerDNS gsqlite3 database to the zones, transfer metadata and TSIG keys a host must have, in one
transaction.

PowerDNS reads its zones, metadata and keys from the database on every use when its zone cache and metadata
cache are off (the powerdns role turns them off), so a change written here is live at once, without a restart.
This replaces one pdnsutil process per zone and per metadata item, and keeps TSIG secrets off every command line.

Zones written here carry the account ``dnsops.zonesync``. Only zones with that mark are ever removed, and only
when the caller asks (purge): a zone the operator made by hand is never touched.
"""

from __future__ import annotations

import os
import sqlite3

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError

ACCOUNT = 'dnsops.zonesync'
KINDS = {'primary': 'MASTER', 'secondary': 'SLAVE'}
# The metadata kinds this collection owns on its zones; others (DNSSEC, SOA-EDIT, ...) are left alone.
MANAGED_METADATA = ('TSIG-ALLOW-AXFR', 'AXFR-MASTER-TSIG', 'ALSO-NOTIFY')
# Tables that hold rows of a zone, removed with it on purge.
ZONE_TABLES = ('records', 'domainmetadata', 'cryptokeys', 'comments')


def _norm(name):
    return str(name).strip().rstrip('.').lower()


def connect(path, timeout=30.0):
    """Open the database for writing. PowerDNS keeps it open too; the busy timeout waits out its writes."""
    try:
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        db.execute('SELECT 1 FROM domains LIMIT 1')
    except sqlite3.Error as exc:
        raise ZonesyncError('The PowerDNS database %s cannot be used: %s. Is the gsqlite3 schema loaded (the '
                            'powerdns role loads it)?' % (path, exc))
    return db


def keep_owner(path):
    """Give the database's -wal and -shm files the owner of the database. SQLite creates them as the user who opens
    the database first; created by root, they would lock the server (running as pdns) out of its own database."""
    try:
        st = os.stat(path)
    except OSError:
        return
    for suffix in ('-wal', '-shm', '-journal'):
        extra = path + suffix
        try:
            est = os.stat(extra)
            if (est.st_uid, est.st_gid) != (st.st_uid, st.st_gid):
                os.chown(extra, st.st_uid, st.st_gid)
        except OSError:
            pass


def read_state(db):
    """What the database has: zones (name -> id, type, master, account), their managed metadata, and keys."""
    zones = {}
    for zid, name, ztype, master, account in db.execute('SELECT id, name, type, master, account FROM domains'):
        zones[_norm(name)] = {'id': zid, 'type': (ztype or '').upper(), 'master': master or '', 'account': account,
                              'meta': {}}
    by_id = dict((z['id'], z) for z in zones.values())
    marks = ','.join('?' * len(MANAGED_METADATA))
    for domain_id, kind, content in db.execute(
            'SELECT domain_id, kind, content FROM domainmetadata WHERE upper(kind) IN (%s)' % marks, MANAGED_METADATA):
        zone = by_id.get(domain_id)
        if zone is not None:
            zone['meta'].setdefault(kind.upper(), []).append(content)
    keys = {}
    for name, algorithm, secret in db.execute('SELECT name, algorithm, secret FROM tsigkeys'):
        keys.setdefault(_norm(name), []).append({'algorithm': (algorithm or '').lower(), 'secret': secret})
    for (domain_id,) in db.execute("SELECT DISTINCT domain_id FROM records WHERE type = 'SOA'"):
        zone = by_id.get(domain_id)
        if zone is not None:
            zone['has_soa'] = True
    return zones, keys


def plan(state, zones, keys, managed_keys, purge=False):
    """The changes that bring ``state`` (read_state) to the desired zones and keys.

    ``zones``: dicts with name, kind (primary/secondary), primaries (list of addresses, secondaries) and
    metadata (kind -> list of values, for the managed kinds). ``keys``: dicts with name, algorithm, secret.
    ``managed_keys``: key names this collection manages; those in the database but not in ``keys`` are removed.
    A primary zone given with ``load`` true (its file changed) is loaded from its file; so is one that is new or
    has no SOA in the database (a load that failed before).
    Returns a dict of lists: create, update, metadata, keys_set, keys_removed, purge, unlisted, load and
    retrieve (secondary zones that are new or have new primaries, to transfer now).
    """
    have_zones, have_keys = state
    out = {'create': [], 'update': [], 'metadata': [], 'keys_set': [], 'keys_removed': [], 'purge': [],
           'unlisted': [], 'load': [], 'retrieve': []}
    seen = set()
    for zone in zones:
        name = _norm(zone['name'])
        if name in seen:
            raise ZonesyncError('zones: %s is listed twice.' % name)
        seen.add(name)
        kind = zone['kind']
        if kind not in KINDS:
            raise ZonesyncError('zones: %s has kind %r; it must be primary or secondary.' % (name, kind))
        master = ','.join(zone.get('primaries') or []) if kind == 'secondary' else ''
        if kind == 'secondary' and not master:
            raise ZonesyncError('zones: secondary zone %s has no primaries.' % name)
        want_meta = dict((k.upper(), sorted(v or [])) for k, v in (zone.get('metadata') or {}).items())
        unknown = sorted(set(want_meta) - set(MANAGED_METADATA))
        if unknown:
            raise ZonesyncError('zones: %s sets metadata %s; only %s are managed here.'
                                % (name, ', '.join(unknown), ', '.join(MANAGED_METADATA)))
        row = {'name': name, 'type': KINDS[kind], 'master': master}
        have = have_zones.get(name)
        if have is None:
            out['create'].append(row)
            have_meta = {}
        else:
            if (have['type'], have['master'], have['account']) != (row['type'], master, ACCOUNT):
                row['was'] = {'type': have['type'], 'master': have['master']}
                out['update'].append(row)
            have_meta = have['meta']
        if kind == 'primary' and (have is None or zone.get('load') or not have.get('has_soa')):
            out['load'].append(name)
        if kind == 'secondary' and (have is None or (have['type'], have['master']) != ('SLAVE', master)):
            out['retrieve'].append(name)
        for meta_kind in MANAGED_METADATA:
            want = want_meta.get(meta_kind, [])
            if sorted(have_meta.get(meta_kind, [])) != want:
                out['metadata'].append({'name': name, 'kind': meta_kind, 'values': want})
    for name, have in sorted(have_zones.items()):
        if name in seen:
            continue
        if have['account'] == ACCOUNT:
            (out['purge'] if purge else out['unlisted']).append(name)
    wanted_keys = {}
    for key in keys:
        name = _norm(key['name'])
        if not key.get('secret'):
            raise ZonesyncError('keys: %s has no secret.' % name)
        wanted_keys[name] = key
        have = have_keys.get(name, [])
        if [(k['algorithm'], k['secret']) for k in have] != [(key['algorithm'].lower(), key['secret'])]:
            out['keys_set'].append({'name': name, 'algorithm': key['algorithm'].lower(), 'secret': key['secret'],
                                    'new': not have})
    for name in sorted(set(_norm(k) for k in managed_keys or [])):
        if name in have_keys and name not in wanted_keys:
            out['keys_removed'].append(name)
    return out


def apply(db, changes):
    """Write ``changes`` (plan) in one transaction; nothing is written when any statement fails."""
    try:
        db.execute('BEGIN IMMEDIATE')
        for row in changes['create']:
            db.execute('INSERT INTO domains (name, master, type, account) VALUES (?, ?, ?, ?)',
                       (row['name'], row['master'] or None, row['type'], ACCOUNT))
        for row in changes['update']:
            db.execute('UPDATE domains SET type = ?, master = ?, account = ? WHERE name = ?',
                       (row['type'], row['master'] or None, ACCOUNT, row['name']))
        for item in changes['metadata']:
            (domain_id,) = db.execute('SELECT id FROM domains WHERE name = ?', (item['name'],)).fetchone()
            db.execute('DELETE FROM domainmetadata WHERE domain_id = ? AND upper(kind) = ?', (domain_id, item['kind']))
            db.executemany('INSERT INTO domainmetadata (domain_id, kind, content) VALUES (?, ?, ?)',
                           [(domain_id, item['kind'], value) for value in item['values']])
        for key in changes['keys_set']:
            db.execute('DELETE FROM tsigkeys WHERE name = ?', (key['name'],))
            db.execute('INSERT INTO tsigkeys (name, algorithm, secret) VALUES (?, ?, ?)',
                       (key['name'], key['algorithm'], key['secret']))
        for name in changes['keys_removed']:
            db.execute('DELETE FROM tsigkeys WHERE name = ?', (name,))
        for name in changes['purge']:
            row = db.execute('SELECT id FROM domains WHERE name = ? AND account = ?', (name, ACCOUNT)).fetchone()
            if row is None:
                continue
            for table in ZONE_TABLES:
                db.execute('DELETE FROM %s WHERE domain_id = ?' % table, (row[0],))
            db.execute('DELETE FROM domains WHERE id = ?', (row[0],))
        db.execute('COMMIT')
    except sqlite3.Error as exc:
        db.execute('ROLLBACK')
        raise ZonesyncError('Writing the PowerDNS database failed, so nothing in it was changed: %s' % exc)


def summary(changes):
    """The plan without secrets: what a module may return."""
    return {
        'created': [row['name'] for row in changes['create']],
        'updated': [row['name'] for row in changes['update']],
        'metadata_changed': sorted(set(item['name'] for item in changes['metadata'])),
        'keys_added': [k['name'] for k in changes['keys_set'] if k['new']],
        'keys_updated': [k['name'] for k in changes['keys_set'] if not k['new']],
        'keys_removed': list(changes['keys_removed']),
        'purged': list(changes['purge']),
        'unlisted': list(changes['unlisted']),
        'loaded': list(changes['load']),
        'retrieve': list(changes['retrieve']),
    }
