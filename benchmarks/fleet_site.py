# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Grow the running podman lab to N zones through site.yml and the documented zonesync_zones, and time it.

Run by `make bench-fleet` after `make lab`. Every figure comes from this run:

- peer: today's per-zone path before the batched writes (the collection at PEER_REF, one task per zone),
  on the same lab with --peer-zones zones: its first site.yml and its second;
- first site.yml with N extra zones (until the convergence role has seen every zone x server pair agree);
- second site.yml (changed count and time);
- one record changed in one zone: site.yml's time, and the seconds from the primary serving the new record
  to every secondary serving it;
- one zone added: which hosts report changes (in catalog mode, the default, only the primary may);
- check.yml over every zone x server pair;
- the controller's peak RSS (the largest process of each run).

The lab's four servers: a hidden BIND primary, a BIND and a PowerDNS secondary, and a BIND second tier fed by
the BIND secondary. Queries go only to the lab's containers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import dns.message
import dns.query
import dns.rdatatype

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, '.tmp', 'lab')
VENV_BIN = os.path.join(ROOT, '.venv', 'bin')
SERVERS = {'zs-lab-hidden': '10.89.153.10', 'zs-lab-bind': '10.89.153.11', 'zs-lab-pdns': '10.89.153.12',
           'zs-lab-tier2': '10.89.153.13'}
SECONDARIES = ('zs-lab-bind', 'zs-lab-pdns', 'zs-lab-tier2')
PEER_REF = '4ffccdc'   # the last commit with one zone_file/pdnsutil task per zone


