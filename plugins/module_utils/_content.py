# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""What one server really serves: the content digest of each of its zones, and of the primary's zone files.

Serials say which version a server claims to hold; only the records prove it.
:func:`zone_digests` transfers every zone from one server (normally the host
itself, over loopback, with the fleet's read-only check key), several at a
time, and returns each zone's serial and order-independent digest (the same
digest zone_transfer_check computes). For a primary it also digests the zone
file the server should have loaded, so that a file the server refused to load,
or a hand edit, shows as "serves something other than its file".

Records are returned only for the zones named in ``collect``, so that at fleet
size digests are compared for every zone and records are read only for the
zones that differ.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, zone_text
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import ZoneDigest, textual, transfer
from ansible_collections.dnsops.zonesync.plugins.module_utils._zonefile_batch import read_cache

try:
    import dns.exception
    import dns.name
    import dns.rdataclass
    import dns.rdatatype
    import dns.zone
except ImportError:
    pass  # reported by _common.assert_requirements_present

# Records of one zone returned at most, when its records are collected to list differences.
COLLECT_LIMIT = 5000


def _record_lines(held, limit):
    """Held records as sorted 'owner ttl type rdata' lines, or None when more than ``limit``."""
    if held is None:
        return None
    lines = []
    for (name, rdtype), rdatas in textual(held).items():
        for rdata, ttl in rdatas.items():
            lines.append('%s %d %s %s' % (name, ttl, rdtype, rdata))
    if len(lines) > limit:
        return None
    return sorted(lines)


class WrittenFiles(object):
    """What zone_files recorded about the files it wrote: path -> {file: sha256 of the text, serial, records,
    digest}. A file whose bytes still hash to the recorded text is the file zone_files parsed and digested, so its
    digest is taken from the record instead of parsing the file again; any other byte (a hand edit, a file it
    never wrote) is parsed. One cache file per directory, read once.
    """

    def __init__(self):
        self.directories = {}

    def entry(self, path):
        directory = os.path.dirname(path)
        files = self.directories.get(directory)
        if files is None:
            files = self.directories[directory] = read_cache(directory)
        return files.get(path)


def _from_written(path, written):
    """{serial, digest, records} of a file zone_files wrote and nobody changed since, or None."""
    entry = written.entry(path) if written is not None else None
    if not entry or not entry.get('digest') or not isinstance(entry.get('serial'), int):
        return None
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError:
        return None
    if b'$include' in data.lower() or hashlib.sha256(data).hexdigest() != entry.get('file'):
        return None
    return {'serial': entry['serial'], 'digest': entry['digest'], 'records': entry.get('records')}


def file_digest(zone, path, collect=False, limit=COLLECT_LIMIT, written=None):
    """Digest of a zone file as a server would load it: {status, serial, digest, records, detail}.

    status is ``ok``, ``missing`` (no such file) or ``unloadable`` (the file does not parse as the zone).
    ``written``: a WrittenFiles, to take the digest of a file zone_files wrote, unchanged since, from its record
    (that record has no ``data_digest``: a caller that needs it passes None).
    A parsed file also gives ``data_digest`` (ZoneDigest.data_hexdigest) and ``signed``.
    """
    out = {'path': path, 'status': None, 'serial': None, 'digest': None, 'records': None, 'detail': None}
    if not os.path.exists(path):
        out.update(status='missing', detail='%s does not exist' % path)
        return out
    if not collect:
        known = _from_written(path, written)
        if known is not None:
            out.update(status='ok', **known)
            return out
    try:
        parsed = dns.zone.from_file(path, origin=zone, relativize=False, check_origin=True)
    except (dns.exception.DNSException, UnicodeDecodeError, ValueError) as exc:
        out.update(status='unloadable', detail='%s does not load as zone %s: %s'
                   % (path, zone_text(zone), str(exc) or type(exc).__name__))
        return out
    except OSError as exc:
        out.update(status='unreadable', detail='cannot read %s: %s' % (path, exc.strerror or exc))
        return out
    digest = ZoneDigest(zone, collect=collect, hold_limit=limit)
    for name, node in parsed.nodes.items():
        for rdataset in node.rdatasets:
            for rdata in rdataset:
                digest.add(name, rdataset.ttl, rdata)
    soa = parsed.get_rdataset(zone, dns.rdatatype.SOA)
    out.update(status='ok', serial=soa[0].serial if soa else None, digest=digest.hexdigest(), records=digest.count,
               data_digest=digest.data_hexdigest(), signed=digest.rrsigs > 0)
    if collect:
        out['record_lines'] = _record_lines(digest.held, limit)
    return out


