# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark the collection's SOA and transfer checks against dig and plain dnspython.

    .venv/bin/python benchmarks/run.py [--zones 10000] [--records 100000] [--big 1000000] [--runs 3]

Starts (as root, with tests/integration/dnslab.py) a real BIND primary and a
real BIND secondary on 127.53.x.y: ZONES small zones, a zone of RECORDS
records and one of BIG records (0 skips it), the secondary transferring all
of them from the primary with TSIG. Then, side by side in one run:

* SOA serials of every zone on both servers (ZONES x 2 checks): the
  collection's SerialCheck (soa_serial's logic), unsigned and TSIG-signed;
  a dig loop (a sample, extrapolated); plain dnspython dns.query.udp in
  sequence (a sample, extrapolated).
* AXFR of the RECORDS zone with TSIG: dig AXFR -y; the collection's
  check_zone_transfer (zone_transfer_check's logic: TSIG verified on every
  signed message, digest); dnspython inbound_xfr into a dns.zone.Zone.
* Content comparison of that zone, primary against the secondary: the
  collection (compare_with) and dnspython (two zones, compared).
* The BIG zone: the collection's transfer and digest comparison with the
  secondary, and dig AXFR.

Each run of the collection's code (and of dnspython) is a child process, so
its peak RSS (VmHWM, read by the child itself) is its own. Traffic goes only to the two
servers started here. Prints every figure, the ratios (ours / theirs) and
whether each target of issue 5 is met.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COLLECTIONS = os.path.join(REPO, '.tmp', 'collections')
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
sys.path.insert(0, COLLECTIONS)

BIG_ZONE = 'big.bench.'
HUGE_ZONE = 'huge.bench.'
KEY_NAME = 'bench-key'


def link_collection():
    """The repository importable as ansible_collections.dnsops.zonesync (as tests/conftest.py does)."""
    ns_dir = os.path.join(COLLECTIONS, 'ansible_collections', 'dnsops')
    link = os.path.join(ns_dir, 'zonesync')
    os.makedirs(ns_dir, exist_ok=True)
    if not (os.path.islink(link) and os.path.realpath(link) == REPO):
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(REPO, link)


def small_zone(i):
    return 'z%05d.bench.' % i


def rich_zone_text(origin, serial, records):
    """About ``records`` records of a realistic mix: A, AAAA, TXT, MX, CNAME, SRV, SSHFP, delegations."""
    lines = ['$ORIGIN %s' % origin, '$TTL 3600',
             '@ IN SOA ns1 hostmaster %d 3600 600 1209600 300' % serial,
             '@ IN NS ns1', '@ IN NS ns2', 'ns1 IN A 127.53.0.1', 'ns2 IN A 127.53.0.2',
             '@ IN MX 10 mail', 'mail IN A 192.0.2.25', '@ IN TXT "v=spf1 mx -all"',
             '@ IN CAA 0 issue "ca.example"']
    count = len(lines) - 2
    i = 0
    while count < records:
        host = 'host%d' % i
        lines.append('%s IN A 10.%d.%d.%d' % (host, (i >> 16) & 255, (i >> 8) & 255, i & 255))
        count += 1
        if i % 4 == 0:
            lines.append('%s IN AAAA 2001:db8::%x:%x' % (host, i >> 16, i & 0xffff))
            count += 1
        if i % 10 == 1:
            lines.append('%s IN TXT "id=%d" "owner=team%d"' % (host, i, i % 17))
            count += 1
        if i % 20 == 2:
            lines.append('%s IN MX %d mx%d.%s' % (host, i % 50, i % 3, origin))
            count += 1
        if i % 25 == 3:
            lines.append('www%d IN CNAME %s' % (i, host))
            count += 1
        if i % 50 == 4:
            lines.append('_sip._tcp.%s IN SRV 10 20 5060 %s' % (host, host))
            count += 1
        if i % 500 == 5:
            lines.append('sub%d IN NS ns.sub%d' % (i, i))
            lines.append('ns.sub%d IN A 192.0.2.%d' % (i, i % 250 + 1))
            count += 2
        if i % 1000 == 6:
            lines.append('%s IN SSHFP 1 1 %040x' % (host, i))
            count += 1
        i += 1
    return '\n'.join(lines) + '\n'


def load():
    with open('/proc/loadavg') as handle:
        return ' '.join(handle.read().split()[:3])


# --------------------------------------------------------------------------
# Child processes: one measurement each, JSON on stdout
# --------------------------------------------------------------------------

