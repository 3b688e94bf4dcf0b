"""Fixtures for integration tests that run real BIND 9 and PowerDNS servers.

* ``lab_dir``: a fresh directory per test (under pytest's tmp_path).
* ``bind`` / ``pdns``: factories; ``bind()`` returns a BindServer on a fresh
  127.53.X.Y address in its own sub-directory of lab_dir (pass address=,
  port=, wrapper=, netns=, name= to change that). Every server made is
  stopped at teardown, also when the test fails; the tail of each server's
  log is printed for failed tests.
* ``netns``: factory for NetNS objects, closed at teardown.
* ``tsig_key``: factory for random TsigKeys (``tsig_key('k1')``).

Missing servers or tools make every test here fail (never skip).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dnslab  # noqa: E402


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'dnslab_rep_' + rep.when, rep)


def _failed(request):
    for when in ('setup', 'call'):
        rep = getattr(request.node, 'dnslab_rep_' + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture(scope='session', autouse=True)
def dnslab_session():
    """Fail loudly (not skip) when the lab cannot run; clean lo addresses afterwards."""
    missing = dnslab.missing_prerequisites()
    if missing:
        pytest.fail('integration lab prerequisites missing (install them; these tests never skip): %s'
                    % ', '.join(missing), pytrace=False)
    dnslab.cleanup_stale_namespaces()
    yield
    dnslab.release_addresses()


@pytest.fixture
def lab_dir(tmp_path):
    path = tmp_path / 'lab'
    path.mkdir()
    return path


def _server_factory(request, lab_dir, cls, prefix):
    servers = []

    def factory(address=None, port=53, wrapper=None, netns=None, name=None, **kw):
        address = address or dnslab.allocate_address()
        workdir = lab_dir / (name or '%s%d' % (prefix, len(servers) + 1))
        server = cls(str(workdir), address, port, wrapper=wrapper, netns=netns, **kw)
        servers.append(server)
        return server

    factory.servers = servers
    yield factory
    failed = _failed(request)
    errors = []
    for server in reversed(servers):
        try:
            server.stop()
        except Exception as exc:  # keep stopping the others
            errors.append('%r: %r' % (server, exc))
        if failed:
            print('\n===== %r log tail =====\n%s' % (server, server.log_tail(60)))
    if errors:
        raise RuntimeError('could not stop: %s' % '; '.join(errors))


@pytest.fixture
def bind(request, lab_dir):
    yield from _server_factory(request, lab_dir, dnslab.BindServer, 'bind')


@pytest.fixture
def pdns(request, lab_dir):
    yield from _server_factory(request, lab_dir, dnslab.PdnsServer, 'pdns')


@pytest.fixture
def netns():
    spaces = []

    def factory(name=None):
        space = dnslab.NetNS(name)
        spaces.append(space)
        return space

    yield factory
    for space in reversed(spaces):
        space.close()


@pytest.fixture
def client():
    """A source address of our own on lo: the address a secondary would transfer from."""
    address = dnslab.allocate_address()
    dnslab.ensure_address(address)
    return address


@pytest.fixture
def tsig_key():
    return dnslab.make_key