# A status that can come from load rather than from the zone: tried again, sequentially, before reporting.
RETRIED = ('servfail',)
RETRIES = 2
RETRY_PAUSE = 0.5
# A timeout is tried again only when few zones had one: a request that waited behind the check's own parallel
# transfers on a busy server (seen at 10,000 zones: 2 of 10,004, which BIND served seconds later). Against a silent
# server every zone times out, and sequential retries would cost the timeout once per zone.
TIMEOUT_RETRIED = 'timeout'
TIMEOUT_RETRY_MAX = 10


def _one(entry, address, port, key, source, timeout, limit, signers=None, written=None):
    zone = entry['zone']
    digest = ZoneDigest(zone, collect=entry['collect'], hold_limit=limit)
    result = transfer(zone, address, port, key=key, source=source, timeout=timeout, digest=digest, signers=signers)
    out = {'zone': zone.to_text(omit_final_dot=True), 'status': result['status'], 'serial': result['serial'],
           'digest': None, 'records': None, 'detail': result.get('detail')}
    if result.get('skew') is not None:
        out['skew'] = result['skew']
    signed = False
    if result['status'] == 'ok':
        out.update(digest=digest.hexdigest(), records=digest.count, data_digest=digest.data_hexdigest())
        out.update(digest.signatures())
        signed = out['signed']
        if entry['collect']:
            out['record_lines'] = _record_lines(digest.held, limit)
    if entry['file']:
        # A signed copy is compared with its unsigned file by data digest, which only a parse gives.
        out['file'] = file_digest(zone, entry['file'], collect=entry['collect'], limit=limit,
                                  written=None if signed else written)
    return out


def zone_digests(zones, address, port=53, key=None, source=None, timeout=10.0, workers=8, collect_limit=COLLECT_LIMIT):
    """Transfer each zone from ``address`` and digest it.

    ``zones`` is a list of {'zone': dns.name.Name, 'file': path or None, 'collect': bool}.
    Returns one dictionary per zone, in the same order: zone, status (zone_transfer_check's statuses),
    serial, digest, records (count), detail, and ``file`` (see file_digest) when a file was given,
    ``record_lines`` when collected. A copy read in full also gives ``data_digest`` (without what a signer
    adds) and its signatures: ``signed``, ``rrsigs``, ``rrsig_expires``, ``rrsig_first`` and
    ``rrsig_apex_expires`` (see ZoneDigest.signatures).
    """
    if workers < 1:
        raise ZonesyncError('workers: must be 1 or more, got %s.' % workers)
    if not zones:
        return []
    signers = {}   # one TSIG signer for every request
    written = WrittenFiles()
    for entry in zones:
        if entry['file']:
            written.entry(entry['file'])   # read each directory's record before the threads start
    with ThreadPoolExecutor(max_workers=min(workers, len(zones))) as pool:
        futures = [pool.submit(_one, entry, address, port, key, source, timeout, collect_limit, signers, written)
                   for entry in zones]
        results = [f.result() for f in futures]
    # A server answers SERVFAIL when its outgoing-transfer quota is full (BIND's transfers-out, 10 by default),
    # which this check's own parallel transfers can cause next to the server's real work. Such a zone is tried
    # again, one at a time, before it is reported: a copy that could not be read is never called green, but
    # neither should the check's own load be reported as the server's fault.
    again = [i for i, out in enumerate(results) if out['status'] in RETRIED]
    timed_out = [i for i, out in enumerate(results) if out['status'] == TIMEOUT_RETRIED]
    if timed_out and len(timed_out) <= min(TIMEOUT_RETRY_MAX, len(zones) // 100):
        again = sorted(again + timed_out)
    for attempt in range(RETRIES):
        if not again:
            break
        time.sleep(RETRY_PAUSE * (attempt + 1))
        for i in again:
            results[i] = _one(zones[i], address, port, key, source, timeout, collect_limit, signers, written)
            results[i]['attempts'] = attempt + 2
        again = [i for i in again if results[i]['status'] in RETRIED]   # a timeout is tried again once at most
    return results
