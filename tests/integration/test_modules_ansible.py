"""soa_serial and zone_transfer_check run through Ansible itself: ad hoc, in playbooks, check mode, bad input."""

import json
import os

import pytest

import dnslab
from ansible_helper import run_adhoc, run_playbook

ZONE = 'example.test.'


@pytest.fixture
def primary(bind, pdns, tsig_key):
    key = tsig_key('transfer-key')
    server = bind(name='primary')
    secondary = pdns(name='secondary')
    server.add_key(key)
    server.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061501, count=10),
                       allow_transfer=['key "%s"' % key.name], also_notify=[(secondary.address, 53)])
    server.start()
    secondary.add_key(key)
    secondary.add_secondary(ZONE, [(server.address, 53)], key=key)
    secondary.start()
    return server, secondary, key


def _tsig(key):
    return {'name': key.name, 'algorithm': key.algorithm, 'secret': key.secret}


def test_soa_serial_ad_hoc(primary):
    server, secondary, key = primary
    result = run_adhoc('soa_serial', {'zone': 'Example.Test', 'servers': [server.address, secondary.address],
                                      'reference': server.address})
    assert result.rc == 0, result
    assert result.data['changed'] is False
    assert result.data['converged'] is True
    zone = result.data['zones'][0]
    assert zone['zone'] == ZONE
    assert [row['status'] for row in zone['servers']] == ['in_sync', 'in_sync']
    assert result.data['summary']['in_sync'] == 2


def _without_rtt(zones):
    return [dict(z, servers=[dict((k, v) for k, v in r.items() if k != 'rtt') for r in z['servers']]) for z in zones]


def test_soa_serial_compact_lists_only_what_is_not_in_sync(primary, bind):
    server, secondary, key = primary
    stale = bind(name='stale')
    stale.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061400))
    stale.start()
    result = run_adhoc('soa_serial', {'zone': ZONE, 'servers': [server.address, secondary.address, stale.address],
                                      'reference': server.address, 'compact': True})
    assert result.rc == 0 and result.data['compact'] is True, result
    assert result.data['servers_asked'] == [server.address, secondary.address, stale.address]
    (zone,) = result.data['zones']
    assert zone['in_sync'] == 2 and zone['reference_serial'] == 2024061501 and zone['converged'] is False
    assert [(r['address'], r['status'], r['lag']) for r in zone['servers']] == [(stale.address, 'behind', 101)]
    assert result.data['summary']['in_sync'] == 2 and result.data['summary']['behind'] == 1
    as_json = run_adhoc('soa_serial', {'zone': ZONE, 'servers': [server.address, secondary.address, stale.address],
                                       'reference': server.address, 'compact': True, 'as_json': True})
    assert as_json.rc == 0 and 'zones' not in as_json.data, as_json
    assert _without_rtt(json.loads(as_json.data['zones_json'])) == _without_rtt(result.data['zones'])


def test_soa_serial_check_mode_and_divergence_failure(primary, bind):
    server, secondary, key = primary
    stale = bind(name='stale')
    stale.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2024061400))
    stale.start()
    result = run_adhoc('soa_serial', {'zone': ZONE, 'servers': [server.address, stale.address]}, check=True)
    assert result.rc == 0, result
    assert result.data['converged'] is False
    result = run_adhoc('soa_serial', {'zone': ZONE, 'servers': [server.address, stale.address],
                                      'fail_on_divergence': True})
    assert result.rc != 0
    assert 'not converged' in result.data['msg']
    assert '%s behind (serial 2024061400' % stale.address in result.data['msg']
    assert 'Traceback' not in result.stdout + result.stderr


def test_zone_transfer_check_ad_hoc_ok_and_failure(primary):
    server, secondary, key = primary
    result = run_adhoc('zone_transfer_check', {'zone': ZONE, 'server': server.address, 'tsig': _tsig(key)})
    assert result.rc == 0, result
    assert result.data['status'] == 'ok'
    assert result.data['records'] == 13
    assert key.secret not in result.stdout + result.stderr
    result = run_adhoc('zone_transfer_check', {'zone': ZONE, 'server': server.address})
    assert result.rc != 0
    assert result.data['status'] == 'refused'
    assert result.data['msg'].startswith('zone transfer check of example.test. from %s: refused' % server.address)
    assert result.data['remediation']['bind']


def test_bad_time_through_ansible_with_skewed_client(primary, tmp_path):
    """The module's clock runs 600 s slow (libfaketime on its Python): BIND answers BADTIME, signed."""
    import sys
    server, secondary, key = primary
    wrapper = tmp_path / 'python-600s'
    wrapper.write_text('#!/bin/sh\nexec %s -f -600s %s "$@"\n' % (dnslab.FAKETIME, sys.executable))
    wrapper.chmod(0o755)
    result = run_adhoc('zone_transfer_check', {'zone': ZONE, 'server': server.address, 'tsig': _tsig(key)},
                       env={'ANSIBLE_PYTHON_INTERPRETER': str(wrapper)})
    assert result.rc != 0, result
    assert (result.data or {}).get('status') == 'tsig_bad_time', result
    assert 590 <= result.data['skew'] <= 610
    assert 'chrony' in result.data['remediation']['bind']


