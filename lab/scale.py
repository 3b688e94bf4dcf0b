"""Grow the running lab to many zones and time check.yml across them (`make lab-scale`).

The roles deploy zones one task item at a time, which is not how a 10,000-zone
measurement should spend its minutes; this script loads the extra zones into
the lab's BIND servers directly: N small zones on the hidden primary, pulled
with the lab's TSIG key by the BIND secondary, and by the second tier from it.
It then writes an inventory that lists them (the lab's own, plus the extra
zones) and runs playbooks/check.yml against it, printing the wall time; and,
as the peer an operator would otherwise script, the time of a dig loop that
fetches every copy (AXFR with the check key, from each server itself, the
three servers at once) and hashes it, without comparing or diagnosing anything.

The extra zones live in /etc/bind/zonesync-scale.conf, included from
named.conf; the next `make lab` (site.yml rewrites named.conf) drops them.

    python lab/scale.py [--zones 10000] [--no-peer]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, '.tmp', 'lab')
PRIMARY, SECONDARY, TIER2 = ('zs-lab-hidden', '10.89.153.10'), ('zs-lab-bind', '10.89.153.11'), ('zs-lab-tier2', '10.89.153.13')
KEY = 'lab-transfer'
CHECK_KEY = 'zonesync-check'


def podman(*args, **kwargs):
    return subprocess.run(['podman'] + list(args), check=True, capture_output=True, text=True, **kwargs)


def zone_names(count):
    return ['z%05d.scale.test' % i for i in range(count)]


def conf(names, role, own, upstream=None, downstreams=()):
    # As the roles write it: the downstreams with the transfer key, and the server itself with the read-only
    # check key (check.yml digests every copy from the server that holds it).
    acl = '!{ !{ %s }; any; }; key "%s"; key "%s";' % (' '.join('%s;' % d for d in list(downstreams) + [own]), KEY, CHECK_KEY)
    out = []
    for name in names:
        if role == 'primary':
            body = 'type primary; file "/var/lib/bind/zonesync/%s.zone";' % name
        else:
            body = 'type secondary; file "/var/cache/bind/zonesync/%s.db"; primaries { %s key "%s"; };' % (name, upstream, KEY)
        notify = 'notify explicit; also-notify { %s };' % ' '.join('%s;' % d for d in downstreams) if downstreams else 'notify no;'
        out.append('zone "%s" { %s %s allow-transfer { %s }; };' % (name, body, notify, acl))
    return '\n'.join(out) + '\n'


def install(container, text):
    with tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False) as handle:
        handle.write(text)
    try:
        podman('cp', handle.name, '%s:/etc/bind/zonesync-scale.conf' % container)
    finally:
        os.unlink(handle.name)
    podman('exec', container, 'sh', '-c',
           'chmod 0644 /etc/bind/zonesync-scale.conf && grep -q zonesync-scale.conf /etc/bind/named.conf || '
           'echo \'include "/etc/bind/zonesync-scale.conf";\' >> /etc/bind/named.conf')
    podman('exec', container, 'named-checkconf')
    podman('exec', container, 'rndc', 'reconfig')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--zones', type=int, default=10000)
    parser.add_argument('--no-peer', action='store_true', help='do not time the dig loop')
    args = parser.parse_args()
    names = zone_names(args.zones)

    started = time.time()
    # Zone files on the primary, written by one shell loop inside the container.
    script = ('set -e; cd /var/lib/bind/zonesync; i=0; while [ $i -lt %d ]; do n=$(printf "z%%05d.scale.test" $i); '
              'printf "\\$ORIGIN $n.\\n\\$TTL 3600\\n@ IN SOA ns1.example.test. hostmaster.example.test. 2026010100 300 60 1209600 300\\n'
              '@ IN NS ns1.example.test.\\n@ IN NS ns2.example.test.\\nwww IN A 192.0.2.1\\n" > $n.zone; i=$((i+1)); done' % args.zones)
    podman('exec', PRIMARY[0], 'sh', '-c', script)
    install(PRIMARY[0], conf(names, 'primary', PRIMARY[1], downstreams=[SECONDARY[1]]))
    install(SECONDARY[0], conf(names, 'secondary', SECONDARY[1], upstream=PRIMARY[1], downstreams=[TIER2[1]]))
    install(TIER2[0], conf(names, 'secondary', TIER2[1], upstream=SECONDARY[1]))
    print('scale: %d zones loaded in %.1f s; waiting for the secondaries to transfer them' % (args.zones, time.time() - started))

    # The inventory: the lab's, with the extra zones added to zonesync_zones.
    inventory = os.path.join(STATE, 'scale-inventory')
    os.makedirs(os.path.join(inventory, 'group_vars'), exist_ok=True)
    with open(os.path.join(ROOT, 'lab', 'inventory', 'hosts.yml')) as handle:
        hosts = handle.read()
    with open(os.path.join(inventory, 'hosts.yml'), 'w') as handle:
        handle.write(hosts)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.tmp', 'collections'))
    base = subprocess.run([sys.executable, '-c', 'import yaml, json, sys; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
                           os.path.join(ROOT, 'lab', 'inventory', 'group_vars', 'all.yml')],
                          check=True, capture_output=True, text=True).stdout
    group_vars = json.loads(base)
    group_vars['tsig_key_store'] = os.path.join(STATE, 'keys')
    group_vars['zonesync_zones'] = group_vars['zonesync_zones'] + [
        {'name': n, 'primary': PRIMARY[0], 'key': KEY, 'ns': ['ns1.example.test', 'ns2.example.test'],
         'secondaries': [SECONDARY[0], {'host': TIER2[0], 'upstream': SECONDARY[0]}],
         'records': [{'name': 'www', 'type': 'A', 'value': '192.0.2.1'}]} for n in names]
    with open(os.path.join(inventory, 'group_vars', 'all.json'), 'w') as handle:
        json.dump(group_vars, handle)

    # Wait for every copy with the collection's own module, then time check.yml.
    waited = time.time()
    wait_vars = os.path.join(STATE, 'scale-wait.json')
    with open(wait_vars, 'w') as handle:
        json.dump({'scale_zones': names, 'scale_servers': [PRIMARY[1], SECONDARY[1], TIER2[1]]}, handle)
    wait_play = os.path.join(STATE, 'scale-wait.yml')
    with open(wait_play, 'w') as handle:
        handle.write('- hosts: localhost\n  gather_facts: false\n  tasks:\n    - dnsops.zonesync.soa_serial:\n'
                     '        zones: "{{ scale_zones }}"\n        servers: "{{ scale_servers }}"\n'
                     '        reference: "{{ scale_servers[0] }}"\n        wait_timeout: 900\n        fail_on_divergence: true\n')
    wait = subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-c', 'local', '-i', 'localhost,',
                           wait_play, '-e', '@' + wait_vars, '-e', 'ansible_python_interpreter=%s' % sys.executable],
                          env=env, capture_output=True, text=True, check=False)
    if wait.returncode != 0:
        print(wait.stdout[-3000:], wait.stderr[-3000:])
        raise SystemExit('scale: the secondaries did not converge')
    print('scale: %d zones x 3 servers in sync after %.1f s' % (args.zones, time.time() - waited))
    started = time.time()
    check = subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', inventory,
                            os.path.join(ROOT, 'playbooks', 'check.yml'), '-e', 'check_report_dir=%s' % os.path.join(STATE, 'scale-report')],
                           env=env, capture_output=True, text=True, check=False)
    elapsed = time.time() - started
    with open(os.path.join(STATE, 'scale-check.log'), 'w') as handle:
        handle.write(check.stdout + check.stderr)
    with open(os.path.join(STATE, 'scale-report', 'report.json')) as handle:
        summary = json.load(handle)['summary']
    print('scale: check.yml across %d zones (%d zone x server pairs) took %.1f s (exit %d): %s'
          % (summary['zones'], summary['pairs'], elapsed, check.returncode, json.dumps(summary)))
    print('scale: output in %s' % os.path.join(STATE, 'scale-check.log'))
    if not args.no_peer:
        peer = dig_loop(names)
        print('scale: peer, a dig AXFR loop hashing every copy (%d zones x 3 servers, the servers at once): %.1f s'
              % (len(names), peer))
    raise SystemExit(check.returncode)


def dig_loop(names):
    """Seconds for `dig AXFR | sort | sha256sum` of every zone on every server, each server from itself."""
    with open(os.path.join(STATE, 'keys', CHECK_KEY + '.json')) as handle:
        key = json.load(handle)
    key_text = 'key "%s" { algorithm %s; secret "%s"; };\n' % (key['name'], key['algorithm'], key['secret'])
    zones = ''.join('%s\n' % name for name in names)
    procs = []
    for container, address in (PRIMARY, SECONDARY, TIER2):
        # The key goes in a file readable by root only, never on a command line; the zone names go in a file too
        # (10,000 of them are too long for one command line).
        podman('exec', '-i', container, 'sh', '-c', 'umask 077; cat > /run/zonesync-bench.key', input=key_text)
        podman('exec', '-i', container, 'sh', '-c', 'cat > /run/zonesync-bench.zones', input=zones)
    started = time.time()
    for container, address in (PRIMARY, SECONDARY, TIER2):
        script = ('while read -r z; do dig @%s -b %s -k /run/zonesync-bench.key +noall +answer AXFR "$z" | sort | sha256sum; '
                  'done < /run/zonesync-bench.zones > /dev/null; rm -f /run/zonesync-bench.key /run/zonesync-bench.zones'
                  % (address, address))
        procs.append(subprocess.Popen(['podman', 'exec', container, 'sh', '-c', script]))
    for proc in procs:
        proc.wait()
    return time.time() - started


if __name__ == '__main__':
    main()
