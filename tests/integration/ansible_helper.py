"""Run the collection's modules through Ansible itself (ad hoc and playbooks)."""

import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_ROOT = os.path.join(REPO, '.tmp', 'collections')
BIN = os.path.dirname(sys.executable)


class Result(object):
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    def __repr__(self):
        return 'Result(rc=%r, data=%r, stdout=%r, stderr=%r)' % (self.rc, self.data, self.stdout[-3000:],
                                                                 self.stderr[-3000:])


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS_ROOT,
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        'ANSIBLE_LOCAL_TEMP': os.path.join(REPO, '.tmp', 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': os.path.join(REPO, '.tmp', 'ansible-remote'),
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
    })
    if extra:
        env.update(extra)
    return env


def _mode_flags(check, diff, verbosity):
    """--check, --diff and -v... as asked."""
    return (['--check'] if check else []) + (['--diff'] if diff else []) + (['-' + 'v' * verbosity] if verbosity else [])


def run_adhoc(module, args, check=False, diff=False, verbosity=0, env=None, timeout=300):
    """Run ``ansible localhost -m dnsops.zonesync.<module>`` and parse its JSON result.

    ``args`` is a dict, passed as JSON so that secrets and lists survive quoting.
    """
    cmd = [os.path.join(BIN, 'ansible'), 'localhost', '-c', 'local', '-i', 'localhost,',
           '-m', 'dnsops.zonesync.%s' % module, '-a', json.dumps(args)] + _mode_flags(check, diff, verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          env=ansible_env(dict(env or {}, ANSIBLE_STDOUT_CALLBACK='minimal',
                                               ANSIBLE_LOAD_CALLBACK_PLUGINS='1')))
    data = None
    out = proc.stdout
    marker = out.find('=> {')
    if marker >= 0:
        try:
            data = json.JSONDecoder().raw_decode(out[marker + 3:])[0]
        except ValueError:
            data = None
    return Result(proc, data)


def run_playbook(playbook_text, check=False, diff=False, verbosity=0, env=None, extra_vars=None, timeout=600):
    """Run a playbook given as YAML text; returns Result with the full output.

    Plays that want to hand data back write it with ansible.builtin.copy to a
    path passed in extra_vars; the caller reads it.
    """
    with tempfile.NamedTemporaryFile('w', suffix='.yml', dir=os.path.join(REPO, '.tmp'), delete=False) as handle:
        handle.write(playbook_text)
        path = handle.name
    try:
        cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path]
        cmd += _mode_flags(check, diff, verbosity)
        if extra_vars:
            cmd.extend(['-e', json.dumps(extra_vars)])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=ansible_env(env))
    finally:
        os.unlink(path)
    return Result(proc, None)