def lab_vars():
    out = subprocess.run([sys.executable, '-c', 'import yaml, json, sys; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
                          os.path.join(ROOT, 'lab', 'inventory', 'group_vars', 'all.yml')],
                         check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    data['tsig_key_store'] = os.path.join(STATE, 'keys')
    return data


def bench_zone(name, www='192.0.2.1', catalog=False):
    """A zone of the bench: in explicit mode it lists the lab's secondaries; in catalog mode it lists none and
    joins the lab's catalog (catalog.zonesync.invalid, whose consumers are the same three)."""
    zone = {'name': name, 'primary': 'zs-lab-hidden', 'ns': ['ns1.example.test', 'ns2.example.test'],
            'records': [{'name': 'www', 'type': 'A', 'value': www}]}
    if not catalog:
        zone.update(key='lab-transfer',
                    secondaries=['zs-lab-bind', 'zs-lab-pdns', {'host': 'zs-lab-tier2', 'upstream': 'zs-lab-bind'}])
    return zone


def write_inventory(name, zones):
    """An inventory: the lab's hosts, and group_vars with the lab's zones plus ``zones``."""
    inventory = os.path.join(STATE, name)
    os.makedirs(os.path.join(inventory, 'group_vars'), exist_ok=True)
    with open(os.path.join(ROOT, 'lab', 'inventory', 'hosts.yml')) as handle:
        hosts = handle.read()
    with open(os.path.join(inventory, 'hosts.yml'), 'w') as handle:
        handle.write(hosts)
    data = lab_vars()
    data['zonesync_zones'] = data['zonesync_zones'] + zones
    with open(os.path.join(inventory, 'group_vars', 'all.json'), 'w') as handle:
        json.dump(data, handle)
    return inventory


COLLECTIONS = None


def run_playbook(inventory, playbook, log, collections=None, extra=()):
    """Run ansible-playbook; returns (seconds, rc, peak RSS in MB of the largest process, per-host changed)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections or COLLECTIONS,
               ANSIBLE_FORCE_COLOR='false', ANSIBLE_HOST_KEY_CHECKING='false',
               # The lab inventory's podman_nsenter connection (nsenter and pipelining, as ssh with pipelining).
               ANSIBLE_CONNECTION_PLUGINS=os.path.join(ROOT, 'tests', 'podman', 'connection_plugins'),
               # Each task's time in the log, and the slowest 25 at its end (ansible.posix, from the ansible package).
               ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks', PROFILE_TASKS_TASK_OUTPUT_LIMIT='25',
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    wrapper = ('import resource, subprocess, sys\nrc = subprocess.call(sys.argv[1:])\n'
               'print("PEAK_RSS_KB=%d" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n'
               'sys.exit(rc)\n')
    cmd = [sys.executable, '-c', wrapper, os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, playbook] + list(extra)
    started = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.time() - started
    with open(os.path.join(STATE, log), 'w') as handle:
        handle.write(proc.stdout + proc.stderr)
    rss = int(re.search(r'PEAK_RSS_KB=(\d+)', proc.stderr).group(1)) / 1024.0
    changed = dict((m.group(1), int(m.group(2))) for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)', proc.stdout, re.M))
    return seconds, proc.returncode, rss, changed


def answer(address, qname):
    query = dns.message.make_query(qname, dns.rdatatype.A)
    try:
        response = dns.query.udp(query, address, timeout=0.5)
    except Exception:  # pylint: disable=broad-except
        return None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.A:
            return sorted(rd.address for rd in rrset)
    return None


class Propagation(threading.Thread):
    """Polls every server for ``qname`` until all serve ``value``: when the primary did, and when the last did."""

    def __init__(self, qname, value):
        super().__init__(daemon=True)
        self.qname, self.value = qname, value
        self.seen = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() and len(self.seen) < len(SERVERS):
            for host, address in SERVERS.items():
                if host not in self.seen and answer(address, self.qname) == [self.value]:
                    self.seen[host] = time.time()
            time.sleep(0.1)

    def spread(self):
        if 'zs-lab-hidden' not in self.seen or any(h not in self.seen for h in SECONDARIES):
            return None
        return max(self.seen[h] for h in SECONDARIES) - self.seen['zs-lab-hidden']


def snapshot():
    """The collection as it is in the work tree now (the files git tracks or would add), so that edits made while
    the benchmark runs do not reach it."""
    target = os.path.join(ROOT, '.tmp', 'bench-collections')
    dest = os.path.join(target, 'ansible_collections', 'dnsops', 'zonesync')
    subprocess.run(['rm', '-rf', target], check=True)
    os.makedirs(dest)
    files = subprocess.run(['git', '-C', ROOT, 'ls-files', '--cached', '--others', '--exclude-standard', '-z'],
                           check=True, capture_output=True).stdout.decode().split('\0')
    for name in filter(None, files):
        source = os.path.join(ROOT, name)
        if not os.path.isfile(source):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        with open(source, 'rb') as handle, open(os.path.join(dest, name), 'wb') as out:
            out.write(handle.read())
    return target + os.pathsep + os.path.join(ROOT, '.tmp', 'collections')


def export_peer(ref):
    """The collection as it was at ``ref``, installed where ANSIBLE_COLLECTIONS_PATH can find it."""
    target = os.path.join(ROOT, '.tmp', 'peer-collections')
    dest = os.path.join(target, 'ansible_collections', 'dnsops', 'zonesync')
    subprocess.run(['rm', '-rf', target], check=True)
    os.makedirs(dest)
    with tempfile.TemporaryFile() as tar:
        subprocess.run(['git', '-C', ROOT, 'archive', ref], stdout=tar, check=True)
        tar.seek(0)
        subprocess.run(['tar', '-x', '-C', dest], stdin=tar, check=True)
    # The other collections (containers.podman, ...) come from the usual path.
    return target + os.pathsep + os.path.join(ROOT, '.tmp', 'collections')


def line(label, seconds, rc, rss, changed=None, extra=''):
    total = sum(changed.values()) if changed else 0
    print('bench-fleet: %-46s %8.1f s  rc=%d  changed=%-5d peak RSS %6.0f MB%s' % (label, seconds, rc, total, rss, extra),
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--zones', type=int, default=1000)
    parser.add_argument('--peer-zones', type=int, default=50, help='zones for the per-zone peer (0: skip it)')
    parser.add_argument('--peer-ref', default=PEER_REF)
    parser.add_argument('--mode', choices=['catalog', 'explicit'], default='catalog',
                        help='how the secondaries learn the bench zones (the peer is always explicit)')
    args = parser.parse_args()
    catalog = args.mode == 'catalog'
    print('bench-fleet: %d zones in %s mode' % (args.zones, args.mode), flush=True)
    global COLLECTIONS  # pylint: disable=global-statement
    COLLECTIONS = snapshot()
    here = os.path.join(ROOT, '.tmp', 'bench-collections', 'ansible_collections', 'dnsops', 'zonesync')
    site = os.path.join(here, 'playbooks', 'site.yml')
    check = os.path.join(here, 'playbooks', 'check.yml')
    names = ['z%05d.bench.test' % i for i in range(args.zones)]

    if args.peer_zones:
        collections = export_peer(args.peer_ref)
        peer_names = ['p%05d.peer.test' % i for i in range(args.peer_zones)]
        inventory = write_inventory('bench-peer-inventory', [bench_zone(n) for n in peer_names])
        peer_site = os.path.join(ROOT, '.tmp', 'peer-collections', 'ansible_collections', 'dnsops', 'zonesync',
                                 'playbooks', 'site.yml')
        first = run_playbook(inventory, peer_site, 'bench-peer-first.log', collections)
        line('peer (%s): first site.yml, %d zones' % (args.peer_ref, args.peer_zones), *first,
             extra='  (%.2f s per zone)' % (first[0] / args.peer_zones))
        second = run_playbook(inventory, peer_site, 'bench-peer-second.log', collections)
        line('peer (%s): second site.yml, %d zones' % (args.peer_ref, args.peer_zones), *second,
             extra='  (%.2f s per zone)' % (second[0] / args.peer_zones))

    zones = [bench_zone(n, catalog=catalog) for n in names]
    inventory = write_inventory('bench-inventory', zones)
    first = run_playbook(inventory, site, 'bench-first.log')
    line('first site.yml, %d zones (converged at its end)' % args.zones, *first)
    second = run_playbook(inventory, site, 'bench-second.log')
    line('second site.yml', *second, extra='  per host %s' % json.dumps(second[3], sort_keys=True))

    zones[0] = bench_zone(names[0], www='192.0.2.2', catalog=catalog)
    write_inventory('bench-inventory', zones)
    watch = Propagation('www.' + names[0] + '.', '192.0.2.2')
    watch.start()
    changed = run_playbook(inventory, site, 'bench-change.log')
    watch.stop.set()
    spread = watch.spread()
    line('one record changed: site.yml', *changed,
         extra='  primary -> every secondary %s' % ('%.1f s' % spread if spread is not None else 'NOT SEEN'))

    zones.append(bench_zone('added.bench.test', catalog=catalog))
    write_inventory('bench-inventory', zones)
    added = run_playbook(inventory, site, 'bench-add.log')
    line('one zone added: site.yml', *added, extra='  per host %s' % json.dumps(added[3], sort_keys=True))

    report = os.path.join(STATE, 'bench-report')
    checked = run_playbook(inventory, check, 'bench-check.log', extra=['-e', 'check_report_dir=%s' % report])
    with open(os.path.join(report, 'report.json')) as handle:
        summary = json.load(handle)['summary']
    line('check.yml, %d zone x server pairs' % summary['pairs'], *checked,
         extra='  in sync %d, proven %d, causes %d' % (summary['in_sync'], summary['content_proven'], summary['causes']))
    # The check's peer: a dig loop that fetches and hashes every copy on the BIND servers (lab/scale.py).
    sys.path.insert(0, os.path.join(ROOT, 'lab'))
    import scale  # pylint: disable=import-outside-toplevel
    peer = scale.dig_loop(names)
    print('bench-fleet: peer of check.yml, a dig AXFR loop hashing every copy on the 3 BIND servers:   %8.1f s' % peer)
    print('bench-fleet: logs in %s/bench-*.log' % STATE)
    failed = [rc for rc in (first[1], second[1], changed[1], added[1], checked[1]) if rc]
    raise SystemExit(1 if failed else 0)


if __name__ == '__main__':
    main()
