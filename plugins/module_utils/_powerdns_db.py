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

import json
import os
import sqlite3

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError

ACCOUNT = 'dnsops.zonesync'
KINDS = {'primary': 'MASTER', 'secondary': 'SLAVE', 'consumer': 'CONSUMER'}
# A zone this server learns from a catalog it consumes: PowerDNS creates it; this module only adopts a copy it
# made before (explicit mode), so that switching to the catalog neither drops nor re-transfers it.
MEMBER = 'member'
# PowerDNS 4.7 gives the zones it creates from a catalog none of the catalog's metadata (no AXFR-MASTER-TSIG, so
# a primary that requires the key refuses every member). A trigger copies the catalog's member metadata to each
# member as soon as PowerDNS marks it with its catalog (it inserts the row first, then sets the catalog).
TEMPLATE_TABLE = 'zonesync_catalog_metadata'
TRIGGER = 'zonesync_catalog_member_metadata'
SCHEMA = (
    'CREATE TABLE IF NOT EXISTS %s (catalog VARCHAR(255) NOT NULL COLLATE NOCASE, kind VARCHAR(32) NOT NULL, '
    'content TEXT)' % TEMPLATE_TABLE,
    'CREATE TRIGGER IF NOT EXISTS %s AFTER UPDATE OF catalog ON domains '
    'WHEN NEW.catalog IS NOT NULL AND EXISTS (SELECT 1 FROM %s t WHERE t.catalog = NEW.catalog) '
    'BEGIN '
    'DELETE FROM domainmetadata WHERE domain_id = NEW.id AND upper(kind) IN '
    '(SELECT upper(t.kind) FROM %s t WHERE t.catalog = NEW.catalog); '
    'INSERT INTO domainmetadata (domain_id, kind, content) SELECT NEW.id, t.kind, t.content FROM %s t '
    'WHERE t.catalog = NEW.catalog AND t.content IS NOT NULL; '
    'END' % (TRIGGER, TEMPLATE_TABLE, TEMPLATE_TABLE, TEMPLATE_TABLE),
)
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
    columns = [row[1] for row in db.execute('PRAGMA table_info(domains)')]
    if 'catalog' not in columns:
        raise ZonesyncError('The PowerDNS database has no catalog column in its domains table: its schema is older than '
                            'PowerDNS 4.7. Upgrade the schema (4.3.0_to_4.7.0_schema.sqlite3.sql) before using it.')
    for zid, name, ztype, master, account, catalog, options in db.execute(
            'SELECT id, name, type, master, account, catalog, options FROM domains'):
        zones[_norm(name)] = {'id': zid, 'type': (ztype or '').upper(), 'master': master or '', 'account': account,
                              'catalog': _norm(catalog) if catalog else None, 'options': options, 'meta': {}}
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
    schema = set(name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE name IN (?, ?)",
                                                (TEMPLATE_TABLE, TRIGGER)))
    templates = {}
    if TEMPLATE_TABLE in schema:
        for catalog, kind, content in db.execute('SELECT catalog, kind, content FROM %s' % TEMPLATE_TABLE):
            values = templates.setdefault(_norm(catalog), {}).setdefault(kind.upper(), [])
            if content is not None:
                values.append(content)
    return zones, keys, {'schema': schema, 'templates': templates}