def test_playbook_with_check_mode_and_file_key(primary, tmp_path):
    """Both modules in a playbook, with the key read from a tsig-keygen style file, normal and --check."""
    server, secondary, key = primary
    key_file = tmp_path / 'transfer.key'
    key_file.write_text('key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' % (key.name, key.algorithm, key.secret))
    out = tmp_path / 'out.json'
    playbook = """
- name: Prove the secondary follows the primary
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Serials
      dnsops.zonesync.soa_serial:
        zones: [example.test]
        servers: ["{{ primary }}", "{{ secondary }}"]
        reference: "{{ primary }}"
        tsig:
          file: "{{ key_file }}"
        wait_timeout: 10
        fail_on_divergence: true
      register: serials
    - name: Transfer and compare
      dnsops.zonesync.zone_transfer_check:
        zone: example.test
        server: "{{ primary }}"
        tsig:
          file: "{{ key_file }}"
      register: transfer
    - name: Refused without key
      dnsops.zonesync.zone_transfer_check:
        zone: example.test
        server: "{{ primary }}"
        expect: refused
      register: refused
    - name: Save
      ansible.builtin.copy:
        content: "{{ {'serials': serials, 'transfer': transfer, 'refused': refused} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""
    extra = {'primary': server.address, 'secondary': secondary.address, 'key_file': str(key_file), 'out': str(out)}
    result = run_playbook(playbook, extra_vars=extra)
    assert result.rc == 0, result
    data = json.loads(out.read_text())
    assert data['serials']['converged'] is True
    assert data['transfer']['status'] == 'ok'
    assert data['transfer']['signed_messages'] >= 1
    assert data['refused']['status'] == 'refused'
    assert data['refused']['expected'] is True
    os.unlink(str(out))
    # In check mode the read-only modules still run (they change nothing); copy reports what it would do.
    result = run_playbook(playbook, extra_vars=extra, check=True)
    assert result.rc == 0, result
    assert 'changed=1' in result.stdout
    assert not out.exists()


def test_non_dns_port_fails_cleanly(primary):
    server, secondary, key = primary
    address = dnslab.allocate_address()
    dnslab.ensure_address(address)
    with dnslab.HttpServer(address, 8080):
        result = run_adhoc('zone_transfer_check', {'zone': ZONE, 'server': '%s:8080' % address, 'timeout': 1})
        soa = run_adhoc('soa_serial', {'zone': ZONE, 'servers': ['%s:8080' % address], 'timeout': 0.5,
                                       'retries': 0})
    assert result.rc != 0
    assert 'probably not a DNS server' in result.data['msg'] + result.data['detail']
    assert soa.rc == 0
    assert soa.data['zones'][0]['servers'][0]['status'] in ('unreachable', 'timeout')
    for out in (result, soa):
        assert 'Traceback' not in out.stdout + out.stderr


BAD_INPUT = [
    ('soa_serial', {'zone': 'exa mple.com', 'servers': ['127.0.0.1']}, 'zone:'),
    ('soa_serial', {'zones': ['ok.test', 'bad..test'], 'servers': ['127.0.0.1']}, 'zones:'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['300.1.2.3']}, 'servers:'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['bad_host!name']}, 'servers:'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['127.0.0.1:70000']}, 'out of range'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['[::1]:0']}, 'out of range'),
    ('soa_serial', {'zone': 'a.test', 'reference': '127.0.0.1:x', 'servers': ['127.0.0.1']}, 'reference:'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['127.0.0.1'],
                    'tsig': {'name': 'k', 'algorithm': 'hmac-foo', 'secret': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='}},
     'tsig.algorithm: unknown TSIG algorithm'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['127.0.0.1'],
                    'tsig': {'name': 'k', 'algorithm': 'hmac-md5', 'secret': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='}},
     'RFC 8945'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['127.0.0.1'],
                    'tsig': {'name': 'k', 'secret': 'not*base64!'}}, 'tsig.secret: the TSIG secret is not valid base64'),
    ('soa_serial', {'zone': 'a.test', 'servers': ['127.0.0.1'], 'transport': 'quic'}, 'transport'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '127.0.0.1', 'type': 'ixfr'}, 'serial'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '127.0.0.1', 'port': 0}, 'port:'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '127.0.0.1', 'port': 65536}, 'port:'),
    ('zone_transfer_check', {'zone': '-a.test', 'server': '127.0.0.1'}, 'zone:'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '1.2.3.4.5'}, 'server:'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '127.0.0.1', 'source': '127.0.0.999'}, 'source:'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '127.0.0.1', 'serial': 4294967296, 'type': 'ixfr'},
     'serial:'),
    ('zone_transfer_check', {'zone': 'a.test', 'server': '127.0.0.1', 'compare_with': ['[::1']}, 'compare_with:'),
]


@pytest.mark.parametrize('module, args, fragment', BAD_INPUT, ids=[
    '%s-%d' % (m, i) for i, (m, a, f) in enumerate(BAD_INPUT)])
def test_bad_input_fails_with_the_parameter_named(module, args, fragment):
    result = run_adhoc(module, args)
    assert result.rc != 0, result
    assert result.data is not None, result
    assert fragment in result.data['msg'], result.data['msg']
    assert 'Traceback' not in result.stdout + result.stderr
    assert 'MODULE FAILURE' not in result.stdout


def test_source_address_not_on_host(primary):
    server, secondary, key = primary
    result = run_adhoc('zone_transfer_check', {'zone': ZONE, 'server': server.address, 'source': '192.0.2.254'})
    assert result.rc != 0
    assert result.data['msg'].startswith('source: 192.0.2.254 is not an address of this host')


def test_missing_dnspython_reports_missing_required_lib(tmp_path):
    """Run a module with a Python that cannot import dnspython: a clean message, never a traceback."""
    venv = tmp_path / 'bare'
    import subprocess
    import sys
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    result = run_adhoc('soa_serial', {'zone': 'a.test', 'servers': ['127.0.0.1']},
                       env={'ANSIBLE_PYTHON_INTERPRETER': str(venv / 'bin' / 'python')})
    assert result.rc != 0
    assert 'Failed to import the required Python library (dnspython' in result.data['msg']
