"""Make sure ansible-test can bootstrap pip in the virtual environments it creates.

Before ansible-test creates a virtual environment it fetches a pip bootstrap
script (get-pip-<version>.py) from its CI file host, looking first in
~/.ansible/test/cache/get_pip_<version>.py. When the cache holds nothing, this
helper tries the real download itself. Only if that fails (hosts that reach
PyPI but not the CI file host) does it write a stand-in, which bootstraps pip
with ensurepip and then installs the requested pip with the system CA bundle:
ansible-test runs pip with PIP_CONFIG_FILE=/dev/null and a filtered
environment, so the machine's own pip settings are not seen.

Run with the Python of the environment that holds ansible-test.
See /work/shared/notes/ansible-test.md for how this was worked out.
"""

import os
import sys
import types
import urllib.request

STAND_IN_MARKER = 'dnsops.zonesync get-pip stand-in'

STAND_IN = '''"""%s: ensurepip, then pip install with the system CA file."""

import ensurepip
import os
import ssl
import subprocess
import sys


def ca_file():
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, '/etc/ssl/certs/ca-certificates.crt'):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def main():
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    cmd = [sys.executable, '-m', 'pip', 'install']
    cafile = ca_file()
    if cafile:
        cmd.extend(['--cert', cafile])
    sys.exit(subprocess.call(cmd + args))


if __name__ == '__main__':
    main()
''' % STAND_IN_MARKER

DEFAULT_PIP_VERSION = '24.2'
URL_TEMPLATE = 'https://ci-files.testing.ansible.com/ansible-test/get-pip-%s.py'


def pip_version(python_version):
    """Return the pip version ansible-test pins for its virtual environments."""
    try:
        from ansible_test._internal.python_requirements import get_venv_packages
        return get_venv_packages(types.SimpleNamespace(version=python_version))['pip']
    except Exception as ex:  # pylint: disable=broad-exception-caught
        sys.stderr.write('pip_bootstrap: cannot ask ansible-test for its pip version (%s), assuming %s\n'
                         % (ex, DEFAULT_PIP_VERSION))
        return DEFAULT_PIP_VERSION


def main():
    """Fill ansible-test's get-pip cache entry unless it is already there."""
    python_version = sys.argv[1] if len(sys.argv) > 1 else '%d.%d' % sys.version_info[:2]
    version = pip_version(python_version)
    cache_path = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % version.replace('.', '_'))
    if os.path.exists(cache_path):
        with open(cache_path, encoding='utf-8', errors='replace') as handle:
            kind = 'stand-in' if STAND_IN_MARKER in handle.read(4096) else 'upstream script'
        print('pip_bootstrap: using cached %s %s' % (kind, cache_path))
        return

    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    temp_path = cache_path + '.tmp%d' % os.getpid()
    url = URL_TEMPLATE % version
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # nosec - fixed https URL
            data = response.read()
        with open(temp_path, 'wb') as handle:
            handle.write(data)
        os.replace(temp_path, cache_path)
        print('pip_bootstrap: downloaded %s to %s' % (url, cache_path))
        return
    except Exception as ex:  # pylint: disable=broad-exception-caught
        print('pip_bootstrap: download of %s failed (%s); writing the stand-in' % (url, ex))
    finally:
        if os.path.exists(temp_path):
            os.unlink(temp_path)

    with open(temp_path, 'w', encoding='utf-8') as handle:
        handle.write(STAND_IN)
    os.replace(temp_path, cache_path)
    print('pip_bootstrap: wrote stand-in %s' % cache_path)


if __name__ == '__main__':
    main()
