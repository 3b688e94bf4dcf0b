# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dnsops.zonesync.tsig_key through real Ansible (ad hoc and playbooks), on localhost.

Key files come from the real tsig-keygen and written BIND files are checked
with the real named-checkconf. Nothing here touches the network.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess

import pytest

from ansible_helper import run_adhoc, run_playbook

from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import (
    encode_secret,
    load_tsig_option,
    parse_key_text,
    validated_key,
)

TSIG_KEYGEN = shutil.which('tsig-keygen') or '/usr/sbin/tsig-keygen'
NAMED_CHECKCONF = shutil.which('named-checkconf') or '/usr/sbin/named-checkconf'

GIVEN_SECRET = base64.b64encode(bytes(range(100, 132))).decode('ascii')


def read_key(path):
    """(format, name, algorithm, base64 secret) of the single key in ``path``."""
    with open(path) as handle:
        fmt, keys = parse_key_text(handle.read())
    assert len(keys) == 1, keys
    name, algorithm, secret, dummy = validated_key(keys[0])
    return fmt, name.to_text(), algorithm, encode_secret(secret)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def tsig_keygen(name, algorithm):
    return subprocess.run([TSIG_KEYGEN, '-a', algorithm, name], check=True, capture_output=True, text=True,
                          timeout=30).stdout


