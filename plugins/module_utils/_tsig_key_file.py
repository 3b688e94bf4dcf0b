# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The logic of the tsig_key module: read, compare, write and remove one TSIG key file.

Secrets never reach an error message, a warning or the diff. Every secret the
module sees (given, read from the file or generated) is also added to
``module.no_log_values``, so that Ansible masks it should it ever appear in
the output, unless the caller asked for it with ``return_secret``.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import (
    DEFAULT_ALGORITHM,
    decode_secret,
    encode_secret,
    generate_secret,
    key_name_text,
    normalize_algorithm,
    normalize_key_name,
    parse_key_text,
    render_bind,
    render_json,
)

FORMATS = ('bind', 'json')
REGENERATE = ('never', 'fail', 'always')
STATES = ('present', 'absent')
DEFAULT_MODE = 0o640
# Key files are a few hundred bytes; anything much larger is not a key file.
MAX_KEY_FILE_BYTES = 64 * 1024

_RENDER = {'bind': render_bind, 'json': render_json}

# What the diff shows in place of key material.
HIDDEN = '(hidden)'
HIDDEN_NEW = '(hidden, new secret)'


def render_key(fmt, name, algorithm, secret):
    """The text of a key file holding one key; ``secret`` is raw bytes."""
    return _RENDER[fmt](name, algorithm, encode_secret(secret))


class KeyFile(object):
    """What a path holds now.

    ``exists`` says whether anything is there. When it holds exactly one usable
    key, ``name`` (dnspython name), ``algorithm`` and ``secret`` (bytes) are
    set and ``problem`` is None; otherwise ``problem`` says, in words that
    never include the secret, why the content cannot be used.
    """

    def __init__(self, path):
        self.path = path
        self.exists = False
        self.text = None
        self.fmt = None
        self.raw_names = []
        self.name = None
        self.algorithm = None
        self.secret = None
        self.problem = None
        self.warnings = []

    @property
    def usable(self):
        return self.exists and self.problem is None

    def metadata(self):
        """The diff's view of the file: metadata only, never key material."""
        if not self.exists:
            return {'state': 'absent'}
        data = {'state': 'present', 'format': self.fmt or 'unknown'}
        if self.usable:
            data.update(name=key_name_text(self.name), algorithm=self.algorithm, secret=HIDDEN)
        else:
            data['problem'] = self.problem
        return data

    def secrets(self):
        """Every secret-looking string of the file, for no_log_values."""
        return [encode_secret(self.secret)] if self.secret is not None else []


