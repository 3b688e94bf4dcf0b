"""Bad topology input fails the server roles before anything changes, naming the variable."""

import json
import os

import pytest

from ansible_helper import ansible_env

import subprocess
import sys

GOOD_HOSTS = {
    'ns0': {'zonesync_server': 'bind', 'zonesync_listen': ['192.0.2.10']},
    'ns1': {'zonesync_server': 'powerdns', 'zonesync_listen': ['192.0.2.11']},
}
KEYS = [{'name': 'xfr', 'algorithm': 'hmac-sha256', 'secret': 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI='}]


def zone(**over):
    z = {'name': 'example.test', 'primary': 'ns0', 'secondaries': ['ns1'], 'key': 'xfr', 'ns': ['ns1.example.test'],
         'records': [{'name': 'ns1', 'type': 'A', 'value': '192.0.2.11'}]}
    z.update(over)
    return z


def run_role(tmp_path, role, zones, hosts=None, keys=None):
    hosts = hosts or GOOD_HOSTS
    inventory = {'all': {'hosts': {name: dict(hv, ansible_connection='local', ansible_python_interpreter=sys.executable)
                                   for name, hv in hosts.items()},
                         'vars': {'zonesync_zones': zones, 'zonesync_keys': KEYS if keys is None else keys}}}
    inv = tmp_path / 'inventory.json'
    inv.write_text(json.dumps(inventory))
    marker = tmp_path / 'touched'
    playbook = tmp_path / 'play.yml'
    # The role may only fail; if it gets past its checks it would go on to install packages: a
    # pre-task proves the play ran, the marker proves nothing after the role ran.
    playbook.write_text('''
- hosts: ns0
  gather_facts: false
  roles:
    - role: dnsops.zonesync.%s
  post_tasks:
    - ansible.builtin.file:
        path: %s
        state: touch
        mode: "0644"
''' % (role, marker))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inv), str(playbook), '--check'],
                          capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    return proc, marker


@pytest.mark.parametrize('role', ['bind', 'powerdns'])
@pytest.mark.parametrize('zones, hosts, keys, expected', [
    ([zone()], dict(GOOD_HOSTS, ns1={'zonesync_server': 'nsd', 'zonesync_listen': ['192.0.2.11']}), None,
     "zonesync_server on host 'ns1' is 'nsd'; it must be \"bind\" or \"powerdns\""),
    ([zone(primary=None)], None, None, 'zonesync_zones[0] (example.test) has no primary'),
    ([zone(secondaries=['ns9'])], None, None, "zonesync_zones[0] (example.test).secondaries[0]: host 'ns9' is not in the inventory"),
    ([zone(allow_query=['10.0.0.0/33'])], None, None, "allow_query[0]: '10.0.0.0/33' is not a valid IP address or CIDR network"),
    ([zone(records=[{'name': 'www', 'type': 'AAA', 'value': '192.0.2.1'}])], None, None, "records[0].type: 'AAA' is not a DNS record type"),
    ([zone(key='missing')], None, None, "key 'missing' is used but not defined in zonesync_keys"),
])
def test_bad_topology_fails_first_naming_the_variable(tmp_path, role, zones, hosts, keys, expected):
    proc, marker = run_role(tmp_path, role, zones, hosts, keys)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert expected in out.replace('\n', ' ').replace('  ', ' ') or expected in out, out[-3000:]
    # The topology check is the role's first task: nothing else of the role ran.
    assert 'Install BIND' not in out and 'Install PowerDNS' not in out, out[-3000:]
    assert not marker.exists()


def test_argument_spec_rejects_a_wrong_shape(tmp_path):
    proc, marker = run_role(tmp_path, 'bind', [zone(records='www A 192.0.2.1')])
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'records' in out and 'argument' in out.lower(), out[-3000:]
    assert not marker.exists()


def test_the_topology_action_gives_the_filters_plans_once_and_without_secrets(tmp_path):
    """dnsops.zonesync.topology works out the same plans as the host_plan and fleet_plan filters (a field left
    out keeps its meaning, e.g. allow_query), puts no secret in them, and a second call with the same inputs
    reuses them: the second call gives no option, so it also proves that the play's variables are read as the
    options would give them."""
    hosts = GOOD_HOSTS
    inventory = {'all': {'hosts': {name: dict(hv, ansible_connection='local', ansible_python_interpreter=sys.executable)
                                   for name, hv in hosts.items()},
                         'vars': {'zonesync_zones': [zone(), zone(name='other.test', allow_query=['192.0.2.0/24'])],
                                  'zonesync_keys': KEYS}}}
    inv = tmp_path / 'inventory.json'
    inv.write_text(json.dumps(inventory))
    out = tmp_path / 'out.json'
    task = '''
    - name: first
      dnsops.zonesync.topology:
        zones: "{{ zonesync_zones }}"
        keys: "{{ zonesync_keys }}"
        hosts: "{{ ansible_play_hosts_all }}"
        host_vars: "{{ dict(groups['all'] | zip(groups['all'] | map('extract', hostvars) | map('dnsops.zonesync.topology_host_vars'))) }}"
        previous_digest: "{{ hostvars['localhost'].zonesync__topology_digest | default('') }}"
      run_once: true
      delegate_to: localhost
      delegate_facts: true
      register: first

    - name: second
      dnsops.zonesync.topology:
      run_once: true
      delegate_to: localhost
      delegate_facts: true
      register: second
'''
    playbook = tmp_path / 'play.yml'
    playbook.write_text('''
- hosts: all
  gather_facts: false
  tasks:
%s%s
    - name: Write what the action and the filters worked out
      ansible.builtin.copy:
        content: "{{ {'action': hostvars['localhost'].zonesync__topology,
                      'filters': {'fleet': zonesync_zones | dnsops.zonesync.fleet_plan(zonesync_keys, hostvars),
                                  'hosts': dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', plans)))},
                      'first': first.msg | default('worked out'), 'second': second.msg | default('worked out')} | to_json }}"
        dest: %s
        mode: "0600"
      vars:
        plans: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('dnsops.zonesync.host_plan_of', zonesync_zones, zonesync_keys, hostvars))) }}"
      run_once: true
      delegate_to: localhost
''' % (task, '', out))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inv), str(playbook)],
                          capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data['first'] == 'worked out' and data['second'] == 'the topology and plans on localhost are current'
    assert json.loads(data['action']['fleet']) == data['filters']['fleet']
    plans = dict((host, json.loads(text)) for host, text in data['action']['plans'].items())
    assert plans == data['filters']['hosts']
    assert data['action']['fleet_zones'] == 2 and data['action']['fleet_pairs'] == sum(
        len(z['servers']) for z in data['filters']['fleet'])
    for host, plan in plans.items():
        summary = data['action']['hosts'][host]
        assert 'zones' not in summary and summary['zone_count'] == len(plan['zones'])
        assert summary['address'] == plan['address'] and summary['keys'] == plan['keys']
        assert summary['downstream_sources'] == sorted(set(
            d['transfer_source'] for z in plan['zones'] for d in z['downstreams']))
    ns0 = plans['ns0']
    assert [z['allow_query'] for z in ns0['zones']] == [['any'], ['192.0.2.0/24']]
    assert KEYS[0]['secret'] not in out.read_text()
