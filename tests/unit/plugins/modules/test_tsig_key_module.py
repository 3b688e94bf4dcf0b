# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tsig_key module, run in-process: the cases that are slow or awkward through ansible itself.

tests/integration/test_tsig_key.py runs the same module through real Ansible.
"""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dnsops.zonesync.plugins.module_utils import _common
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import (
    encode_secret,
    normalize_key_name,
    parse_key_text,
    render_bind,
    render_json,
    validated_key,
)
from ansible_collections.dnsops.zonesync.plugins.modules import tsig_key

SECRET = base64.b64encode(b'S' * 32).decode('ascii')
OTHER = base64.b64encode(b'O' * 32).decode('ascii')


def run(args, check=False, diff=False):
    """Run the module in-process; returns its result dict."""
    args = dict(args)
    if check:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    ansible_warnings._global_warnings.clear()  # module-level in ansible-core; one module run per process normally
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            tsig_key.main()
    return RUN_OUTPUT.pop()


RUN_OUTPUT = []


@pytest.fixture(autouse=True)
def capture(capsys, monkeypatch):
    """Collect each module result (the JSON line AnsibleModule prints) into RUN_OUTPUT."""
    original = tsig_key.AnsibleModule._record_module_result

    def record(self, result):
        original(self, result)
        out = capsys.readouterr().out
        RUN_OUTPUT.append(json.loads(out.strip().splitlines()[-1]))

    monkeypatch.setattr(tsig_key.AnsibleModule, '_record_module_result', record)
    del RUN_OUTPUT[:]
    yield


def warnings_of(result):
    """Warning texts of a result (ansible-core 2.19 sends them as structured events)."""
    return [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings', [])]


def read_key(path):
    fmt, keys = parse_key_text(open(path).read())
    assert len(keys) == 1
    name, algorithm, secret, dummy = validated_key(keys[0])
    return fmt, name.to_text(), algorithm, encode_secret(secret)


def write(path, text, mode=0o640):
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)
    return str(path)


def bind_text(name='k', algorithm='hmac-sha256', secret=SECRET):
    return render_bind(normalize_key_name(name), algorithm, secret)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------- no path

def test_generate_in_memory():
    result = run({'name': 'Mem.Key.', 'algorithm': 'hmac-sha384', 'return_secret': True})
    assert result['changed'] is False
    assert (result['name'], result['algorithm'], result['format']) == ('mem.key', 'hmac-sha384', 'bind')
    assert len(base64.b64decode(result['secret'])) == 48
    assert 'path' not in result


def test_in_memory_without_return_secret_returns_no_secret():
    result = run({'name': 'k'})
    assert 'secret' not in result
    assert result['changed'] is False


def test_validate_given_secret_in_memory():
    result = run({'name': 'k', 'secret': SECRET, 'return_secret': True})
    assert result['changed'] is False
    assert 'secret' not in result  # the caller already has it
    assert SECRET not in json.dumps(result)


# ---------------------------------------------------------------- create / keep

def test_create_keep_and_check_mode(tmp_path):
    path = str(tmp_path / 'k.key')
    result = run({'name': 'k', 'path': path}, check=True, diff=True)
    assert result['changed'] is True
    assert not os.path.exists(path)
    assert result['diff']['before'] == {'state': 'absent'}
    assert result['diff']['after'] == {'state': 'present', 'format': 'bind', 'name': 'k',
                                       'algorithm': 'hmac-sha256', 'secret': '(hidden, new secret)'}

    result = run({'name': 'k', 'path': path, 'return_secret': True})
    assert result['changed'] is True
    assert mode_of(path) == 0o640
    assert result['mode'] == '0640'
    assert read_key(path) == ('bind', 'k.', 'hmac-sha256', result['secret'])
    secret = result['secret']
    assert len(base64.b64decode(secret)) == 32
    assert not [f for f in os.listdir(str(tmp_path)) if f != 'k.key']  # no temporary file left

    for check in (True, False):
        result = run({'name': 'K.', 'path': path, 'return_secret': True}, check=check, diff=True)
        assert result['changed'] is False
        assert result['secret'] == secret
        assert result['diff']['before'] == {'state': 'present', 'format': 'bind', 'name': 'k',
                                            'algorithm': 'hmac-sha256', 'secret': '(hidden)'}
        assert result['diff']['before'] == result['diff']['after']


def test_umask_is_restored(tmp_path):
    before = os.umask(0o022)
    try:
        run({'name': 'k', 'path': str(tmp_path / 'k.key')})
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)


def test_explicit_mode_and_mode_change(tmp_path):
    path = str(tmp_path / 'k.key')
    assert run({'name': 'k', 'path': path, 'mode': '0600'})['changed'] is True
    assert mode_of(path) == 0o600
    result = run({'name': 'k', 'path': path, 'mode': '0640'}, check=True, diff=True)
    assert result['changed'] is True
    assert mode_of(path) == 0o600
    assert result['diff']['before']['mode'] == '0600' and result['diff']['after']['mode'] == '0640'
    assert run({'name': 'k', 'path': path, 'mode': '0640'})['changed'] is True
    assert mode_of(path) == 0o640


def test_existing_file_keeps_its_mode_and_world_readable_warns(tmp_path):
    path = write(tmp_path / 'k.key', bind_text(), 0o644)
    result = run({'name': 'k', 'path': path, 'secret': OTHER})
    assert result['changed'] is True
    assert mode_of(path) == 0o644
    assert warnings_of(result) == ["path: %s is readable by every user (mode 0644); set mode, for example "
                                   "mode: '0640', to protect the TSIG secret." % path]


def test_given_secret_replaces_file_secret(tmp_path):
    path = write(tmp_path / 'k.key', bind_text())
    result = run({'name': 'k', 'path': path, 'secret': OTHER}, diff=True)
    assert result['changed'] is True
    assert read_key(path)[3] == OTHER
    assert result['diff']['after']['secret'] == '(hidden, new secret)'
    assert SECRET not in json.dumps(result) and OTHER not in json.dumps(result)
    assert run({'name': 'k', 'path': path, 'secret': OTHER})['changed'] is False


def test_format_conversion_keeps_secret(tmp_path):
    path = write(tmp_path / 'k.key', bind_text())
    result = run({'name': 'k', 'path': path, 'format': 'json'}, diff=True)
    assert result['changed'] is True
    assert read_key(path) == ('json', 'k.', 'hmac-sha256', SECRET)
    assert result['diff']['before']['format'] == 'bind' and result['diff']['after']['format'] == 'json'
    assert result['diff']['after']['secret'] == '(hidden)'
    assert run({'name': 'k', 'path': path, 'format': 'json'})['changed'] is False


def test_weak_file_secret_kept_with_warning(tmp_path):
    weak = base64.b64encode(b'w' * 20).decode('ascii')
    path = write(tmp_path / 'k.key', bind_text(secret=weak))
    result = run({'name': 'k', 'path': path})
    assert result['changed'] is False
    assert warnings_of(result) == ['path (%s): the TSIG secret is 20 bytes, shorter than the 32-byte hmac-sha256 '
                                   'output; RFC 8945 recommends a secret at least as long as the hash output.' % path]


def test_symlink_is_followed(tmp_path):
    real = write(tmp_path / 'real.key', bind_text())
    link = tmp_path / 'link.key'
    link.symlink_to(real)
    result = run({'name': 'k', 'path': str(link), 'secret': OTHER})
    assert result['changed'] is True
    assert os.path.islink(str(link))
    assert read_key(real)[3] == OTHER


def test_backup(tmp_path):
    path = write(tmp_path / 'k.key', bind_text(), 0o600)
    result = run({'name': 'k', 'path': path, 'regenerate': 'always', 'backup': True})
    assert result['changed'] is True
    backup = result['backup_file']
    assert read_key(backup)[3] == SECRET
    assert mode_of(backup) == 0o600
    assert read_key(path)[3] != SECRET


# ---------------------------------------------------------------- regenerate

def test_regenerate_fail(tmp_path):
    path = write(tmp_path / 'k.key', bind_text())
    assert run({'name': 'k', 'path': path, 'regenerate': 'fail'})['changed'] is False
    assert run({'name': 'k', 'path': path, 'secret': SECRET, 'regenerate': 'fail'})['changed'] is False
    result = run({'name': 'k', 'path': path, 'secret': OTHER, 'regenerate': 'fail'})
    assert result['failed'] is True
    assert result['msg'] == ("secret: differs from the secret of key 'k' in %s, and regenerate=fail refuses to "
                             "change an existing key. Leave secret unset to keep the file, or set regenerate=never "
                             "to write the given secret." % path)
    result = run({'name': 'k', 'path': path, 'format': 'json', 'regenerate': 'fail'})
    assert result['msg'].startswith("format: %s holds key 'k' in bind format, not json, and regenerate=fail" % path)
    assert read_key(path)[3] == SECRET
    new = str(tmp_path / 'new.key')
    assert run({'name': 'k', 'path': new, 'regenerate': 'fail'})['changed'] is True


def test_regenerate_always(tmp_path):
    path = write(tmp_path / 'k.key', bind_text())
    first = run({'name': 'k', 'path': path, 'regenerate': 'always', 'return_secret': True})
    second = run({'name': 'k', 'path': path, 'regenerate': 'always', 'return_secret': True})
    assert first['changed'] is True and second['changed'] is True
    assert len({SECRET, first['secret'], second['secret']}) == 3
    assert read_key(path)[3] == second['secret']
    # with a given secret, always is idempotent once the file is exactly as rendered
    assert run({'name': 'k', 'path': path, 'regenerate': 'always', 'secret': SECRET})['changed'] is True
    assert run({'name': 'k', 'path': path, 'regenerate': 'always', 'secret': SECRET})['changed'] is False


@pytest.mark.parametrize('content, problem', [
    (bind_text(name='other'), "holds the key 'other', not 'k'. With regenerate=never the file is left as it is, "
                              "since its key may be in use by a server: set name=other to adopt that key, "),
    (bind_text(algorithm='hmac-sha512', secret=base64.b64encode(b'x' * 64).decode()),
     "its key 'k' uses hmac-sha512, not hmac-sha256. With regenerate=never the file is left as it is, since its key "
     "may be in use by a server: set algorithm=hmac-sha512 to adopt that key, "),
    ('just some text\n', 'it holds no TSIG key this module can read'),
    ('{"broken json', 'it holds no TSIG key this module can read'),
    (bind_text() + bind_text(name='k2'), "it holds 2 keys ('k', 'k2'); this module manages files that hold exactly "
                                         "one key."),
    ('key "k" { algorithm hmac-md5; secret "%s"; };' % SECRET,
     "its key 'k' cannot be used (key algorithm in file: hmac-md5 is refused: RFC 8945 section 6"),
    ('key "k" { algorithm hmac-sha256; secret "c2hvcnQ="; };',
     "its key 'k' cannot be used (path (%(path)s): the TSIG secret is 5 bytes long"),
    ('key "k" { algorithm hmac-sha256; };', "its key 'k' has no secret"),
    ('key "k" { secret "%s"; };' % SECRET, "its key 'k' has no algorithm"),
    ('key "bad name" { algorithm hmac-sha256; secret "%s"; };' % SECRET,
     "its key cannot be used (key name in file: 'bad name' is not a valid DNS name"),
    (b'\xff\xfe\x00binary', 'it is not UTF-8 text'),
])
@pytest.mark.parametrize('regenerate', ['never', 'fail'])
def test_mismatch_fails_and_keeps_file(tmp_path, content, problem, regenerate):
    path = str(tmp_path / 'k.key')
    with open(path, 'wb') as handle:
        handle.write(content if isinstance(content, bytes) else content.encode())
    before = open(path, 'rb').read()
    result = run({'name': 'k', 'path': path, 'regenerate': regenerate})
    assert result['failed'] is True
    assert result['msg'].startswith('path: %s already exists and ' % path)
    assert problem.replace('regenerate=never', 'regenerate=' + regenerate) % {'path': path} in result['msg']
    assert result['msg'].endswith('remove the file, or set regenerate=always to replace it with a new key.')
    assert SECRET not in result['msg']
    assert open(path, 'rb').read() == before
    result = run({'name': 'k', 'path': path, 'regenerate': 'always', 'return_secret': True})
    assert result['changed'] is True
    assert read_key(path) == ('bind', 'k.', 'hmac-sha256', result['secret'])


def test_large_file_is_not_a_key(tmp_path):
    path = write(tmp_path / 'big', 'x' * (65 * 1024))
    result = run({'name': 'k', 'path': path})
    assert 'it is larger than 64 KiB, which no key file is' in result['msg']


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize('args, msg', [
    ({'name': 'bad name!'}, "name: 'bad name!' is not a valid DNS name"),
    ({'name': 'k', 'algorithm': 'hmac-sha3'}, "algorithm: unknown TSIG algorithm 'hmac-sha3'"),
    ({'name': 'k', 'algorithm': 'hmac-md5'}, 'algorithm: hmac-md5 is refused: RFC 8945'),
    ({'name': 'k', 'secret': 'not base64 at all!'}, 'secret: the TSIG secret is not valid base64'),
    ({'name': 'k', 'secret': base64.b64encode(b'x' * 15).decode()},
     'secret: the TSIG secret is 15 bytes long; at least 16 bytes are required.'),
    ({'name': 'k', 'secret': ''}, 'secret: the TSIG secret is empty.'),
    ({}, 'state is present but all of the following are missing: name'),
    ({'state': 'absent'}, 'state is absent but all of the following are missing: path'),
    ({'name': 'k', 'format': 'yaml'}, 'value of format must be one of: bind, json, got: yaml'),
    ({'name': 'k', 'regenerate': 'sometimes'}, 'value of regenerate must be one of: never, fail, always'),
])
def test_bad_input(args, msg):
    result = run(args)
    assert result['failed'] is True
    assert msg in result['msg']


def test_directory_path(tmp_path):
    result = run({'name': 'k', 'path': str(tmp_path)})
    assert result['msg'] == ('path: %s is a directory; give the path of the key file itself, for example %s.'
                             % (tmp_path, tmp_path / 'transfer.key'))
    result = run({'path': str(tmp_path), 'state': 'absent'})
    assert result['msg'].startswith('path: %s is a directory' % tmp_path)


def test_missing_directory(tmp_path):
    missing = tmp_path / 'nope'
    result = run({'name': 'k', 'path': str(missing / 'k.key')})
    assert result['msg'] == ('path: the directory %s does not exist; create it first (ansible.builtin.file with '
                             'state=directory).' % missing)


def test_dangling_symlink_target_is_created(tmp_path):
    link = tmp_path / 'k.key'
    link.symlink_to(tmp_path / 'target.key')
    result = run({'name': 'k', 'path': str(link)})
    assert result['changed'] is True
    assert os.path.islink(str(link))
    assert read_key(str(tmp_path / 'target.key'))[:3] == ('bind', 'k.', 'hmac-sha256')
    assert mode_of(str(tmp_path / 'target.key')) == 0o640


def test_absent_dangling_symlink(tmp_path):
    link = tmp_path / 'k.key'
    link.symlink_to(tmp_path / 'gone')
    result = run({'path': str(link), 'state': 'absent'})
    assert result['changed'] is True
    assert not os.path.lexists(str(link))


def test_unwritable_directory(tmp_path, monkeypatch):
    directory = tmp_path / 'ro'
    directory.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr('tempfile.mkstemp', refuse)
    result = run({'name': 'k', 'path': str(directory / 'k.key')})
    assert result['msg'] == 'path: cannot create a temporary file in %s: Permission denied' % directory


def test_missing_dnspython(monkeypatch):
    monkeypatch.setattr(_common, 'HAS_DNSPYTHON', False)
    monkeypatch.setattr(_common, 'DNSPYTHON_IMPORT_ERROR', 'Traceback: no module named dns')
    result = run({'name': 'k'})
    assert result['failed'] is True
    assert result['msg'].startswith('Failed to import the required Python library (dnspython >= 2.3.0)')


# ---------------------------------------------------------------- absent

def test_absent(tmp_path):
    path = write(tmp_path / 'k.key', bind_text())
    result = run({'path': path, 'state': 'absent'}, check=True, diff=True)
    assert result['changed'] is True and os.path.exists(path)
    assert result['diff']['before']['name'] == 'k' and result['diff']['after'] == {'state': 'absent'}
    assert SECRET not in json.dumps(result)
    result = run({'path': path, 'state': 'absent', 'backup': True, 'name': 'ignored'})
    assert result['changed'] is True and not os.path.exists(path)
    assert read_key(result['backup_file'])[3] == SECRET
    assert run({'path': path, 'state': 'absent'})['changed'] is False
    assert run({'path': path, 'state': 'absent'}, check=True)['changed'] is False


def test_absent_unparsable_file(tmp_path):
    path = write(tmp_path / 'k.key', 'anything')
    result = run({'path': path, 'state': 'absent'}, diff=True)
    assert result['changed'] is True and not os.path.exists(path)
    assert result['diff']['before']['state'] == 'present'


# ---------------------------------------------------------------- secrets stay hidden

def test_secrets_masked_in_results(tmp_path):
    """No result carries a secret unless asked, whatever the path taken."""
    path = write(tmp_path / 'k.key', bind_text())
    outputs = [
        run({'name': 'k', 'path': path}, diff=True),
        run({'name': 'k', 'path': path, 'secret': OTHER}, diff=True),
        run({'name': 'k', 'path': path, 'secret': SECRET, 'regenerate': 'fail'}, diff=True),
        run({'name': 'k', 'path': path, 'algorithm': 'hmac-sha512'}, diff=True),
        run({'name': 'k', 'path': path, 'secret': base64.b64encode(b'short-secret-20bytes').decode()}, diff=True),
    ]
    text = json.dumps(outputs)
    assert SECRET not in text and OTHER not in text
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in text  # invocation.module_args.secret


def test_json_written_and_read_back(tmp_path):
    path = str(tmp_path / 'k.json')
    result = run({'name': 'J', 'path': path, 'format': 'json', 'algorithm': 'hmac-sha512', 'return_secret': True})
    data = json.load(open(path))
    assert data == {'name': 'j', 'algorithm': 'hmac-sha512', 'secret': result['secret']}
    assert render_json(normalize_key_name('j'), 'hmac-sha512', result['secret']) == open(path).read()
    assert run({'name': 'j', 'path': path, 'format': 'json', 'algorithm': 'hmac-sha512'})['changed'] is False