def plan(state, zones, keys, managed_keys, purge=False):
    """The changes that bring ``state`` (read_state) to the desired zones and keys.

    ``zones``: dicts with name, kind (primary/secondary), primaries (list of addresses, secondaries) and
    metadata (kind -> list of values, for the managed kinds). ``keys``: dicts with name, algorithm, secret.
    ``managed_keys``: key names this collection manages; those in the database but not in ``keys`` are removed.
    A primary zone given with ``load`` true (its file changed) is loaded from its file; so is one that is new or
    has no SOA in the database (a load that failed before).
    Returns a dict of lists: create, update, metadata, keys_set, keys_removed, purge, unlisted, load and
    retrieve (secondary zones that are new or have new primaries, to transfer now); purge_members and
    templates_removed (with ``purge``: the members PowerDNS made for a catalog of ours that is gone, and that
    catalog's member template).
    """
    have_zones, have_keys = state[0], state[1]
    extra = state[2] if len(state) > 2 else {'schema': set(), 'templates': {}}
    out = {'create': [], 'update': [], 'metadata': [], 'keys_set': [], 'keys_removed': [], 'purge': [],
           'unlisted': [], 'load': [], 'retrieve': [], 'schema': False, 'templates': [], 'adopt': [],
           'purge_members': [], 'templates_removed': []}
    seen = set()
    member_meta = {}
    members = []
    for zone in zones:
        name = _norm(zone['name'])
        if name in seen:
            raise ZonesyncError('zones: %s is listed twice.' % name)
        seen.add(name)
        kind = zone['kind']
        if kind == MEMBER:
            members.append((name, zone))
            continue
        if kind not in KINDS:
            raise ZonesyncError('zones: %s has kind %r; it must be primary, secondary, consumer or member.' % (name, kind))
        master = ','.join(zone.get('primaries') or []) if kind in ('secondary', 'consumer') else ''
        if kind in ('secondary', 'consumer') and not master:
            raise ZonesyncError('zones: %s zone %s has no primaries.' % (kind, name))
        want_meta = _metadata(name, zone.get('metadata'))
        if kind == 'consumer':
            member_meta[name] = _metadata(name, zone.get('member_metadata'))
        row = {'name': name, 'type': KINDS[kind], 'master': master}
        have = have_zones.get(name)
        if have is None:
            out['create'].append(row)
            have_meta = {}
        else:
            if (have['type'], have['master'], have['account'], have.get('catalog')) != (row['type'], master, ACCOUNT, None):
                row['was'] = {'type': have['type'], 'master': have['master'], 'catalog': have.get('catalog')}
                out['update'].append(row)
            have_meta = have['meta']
        if kind == 'primary' and (have is None or zone.get('load') or not have.get('has_soa')):
            out['load'].append(name)
        if kind in ('secondary', 'consumer') and (have is None or (have['type'], have['master']) != (row['type'], master)):
            out['retrieve'].append(name)
        _metadata_changes(out, name, have_meta, want_meta)
    # Catalog members: the template the trigger copies, the members PowerDNS already made, copies to adopt.
    if member_meta and set([TEMPLATE_TABLE, TRIGGER]) - set(extra['schema']):
        out['schema'] = True
    for catalog, want in sorted(member_meta.items()):
        have = dict((k, sorted(v)) for k, v in (extra['templates'].get(catalog) or {}).items())
        full = dict((k, want.get(k, [])) for k in MANAGED_METADATA)
        if have != full:
            out['templates'].append({'catalog': catalog, 'metadata': full})
    for name, zone in members:
        catalog = _norm(zone.get('catalog') or '')
        if catalog not in member_meta:
            raise ZonesyncError('zones: member %s names catalog %r, which is not a consumer zone of this list.'
                                % (name, zone.get('catalog')))
        have = have_zones.get(name)
        if have is None:
            continue
        if have.get('catalog') != catalog:
            if have['account'] != ACCOUNT:
                raise ZonesyncError('zones: %s is a member of catalog %s, but this server has a zone of that name that '
                                    'this collection did not make%s. Remove it (pdnsutil delete-zone %s) so that the '
                                    'catalog can create it.'
                                    % (name, catalog, ' (it is in catalog %s)' % have['catalog'] if have.get('catalog') else '', name))
            label = zone.get('label')
            out['adopt'].append({'name': name, 'catalog': catalog,
                                 'options': json.dumps({'consumer': {'unique': '%s.' % label}}) if label else None})
        _metadata_changes(out, name, have['meta'], member_meta[catalog])
    known_catalogs = set(member_meta)
    for name, have in sorted(have_zones.items()):
        if name in seen or have.get('catalog') in known_catalogs:
            continue
        if have['account'] == ACCOUNT:
            (out['purge'] if purge else out['unlisted']).append(name)
    # A catalog this collection set up (its member template is ours) that this server no longer consumes: once
    # its consumer zone is gone (purged now or before), PowerDNS keeps the members it made and never updates them
    # again. They go with the purge (and the template with them); without it they are reported.
    gone = set(c for c in extra['templates'] if c not in known_catalogs
               and (c not in have_zones or c in out['purge']))
    for name, have in sorted(have_zones.items()):
        if name not in seen and have['account'] != ACCOUNT and have.get('catalog') in gone:
            (out['purge_members'] if purge else out['unlisted']).append(name)
    if purge:
        out['templates_removed'] = sorted(gone)
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