def child(argv):
    mode = argv[0]
    spec = json.loads(argv[1])
    link_collection()
    import dns.name
    import dns.tsig
    key = None
    if spec.get('key'):
        key = dns.tsig.Key(spec['key'][0], spec['key'][2], spec['key'][1])
    out = {}
    if mode == 'baseline':
        from ansible_collections.dnsops.zonesync.plugins.module_utils import _soa, _xfr  # noqa: F401
    elif mode == 'soa':
        from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SerialCheck
        zones = [dns.name.from_text(small_zone(i)) for i in range(spec['zones'])]
        out['runs'] = []
        for dummy in range(spec['runs']):
            start = time.monotonic()
            report = SerialCheck(zones, servers=spec['servers'], reference=spec['servers'][0], key=key,
                                 timeout=2.0, retries=2).run()
            out['runs'].append(time.monotonic() - start)
            out['summary'] = report['summary']
    elif mode == 'xfr':
        from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import expand_servers
        from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import check_zone_transfer
        server = expand_servers([spec['server']], None, True)[0]
        compare = [expand_servers([c], None, True)[0] for c in spec.get('compare', [])]
        start = time.monotonic()
        ok, result = check_zone_transfer(dns.name.from_text(spec['zone']), server, key=key, compare_with=compare,
                                         key_name=spec['key'][0] if key else None)
        out['elapsed'] = time.monotonic() - start
        out.update(ok=ok, status=result['status'], records=result['records'], messages=result['messages'],
                   signed=result['signed_messages'], digest=result.get('digest'), bytes=result['bytes'],
                   compared=[(c['status'], c.get('digest') == result.get('digest')) for c in result['compared']])
    elif mode == 'dnspython-soa':
        import dns.flags
        import dns.message
        import dns.query
        count = 0
        start = time.monotonic()
        for i in range(spec['queries']):
            server = spec['servers'][i % len(spec['servers'])]
            query = dns.message.make_query(small_zone((i // len(spec['servers'])) % spec['zones']), 'SOA')
            query.flags &= ~dns.flags.RD
            answer = dns.query.udp(query, server, timeout=2.0)
            if answer.flags & dns.flags.AA and answer.answer:
                count += 1
        out.update(elapsed=time.monotonic() - start, answered=count)
    elif mode == 'dnspython-xfr':
        import dnslab
        tkey = dnslab.TsigKey(*spec['key']) if spec.get('key') else None
        start = time.monotonic()
        zones = [dnslab.axfr(server, spec['zone'], key=tkey, timeout=60.0) for server in spec['servers']]
        out['records'] = sum(len(rdataset) for name, node in zones[0].nodes.items() for rdataset in node)
        if len(zones) > 1:
            out['equal'] = zones[0] == zones[1]
        out['elapsed'] = time.monotonic() - start
    else:
        raise SystemExit('unknown child mode %r' % mode)
    out['vmhwm_kb'] = peak_rss_kb()
    sys.stdout.write(json.dumps(out) + '\n')


def peak_rss_kb():
    """This process's peak resident set size (VmHWM), in kB."""
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def run_child(mode, spec):
    """Run one measurement in a child process; returns (its JSON output, its peak RSS in MB, wall seconds).

    The peak RSS is the child's own VmHWM, read by the child as it ends: ru_maxrss from wait4 would
    include the parent's memory at the moment of fork (exec keeps the old high-water mark).
    """
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--child', mode, json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError('child %s failed (%s):\n%s' % (mode, proc.returncode, err.decode(errors='replace')))
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result, result['vmhwm_kb'] / 1024.0, wall


# --------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------

def start_lab(args, workdir):
    import dnslab
    key = dnslab.TsigKey(KEY_NAME, 'hmac-sha256', 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=')
    primary = dnslab.BindServer(os.path.join(workdir, 'primary'), dnslab.allocate_address())
    secondary = dnslab.BindServer(os.path.join(workdir, 'secondary'), dnslab.allocate_address())
    servers = [primary, secondary]
    primary.add_key(key)
    secondary.add_key(key)
    # Lift BIND's transfer and refresh limits so the secondary fills in seconds, not minutes.
    primary.options_extra += ['transfers-out 200', 'tcp-clients 1000']
    secondary.options_extra += ['transfers-in 200', 'transfers-per-ns 200', 'serial-query-rate 100000',
                                'tcp-clients 1000']
    acl = ['key "%s"' % key.name]
    zones = [small_zone(i) for i in range(args.zones)]
    big = [(BIG_ZONE, args.records)] + ([(HUGE_ZONE, args.big)] if args.big else [])
    started = time.monotonic()
    for i, zone in enumerate(zones):
        primary.add_primary(zone, dnslab.make_zone_text(zone, 2024010100 + i, count=5), allow_transfer=acl,
                            wait=(i == len(zones) - 1))
    for zone, records in big:
        primary.add_primary(zone, rich_zone_text(zone, 2024010100, records), allow_transfer=acl)
    primary.start(timeout=600)
    primary_seconds = time.monotonic() - started
    started = time.monotonic()
    for zone in zones + [z for z, dummy in big]:
        secondary.add_secondary(zone, [(primary.address, 53, key)], allow_transfer=acl, wait=False)
    secondary.start(timeout=120)
    wait_secondary(secondary, zones, big, key)
    secondary_seconds = time.monotonic() - started
    return key, servers, primary_seconds, secondary_seconds


def wait_secondary(secondary, zones, big, key, timeout=900):
    """Until the secondary answers every zone authoritatively (checked with the collection's engine)."""
    import dns.name
    link_collection()
    from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import SoaEngine
    names = [dns.name.from_text(z) for z in zones + [z for z, dummy in big]]
    deadline = time.monotonic() + timeout
    while True:
        results = SoaEngine(timeout=1.0, retries=1).run([(n, secondary.address, 53) for n in names])
        missing = [n for n, r in zip(names, results) if r['status'] != 'answered']
        if not missing:
            return
        if time.monotonic() > deadline:
            raise RuntimeError('the secondary still lacks %d zones, e.g. %s' % (len(missing), missing[0]))
        time.sleep(1.0)


# --------------------------------------------------------------------------
# dig
# --------------------------------------------------------------------------

def dig_soa_loop(servers, zones, sample):
    import dnslab
    start = time.monotonic()
    answered = 0
    for i in range(sample):
        server = servers[i % len(servers)]
        proc = subprocess.run([dnslab.DIG, '@%s' % server, small_zone((i // len(servers)) % zones), 'SOA', '+norec',
                               '+time=2', '+tries=1', '+noall', '+answer'], capture_output=True, text=True,
                              check=False)
        if 'SOA' in proc.stdout:
            answered += 1
    return time.monotonic() - start, answered


def dig_axfr(server, zone, key, runs):
    import dnslab
    times = []
    summary = ''
    with tempfile.TemporaryFile() as out:
        for dummy in range(runs):
            out.seek(0)
            out.truncate()
            start = time.monotonic()
            subprocess.run([dnslab.DIG, '@%s' % server, zone, 'AXFR', '-y', '%s:%s:%s' % (key.algorithm, key.name,
                                                                                          key.secret)],
                           stdout=out, stderr=subprocess.DEVNULL, check=True)
            times.append(time.monotonic() - start)
        out.seek(0)
        for line in out.read().decode(errors='replace').splitlines()[-3:]:
            if 'XFR size' in line:
                summary = line.strip(' ;')
    return times, summary


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def row(label, seconds, extra=''):
    print('  %-52s %9.3f s  %s' % (label, seconds, extra))


def verdict(met):
    return 'MET' if met else 'MISSED'


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--zones', type=int, default=10000, help='small zones on both servers (default 10000)')
    parser.add_argument('--records', type=int, default=100000, help='records of the transfer zone (default 100000)')
    parser.add_argument('--big', type=int, default=1000000, help='records of the memory test zone; 0 skips it')
    parser.add_argument('--runs', type=int, default=3, help='repetitions of each timed run (default 3)')
    parser.add_argument('--dig-sample', type=int, default=200, help='dig SOA queries actually run (default 200)')
    parser.add_argument('--dnspython-sample', type=int, default=2000,
                        help='dnspython SOA queries actually run (default 2000)')
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root: the lab puts addresses on lo and starts named on port 53')
    link_collection()
    import dns.version
    import dnslab
    missing = dnslab.missing_prerequisites()
    if missing:
        raise SystemExit('missing: %s' % ', '.join(missing))
    workdir = tempfile.mkdtemp(prefix='zonesync-bench-')
    servers = []
    try:
        print('dnsops.zonesync benchmark: %d CPUs, %s, dnspython %s, %s' % (
            os.cpu_count(), subprocess.run([dnslab.NAMED, '-v'], capture_output=True, text=True, check=False).stdout.strip(),
            dns.version.version, subprocess.run([dnslab.DIG, '-v'], capture_output=True, text=True, check=False).stderr.strip()))
        print('load average at start: %s' % load())
        key, servers, primary_seconds, secondary_seconds = start_lab(args, workdir)
        primary, secondary = servers
        addresses = [primary.address, secondary.address]
        print('lab: primary %s (%d zones of 5 records, %s %d records%s) up in %.1f s; secondary %s: a real BIND '
              'secondary, every zone transferred from the primary with TSIG, in %.1f s' % (
                  primary.address, args.zones, BIG_ZONE, args.records,
                  ', %s %d records' % (HUGE_ZONE, args.big) if args.big else '', primary_seconds, secondary.address,
                  secondary_seconds))
        tkey = [key.name, key.algorithm, key.secret]
        base, base_rss, base_wall = run_child('baseline', {})
        print('child process baseline (python + dnspython + the module_utils imported): peak RSS %.1f MB, %.2f s'
              % (base_rss, base_wall))
        results = {}

        # ---------------------------------------------------------------- SOA
        checks = args.zones * 2
        print('\nSOA serials: %d zones x 2 servers = %d checks (load %s)' % (args.zones, checks, load()))
        print('  (ours: the time of SerialCheck.run() in a child process, start-up and imports not included; dig: '
              'whole processes)')
        soa, soa_rss, dummy = run_child('soa', {'zones': args.zones, 'servers': addresses, 'runs': args.runs})
        best = min(soa['runs'])
        ours_rate = checks / best
        row('ours: SerialCheck (soa_serial), UDP, best of %d' % args.runs, best,
            '%8.0f checks/s  peak RSS %.1f MB  runs %s  in_sync %d/%d' % (
                ours_rate, soa_rss, ' '.join('%.3f' % t for t in soa['runs']), soa['summary']['in_sync'],
                soa['summary']['checks']))
        spec = {'zones': args.zones, 'servers': addresses, 'runs': args.runs, 'key': tkey}
        soa_tsig, tsig_rss, dummy = run_child('soa', spec)
        best_tsig = min(soa_tsig['runs'])
        row('ours: the same, every query and answer TSIG-signed', best_tsig,
            '%8.0f checks/s  peak RSS %.1f MB  runs %s  in_sync %d/%d' % (
                checks / best_tsig, tsig_rss, ' '.join('%.3f' % t for t in soa_tsig['runs']),
                soa_tsig['summary']['in_sync'], soa_tsig['summary']['checks']))
        dig_seconds, dig_answered = dig_soa_loop(addresses, args.zones, args.dig_sample)
        dig_rate = args.dig_sample / dig_seconds
        row('dig loop: %d queries run (%d answered), extrapolated' % (args.dig_sample, dig_answered),
            checks / dig_rate, '%8.1f checks/s' % dig_rate)
        dpy, dpy_rss, dummy = run_child('dnspython-soa', {'zones': args.zones, 'servers': addresses,
                                                          'queries': args.dnspython_sample})
        dpy_rate = args.dnspython_sample / dpy['elapsed']
        row('dnspython dns.query.udp: %d run (%d answered), extrapolated' % (args.dnspython_sample, dpy['answered']),
            checks / dpy_rate, '%8.0f checks/s  peak RSS %.1f MB' % (dpy_rate, dpy_rss))
        print('  ratios: ours/dig %.0fx, ours/dnspython %.1fx; TSIG ours/dnspython unsigned %.1fx' % (
            ours_rate / dig_rate, ours_rate / dpy_rate, (checks / best_tsig) / dpy_rate))
        results['soa'] = (ours_rate >= 20000 and soa['summary']['in_sync'] == checks,
                          '%.0f checks/s (target >= 20000)' % ours_rate)

        # ---------------------------------------------------------------- AXFR
        print('\nAXFR of %s with TSIG (load %s)' % (BIG_ZONE, load()))
        print('  (ours and dnspython: the time of the call in a child process; dig: the whole process)')
        dig_times, dig_summary = dig_axfr(primary.address, BIG_ZONE, key, args.runs)
        dig_best = min(dig_times)
        row('dig AXFR -y, output to a file, best of %d' % args.runs, dig_best,
            'runs %s  (%s)' % (' '.join('%.3f' % t for t in dig_times), dig_summary))
        ours = []
        for dummy in range(args.runs):
            out, rss, dummy2 = run_child('xfr', {'zone': BIG_ZONE, 'server': primary.address, 'key': tkey})
            ours.append((out['elapsed'], rss, out))
        ours_best = min(t for t, r, o in ours)
        last = ours[-1][2]
        row('ours: check_zone_transfer, digest, best of %d' % args.runs, ours_best,
            'runs %s  peak RSS %.1f MB  %s, %d records, %d/%d messages signed' % (
                ' '.join('%.3f' % t for t, r, o in ours), max(r for t, r, o in ours), last['status'],
                last['records'], last['signed'], last['messages']))
        dpx, dpx_rss, dummy = run_child('dnspython-xfr', {'zone': BIG_ZONE, 'servers': [primary.address],
                                                          'key': tkey})
        row('dnspython inbound_xfr into a dns.zone.Zone, one run', dpx['elapsed'],
            'peak RSS %.1f MB  %d records' % (dpx_rss, dpx['records']))
        print('  ratios: ours/dig %.2f, ours/dnspython %.3f' % (ours_best / dig_best, ours_best / dpx['elapsed']))
        results['xfr'] = (ours_best <= 2 * dig_best and last['status'] == 'ok',
                          '%.3f s = %.2f x dig %.3f s (target <= 2x)' % (ours_best, ours_best / dig_best, dig_best))

        # ---------------------------------------------------------------- compare
        print('\nContent comparison of %s, primary against the secondary (load %s)' % (BIG_ZONE, load()))
        cmp_runs = []
        for dummy in range(args.runs):
            out, rss, dummy2 = run_child('xfr', {'zone': BIG_ZONE, 'server': primary.address, 'key': tkey,
                                                 'compare': [secondary.address]})
            cmp_runs.append((out['elapsed'], rss, out))
        cmp_best = min(t for t, r, o in cmp_runs)
        last = cmp_runs[-1][2]
        row('ours: check_zone_transfer compare_with, best of %d' % args.runs, cmp_best,
            'runs %s  peak RSS %.1f MB  %s, compared %s' % (
                ' '.join('%.3f' % t for t, r, o in cmp_runs), max(r for t, r, o in cmp_runs), last['status'],
                last['compared']))
        dpc, dpc_rss, dummy = run_child('dnspython-xfr', {'zone': BIG_ZONE, 'servers': addresses, 'key': tkey})
        row('dnspython: both into dns.zone.Zone, then ==, one run', dpc['elapsed'],
            'peak RSS %.1f MB  equal %s' % (dpc_rss, dpc['equal']))
        print('  ratio: ours/dnspython %.3f' % (cmp_best / dpc['elapsed']))
        results['compare'] = (cmp_best <= 1.0 and last['status'] == 'ok',
                              '%.3f s (target <= 1 s)' % cmp_best)

        # ---------------------------------------------------------------- memory
        if args.big:
            print('\n%s: %d records (load %s)' % (HUGE_ZONE, args.big, load()))
            huge_dig, huge_summary = dig_axfr(primary.address, HUGE_ZONE, key, 1)
            row('dig AXFR -y, one run', huge_dig[0], '(%s)' % huge_summary)
            out, rss, dummy = run_child('xfr', {'zone': HUGE_ZONE, 'server': primary.address, 'key': tkey})
            row('ours: check_zone_transfer, digest', out['elapsed'],
                'peak RSS %.1f MB  %s, %d records' % (rss, out['status'], out['records']))
            out, rss, dummy = run_child('xfr', {'zone': HUGE_ZONE, 'server': primary.address, 'key': tkey,
                                                'compare': [secondary.address]})
            row('ours: check_zone_transfer compare_with the secondary', out['elapsed'],
                'peak RSS %.1f MB  %s, compared %s' % (rss, out['status'], out['compared']))
            print('  ratio: ours/dig (compare includes 2 transfers) %.2f' % (out['elapsed'] / huge_dig[0]))
            results['memory'] = (rss < 150 and out['status'] == 'ok',
                                 'peak RSS %.1f MB (target < 150 MB)' % rss)

        print('\nTargets (load at the end %s):' % load())
        names = {'soa': 'soa_serial >= 20,000 checks/s', 'xfr': 'transfer check <= 2x dig AXFR',
                 'compare': 'comparison with a secondary <= 1 s', 'memory': '1M-record check < 150 MB peak RSS'}
        for name in ('soa', 'xfr', 'compare', 'memory'):
            if name in results:
                print('  %-38s %-6s %s' % (names[name], verdict(results[name][0]), results[name][1]))
    finally:
        for server in servers:
            server.stop()
        dnslab.release_addresses()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