def read_key_file(path, param='path'):
    """Read and classify the key file at ``path`` (symlinks are followed).

    Raises ZonesyncError only when the path cannot be a key file at all
    (a directory, a device, unreadable); content problems are recorded in
    ``KeyFile.problem``.
    """
    current = KeyFile(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ZonesyncError('%s: %s is a symbolic link to a missing file (%s); fix or remove the link.'
                                % (param, path, os.readlink(path)))
        return current
    except OSError as exc:
        raise ZonesyncError('%s: cannot inspect %s: %s' % (param, path, exc.strerror or exc))
    if stat.S_ISDIR(st.st_mode):
        raise ZonesyncError('%s: %s is a directory; give the path of the key file itself, '
                            'for example %s.' % (param, path, os.path.join(path, 'transfer.key')))
    if not stat.S_ISREG(st.st_mode):
        raise ZonesyncError('%s: %s is not a regular file.' % (param, path))
    current.exists = True
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except (IOError, OSError) as exc:
        raise ZonesyncError('%s: cannot read %s: %s' % (param, path, exc.strerror or exc))
    if len(data) > MAX_KEY_FILE_BYTES:
        current.problem = 'it is larger than %d KiB, which no key file is' % (MAX_KEY_FILE_BYTES // 1024)
        return current
    try:
        current.text = data.decode('utf-8')
    except UnicodeDecodeError:
        current.problem = 'it is not UTF-8 text'
        return current
    current.fmt, keys = parse_key_text(current.text)
    current.raw_names = [k.get('name') for k in keys]
    if not keys:
        current.problem = ('it holds no TSIG key this module can read (neither a BIND '
                           'key "name" { algorithm ...; secret "..."; }; clause nor a JSON key object)')
        return current
    if len(keys) > 1:
        current.problem = ('it holds %d keys (%s); this module manages files that hold exactly one key'
                           % (len(keys), ', '.join(repr(n) for n in current.raw_names)))
        return current
    _classify_key(current, keys[0])
    return current


def _classify_key(current, raw):
    """Validate the single key of a file; sets name/algorithm/secret or problem."""
    label = raw.get('name')
    if not label or not isinstance(label, str):
        current.problem = 'its key has no name'
        return
    try:
        current.name = normalize_key_name(label, param='key name in file')
    except ZonesyncError as exc:
        current.problem = 'its key cannot be used (%s)' % exc
        return
    if not raw.get('algorithm'):
        current.problem = 'its key %r has no algorithm' % label
        return
    try:
        current.algorithm, dummy = normalize_algorithm(raw.get('algorithm'), param='key algorithm in file')
    except ZonesyncError as exc:
        current.problem = 'its key %r cannot be used (%s)' % (label, exc)
        return
    if raw.get('secret') is None:
        current.problem = 'its key %r has no secret' % label
        return
    try:
        current.secret, current.warnings = decode_secret(raw.get('secret'), current.algorithm,
                                                         param='path (%s)' % current.path)
    except ZonesyncError as exc:
        current.problem = 'its key %r cannot be used (%s)' % (label, exc)


def _protect(module, values):
    for value in values:
        if value:
            module.no_log_values.add(value)


def _refusal(path, problem, hint, regenerate):
    return ('path: %s already exists and %s. With regenerate=%s the file is left as it is, since its key may be '
            'in use by a server: %scheck path, remove the file, or set regenerate=always to replace it with a '
            'new key.' % (path, problem, regenerate, hint + ', ' if hint else ''))


def _mismatch(current, name, algorithm):
    """(problem, hint) when the usable key in ``current`` is not the key asked for, else (None, None)."""
    if current.name != name:
        return ('holds the key %r, not %r' % (key_name_text(current.name), key_name_text(name)),
                'set name=%s to adopt that key' % key_name_text(current.name))
    if current.algorithm != algorithm:
        return ('its key %r uses %s, not %s' % (key_name_text(name), current.algorithm, algorithm),
                'set algorithm=%s to adopt that key' % current.algorithm)
    return None, None


def _write_atomic(module, target, content, creating):
    """Write ``content`` to a temporary file next to ``target`` and move it into place.

    The temporary file is created 0600 by mkstemp, and a new file stays 0600
    (umask 0177 around atomic_move, which otherwise applies 0666 & ~umask)
    until set_fs_attributes_if_different gives it its final mode: the secret
    is never readable by others, not even for a moment.
    """
    directory = os.path.dirname(target) or '.'
    try:
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(target), suffix='.tmp', dir=directory)
    except (IOError, OSError) as exc:
        raise ZonesyncError('path: cannot create a temporary file in %s: %s' % (directory, exc.strerror or exc))
    try:
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        except (IOError, OSError) as exc:
            raise ZonesyncError('path: cannot write a temporary file in %s: %s' % (directory, exc.strerror or exc))
        old_umask = os.umask(0o177) if creating else None
        try:
            module.atomic_move(tmp, target, unsafe_writes=module.params.get('unsafe_writes') or False)
        except Exception as exc:  # atomic_move raises bare Exception
            raise ZonesyncError('path: cannot write %s: %s' % (target, exc))
        finally:
            if old_umask is not None:
                os.umask(old_umask)
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _apply_file_attributes(module, target, creating, changed, diff):
    """owner/group/mode/SELinux/attributes; mode 0640 for a new file without ``mode``."""
    file_args = module.load_file_common_arguments(module.params, path=target)
    if creating and file_args.get('mode') is None:
        file_args['mode'] = DEFAULT_MODE
    if not os.path.exists(target):
        # check mode, file not created: the attributes will be set when it is
        return changed
    fs_diff = {'before': {}, 'after': {}}
    changed = module.set_fs_attributes_if_different(file_args, changed, diff=fs_diff)
    if not creating:
        diff['before'].update(fs_diff['before'])
        diff['after'].update(fs_diff['after'])
    if module.params.get('mode') is None and not creating:
        mode = stat.S_IMODE(os.stat(target).st_mode)
        if mode & stat.S_IROTH:
            module.warn('path: %s is readable by every user (mode 0%03o); set mode, for example '
                        "mode: '0640', to protect the TSIG secret." % (target, mode))
    return changed


def _backup(module, target, result):
    if module.params.get('backup') and not module.check_mode:
        try:
            result['backup_file'] = module.backup_local(target)
        except Exception as exc:  # backup_local raises bare Exception
            raise ZonesyncError('backup: %s' % exc)


def _present(module, result):
    params = module.params
    name = normalize_key_name(params['name'], param='name')
    algorithm, warnings = normalize_algorithm(params['algorithm'] or DEFAULT_ALGORITHM, param='algorithm')
    given = None
    if params['secret'] is not None:
        given, more = decode_secret(params['secret'], algorithm, param='secret')
        warnings.extend(more)
    for warning in warnings:
        module.warn(warning)
    fmt = params['format']
    result.update(name=key_name_text(name), algorithm=algorithm, format=fmt)

    path = params['path']
    if not path:
        secret = given if given is not None else generate_secret(algorithm)
        _protect(module, [encode_secret(secret)])
        _finish_secret(module, result, secret, given is not None)
        return result

    result['path'] = path
    target = os.path.realpath(path) if os.path.islink(path) else path
    current = read_key_file(target)
    if not current.exists:
        directory = os.path.dirname(target) or '.'
        if not os.path.isdir(directory):
            raise ZonesyncError('path: the directory %s does not exist; create it first (ansible.builtin.file '
                                'with state=directory).' % directory)
    _protect(module, current.secrets())

    regenerate = params['regenerate']
    if not current.exists:
        secret = given if given is not None else generate_secret(algorithm)
    elif regenerate == 'always':
        secret = given if given is not None else generate_secret(algorithm)
    else:
        problem, hint = (current.problem, None) if current.problem else _mismatch(current, name, algorithm)
        if problem:
            raise ZonesyncError(_refusal(path, problem, hint, regenerate))
        secret = current.secret
        keeps_file_secret = True
        if given is not None and given != current.secret:
            if regenerate == 'fail':
                raise ZonesyncError('secret: differs from the secret of key %r in %s, and regenerate=fail refuses '
                                    'to change an existing key. Leave secret unset to keep the file, or set '
                                    'regenerate=never to write the given secret.' % (key_name_text(name), path))
            secret = given
            keeps_file_secret = False
        elif current.fmt != fmt and regenerate == 'fail':
            raise ZonesyncError('format: %s holds key %r in %s format, not %s, and regenerate=fail refuses to '
                                'rewrite it. Set format=%s, or regenerate=never to convert the file.'
                                % (path, key_name_text(name), current.fmt, fmt, current.fmt))
        if keeps_file_secret:
            for warning in current.warnings:
                module.warn(warning)

    _protect(module, [encode_secret(secret)])
    content = render_key(fmt, name, algorithm, secret)
    if not current.exists:
        write = True
    elif regenerate == 'always':
        write = content != current.text
    else:
        # a valid matching key is kept as it is written (tsig-keygen's layout, upper case...)
        write = secret != current.secret or current.fmt != fmt

    new_secret = current.secret is None or secret != current.secret
    diff = {
        'before': current.metadata(),
        'after': {'state': 'present', 'format': fmt, 'name': key_name_text(name), 'algorithm': algorithm,
                  'secret': HIDDEN_NEW if new_secret else HIDDEN},
        'before_header': path,
        'after_header': path,
    }
    changed = write
    if write and not module.check_mode:
        if current.exists:
            _backup(module, target, result)
        _write_atomic(module, target, content, creating=not current.exists)
    changed = _apply_file_attributes(module, target, not current.exists, changed, diff)
    result['changed'] = changed
    if module._diff:
        result['diff'] = diff
    _finish_secret(module, result, secret, given is not None)
    return result


def _finish_secret(module, result, secret, was_given):
    """Return the secret only on request (never one the caller gave: Ansible would mask it anyway).

    _protect has put every secret into no_log_values; the one returned is taken out again.
    """
    text = encode_secret(secret)
    if module.params['return_secret'] and not was_given:
        # read from the file or generated, so it is in no_log_values only because
        # _protect put it there: the caller asked for it
        module.no_log_values.discard(text)
        result['secret'] = text


def _absent(module, result):
    path = module.params['path']
    result['path'] = path
    if os.path.isdir(path) and not os.path.islink(path):
        raise ZonesyncError('path: %s is a directory; give the path of the key file itself.' % path)
    if not os.path.lexists(path):
        if module._diff:
            result['diff'] = {'before': {'state': 'absent'}, 'after': {'state': 'absent'}}
        return result
    try:
        current = read_key_file(path)
        before = current.metadata()
        _protect(module, current.secrets())
    except ZonesyncError:
        before = {'state': 'present'}
    result['changed'] = True
    if module._diff:
        result['diff'] = {'before': before, 'after': {'state': 'absent'},
                          'before_header': path, 'after_header': path}
    if not module.check_mode:
        if os.path.exists(path):
            _backup(module, path, result)
        try:
            os.unlink(path)
        except (IOError, OSError) as exc:
            raise ZonesyncError('path: cannot remove %s: %s' % (path, exc.strerror or exc))
    return result


def run_tsig_key(module):
    """Entry point of the tsig_key module: exit_json or fail_json, never a traceback."""
    result = {'changed': False}
    try:
        if module.params['state'] == 'absent':
            _absent(module, result)
        else:
            _present(module, result)
    except ZonesyncError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)