def named_checkconf(tmp_path, key_file, key_name):
    conf = tmp_path / 'named-check.conf'
    conf.write_text('include "%s";\nserver 192.0.2.1 { keys { "%s"; }; };\n' % (key_file, key_name))
    proc = subprocess.run([NAMED_CHECKCONF, str(conf)], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def output(result):
    return result.stdout + result.stderr


def module_output(result):
    """The output without ansible-core's own echo of an ad hoc task.

    When an ad hoc task fails, ansible-core 2.19 prints the task as a Python
    dict (cut after about 100 characters) below "Origin: <adhoc ... task>",
    with the -a arguments as typed, no_log or not. That line comes from the
    command line, not from the module; playbooks (which take secrets from
    variables) are checked whole in test_secret_never_in_output_at_vvv_with_diff.
    """
    return '\n'.join(line for line in output(result).splitlines() if not line.startswith("{'action': "))


def test_adhoc_create(tmp_path):
    path = str(tmp_path / 'adhoc.key')
    result = run_adhoc('tsig_key', {'name': 'AdHoc.Example.', 'path': path})
    assert result.rc == 0, result
    assert result.data['changed'] is True
    assert (result.data['name'], result.data['algorithm'], result.data['format'], result.data['path']) == (
        'adhoc.example', 'hmac-sha256', 'bind', path)
    assert 'secret' not in result.data
    assert result.data['mode'] == '0640'
    assert mode_of(path) == 0o640
    fmt, name, algorithm, secret = read_key(path)
    assert (fmt, name, algorithm, len(base64.b64decode(secret))) == ('bind', 'adhoc.example.', 'hmac-sha256', 32)
    assert secret not in output(result)
    named_checkconf(tmp_path, path, 'adhoc.example')


def test_four_steps_check_apply_check_apply(tmp_path):
    path = str(tmp_path / 'four.key')
    args = {'name': 'four', 'algorithm': 'hmac-sha384', 'path': path, 'return_secret': True}

    first = run_adhoc('tsig_key', args, check=True)
    assert first.rc == 0, first
    assert first.data['changed'] is True
    assert not os.path.exists(path)

    second = run_adhoc('tsig_key', args)
    assert second.rc == 0, second
    assert second.data['changed'] is True
    written = read_key(path)
    assert written == ('bind', 'four.', 'hmac-sha384', second.data['secret'])
    assert len(base64.b64decode(second.data['secret'])) == 48
    assert second.data['mode'] == '0640' and mode_of(path) == 0o640
    with open(path) as handle:
        content = handle.read()
    stat_before = os.stat(path)

    third = run_adhoc('tsig_key', args, check=True)
    assert third.rc == 0, third
    assert third.data['changed'] is False
    assert third.data['secret'] == second.data['secret']

    fourth = run_adhoc('tsig_key', args)
    assert fourth.rc == 0, fourth
    assert fourth.data['changed'] is False
    assert fourth.data['secret'] == second.data['secret']

    with open(path) as handle:
        assert handle.read() == content
    assert os.stat(path).st_ino == stat_before.st_ino  # not even rewritten
    assert read_key(path) == written
    for key in ('name', 'algorithm', 'format', 'path', 'mode', 'owner', 'group'):
        assert fourth.data[key] == second.data[key]


PLAYBOOK = '''
- name: Manage TSIG keys on localhost
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create the transfer key
      dnsops.zonesync.tsig_key:
        name: transfer-key
        path: "{{ key_dir }}/transfer.key"
      register: created

    - name: Create it again
      dnsops.zonesync.tsig_key:
        name: Transfer-Key.
        path: "{{ key_dir }}/transfer.key"
      register: again

    - name: Create it again in check mode
      dnsops.zonesync.tsig_key:
        name: transfer-key
        path: "{{ key_dir }}/transfer.key"
      check_mode: true
      register: again_check

    - name: Read the key back
      dnsops.zonesync.tsig_key:
        name: transfer-key
        path: "{{ key_dir }}/transfer.key"
        return_secret: true
      register: read_back
      no_log: true

    - name: Check the results
      ansible.builtin.assert:
        that:
          - created is changed
          - again is not changed
          - again_check is not changed
          - read_back is not changed
          - created.mode == '0640'
          - created.name == 'transfer-key'
          - created.secret is not defined
          - again.secret is not defined
          - read_back.secret | b64decode(encoding='latin-1') | length == 32
          - read_back.secret in lookup('ansible.builtin.file', key_dir ~ '/transfer.key')

    - name: Remove it
      dnsops.zonesync.tsig_key:
        path: "{{ key_dir }}/transfer.key"
        state: absent
      register: removed

    - name: Check the removal
      ansible.builtin.assert:
        that:
          - removed is changed
          - not (key_dir ~ '/transfer.key') is exists
'''


def test_playbook_on_localhost(tmp_path):
    result = run_playbook(PLAYBOOK, extra_vars={'key_dir': str(tmp_path)})
    assert result.rc == 0, result
    assert 'ok=7' in result.stdout and 'changed=2' in result.stdout and 'failed=0' in result.stdout


def test_adopt_tsig_keygen_file(tmp_path):
    path = str(tmp_path / 'adopted.key')
    original = tsig_keygen('Adopted.Example.', 'hmac-sha512')
    with open(path, 'w') as handle:
        handle.write(original)
    os.chmod(path, 0o600)
    args = {'name': 'adopted.example', 'algorithm': 'HMAC-SHA512', 'path': path, 'return_secret': True}
    for check in (True, False):
        result = run_adhoc('tsig_key', args, check=check, diff=True)
        assert result.rc == 0, result
        assert result.data['changed'] is False
        assert result.data['secret'] == read_key(path)[3]
    with open(path) as handle:
        assert handle.read() == original
    assert mode_of(path) == 0o600
    # the adopted key is usable as the other modules' tsig option
    key, warnings = load_tsig_option({'file': path, 'name': 'adopted.example'})
    assert (key.algorithm.to_text(), encode_secret(key.secret)) == ('hmac-sha512.', result.data['secret'])


def test_regenerate_always(tmp_path):
    path = str(tmp_path / 'rotate.key')
    with open(path, 'w') as handle:
        handle.write(tsig_keygen('rotate', 'hmac-sha256'))
    old = read_key(path)[3]
    result = run_adhoc('tsig_key', {'name': 'rotate', 'path': path, 'regenerate': 'always', 'backup': True},
                       diff=True)
    assert result.rc == 0, result
    assert result.data['changed'] is True
    new = read_key(path)[3]
    assert new != old
    assert read_key(result.data['backup_file'])[3] == old
    assert old not in output(result) and new not in output(result)
    assert '(hidden, new secret)' in result.stdout
    named_checkconf(tmp_path, path, 'rotate')


def test_mismatch_with_regenerate_never_fails_and_keeps_file(tmp_path):
    path = str(tmp_path / 'serving.key')
    original = tsig_keygen('serving', 'hmac-sha256')
    with open(path, 'w') as handle:
        handle.write(original)
    for args in ({'name': 'other', 'path': path},
                 {'name': 'serving', 'algorithm': 'hmac-sha512', 'path': path},
                 {'name': 'other', 'path': path, 'regenerate': 'fail', 'secret': GIVEN_SECRET}):
        result = run_adhoc('tsig_key', args)
        assert result.rc != 0, result
        assert 'FAILED!' in result.stdout
        assert result.data['msg'].startswith('path: %s already exists and ' % path)
        assert 'regenerate=always' in result.data['msg']
        assert 'Traceback' not in output(result)
        assert read_key(path)[3] not in output(result)
        assert GIVEN_SECRET not in module_output(result)
        with open(path) as handle:
            assert handle.read() == original
    assert "holds the key 'serving', not 'other'" in run_adhoc('tsig_key', {'name': 'other', 'path': path}).data['msg']


def test_state_absent(tmp_path):
    path = str(tmp_path / 'gone.key')
    assert run_adhoc('tsig_key', {'name': 'gone', 'path': path}).data['changed'] is True
    result = run_adhoc('tsig_key', {'path': path, 'state': 'absent'}, check=True)
    assert result.data['changed'] is True and os.path.exists(path)
    result = run_adhoc('tsig_key', {'path': path, 'state': 'absent'})
    assert result.data['changed'] is True and not os.path.exists(path)
    result = run_adhoc('tsig_key', {'path': path, 'state': 'absent'})
    assert result.rc == 0, result
    assert result.data['changed'] is False


def test_json_format(tmp_path):
    path = str(tmp_path / 'key.json')
    args = {'name': 'json-key', 'path': path, 'format': 'json', 'algorithm': 'hmac-sha224', 'return_secret': True}
    result = run_adhoc('tsig_key', args)
    assert result.rc == 0, result
    assert result.data['changed'] is True and result.data['format'] == 'json'
    with open(path) as handle:
        assert json.load(handle) == {'name': 'json-key', 'algorithm': 'hmac-sha224', 'secret': result.data['secret']}
    again = run_adhoc('tsig_key', args)
    assert again.data['changed'] is False and again.data['secret'] == result.data['secret']
    key, dummy = load_tsig_option({'file': path})
    assert (key.name.to_text(), key.algorithm.to_text()) == ('json-key.', 'hmac-sha224.')
    # converted to BIND on request, keeping the secret
    converted = run_adhoc('tsig_key', dict(args, format='bind'))
    assert converted.data['changed'] is True
    assert read_key(path) == ('bind', 'json-key.', 'hmac-sha224', result.data['secret'])
    named_checkconf(tmp_path, path, 'json-key')


@pytest.mark.parametrize('args, start', [
    ({'name': 'bad name!'}, "name: 'bad name!' is not a valid DNS name"),
    ({'name': 'k', 'algorithm': 'hmac-sha3'}, "algorithm: unknown TSIG algorithm 'hmac-sha3'"),
    ({'name': 'k', 'algorithm': 'hmac-md5', 'secret': GIVEN_SECRET}, 'algorithm: hmac-md5 is refused: RFC 8945'),
    ({'name': 'k', 'secret': GIVEN_SECRET[:-1] + '!'}, 'secret: the TSIG secret is not valid base64'),
    ({'name': 'k', 'secret': base64.b64encode(bytes(range(200, 215))).decode()},
     'secret: the TSIG secret is 15 bytes long; at least 16 bytes are required'),
], ids=['name', 'algorithm', 'md5', 'base64', 'short'])
def test_bad_inputs(tmp_path, args, start):
    path = str(tmp_path / 'bad.key')
    result = run_adhoc('tsig_key', dict(args, path=path))
    assert result.rc != 0, result
    assert 'FAILED!' in result.stdout
    assert result.data['msg'].startswith(start), result.data['msg']
    if 'RFC 8945' in start:
        assert 'RFC 8945' in result.data['msg']
    assert 'Traceback' not in output(result)
    if args.get('secret'):
        assert args['secret'] not in module_output(result)
    assert not os.path.exists(path)


LEAK_PLAYBOOK = '''
- name: Keys at -vvv and --diff
  hosts: localhost
  gather_facts: false
  vars:
    given: "{{ given_secret }}"
  tasks:
    - name: Generate a key and write it
      dnsops.zonesync.tsig_key:
        name: generated
        path: "{{ key_dir }}/generated.key"

    - name: Write a key with a given secret
      dnsops.zonesync.tsig_key:
        name: given
        secret: "{{ given }}"
        path: "{{ key_dir }}/given.key"

    - name: Read the generated key back without return_secret
      dnsops.zonesync.tsig_key:
        name: generated
        path: "{{ key_dir }}/generated.key"

    - name: Replace a tsig-keygen key
      dnsops.zonesync.tsig_key:
        name: rotated
        path: "{{ key_dir }}/rotated.key"
        regenerate: always

    - name: Fail on a mismatch, with the given secret
      dnsops.zonesync.tsig_key:
        name: generated
        algorithm: hmac-sha512
        secret: "{{ given }}"
        path: "{{ key_dir }}/generated.key"
      ignore_errors: true

    - name: Warn about a short secret
      dnsops.zonesync.tsig_key:
        name: short
        secret: "{{ short_secret }}"

    - name: Remove the given key
      dnsops.zonesync.tsig_key:
        path: "{{ key_dir }}/given.key"
        state: absent
'''


def test_secret_never_in_output_at_vvv_with_diff(tmp_path):
    rotated = tmp_path / 'rotated.key'
    rotated.write_text(tsig_keygen('rotated', 'hmac-sha256'))
    old_rotated = read_key(str(rotated))[3]
    short_secret = base64.b64encode(bytes(range(50, 70))).decode('ascii')
    result = run_playbook(LEAK_PLAYBOOK, diff=True, verbosity=3,
                          extra_vars={'key_dir': str(tmp_path), 'given_secret': GIVEN_SECRET,
                                      'short_secret': short_secret})
    assert result.rc == 0, result
    text = output(result)
    # the run really was verbose, diffed, and failed/warned where expected
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in text
    assert '(hidden, new secret)' in text
    assert 'already exists and its key' in text and 'ignored=1' in text
    assert 'the TSIG secret is 20 bytes' in text
    secrets = {
        'generated': read_key(str(tmp_path / 'generated.key'))[3],
        'given': GIVEN_SECRET,
        'rotated (old)': old_rotated,
        'rotated (new)': read_key(str(rotated))[3],
        'short': short_secret,
    }
    assert secrets['rotated (new)'] != old_rotated
    assert not (tmp_path / 'given.key').exists()
    for label, secret in secrets.items():
        assert secret not in text, 'the %s secret appears in the output' % label
        # nor its raw bytes in another common encoding
        assert base64.b64decode(secret).hex() not in text, label
