"""The built-in lab: a small DNS fleet on loopback, checked with the collection's own modules.

    lab.py up     start the fleet (real named and pdns_server processes) and write .tmp/lab/state.json
    lab.py down   stop it and remove the loopback addresses it added

The fleet: a hidden BIND primary, a BIND secondary, a PowerDNS secondary and
a second-tier BIND secondary fed by the first one, all transferring with one
TSIG key. Servers listen on 127.53.x.y addresses only.
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import dnslab  # noqa: E402

STATE_DIR = os.path.join(REPO, '.tmp', 'lab')
STATE = os.path.join(STATE_DIR, 'state.json')
ZONES = ['example.test.', 'example.net.']


def up():
    if os.path.exists(STATE):
        down()
    missing = dnslab.missing_prerequisites()
    if missing:
        sys.exit('lab: missing %s; run "make deps" first.' % ', '.join(missing))
    os.makedirs(STATE_DIR, exist_ok=True)
    key = dnslab.make_key('lab-transfer')
    primary = dnslab.BindServer(os.path.join(STATE_DIR, 'primary'), dnslab.allocate_address())
    sec_bind = dnslab.BindServer(os.path.join(STATE_DIR, 'secondary-bind'), dnslab.allocate_address())
    sec_pdns = dnslab.PdnsServer(os.path.join(STATE_DIR, 'secondary-pdns'), dnslab.allocate_address())
    tier2 = dnslab.BindServer(os.path.join(STATE_DIR, 'tier2-bind'), dnslab.allocate_address())
    outsider = dnslab.allocate_address()
    servers = [primary, sec_bind, sec_pdns, tier2]
    try:
        for server in servers:
            server.add_key(key)
        for i, zone in enumerate(ZONES):
            # The hidden primary is not in the NS set: only the secondaries are.
            records = [('ns1', 'A', sec_bind.address), ('ns2', 'A', sec_pdns.address), ('ns3', 'A', tier2.address),
                       ('www', 'A', '192.0.2.%d' % (10 + i))]
            text = dnslab.make_zone_text(zone, 2026112101, ns=('ns1', 'ns2', 'ns3'), records=records, count=20)
            # Transfers need a listed secondary address AND the key.
            primary.add_primary(zone, text,
                                allow_transfer=['!{ !%s; !%s; any; }' % (sec_bind.address, sec_pdns.address),
                                                'key "%s"' % key.name],
                                also_notify=[(sec_bind.address, 53), (sec_pdns.address, 53)])
            sec_bind.add_secondary(zone, [(primary.address, 53, key)],
                                   allow_transfer=['!{ !%s; any; }' % tier2.address, 'key "%s"' % key.name],
                                   extra=['notify explicit;', 'also-notify { %s port 53; };' % tier2.address])
            sec_pdns.add_secondary(zone, [(primary.address, 53)], key=key)
            tier2.add_secondary(zone, [(sec_bind.address, 53, key)])
        for server in servers:
            server.start()
    except Exception:
        for server in servers:
            server.stop()
        dnslab.release_addresses()
        raise
    dnslab.ensure_address(outsider)
    state = {
        'zones': ZONES,
        'key': {'name': key.name, 'algorithm': key.algorithm, 'file': os.path.join(STATE_DIR, 'lab-transfer.key')},
        'primary': primary.address,
        'secondaries': {'secondary-bind': sec_bind.address, 'secondary-pdns': sec_pdns.address,
                        'tier2-bind': tier2.address},
        'outsider': outsider,
        'pids': [s.proc.pid for s in servers],
        'addresses': [s.address for s in servers] + [outsider],
    }
    with open(state['key']['file'], 'w') as handle:
        handle.write('key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' % (key.name, key.algorithm, key.secret))
    os.chmod(state['key']['file'], 0o600)
    with open(STATE, 'w') as handle:
        json.dump(state, handle, indent=2)
    print('lab: hidden primary %s; secondaries: BIND %s, PowerDNS %s, second tier BIND %s (fed by %s)'
          % (primary.address, sec_bind.address, sec_pdns.address, tier2.address, sec_bind.address))


def down():
    if not os.path.exists(STATE):
        print('lab: nothing running')
        return
    with open(STATE) as handle:
        state = json.load(handle)
    for pid in state['pids']:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for pid in state['pids']:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for address in state['addresses']:
        subprocess.run(['ip', 'addr', 'del', address + '/32', 'dev', 'lo'], capture_output=True, check=False)
    os.unlink(STATE)
    print('lab: stopped %d servers' % len(state['pids']))


def table(path):
    """Print the zones x servers convergence table from a soa_serial result."""
    with open(path) as handle:
        report = json.load(handle)
    names = {}
    if os.path.exists(STATE):
        with open(STATE) as handle:
            state = json.load(handle)
        names[state['primary']] = 'hidden-primary'
        names.update(dict((v, k) for k, v in state['secondaries'].items()))
    fmt = '%-14s %-16s %-13s %-11s %-8s %8s %10s'
    print(fmt % ('ZONE', 'SERVER', 'ADDRESS', 'SERIAL', 'STATUS', 'RTT ms', 'EXPIRE s'))
    for zone in report['zones']:
        for row in zone['servers']:
            print(fmt % (zone['zone'], names.get(row['address'], ''), row['server'], row['serial'], row['status'],
                         '%.2f' % row['rtt'] if row['rtt'] is not None else '-',
                         row['expire_remaining'] if row['expire_remaining'] is not None else '-'))
    summary = report['summary']
    print('%d zones x servers checked in %.3f s: %d in sync; converged: %s'
          % (summary['checks'], report['elapsed'], summary['in_sync'], report['converged']))


if __name__ == '__main__':
    command = sys.argv[1] if len(sys.argv) > 1 else 'up'
    if command == 'table':
        table(sys.argv[2])
    else:
        {'up': up, 'down': down}[command]()
