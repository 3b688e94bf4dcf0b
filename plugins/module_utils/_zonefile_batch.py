# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Many zone files in one pass: plan each with _zonefile's serial rules, validate the changed ones in parallel,
and hand back the files to move in, all or none.

A fleet's primary writes thousands of zone files per run. One module call per zone costs about a second of
Ansible overhead each; this keeps the per-zone work to a parse and, for changed zones only, one validation
command, with the commands run side by side.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils import _zonefile
from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import serial_compare

# How many failures a message lists before it says "and N more".
SHOWN = 10
# The digests of what the last run wrote, in the zone directory: a file whose text and source are both unchanged
# since is not parsed again. Parsing both versions of 10,000 zones with dnspython took 25 s a run. It also keeps
# each file's content digest, which zone_content reads (never writes) to digest an unchanged file without parsing.
CACHE_NAME = '.zonesync-zone-files.json'
CACHE_VERSION = 2


def _sha256(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def read_cache(directory):
    """path -> {source, file, serial, records, digest} from the cache in ``directory``; {} when missing or
    unreadable."""
    if not directory:
        return {}
    try:
        with open(os.path.join(directory, CACHE_NAME)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get('version') != CACHE_VERSION or not isinstance(data.get('files'), dict):
        return {}
    return data['files']


def write_cache(directory, planned):
    """Record, for every planned file, the digest of its source and of the text now on disk, atomically."""
    files = {}
    for item in planned:
        text = item['plan']['text'] if item['plan']['changed'] else item['existing']
        if text is None or item.get('source_sha256') is None:
            continue
        files[item['path']] = {'source': item['source_sha256'], 'file': _sha256(text),
                               'serial': item['plan']['serial'], 'records': item['plan']['records'],
                               'digest': item['plan']['digest']}
    fd, tmp = tempfile.mkstemp(prefix='.zonesync-cache.', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump({'version': CACHE_VERSION, 'files': files}, handle, separators=(',', ':'))
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(directory, CACHE_NAME))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _unchanged_from_cache(cached, source_sha256, existing, min_serial, bump):
    """The plan of a file that neither its source nor its text changed since the cache was written, or None."""
    if not cached or bump or existing is None or cached.get('source') != source_sha256:
        return None
    serial = cached.get('serial')
    if not isinstance(serial, int) or not cached.get('digest') or cached.get('file') != _sha256(existing):
        return None
    if min_serial is not None and serial_compare(serial, min_serial) in (-1, None):
        return None
    return {'changed': False, 'serial': serial, 'previous_serial': serial, 'text': None,
            'records': cached.get('records'), 'reason': 'content unchanged', 'digest': cached['digest']}


def _read(path):
    if os.path.isdir(path):
        raise ZonesyncError('%s is a directory; give the zone file itself.' % path)
    if os.path.exists(path):
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', errors='replace')
    if not os.path.isdir(os.path.dirname(path) or '.'):
        raise ZonesyncError('the directory %s does not exist. Create it first (the roles do).'
                            % (os.path.dirname(path) or '.'))
    return None


def _listed(failures):
    lines = ['%s: %s' % (zone, why) for zone, why in failures[:SHOWN]]
    if len(failures) > SHOWN:
        lines.append('and %d more' % (len(failures) - SHOWN))
    return '; '.join(lines)


def plan_all(entries, now=None, cache=None):
    """Plan every entry.

    ``entries``: dicts with zone, path, and content or soa/ttl/ns/records, optional min_serial and bump.
    ``cache``: read_cache's result; a file whose source and text match it is not parsed again.
    Returns one dict per entry, in order: zone, path, existing (text or None), source_sha256 and plan (see
    _zonefile.plan_zone_file). Raises ZonesyncError naming every zone that cannot be planned, so that
    nothing is written when any zone is wrong.
    """
    cache = cache or {}
    seen = {}
    failures = []
    planned = []
    for entry in entries:
        zone = (entry.get('zone') or '').strip().rstrip('.').lower()
        if not zone:
            failures.append(('(no name)', 'an empty name is not a zone'))
            continue
        path = entry['path']
        if path in seen:
            failures.append((zone, 'its path %s is also the path of %s' % (path, seen[path])))
            continue
        seen[path] = zone
        min_serial = entry.get('min_serial')
        try:
            if min_serial is not None and not 0 <= min_serial <= 4294967295:
                raise ZonesyncError('min_serial %s is not a SOA serial (0 to 4294967295)' % min_serial)
            desired = _zonefile.desired_text(zone, content=entry.get('content'), soa=entry.get('soa'),
                                             ttl=entry.get('ttl') or 3600, ns=entry.get('ns'),
                                             records=entry.get('records'))
            existing = _read(path)
            source_sha256 = _sha256(desired)
            plan = _unchanged_from_cache(cache.get(path), source_sha256, existing, min_serial, bool(entry.get('bump')))
            if plan is None:
                plan = _zonefile.plan_zone_file(zone, desired, existing, now=now, min_serial=min_serial,
                                                bump=bool(entry.get('bump')))
        except ZonesyncError as exc:
            failures.append((zone, str(exc)))
            continue
        planned.append({'zone': zone, 'path': path, 'existing': existing, 'plan': plan,
                        'source_sha256': source_sha256})
    if failures:
        raise ZonesyncError('%d zone(s) cannot be written, so no zone file was changed: %s'
                            % (len(failures), _listed(failures)))
    return planned


def _validate_one(command, item):
    argv = [part.replace('%s', item['tmp']).replace('%z', item['zone']) for part in shlex.split(command)]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=False)
    except OSError as exc:
        return 'the validation command %s could not run: %s' % (argv[0], exc)
    if proc.returncode != 0:
        out = proc.stdout.decode('utf-8', errors='replace').strip() or 'no output'
        return '%s exited with %d: %s' % (argv[0], proc.returncode, out)
    return None


def stage(planned, validate=None, workers=None):
    """Write each changed zone's new text to a temporary file beside it and validate them side by side.

    Returns the changed items with 'tmp' set. When any validation fails, every temporary file is removed and
    ZonesyncError names the zones that failed: the files in place are all kept.
    """
    if validate is not None and '%s' not in validate:
        raise ZonesyncError('validate: the command must contain %%s for the file, got %r.' % validate)
    changed = [item for item in planned if item['plan']['changed']]
    try:
        for item in changed:
            directory = os.path.dirname(item['path']) or '.'
            fd, item['tmp'] = tempfile.mkstemp(prefix='.%s.' % os.path.basename(item['path']), dir=directory)
            with os.fdopen(fd, 'wb') as handle:
                handle.write(item['plan']['text'].encode('utf-8'))
        if validate and changed:
            with ThreadPoolExecutor(max_workers=workers or max(2, os.cpu_count() or 2)) as pool:
                verdicts = list(pool.map(lambda item: _validate_one(validate, item), changed))
            failures = [(item['zone'], why) for item, why in zip(changed, verdicts) if why]
            if failures:
                raise ZonesyncError('%d new zone file(s) failed validation, so no zone file was changed: %s'
                                    % (len(failures), _listed(failures)))
    except BaseException:
        discard(changed)
        raise
    return changed


def discard(items):
    """Remove the temporary files of staged items that were not moved in."""
    for item in items:
        tmp = item.get('tmp')
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def carry_attributes(item):
    """Give the staged file the mode and owner of the file it replaces (0644 for a new file)."""
    if item['existing'] is not None and os.path.exists(item['path']):
        st = os.stat(item['path'])
        os.chmod(item['tmp'], st.st_mode & 0o7777)
        try:
            os.chown(item['tmp'], st.st_uid, st.st_gid)
        except OSError:
            pass
    else:
        os.chmod(item['tmp'], 0o644)
