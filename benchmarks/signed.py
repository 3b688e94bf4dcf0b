# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What reading signatures costs the content check, on a real BIND, next to dig.

    .venv/bin/python benchmarks/signed.py [--records 100000] [--runs 5]

Starts (as root, with tests/integration/dnslab.py) one BIND on 127.53.x.y serving the same RECORDS records
twice: unsigned, and signed before it is loaded with dnssec-signzone (NSEC, ECDSA P-256: an RRSIG and an NSEC
per name, as a real signed zone has). Then, for each zone, best of RUNS:

* the content check (zone_content's logic: transfer, digest, and for the signed zone the data digest and the
  earliest RRSIG expiry);
* the same transfer and digest with the signature reading switched off (the records a signer adds digested like
  any other), to show what reading the signatures adds;
* dig AXFR of the same zone (the peer), output discarded.

Prints each figure, per record on the wire, and the ratios. Traffic goes only to the server started here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.join(ROOT, '.tmp', 'collections'))


def best(fn, runs):
    times = []
    out = None
    for dummy in range(runs):
        start = time.monotonic()
        out = fn()
        times.append(time.monotonic() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--records', type=int, default=100000, help='A records in each zone (default 100000)')
    parser.add_argument('--runs', type=int, default=5, help='repetitions; the best is printed (default 5)')
    args = parser.parse_args()

    import dns.name
    import dnslab
    from ansible_collections.dnsops.zonesync.plugins.module_utils import _xfr
    from ansible_collections.dnsops.zonesync.plugins.module_utils._content import zone_digests

    workdir = tempfile.mkdtemp(prefix='zonesync-bench-signed-')
    server = None
    try:
        unsigned_zone, signed_zone = 'plain.bench.', 'signed.bench.'
        keys = os.path.join(workdir, 'keys')
        os.makedirs(keys)
        for flags in ([], ['-f', 'KSK']):
            subprocess.run(['dnssec-keygen', '-q', '-K', keys, '-a', 'ECDSAP256SHA256'] + flags + [signed_zone],
                           check=True, capture_output=True)
        unsigned_text = dnslab.make_zone_text(unsigned_zone, 1, count=args.records)
        source = os.path.join(keys, 'zone')
        with open(source, 'w') as handle:
            handle.write(dnslab.make_zone_text(signed_zone, 1, count=args.records))
        start = time.monotonic()
        subprocess.run(['dnssec-signzone', '-q', '-S', '-K', keys, '-d', keys, '-N', 'keep', '-e', '+2592000',
                        '-o', signed_zone, '-f', source + '.signed', source], check=True, capture_output=True,
                       cwd=keys)
        print('signed %d records with dnssec-signzone in %.1f s' % (args.records, time.monotonic() - start))
        with open(source + '.signed') as handle:
            signed_text = handle.read()
        key = dnslab.make_key('bench-check')
        client = dnslab.allocate_address()
        dnslab.ensure_address(client)
        server = dnslab.BindServer(os.path.join(workdir, 'bind'), dnslab.allocate_address())
        server.add_key(key)
        for zone, text in ((unsigned_zone, unsigned_text), (signed_zone, signed_text)):
            server.add_primary(zone, text, allow_transfer=['key "%s"' % key.name])
        server.start(timeout=300)

        def check(zone):
            (out,) = zone_digests([{'zone': dns.name.from_text(zone), 'file': None, 'collect': False}],
                                  server.address, key=key.dns_key, source=client, timeout=60)
            assert out['status'] == 'ok', out
            return out

        def dig(zone):
            done = subprocess.run(dnslab.dig_cmd(server.address, zone, 'AXFR', tcp=True, timeout=60,
                                                 key=key), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  check=True)
            return len(done.stdout)

        noted = _xfr._NOTED
        rows = []
        for label, zone in (('unsigned', unsigned_zone), ('signed', signed_zone)):
            seconds, out = best(lambda: check(zone), args.runs)
            _xfr._NOTED = frozenset()      # signatures digested like any record, not read
            try:
                plain_seconds, plain = best(lambda: check(zone), args.runs)
            finally:
                _xfr._NOTED = noted
            dig_seconds, dummy = best(lambda: dig(zone), args.runs)
            rows.append((label, out, seconds, plain_seconds, dig_seconds))
            assert plain['digest'] == out['digest']
        headers = ('zone', 'records', 'rrsigs', 'content check', 'without reading', 'dig AXFR', 'check/dig')
        print('\n%-9s %9s %8s %14s %16s %10s %12s' % headers)
        for label, out, seconds, plain_seconds, dig_seconds in rows:
            print('%-9s %9d %8d %12.3f s %14.3f s %8.3f s %11.2fx' % (
                label, out['records'], out.get('rrsigs') or 0, seconds, plain_seconds, dig_seconds,
                seconds / dig_seconds))
        unsigned, signed = rows
        print('\nreading the signatures adds %.1f%% to the signed zone\'s content check (%.3f s against %.3f s)'
              % (100.0 * (signed[2] - signed[3]) / signed[3], signed[2], signed[3]))
        print('per record on the wire: unsigned %.2f us, signed %.2f us (dig: %.2f us, %.2f us)' % (
            1e6 * unsigned[2] / unsigned[1]['records'], 1e6 * signed[2] / signed[1]['records'],
            1e6 * unsigned[4] / unsigned[1]['records'], 1e6 * signed[4] / signed[1]['records']))
        print('earliest signature of the signed zone: %s (%s)' % (
            time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(signed[1]['rrsig_expires'])),
            signed[1]['rrsig_first']))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        dnslab.release_addresses()


if __name__ == '__main__':
    main()
