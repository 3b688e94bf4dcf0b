# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""What a DNS server is really configured with, read on the server itself, never changing anything.

* BIND: the configuration as named parses it (``named-checkconf -p``): each
  zone's type, primaries and key, and the keys; ``rndc zonestatus`` and the
  journal lines of the zones asked about in detail.
* PowerDNS (gsqlite3): the domains table (kind, primaries), the
  AXFR-MASTER-TSIG metadata, the tsigkeys table; the journal lines of the
  zones asked about in detail, where a zone in back-off ("Excluding zone from
  slave-checks") shows.

Secrets are compared here, with the ones the caller expects, and only the
outcome leaves: ``matches`` true or false, never the secret or a hash of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3
import time

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError

# Journal lines read per server, and kept per zone.
LOG_LINES = 5000
LOG_KEPT = 5
_TOKEN_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|([{};!])|([^\s{};!"]+)')


def _norm(name):
    return str(name or '').rstrip('.').lower()


# --------------------------------------------------------------------------
# BIND
# --------------------------------------------------------------------------

def parse_bind_config(text):
    """named-checkconf -p output as nested lists: a statement is a list of words and blocks (lists of statements)."""
    tokens = [(m.group(1) if m.group(1) is not None else (m.group(2) or m.group(3)), m.group(1) is not None)
              for m in _TOKEN_RE.finditer(text)]
    pos = [0]

    def block():
        statements = []
        current = []
        while pos[0] < len(tokens):
            value, quoted = tokens[pos[0]]
            pos[0] += 1
            if not quoted and value == '{':
                current.append(block())
            elif not quoted and value == '}':
                if current:
                    statements.append(current)
                return statements
            elif not quoted and value == ';':
                if current:
                    statements.append(current)
                current = []
            else:
                current.append(value)
        if current:
            statements.append(current)
        return statements

    return block()


def _first(statements, keyword):
    for statement in statements:
        if statement and statement[0] == keyword:
            return statement
    return None


def acl_id(parts):
    """A short, stable name for an ACL as the server holds it (its elements in order, canonical), to tell which
    zones share one ACL without carrying the ACLs themselves."""
    return hashlib.sha256(json.dumps(parts, separators=(',', ':')).encode('utf-8')).hexdigest()[:12]


def _acl_elements(statement):
    """The block of an allow-transfer statement, lower-cased, or None."""
    if not statement:
        return None
    block = next((part for part in statement[1:] if isinstance(part, list)), None)

    def low(value):
        return [low(v) for v in value] if isinstance(value, list) else value.lower()
    return low(block) if block is not None else None


def _primaries(statement):
    """[(address, port, key)] from a primaries/masters statement (only addresses; named lists are kept as names)."""
    out = []
    block = next((part for part in statement[1:] if isinstance(part, list)), [])
    for entry in block:
        words = [w for w in entry if not isinstance(w, list)]
        if not words:
            continue
        address = words[0].split('/')[0]
        port = None
        key = None
        if 'port' in words:
            port = words[words.index('port') + 1]
        if 'key' in words:
            key = _norm(words[words.index('key') + 1])
        out.append({'address': address, 'port': int(port) if port and port.isdigit() else None, 'key': key})
    return out


def bind_state(config_text):
    """{'zones': {name: {...}}, 'keys': {name: {'algorithm', 'secret'}}} from named-checkconf -p output."""
    zones = {}
    keys = {}

    def walk(statements):
        for statement in statements:
            if not statement:
                continue
            head = statement[0]
            if head == 'key' and len(statement) >= 3 and isinstance(statement[-1], list):
                body = statement[-1]
                algorithm = _first(body, 'algorithm')
                secret = _first(body, 'secret')
                keys[_norm(statement[1])] = {'algorithm': _norm(algorithm[1]) if algorithm else None,
                                             'secret': secret[1] if secret else None}
            elif head == 'zone' and len(statement) >= 3 and isinstance(statement[-1], list):
                body = statement[-1]
                kind = _first(body, 'type')
                kind = kind[1] if kind else None
                kind = {'master': 'primary', 'slave': 'secondary'}.get(kind, kind)
                primaries = _first(body, 'primaries') or _first(body, 'masters')
                file = _first(body, 'file')
                acl = _acl_elements(_first(body, 'allow-transfer'))
                zones[_norm(statement[1])] = {'type': kind, 'primaries': _primaries(primaries) if primaries else [],
                                              'file': file[1] if file else None,
                                              'transfer_acl': acl_id(acl) if acl is not None else None}
            elif head == 'view' and isinstance(statement[-1], list):
                walk(statement[-1])
            elif head == 'options' and isinstance(statement[-1], list):
                acl = _acl_elements(_first(statement[-1], 'allow-transfer'))
                options['transfer_acl'] = acl_id(acl) if acl is not None else None
                directory = _first(statement[-1], 'directory')
                if directory and len(directory) > 1:
                    options['directory'] = directory[1]
                consumed = _first(statement[-1], 'catalog-zones')
                if consumed and isinstance(consumed[-1], list):
                    for entry in consumed[-1]:
                        _catalog_entry(entry, catalogs)

    catalogs = {}
    options = {}
    walk(parse_bind_config(config_text))
    for zone in zones.values():
        if zone['transfer_acl'] is None:   # a zone without its own allow-transfer takes the options'
            zone['transfer_acl'] = options.get('transfer_acl')
    return {'zones': zones, 'keys': keys, 'catalogs': catalogs, 'directory': options.get('directory')}


def _catalog_entry(entry, catalogs):
    """One ``zone "name" default-primaries { ... } ...`` of catalog-zones: the catalog and its default primaries."""
    if len(entry) < 2 or entry[0] != 'zone':
        return
    primaries = []
    zone_directory = None
    for index, part in enumerate(entry):
        if part in ('default-primaries', 'default-masters') and index + 1 < len(entry) and isinstance(entry[index + 1], list):
            primaries = _primaries(['primaries', entry[index + 1]])
        if part == 'zone-directory' and index + 1 < len(entry) and isinstance(entry[index + 1], str):
            zone_directory = entry[index + 1]
    catalogs[_norm(entry[1])] = {'primaries': primaries, 'zone_directory': zone_directory}


_ZONESTATUS_FIELDS = ('type', 'serial', 'last loaded', 'next refresh', 'expires', 'next resign node')


def parse_zonestatus(text):
    """The fields of rndc zonestatus that say where a secondary stands."""
    out = {}
    for line in text.splitlines():
        if ':' not in line:
            continue
        name, value = line.split(':', 1)
        name = name.strip().lower()
        if name in _ZONESTATUS_FIELDS:
            out[name.replace(' ', '_')] = value.strip()
    return out


# --------------------------------------------------------------------------
# PowerDNS (gsqlite3)
# --------------------------------------------------------------------------

def powerdns_state(database):
    """The same shape as bind_state, read from a gsqlite3 database (read-only)."""
    try:
        connection = sqlite3.connect('file:%s?mode=ro' % database, uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise ZonesyncError('cannot open the PowerDNS database %s: %s' % (database, exc))
    try:
        zones = {}
        columns = [row[1] for row in connection.execute('PRAGMA table_info(domains)')]
        catalog_column = 'catalog' if 'catalog' in columns else 'NULL'
        for name, kind, master, domain_id, catalog in connection.execute(
                'SELECT name, type, master, id, %s FROM domains' % catalog_column):
            kind = {'MASTER': 'primary', 'SLAVE': 'secondary', 'NATIVE': 'native', 'PRODUCER': 'producer',
                    'CONSUMER': 'consumer'}.get(str(kind).upper(), str(kind).lower())
            primaries = []
            for item in [m.strip() for m in str(master or '').split(',') if m.strip()]:
                address, port = item, None
                match = re.match(r'^\[(.+)\]:(\d+)$', item) or re.match(r'^([^:]+):(\d+)$', item)
                if match:
                    address, port = match.group(1), int(match.group(2))
                primaries.append({'address': address, 'port': port, 'key': None})
            zones[_norm(name)] = {'type': kind, 'primaries': primaries, 'file': None, 'id': domain_id,
                                  'catalog': _norm(catalog) if catalog else None}
        meta = {}
        for domain_id, kind, content in connection.execute(
                "SELECT domain_id, kind, content FROM domainmetadata "
                "WHERE kind IN ('AXFR-MASTER-TSIG', 'TSIG-ALLOW-AXFR', 'ALLOW-AXFR-FROM')"):
            meta.setdefault((domain_id, kind), []).append(content)
        for zone in zones.values():
            key = meta.get((zone['id'], 'AXFR-MASTER-TSIG'))
            for primary in zone['primaries']:
                primary['key'] = _norm(key[0]) if key else None
            zone['accepted_keys'] = sorted(_norm(k) for k in meta.get((zone['id'], 'TSIG-ALLOW-AXFR'), []))
            zone['transfer_acl'] = acl_id([sorted(str(a).lower() for a in meta.get((zone['id'], 'ALLOW-AXFR-FROM'), [])),
                                           zone['accepted_keys']])
            del zone['id']
        keys = {}
        for name, algorithm, secret in connection.execute('SELECT name, algorithm, secret FROM tsigkeys'):
            keys[_norm(name)] = {'algorithm': _norm(algorithm), 'secret': secret}
        catalogs = dict((name, {'primaries': zone['primaries']}) for name, zone in zones.items()
                        if zone['type'] == 'consumer')
        return {'zones': zones, 'keys': keys, 'catalogs': catalogs}
    except sqlite3.Error as exc:
        raise ZonesyncError('cannot read the PowerDNS database %s: %s' % (database, exc))
    finally:
        connection.close()


# --------------------------------------------------------------------------
# Comparison and logs
# --------------------------------------------------------------------------

def _secret_bytes(secret):
    try:
        return base64.b64decode(str(secret or ''), validate=False)
    except (ValueError, TypeError):
        return None


def compare_keys(state_keys, expect_keys):
    """For each expected key (name, algorithm, secret): present, algorithm, algorithm_matches, secret_matches."""
    out = []
    for key in expect_keys or []:
        name = _norm(key.get('name'))
        have = state_keys.get(name)
        entry = {'name': name, 'present': have is not None, 'algorithm': None, 'algorithm_matches': None,
                 'secret_matches': None}
        if have is not None:
            wanted_algorithm = _norm(key.get('algorithm') or 'hmac-sha256')
            entry['algorithm'] = have['algorithm']
            entry['algorithm_matches'] = have['algorithm'] == wanted_algorithm
            mine, theirs = _secret_bytes(have.get('secret')), _secret_bytes(key.get('secret'))
            entry['secret_matches'] = bool(mine) and bool(theirs) and hmac.compare_digest(mine, theirs)
        out.append(entry)
    return out


# What the server sends (transfers out, including the checks' own), not what it pulls: BIND "client @0x...",
# PowerDNS "AXFR-out".
_OUTGOING_RE = re.compile(r'client @0x|AXFR-out')


def zone_log_lines(journal_text, zones, kept=LOG_KEPT):
    """zone -> the last ``kept`` journal lines that name it, about what the server pulls (not what it serves)."""
    wanted = dict((_norm(z), []) for z in zones)
    if not wanted:
        return {}
    patterns = dict((z, re.compile(r"(?<![\w.-])%s(?!\.?[\w-])" % re.escape(z), re.IGNORECASE)) for z in wanted)
    for line in journal_text.splitlines():
        if _OUTGOING_RE.search(line):
            continue
        for zone, pattern in patterns.items():
            if pattern.search(line):
                wanted[zone].append(line.strip())
    return dict((z, lines[-kept:]) for z, lines in wanted.items())


# PowerDNS 4.7: "Unable to retrieve SOA for x, ... Skipping SOA checks until <unix time>"; older releases say
# "Excluding zone 'x' from slave-checks until <time>".
_BACKOFF_RE = re.compile(r"(?:Skipping SOA checks|from (?:slave|secondary)-checks) until (\d{9,}|[^,]+?)\s*(?:$|,)",
                         re.IGNORECASE)
_TSIG_LOG_RE = re.compile(r'\b(BADKEY|BADSIG|BADTIME|tsig verify failure|bad key|clock skew|Not Authorized|NOTAUTH)',
                          re.IGNORECASE)


# What a server logs when it cannot write a zone's copy (BIND: "dumping master file: ...: open: permission
# denied", or "open: invalid file" when the directory is not one; SQLite under PowerDNS: "attempt to write a
# readonly database", "unable to open database file").
_WRITE_ERROR_RE = re.compile(r'permission denied|read-only file system|readonly database|no space left on device|'
                             r'unable to open database file|dumping master file: \S+: \w+: |unable to remove masterfile|'
                             r'could not set file modification time', re.IGNORECASE)


def storage_log_lines(journal_text, marks, kept=LOG_KEPT):
    """The last journal lines that say a write failed and name one of ``marks`` (paths, 'zone example.test/')."""
    found = []
    for line in journal_text.splitlines():
        if _WRITE_ERROR_RE.search(line) and any(m in line for m in marks):
            found.append(line.strip())
    return found[-kept:]


def log_findings(lines):
    """What a zone's journal lines say: {'backoff_until': str or None, 'tsig_error': str or None}."""
    out = {'backoff_until': None, 'tsig_error': None, 'last': lines[-1] if lines else None}
    for line in lines:
        match = _BACKOFF_RE.search(line)
        if match:
            until = match.group(1).strip()
            if until.isdigit():
                until = time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(int(until)))
            out['backoff_until'] = until
        match = _TSIG_LOG_RE.search(line)
        if match:
            out['tsig_error'] = line
    return out


# Catalog zones are served as PowerDNS kinds of their own; in the collection's terms they are primary/secondary.
_CATALOG_KINDS = {'producer': 'primary', 'consumer': 'secondary'}


def summarize(state, zones, expect_keys, members=None):
    """The result, without secrets: each zone's configuration as the server has it, and the keys compared.

    ``members`` maps the zones this server learns from a catalog to that catalog. BIND has no statement for
    them: they are configured when the catalog is consumed (catalog-zones), from its default primaries.
    PowerDNS has a row for each member it created, marked with its catalog.
    """
    members = dict((_norm(k), _norm(v)) for k, v in (members or {}).items())
    catalogs = state.get('catalogs') or {}
    out_zones = []
    for zone in zones:
        name = _norm(zone)
        have = state['zones'].get(name)
        catalog = members.get(name)
        if have is None and catalog is not None and catalog in catalogs and state.get('server') == 'bind':
            consumed = catalogs[catalog]
            out_zones.append({'zone': name, 'configured': True, 'type': 'secondary', 'catalog': catalog,
                              'primaries': [p['address'] for p in consumed['primaries']],
                              'key': next((p['key'] for p in consumed['primaries'] if p['key']), None)})
            continue
        if have is None:
            entry = {'zone': name, 'configured': False}
            if catalog is not None:
                entry.update(catalog=catalog, catalog_consumed=catalog in catalogs)
            out_zones.append(entry)
            continue
        entry = {'zone': name, 'configured': True, 'type': _CATALOG_KINDS.get(have['type'], have['type']),
                 'primaries': [p['address'] for p in have['primaries']],
                 'key': next((p['key'] for p in have['primaries'] if p['key']), None)}
        if have['type'] in _CATALOG_KINDS:
            entry['kind'] = have['type']
        if have.get('catalog') or catalog:
            entry['catalog'] = have.get('catalog')
        if have.get('file'):
            entry['file'] = have['file']
        if have.get('transfer_acl'):
            entry['transfer_acl'] = have['transfer_acl']
        out_zones.append(entry)
    return {'zones': out_zones, 'keys': compare_keys(state['keys'], expect_keys)}