def _metadata(name, metadata):
    want = dict((k.upper(), sorted(v or [])) for k, v in (metadata or {}).items())
    unknown = sorted(set(want) - set(MANAGED_METADATA))
    if unknown:
        raise ZonesyncError('zones: %s sets metadata %s; only %s are managed here.'
                            % (name, ', '.join(unknown), ', '.join(MANAGED_METADATA)))
    return want


def _metadata_changes(out, name, have_meta, want_meta):
    for meta_kind in MANAGED_METADATA:
        want = want_meta.get(meta_kind, [])
        if sorted(have_meta.get(meta_kind, [])) != want:
            out['metadata'].append({'name': name, 'kind': meta_kind, 'values': want})


def _delete_zone(db, found):
    """Delete the zone ``found`` (a cursor over its id, maybe empty) and every row of it."""
    row = found.fetchone()
    if row is None:
        return
    for table in ZONE_TABLES:
        db.execute('DELETE FROM %s WHERE domain_id = ?' % table, (row[0],))
    db.execute('DELETE FROM domains WHERE id = ?', (row[0],))


def apply(db, changes):
    """Write ``changes`` (plan) in one transaction; nothing is written when any statement fails."""
    try:
        db.execute('BEGIN IMMEDIATE')
        for row in changes['create']:
            db.execute('INSERT INTO domains (name, master, type, account) VALUES (?, ?, ?, ?)',
                       (row['name'], row['master'] or None, row['type'], ACCOUNT))
        for statement in SCHEMA if changes.get('schema') else ():
            db.execute(statement)
        for item in changes.get('templates', []):
            db.execute('DELETE FROM %s WHERE catalog = ?' % TEMPLATE_TABLE, (item['catalog'],))
            rows = []
            for kind, values in sorted(item['metadata'].items()):
                rows.extend([(item['catalog'], kind, value) for value in values] or [(item['catalog'], kind, None)])
            db.executemany('INSERT INTO %s (catalog, kind, content) VALUES (?, ?, ?)' % TEMPLATE_TABLE, rows)
        for row in changes['update']:
            # A zone taken back from a catalog (explicit mode again) leaves it: the consumer must not delete it.
            done = db.execute('UPDATE domains SET type = ?, master = ?, account = ?, catalog = NULL, options = NULL '
                              'WHERE name = ?', (row['type'], row['master'] or None, ACCOUNT, row['name']))
            if done.rowcount == 0:
                # PowerDNS deleted it since it was read (its catalog dropped it): make it again.
                db.execute('INSERT INTO domains (name, master, type, account) VALUES (?, ?, ?, ?)',
                           (row['name'], row['master'] or None, row['type'], ACCOUNT))
        for row in changes.get('adopt', []):
            db.execute('UPDATE domains SET catalog = ?, options = ? WHERE name = ?',
                       (row['catalog'], row['options'], row['name']))
        for item in changes['metadata']:
            found = db.execute('SELECT id FROM domains WHERE name = ?', (item['name'],)).fetchone()
            if found is None:
                # A catalog member PowerDNS deleted since it was read: nothing to give metadata to.
                continue
            (domain_id,) = found
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
            _delete_zone(db, db.execute('SELECT id FROM domains WHERE name = ? AND account = ?', (name, ACCOUNT)))
        for name in changes.get('purge_members', []):
            # A member PowerDNS made for a catalog that is gone (never a zone of ACCOUNT, never one made by hand).
            _delete_zone(db, db.execute('SELECT id FROM domains WHERE name = ? AND catalog IS NOT NULL', (name,)))
        for catalog in changes.get('templates_removed', []):
            db.execute('DELETE FROM %s WHERE catalog = ?' % TEMPLATE_TABLE, (catalog,))
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
        'purged': list(changes['purge']) + list(changes.get('purge_members', [])),
        'unlisted': list(changes['unlisted']),
        'loaded': list(changes['load']),
        'retrieve': list(changes['retrieve']),
        'adopted': [row['name'] for row in changes.get('adopt', [])],
        'catalog_templates': [item['catalog'] for item in changes.get('templates', [])],
        'catalog_templates_removed': list(changes.get('templates_removed', [])),
    }
