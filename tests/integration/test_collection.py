"""The collection builds, and ansible-doc renders every module."""

import os
import subprocess
import sys

import pytest

from ansible_helper import REPO, ansible_env

BIN = os.path.dirname(sys.executable)
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, 'plugins', 'modules'))
                 if name.endswith('.py') and not name.startswith('_'))


def test_every_module_present():
    assert MODULES == ['powerdns_zones', 'server_state', 'soa_serial', 'topology', 'tsig_key', 'zone_content', 'zone_file',
                       'zone_files', 'zone_transfer_check']


@pytest.mark.parametrize('module', MODULES)
def test_ansible_doc_renders(module):
    proc = subprocess.run([os.path.join(BIN, 'ansible-doc'), 'dnsops.zonesync.%s' % module], capture_output=True,
                          text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'dnsops.zonesync.%s' % module in proc.stdout
    assert 'EXAMPLES' in proc.stdout and 'RETURN VALUES' in proc.stdout
    assert 'ERROR' not in proc.stderr


def test_galaxy_build(tmp_path):
    proc = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', REPO, '--output-path',
                           str(tmp_path)], capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = os.listdir(str(tmp_path))
    assert built == ['dnsops-zonesync-0.1.0.tar.gz']
    listing = subprocess.run(['tar', 'tzf', str(tmp_path / built[0])], capture_output=True, text=True,
                             check=True).stdout.split()
    assert 'plugins/modules/soa_serial.py' in listing
    assert not [name for name in listing if name.startswith(('.venv', '.tmp', 'tests/output'))]
