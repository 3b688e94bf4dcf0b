"""dnslab: start real BIND 9 and PowerDNS servers for integration tests.

Everything here talks only to 127.0.0.0/8 or to network namespaces it creates.
Servers listen on 127.53.X.Y addresses handed out by :func:`allocate_address`.

Things worth knowing before writing a test (all checked on Debian 12,
BIND 9.18, PowerDNS 4.7):

* BIND only listens on addresses that sit on an interface, so every server
  address is added to ``lo`` as a /32 (on the host, or inside the namespace)
  before the server starts; :func:`release_addresses` removes them again
  (the pytest session does this at the end).
* Because of that /32, a client that does not bind a source address reaches
  a server *from the server's own address* (the kernel uses the local route's
  preferred source). Tests of IP ACLs must pass ``source=`` explicitly.
* Both servers pin their outgoing source (query/transfer/notify) to their
  own address, so ACLs naming a server's address work as in production.
* BIND: ``allow-transfer { none; }``, ``notify no`` and ``notify-delay 0``
  are written globally; primaries default to ``notify explicit``.
  ``min-refresh-time``/``min-retry-time`` are lowered to 1 s so the SOA timers
  in a test zone are honoured as written (BIND's floors are 300/500 s).
* PowerDNS: ``allow-axfr-ips=`` (empty) means nobody may transfer without a
  key (the built-in default allows 127.0.0.0/8); ``only-notify=`` (empty)
  stops NOTIFYs to the zone's NS records (ALSO-NOTIFY still works);
  ``security-poll-suffix=`` stops the security poll DNS lookup; all caches
  and the zone cache are off so changes are visible at once;
  ``xfr-cycle-interval=1`` so secondaries honour short SOA timers.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import fcntl
import http.server
import itertools
import os
import select
import shutil
import signal
import socket
import socketserver
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict, namedtuple

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.xfr
import dns.zone

POLL = 0.05

NAMED = shutil.which('named', path='/usr/sbin:/usr/bin:/sbin:/bin') or '/usr/sbin/named'
NAMED_CHECKCONF = shutil.which('named-checkconf', path='/usr/sbin:/usr/bin') or '/usr/bin/named-checkconf'
NAMED_CHECKZONE = shutil.which('named-checkzone', path='/usr/sbin:/usr/bin') or '/usr/bin/named-checkzone'
RNDC = shutil.which('rndc', path='/usr/sbin:/usr/bin') or '/usr/sbin/rndc'
DIG = shutil.which('dig', path='/usr/bin:/usr/sbin') or '/usr/bin/dig'
PDNS_SERVER = shutil.which('pdns_server', path='/usr/sbin:/usr/bin') or '/usr/sbin/pdns_server'
PDNSUTIL = shutil.which('pdnsutil', path='/usr/bin:/usr/sbin') or '/usr/bin/pdnsutil'
PDNS_CONTROL = shutil.which('pdns_control', path='/usr/bin:/usr/sbin') or '/usr/bin/pdns_control'
PDNS_SCHEMA = '/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql'
PDNS_GSQLITE3 = '/usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so'
IP = shutil.which('ip', path='/usr/sbin:/usr/bin:/sbin:/bin') or '/usr/sbin/ip'
NFT = shutil.which('nft', path='/usr/sbin:/usr/bin:/sbin') or '/usr/sbin/nft'
FAKETIME = shutil.which('faketime', path='/usr/bin') or '/usr/bin/faketime'
LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'

LOCK_DIR = '/run/dnslab'


def missing_prerequisites():
    """Return a list of what the lab needs but cannot find (empty when all is there)."""
    missing = []
    for path in (NAMED, NAMED_CHECKCONF, NAMED_CHECKZONE, RNDC, DIG, PDNS_SERVER, PDNSUTIL, PDNS_CONTROL,
                 PDNS_SCHEMA, PDNS_GSQLITE3, IP, NFT, FAKETIME, LIBFAKETIME):
        if not os.path.exists(path):
            missing.append(path)
    if os.geteuid() != 0:
        missing.append('root privileges (port 53, ip addr, ip netns)')
    return missing


class LabError(RuntimeError):
    """A server could not be configured or started; the message carries the evidence."""


# --------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------

_alloc_lock = threading.Lock()
_alloc_counter = itertools.count(1 * 256 + 1)
_held_locks = {}
_added_addresses = set()   # (netns name or None, address)


def _port_free(address, port=53):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
        except OSError:
            return False
        finally:
            sock.close()
    return True


def allocate_address():
    """Return a fresh 127.53.X.Y address (starting at 127.53.1.1; never .0 or .255).

    Unique per call within this process. A lock file per address under
    /run/dnslab keeps concurrent pytest sessions (or xdist workers) apart, and
    an address where something already listens on port 53 is skipped.
    """
    with _alloc_lock:
        os.makedirs(LOCK_DIR, exist_ok=True)
        while True:
            n = next(_alloc_counter)
            x, y = divmod(n, 256)
            if x > 255:
                raise LabError('127.53.0.0/16 exhausted')
            if y in (0, 255):
                continue
            address = '127.53.%d.%d' % (x, y)
            fd = os.open(os.path.join(LOCK_DIR, address + '.lock'), os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if not _port_free(address, 53):
                os.close(fd)
                continue
            _held_locks[address] = fd
            return address


def ensure_address(address, netns=None):
    """Put ``address``/32 on ``lo`` (in namespace ``netns`` if given); idempotent."""
    ns = _netns_name(netns)
    key = (ns, address)
    if key in _added_addresses:
        return
    cmd = [IP] + (['-n', ns] if ns else []) + ['addr', 'replace', address + '/32', 'dev', 'lo']
    _run(cmd)
    _added_addresses.add(key)


def release_addresses():
    """Remove the host addresses the lab added to lo and drop the allocation locks."""
    for ns, address in sorted(_added_addresses, key=lambda k: (k[0] or '', k[1])):
        if ns is None:
            subprocess.run([IP, 'addr', 'del', address + '/32', 'dev', 'lo'], capture_output=True, check=False)
    _added_addresses.clear()
    for fd in _held_locks.values():
        os.close(fd)
    _held_locks.clear()


def _run(cmd, check=True, timeout=30, **kw):
    kw.setdefault('capture_output', True)
    kw.setdefault('text', True)
    proc = subprocess.run(cmd, check=False, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise LabError('command failed (rc=%d): %s\nstdout:\n%s\nstderr:\n%s' % (
            proc.returncode, ' '.join(cmd), proc.stdout, proc.stderr))
    return proc


# --------------------------------------------------------------------------
# Shifted clocks (libfaketime cannot run named: see CLOCKSHIFT_SOURCE)
# --------------------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.path.join(REPO, '.tmp', 'dnslab')

# named, rndc, dig and nsupdate on Debian 12 link jemalloc, and libfaketime
# deadlocks in jemalloc's start-up ("Unexpected recursive calls to
# clock_gettime() without proper initialization", libfaketime issues 130/327/
# 478, no fix). This preload shifts only the wall clock (CLOCK_REALTIME*,
# gettimeofday, time) by DNSLAB_CLOCK_OFFSET_NS, reading the real clock with
# the raw syscall, so it needs neither dlsym nor malloc. Monotonic clocks are
# left alone (named's timers keep working normally).
CLOCKSHIFT_SOURCE = r"""
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile long long offset_ns;
static volatile int offset_ready;

static long long get_offset(void)
{
    if (!offset_ready) {
        const char *s = getenv("DNSLAB_CLOCK_OFFSET_NS");
        offset_ns = s ? strtoll(s, NULL, 10) : 0;
        offset_ready = 1;
    }
    return offset_ns;
}

static int shifted(clockid_t clk, struct timespec *ts)
{
    long long t;
    int r = (int)syscall(SYS_clock_gettime, clk, ts);
    if (r != 0 || ts == NULL)
        return r;
    if (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE || clk == CLOCK_TAI) {
        t = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + get_offset();
        ts->tv_sec = (time_t)(t / 1000000000LL);
        ts->tv_nsec = (long)(t % 1000000000LL);
        if (ts->tv_nsec < 0) {
            ts->tv_nsec += 1000000000L;
            ts->tv_sec -= 1;
        }
    }
    return r;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    return shifted(clk, ts);
}

int gettimeofday(struct timeval *tv, void *tz)
{
    struct timespec ts;
    (void)tz;
    if (shifted(CLOCK_REALTIME, &ts) != 0)
        return -1;
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return 0;
}

time_t time(time_t *out)
{
    struct timespec ts;
    if (shifted(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
"""

_clockshift_lock = threading.Lock()


def clockshift_library():
    """Build (once, cached under .tmp/dnslab) and return the path of the clock-shift preload."""
    import hashlib
    digest = hashlib.sha256(CLOCKSHIFT_SOURCE.encode()).hexdigest()[:12]
    path = os.path.join(BUILD_DIR, 'clockshift-%s.so' % digest)
    with _clockshift_lock:
        if os.path.exists(path):
            return path
        os.makedirs(BUILD_DIR, exist_ok=True)
        with open(os.path.join(BUILD_DIR, '.build.lock'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.path.exists(path):
                return path
            cc = shutil.which('cc') or shutil.which('gcc')
            if not cc:
                raise LabError('a C compiler (cc) is needed to build the clock-shift preload for named')
            src = os.path.join(BUILD_DIR, 'clockshift-%s.c' % digest)
            with open(src, 'w') as handle:
                handle.write(CLOCKSHIFT_SOURCE)
            tmp = path + '.%d.tmp' % os.getpid()
            _run([cc, '-shared', '-fPIC', '-O2', '-Wall', '-o', tmp, src])
            os.replace(tmp, path)
    return path


_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'y': 365 * 86400}


def parse_offset(spec):
    """Seconds from a faketime-style spec: 600, '+600', '+600s', '-10m', '+2d', '+1.5h',
    '@2024-01-01 00:00:00' or '2024-01-01 00:00:00' (both as an offset from now; the clock runs)."""
    if isinstance(spec, (int, float)):
        return float(spec)
    spec = str(spec).strip()
    if spec[:1] in '+-':
        number, unit = spec, 's'
        if spec[-1].lower() in _UNITS:
            number, unit = spec[:-1], spec[-1].lower()
        return float(number.replace(',', '.')) * _UNITS[unit]
    import calendar
    when = calendar.timegm(time.strptime(spec.lstrip('@'), '%Y-%m-%d %H:%M:%S'))
    return when - time.time()


def clock_offset_wrapper(offset):
    """A wrapper running a program with its wall clock shifted by ``offset`` (seconds or faketime spec).

    Works for jemalloc-linked programs (named, rndc, dig, nsupdate) where faketime hangs.
    """
    ns = int(round(parse_offset(offset) * 1e9))
    return ['env', 'LD_PRELOAD=%s' % clockshift_library(), 'DNSLAB_CLOCK_OFFSET_NS=%d' % ns]


def translate_wrapper(wrapper):
    """Replace a ``faketime [-m] [-f] [--exclude-monotonic] SPEC`` part of a wrapper by
    clock_offset_wrapper(SPEC); everything else is kept. Needed for jemalloc-linked programs."""
    wrapper = list(wrapper or [])
    for i, word in enumerate(wrapper):
        if os.path.basename(word) == 'faketime':
            j = i + 1
            while j < len(wrapper) and wrapper[j] in ('-f', '-m', '--exclude-monotonic'):
                j += 1
            if j >= len(wrapper):
                raise LabError('faketime wrapper without a time spec: %r' % wrapper)
            try:
                shifted = clock_offset_wrapper(wrapper[j])
            except ValueError:
                raise LabError('only faketime offsets ("+600s", "-2d", "@YYYY-MM-DD hh:mm:ss") can be '
                               'translated for jemalloc-linked programs, not %r' % wrapper[j])
            return wrapper[:i] + shifted + translate_wrapper(wrapper[j + 1:])
    return wrapper


# --------------------------------------------------------------------------
# Keys and zones
# --------------------------------------------------------------------------

class TsigKey(namedtuple('TsigKey', 'name algorithm secret')):
    """A TSIG key: name, algorithm (e.g. 'hmac-sha256'), base64 secret."""

    @property
    def dns_key(self):
        return dns.tsig.Key(self.name, self.secret, self.algorithm)

    def keyring(self):
        return {dns.name.from_text(self.name): self.dns_key}


def make_key(name='k1', algorithm='hmac-sha256', size=32):
    """A TsigKey with a random secret."""
    return TsigKey(name, algorithm, base64.b64encode(os.urandom(size)).decode('ascii'))


def make_zone_text(origin, serial, records=None, ns=('ns1',), count=0, ttl=300, soa_expire=1209600,
                   soa_refresh=3600, soa_retry=600, soa_minimum=300):
    """Zone file text for ``origin``.

    ``ns`` names relative to the zone get an A record at 127.53.0.N (an address
    the allocator never hands out, so even a stray NOTIFY stays on loopback and
    hits nothing) unless ``records`` already gives them one.
    ``records``: (name, type, rdata) or (name, ttl, type, rdata) tuples.
    ``count``: extra records host{i} A 10.x.y.z (data only).
    """
    origin = origin if origin.endswith('.') else origin + '.'
    records = list(records or [])
    lines = ['$ORIGIN %s' % origin, '$TTL %d' % ttl]
    mname = ns[0] if ns else 'ns1'
    lines.append('@ IN SOA %s hostmaster %d %d %d %d %d' % (mname, serial, soa_refresh, soa_retry,
                                                            soa_expire, soa_minimum))
    for name in ns:
        lines.append('@ IN NS %s' % name)
    have_a = set()
    for rec in records:
        if len(rec) == 3 and str(rec[1]).upper() in ('A', 'AAAA'):
            have_a.add(str(rec[0]).lower())
        elif len(rec) == 4 and str(rec[2]).upper() in ('A', 'AAAA'):
            have_a.add(str(rec[0]).lower())
    for i, name in enumerate(ns):
        if name.endswith('.') or name.lower() in have_a:
            continue
        lines.append('%s IN A 127.53.0.%d' % (name, (i % 254) + 1))
    for rec in records:
        if len(rec) == 3:
            lines.append('%s IN %s %s' % tuple(rec))
        else:
            lines.append('%s %d IN %s %s' % tuple(rec))
    for i in range(count):
        lines.append('host%d IN A 10.%d.%d.%d' % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))
    return '\n'.join(lines) + '\n'


def _zone_filename(zone):
    name = zone.rstrip('.').lower() or 'root'
    return name.replace('/', '_') + '.db'


def _absolute(zone):
    return zone if zone.endswith('.') else zone + '.'


# --------------------------------------------------------------------------
# Network namespaces
# --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
_netns_counter = itertools.count(1)


def _netns_name(netns):
    if netns is None:
        return None
    if isinstance(netns, NetNS):
        return netns.name
    return str(netns)


def _netns_from_wrapper(wrapper):
    """The namespace name in a wrapper like ['ip', 'netns', 'exec', NAME, ...], else None."""
    if not wrapper:
        return None
    for i in range(len(wrapper) - 3):
        if os.path.basename(wrapper[i]) == 'ip' and wrapper[i + 1] == 'netns' and wrapper[i + 2] == 'exec':
            return wrapper[i + 3]
    return None


def netns_call(netns, fn, *args, **kwargs):
    """Call ``fn`` in a thread that has entered network namespace ``netns``.

    Sockets created by ``fn`` (for example by dnspython) live in that namespace.
    With ``netns`` None this is a plain call.
    """
    name = _netns_name(netns)
    if name is None:
        return fn(*args, **kwargs)
    result = {}

    def target():
        try:
            fd = os.open('/run/netns/%s' % name, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, 'setns(%s): %s' % (name, os.strerror(err)))
            finally:
                os.close(fd)
            result['value'] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            result['error'] = exc

    thread = threading.Thread(target=target, name='netns-%s' % name, daemon=True)
    thread.start()
    thread.join()
    if 'error' in result:
        raise result['error']
    return result.get('value')


def nft_drop(proto='tcp', dport=53, daddr=None, hook='input', action='drop'):
    """nftables ruleset text dropping ``proto`` to ``dport`` (optionally only to ``daddr``)."""
    match = '%s dport %d' % (proto, dport)
    if daddr:
        match = 'ip daddr %s %s' % (daddr, match)
    return ('table inet dnslab {\n  chain %s {\n    type filter hook %s priority 0; policy accept;\n'
            '    %s %s\n  }\n}\n' % (hook, hook, match, action))


def cleanup_stale_namespaces():
    """Delete empty ``dnslab-<pid>-<n>`` namespaces left by lab processes that died.

    Namespaces that still hold processes are left alone (they are not ours to kill).
    Returns the names deleted.
    """
    import re
    proc = subprocess.run([IP, 'netns', 'list'], capture_output=True, text=True, check=False)
    deleted = []
    for line in proc.stdout.splitlines():
        match = re.match(r'^(dnslab-(\d+)-\d+)\b', line.strip())
        if not match or os.path.exists('/proc/%s' % match.group(2)):
            continue
        name = match.group(1)
        pids = subprocess.run([IP, 'netns', 'pids', name], capture_output=True, text=True, check=False)
        if pids.stdout.strip():
            continue
        subprocess.run([IP, 'netns', 'del', name], capture_output=True, check=False)
        deleted.append(name)
    return deleted


class NetNS(object):
    """A network namespace with ``lo`` up; deleted (processes killed) on close."""

    def __init__(self, name=None):
        self.name = name or 'dnslab-%d-%d' % (os.getpid(), next(_netns_counter))
        self.created = False
        _run([IP, 'netns', 'add', self.name])
        self.created = True
        try:
            _run([IP, '-n', self.name, 'link', 'set', 'lo', 'up'])
        except Exception:
            self.close()
            raise

    @property
    def wrapper(self):
        return [IP, 'netns', 'exec', self.name]

    def run(self, cmd, check=False, timeout=60, **kw):
        """subprocess.run(cmd) inside the namespace (text, captured output by default)."""
        kw.setdefault('capture_output', True)
        kw.setdefault('text', True)
        return subprocess.run(self.wrapper + list(cmd), check=check, timeout=timeout, **kw)

    def popen(self, cmd, **kw):
        return subprocess.Popen(self.wrapper + list(cmd), **kw)

    def nft(self, ruleset_text):
        """Load an nftables ruleset (``nft -f -``) inside the namespace."""
        proc = self.run([NFT, '-f', '-'], input=ruleset_text)
        if proc.returncode != 0:
            raise LabError('nft failed in %s: %s\n%s' % (self.name, proc.stderr, ruleset_text))
        return proc

    def add_address(self, address):
        ensure_address(address, self)

    def call(self, fn, *args, **kwargs):
        return netns_call(self, fn, *args, **kwargs)

    def pids(self):
        proc = subprocess.run([IP, 'netns', 'pids', self.name], capture_output=True, text=True, check=False)
        return [int(p) for p in proc.stdout.split() if p.strip().isdigit()]

    def close(self):
        if not self.created:
            return
        pids = self.pids()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                pids = self.pids()
                if not pids:
                    break
                time.sleep(POLL)
            if not pids:
                break
        subprocess.run([IP, 'netns', 'del', self.name], capture_output=True, check=False)
        for key in [k for k in _added_addresses if k[0] == self.name]:
            _added_addresses.discard(key)
        self.created = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return 'NetNS(%r)' % self.name


# --------------------------------------------------------------------------
# Client helpers
# --------------------------------------------------------------------------

def query(address, qname, rdtype='SOA', port=53, tcp=False, key=None, source=None, timeout=2.0,
          netns=None, want_dnssec=False, rd=False):
    """Send one query with dnspython and return the response message.

    ``key`` is a TsigKey (the query is signed). ``netns`` runs it in a namespace.
    """
    msg = dns.message.make_query(qname, rdtype, want_dnssec=want_dnssec)
    if not rd:
        msg.flags &= ~dns.flags.RD
    if key is not None:
        msg.use_tsig(key.dns_key)
    fn = dns.query.tcp if tcp else dns.query.udp
    return netns_call(netns, fn, msg, address, timeout=timeout, port=port, source=source)


def axfr(address, zone, port=53, key=None, source=None, timeout=5.0, netns=None, relativize=False):
    """AXFR ``zone`` and return a dns.zone.Zone; raises dns.xfr.TransferError etc. on failure."""
    def run():
        txn = dns.zone.Zone(_absolute(zone), relativize=relativize)
        kw = {}
        if key is not None:
            kw['keyring'] = key.dns_key
        msg = dns.xfr.make_query(txn, serial=None, **kw)[0]
        dns.query.inbound_xfr(address, txn, query=msg, port=port, timeout=timeout, lifetime=timeout * 2,
                              source=source)
        return txn
    return netns_call(netns, run)


def soa_serial(address, zone, port=53, netns=None, key=None, timeout=2.0):
    """The SOA serial an authoritative server serves for ``zone`` (None unless NOERROR+AA)."""
    resp = query(address, _absolute(zone), 'SOA', port=port, netns=netns, key=key, timeout=timeout)
    if resp.rcode() != dns.rcode.NOERROR or not (resp.flags & dns.flags.AA):
        return None
    for rrset in resp.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


def wait_for(predicate, timeout=10.0, interval=POLL, what='condition'):
    """Poll ``predicate`` until it returns a true value; return it or raise LabError."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error
            last_exc = exc
        if time.monotonic() >= deadline:
            raise LabError('timed out after %.1fs waiting for %s (last error: %r)' % (timeout, what, last_exc))
        time.sleep(interval)


# --------------------------------------------------------------------------
# Server base
# --------------------------------------------------------------------------

class _Server(object):
    kind = 'server'
    translate_faketime = False

    def __init__(self, workdir, address, port=53, wrapper=None, netns=None):
        self.workdir = os.path.abspath(str(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.address = address
        self.port = int(port)
        self.wrapper = list(wrapper or [])
        self.netns = _netns_name(netns) or _netns_from_wrapper(self.wrapper)
        self._netns_prefix = [IP, 'netns', 'exec', self.netns] if (netns is not None) else []
        self.proc = None
        self.logfile = os.path.join(self.workdir, self.kind + '.log')
        self.start_seconds = None
        self.keys = OrderedDict()
        self.zones = OrderedDict()

    # -- helpers -------------------------------------------------------
    @property
    def full_wrapper(self):
        """Namespace prefix (when ``netns`` was given) + ``wrapper`` (faketime translated for named)."""
        return self._netns_prefix + (translate_wrapper(self.wrapper) if self.translate_faketime else self.wrapper)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.logfile, 'r', errors='replace') as handle:
                return handle.read()
        except FileNotFoundError:
            return ''

    def log_tail(self, lines=40):
        return '\n'.join(self.log().splitlines()[-lines:])

    def query(self, qname, rdtype='SOA', **kw):
        return query(self.address, qname, rdtype, port=self.port, netns=self.netns, **kw)

    def axfr(self, zone, **kw):
        return axfr(self.address, zone, port=self.port, netns=self.netns, **kw)

    def soa_serial(self, zone, **kw):
        return soa_serial(self.address, zone, port=self.port, netns=self.netns, **kw)

    def wait_serial(self, zone, serial, timeout=10.0):
        """Wait until the server answers ``zone`` SOA with AA and exactly ``serial``."""
        return wait_for(lambda: self.soa_serial(zone, timeout=0.5) == serial, timeout=timeout,
                        what='%s %s:%d to serve %s serial %s' % (self.kind, self.address, self.port, zone, serial))

    def _probe(self, qname, timeout=0.25):
        """One UDP SOA query on a connected socket (so 'port unreachable' shows at once); None on failure."""
        def run():
            msg = dns.message.make_query(qname, 'SOA')
            msg.flags &= ~dns.flags.RD
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.settimeout(timeout)
                sock.connect((self.address, self.port))
                sock.send(msg.to_wire())
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    resp = dns.message.from_wire(sock.recv(65535))
                    if resp.id == msg.id:
                        return resp
            except (OSError, dns.exception.DNSException):
                return None
            finally:
                sock.close()
            return None
        return netns_call(self.netns, run)

    def _answers(self, zone):
        resp = self._probe(_absolute(zone))
        if resp is None or resp.rcode() != dns.rcode.NOERROR or not resp.flags & dns.flags.AA:
            return False
        # A truncated (TC) authoritative NOERROR also means the zone is loaded.
        return bool(resp.flags & dns.flags.TC) or any(r.rdtype == dns.rdatatype.SOA for r in resp.answer)

    def _responds(self):
        return self._probe('.') is not None

    def _launch(self, cmd):
        if self.running:
            raise LabError('%s %s already running' % (self.kind, self.address))
        ensure_address(self.address, self.netns)
        logf = open(self.logfile, 'ab')
        try:
            self.proc = subprocess.Popen(self.full_wrapper + cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True)
        finally:
            logf.close()

    def _wait_ready(self, zones, timeout, started):
        deadline = started + timeout
        pending = list(zones)
        responded = False
        while True:
            if self.proc.poll() is not None:
                raise LabError('%s on %s:%d exited with %s during start\n--- log tail ---\n%s' % (
                    self.kind, self.address, self.port, self.proc.returncode, self.log_tail()))
            if not responded:
                responded = self._responds()
            if responded:
                pending = [z for z in pending if not self._answers(z)]
                if not pending:
                    return
                self._on_pending(pending)
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise LabError('%s on %s:%d not ready after %.1fs (%s)\n--- log tail ---\n%s' % (
                    self.kind, self.address, self.port, timeout,
                    'zones not loaded: %s' % ', '.join(pending) if responded else 'no answer at all', tail))
            time.sleep(POLL)

    def _on_pending(self, pending):
        pass

    def stop(self, timeout=5.0, kill=False):
        """Terminate the server (SIGTERM, or SIGKILL with kill=True), wait, then SIGKILL if needed."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return '%s(%r, %s:%d)' % (type(self).__name__, self.workdir, self.address, self.port)


def _as_key(name, algorithm=None, secret_b64=None):
    if isinstance(name, TsigKey):
        return name
    return TsigKey(name, algorithm, secret_b64)


# --------------------------------------------------------------------------
# BIND
# --------------------------------------------------------------------------

def acl_ip_and_key(ip, key):
    """BIND address-match-list elements that require source ``ip`` AND TSIG ``key``.

    ``!{ !ip; any; };`` rejects every other address, then ``key "k";`` allows
    only signed requests (key names are not secret: CVE-2017-3142/3143).
    """
    key = key.name if isinstance(key, TsigKey) else key
    return '!{ !%s; any; }; key "%s";' % (ip, key)


def _acl(elements):
    out = []
    for element in elements:
        element = str(element).strip()
        if not element.endswith(';'):
            element += ';'
        out.append(element)
    return '{ %s }' % ' '.join(out) if out else '{ none; }'


def _bind_remote(item, default_key=None):
    """'addr', (addr, port) or (addr, port, key) -> 'addr port P key "k";'."""
    if isinstance(item, str):
        if item.rstrip().endswith(';') or ' ' in item.strip():
            return item.strip().rstrip(';') + ';'
        item = (item, 53)
    address, port = item[0], item[1]
    key = item[2] if len(item) > 2 else default_key
    key = key.name if isinstance(key, TsigKey) else key
    text = '%s port %d' % (address, int(port))
    if key:
        text += ' key "%s"' % key
    return text + ';'


class BindServer(_Server):
    """A real named (BIND 9) in ``workdir`` listening on ``address``:``port``."""

    kind = 'named'
    # named and rndc link jemalloc: libfaketime hangs them, so a faketime
    # wrapper is replaced by the clock-shift preload (same offset).
    translate_faketime = True

    def __init__(self, workdir, address, port=53, wrapper=None, netns=None, control_port=953):
        super().__init__(workdir, address, port, wrapper, netns)
        self.control_port = control_port
        self.options_extra = []
        self.conf_extra = []        # raw top-level statements
        self.conf_path = os.path.join(self.workdir, 'named.conf')
        self.rndc_conf = os.path.join(self.workdir, 'rndc.conf')
        self.rndc_key = make_key('rndc-key')

    def add_key(self, name, algorithm=None, secret_b64=None):
        key = _as_key(name, algorithm, secret_b64)
        self.keys[key.name] = key
        return key

    def zone_file(self, zone):
        return os.path.join(self.workdir, self.zones[_absolute(zone)]['file'])

    def add_primary(self, zone, text, allow_transfer=('none',), also_notify=(), notify='explicit', extra=(),
                    wait=True):
        """A primary zone. ``also_notify``: (addr, port[, key]) tuples or raw strings."""
        zone = _absolute(zone)
        self.zones[zone] = dict(type='primary', file='primary/' + _zone_filename(zone),
                                allow_transfer=list(allow_transfer), also_notify=list(also_notify),
                                notify=notify, extra=list(extra), wait=wait)
        self.set_zone_text(zone, text)
        return zone

    def add_secondary(self, zone, primaries, key=None, allow_transfer=('none',), extra=(), wait=True,
                      also_notify=(), notify=None):
        """A secondary zone; ``primaries`` a list of (address, port[, key]); ``key`` the default key.

        Secondaries send no NOTIFY unless ``also_notify`` is given (then ``notify explicit``)
        or ``notify`` is set.
        """
        zone = _absolute(zone)
        if key is not None and isinstance(key, TsigKey) and key.name not in self.keys:
            self.add_key(key)
        if notify is None and also_notify:
            notify = 'explicit'
        self.zones[zone] = dict(type='secondary', file='secondary/' + _zone_filename(zone),
                                primaries=list(primaries), key=key, allow_transfer=list(allow_transfer),
                                extra=list(extra), wait=wait, also_notify=list(also_notify), notify=notify)
        return zone

    def set_zone_text(self, zone, text):
        """(Re)write a primary zone's file; call reload() to make named read it."""
        info = self.zones[_absolute(zone)]
        if info['type'] != 'primary':
            raise LabError('%s is not a primary zone here' % zone)
        path = os.path.join(self.workdir, info['file'])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w') as handle:
            handle.write(text)
        os.replace(tmp, path)

    def config_text(self):
        w = self.workdir
        lines = []
        lines.append('key "%s" { algorithm %s; secret "%s"; };' % (
            self.rndc_key.name, self.rndc_key.algorithm, self.rndc_key.secret))
        lines.append('controls { inet %s port %d allow { any; } keys { "%s"; }; };' % (
            self.address, self.control_port, self.rndc_key.name))
        for key in self.keys.values():
            lines.append('key "%s" { algorithm %s; secret "%s"; };' % (key.name, key.algorithm, key.secret))
        opts = [
            'directory "%s";' % w,
            'pid-file "%s/named.pid";' % w,
            'session-keyfile "%s/session.key";' % w,
            'managed-keys-directory "%s";' % w,
            'dump-file "%s/named_dump.db";' % w,
            'statistics-file "%s/named.stats";' % w,
            'listen-on port %d { %s; };' % (self.port, self.address),
            'listen-on-v6 { none; };',
            'query-source address %s;' % self.address,
            'transfer-source %s;' % self.address,
            'notify-source %s;' % self.address,
            'recursion no;',
            'dnssec-validation no;',
            'minimal-responses yes;',
            'allow-transfer { none; };',
            'notify no;',
            'notify-delay 0;',
            'min-refresh-time 1;',
            'min-retry-time 1;',
            'masterfile-format text;',
            'automatic-interface-scan no;',
            'interface-interval 0;',
            'empty-zones-enable no;',
        ]
        # An option given in options_extra replaces the default of the same name.
        overridden = set(o.split()[0] for o in self.options_extra if o.strip())
        opts = [o for o in opts if o.split()[0] not in overridden]
        opts += [o if o.rstrip().endswith(';') or o.rstrip().endswith('}') else o + ';' for o in self.options_extra]
        lines.append('options {\n    %s\n};' % '\n    '.join(opts))
        lines.extend(self.conf_extra)
        for zone, info in self.zones.items():
            body = ['type %s;' % info['type'], 'file "%s";' % info['file'],
                    'allow-transfer %s;' % _acl(info['allow_transfer'])]
            if info['notify']:
                body.append('notify %s;' % info['notify'])
            if info['also_notify']:
                body.append('also-notify { %s };' % ' '.join(_bind_remote(r) for r in info['also_notify']))
            if info['type'] == 'secondary':
                body.append('primaries { %s };' % ' '.join(_bind_remote(r, info['key'])
                                                           for r in info['primaries']))
            body.extend(e if e.rstrip().endswith(';') else e + ';' for e in info['extra'])
            lines.append('zone "%s" {\n    %s\n};' % (zone, '\n    '.join(body)))
        return '\n'.join(lines) + '\n'

    def write_config(self):
        os.makedirs(os.path.join(self.workdir, 'primary'), exist_ok=True)
        os.makedirs(os.path.join(self.workdir, 'secondary'), exist_ok=True)
        with open(self.conf_path, 'w') as handle:
            handle.write(self.config_text())
        with open(self.rndc_conf, 'w') as handle:
            handle.write('key "%s" { algorithm %s; secret "%s"; };\n'
                         'options { default-key "%s"; default-server %s; default-port %d; };\n' % (
                             self.rndc_key.name, self.rndc_key.algorithm, self.rndc_key.secret,
                             self.rndc_key.name, self.address, self.control_port))
        proc = _run([NAMED_CHECKCONF, self.conf_path], check=False)
        if proc.returncode != 0:
            raise LabError('named-checkconf rejected %s:\n%s%s\n--- named.conf ---\n%s' % (
                self.conf_path, proc.stdout, proc.stderr, self.config_text()))

    def start(self, timeout=15.0):
        """Write and check named.conf, start named, wait for its zones (AA SOA answers)."""
        started = time.monotonic()
        self.write_config()
        self._launch([NAMED, '-4', '-g', '-c', self.conf_path])
        self._wait_ready([z for z, i in self.zones.items() if i['wait']], timeout, started)
        self.start_seconds = time.monotonic() - started
        return self

    def _on_pending(self, pending):
        # Fail fast when named has already given up on a primary zone file.
        log = None
        for zone in pending:
            if self.zones[zone]['type'] != 'primary':
                continue
            log = self.log() if log is None else log
            marker = 'zone %s/IN: not loaded due to errors' % (zone.rstrip('.') or '.')
            if marker in log:
                tail = self.log_tail()
                self.stop()
                raise LabError('named on %s:%d could not load primary zone %s (use wait=False to expect '
                               'this)\n--- log tail ---\n%s' % (self.address, self.port, zone, tail))

    def rndc(self, *args, check=True, timeout=30):
        """Run rndc against this server (through the wrapper, so faketime/netns apply); return output."""
        cmd = self.full_wrapper + [RNDC, '-c', self.rndc_conf] + list(args)
        proc = _run(cmd, check=False, timeout=timeout)
        if check and proc.returncode != 0:
            raise LabError('rndc %s failed (rc=%d): %s%s\n--- log tail ---\n%s' % (
                ' '.join(args), proc.returncode, proc.stdout, proc.stderr, self.log_tail()))
        return proc.stdout + proc.stderr

    def reload(self, zone=None):
        """``rndc reload [zone]``; a whole-server reload also rewrites named.conf first."""
        if zone is None:
            self.write_config()
            return self.rndc('reload')
        return self.rndc('reload', _absolute(zone).rstrip('.') or '.')

    def reconfig(self):
        self.write_config()
        return self.rndc('reconfig')

    def retransfer(self, zone):
        return self.rndc('retransfer', _absolute(zone).rstrip('.') or '.')

    def notify(self, zone):
        return self.rndc('notify', _absolute(zone).rstrip('.') or '.')

    def stop(self, timeout=5.0, kill=False):
        super().stop(timeout, kill)


# --------------------------------------------------------------------------
# PowerDNS
# --------------------------------------------------------------------------

_schema_cache = {}


def _create_pdns_db(path):
    if 'template' not in _schema_cache:
        with open(PDNS_SCHEMA) as handle:
            _schema_cache['schema'] = handle.read()
        fd, template = tempfile.mkstemp(prefix='dnslab-pdns-', suffix='.sqlite3')
        os.close(fd)
        conn = sqlite3.connect(template)
        conn.executescript(_schema_cache['schema'])
        conn.commit()
        conn.close()
        _schema_cache['template'] = template
        atexit.register(lambda: os.path.exists(template) and os.unlink(template))
    shutil.copyfile(_schema_cache['template'], path)


def _pdns_remote(item):
    if isinstance(item, str):
        return item
    return '%s:%d' % (item[0], int(item[1]))


class PdnsServer(_Server):
    """A real pdns_server (gsqlite3 backend, DNSSEC schema on) in ``workdir``."""

    kind = 'pdns'

    def __init__(self, workdir, address, port=53, wrapper=None, netns=None, allow_axfr_ips=()):
        super().__init__(workdir, address, port, wrapper, netns)
        self.db = os.path.join(self.workdir, 'pdns.sqlite3')
        self.conf_path = os.path.join(self.workdir, 'pdns.conf')
        self.socket_dir = self.workdir
        if len(os.path.join(self.workdir, 'pdns.controlsocket')) > 100:   # sun_path limit is 108
            self.socket_dir = tempfile.mkdtemp(prefix='pdns-', dir='/tmp')
        self.allow_axfr_ips = list(allow_axfr_ips)
        self.settings = OrderedDict()   # extra/overriding pdns.conf settings
        _create_pdns_db(self.db)
        self.write_config()

    def config_text(self):
        primary = any(i['type'] == 'primary' for i in self.zones.values())
        secondary = any(i['type'] == 'secondary' for i in self.zones.values())
        settings = OrderedDict([
            ('launch', 'gsqlite3'),
            ('gsqlite3-database', self.db),
            ('gsqlite3-dnssec', 'yes'),
            ('gsqlite3-pragma-synchronous', '0'),
            ('local-address', self.address),
            ('local-port', str(self.port)),
            ('query-local-address', self.address),
            ('socket-dir', self.socket_dir),
            ('daemon', 'no'),
            ('guardian', 'no'),
            ('disable-syslog', 'yes'),
            ('loglevel', '6'),
            ('security-poll-suffix', ''),
            ('allow-axfr-ips', ','.join(self.allow_axfr_ips)),
            ('only-notify', ''),
            ('primary', 'yes' if primary else 'no'),
            ('secondary', 'yes' if secondary else 'no'),
            ('zone-cache-refresh-interval', '0'),
            ('cache-ttl', '0'),
            ('query-cache-ttl', '0'),
            ('negquery-cache-ttl', '0'),
            ('zone-metadata-cache-ttl', '0'),
            ('dnssec-key-cache-ttl', '0'),
            ('xfr-cycle-interval', '1'),
            ('distributor-threads', '1'),
            ('signing-threads', '1'),
        ])
        settings.update(self.settings)
        return ''.join('%s=%s\n' % kv for kv in settings.items())

    def write_config(self):
        with open(self.conf_path, 'w') as handle:
            handle.write(self.config_text())

    def pdnsutil(self, *args, check=True):
        proc = _run([PDNSUTIL, '--config-dir=%s' % self.workdir] + [str(a) for a in args], check=False)
        if check and proc.returncode != 0:
            raise LabError('pdnsutil %s failed (rc=%d):\n%s%s' % (' '.join(map(str, args)), proc.returncode,
                                                                  proc.stdout, proc.stderr))
        return proc.stdout + proc.stderr

    def control(self, *args, check=True):
        """pdns_control through the control socket; returns its output."""
        proc = _run([PDNS_CONTROL, '--config-dir=%s' % self.workdir] + [str(a) for a in args], check=False)
        if check and proc.returncode != 0:
            raise LabError('pdns_control %s failed (rc=%d):\n%s%s\n--- log tail ---\n%s' % (
                ' '.join(map(str, args)), proc.returncode, proc.stdout, proc.stderr, self.log_tail()))
        return proc.stdout + proc.stderr

    rndc = control   # same role as BindServer.rndc

    def add_key(self, name, algorithm=None, secret_b64=None):
        key = _as_key(name, algorithm, secret_b64)
        self.keys[key.name] = key
        self.pdnsutil('import-tsig-key', key.name, key.algorithm, key.secret)
        return key

    def zone_file(self, zone):
        return os.path.join(self.workdir, 'zones', _zone_filename(_absolute(zone)))

    def add_primary(self, zone, text, allow_axfr_ips=(), tsig_allow_axfr=(), also_notify=(), wait=True):
        """Load a primary zone (pdnsutil load-zone + set-kind primary) and its metadata.

        ``allow_axfr_ips`` -> ALLOW-AXFR-FROM, ``tsig_allow_axfr`` (key names or
        TsigKeys) -> TSIG-ALLOW-AXFR, ``also_notify`` ((addr, port) or 'addr:port')
        -> ALSO-NOTIFY.
        """
        zone = _absolute(zone)
        self.zones[zone] = dict(type='primary', wait=wait)
        self.set_zone_text(zone, text)
        self.pdnsutil('load-zone', zone, self.zone_file(zone))
        self.pdnsutil('set-kind', zone, 'primary')
        self._set_acl_meta(zone, allow_axfr_ips, tsig_allow_axfr, also_notify)
        if self.running:
            self.control('notify', zone, check=False)
        return zone

    def _set_acl_meta(self, zone, allow_axfr_ips, tsig_allow_axfr, also_notify):
        names = [k.name if isinstance(k, TsigKey) else k for k in tsig_allow_axfr]
        for k in tsig_allow_axfr:
            if isinstance(k, TsigKey) and k.name not in self.keys:
                self.add_key(k)
        if names:
            self.pdnsutil('set-meta', zone, 'TSIG-ALLOW-AXFR', *names)
        if allow_axfr_ips:
            self.pdnsutil('set-meta', zone, 'ALLOW-AXFR-FROM', *allow_axfr_ips)
        if also_notify:
            self.pdnsutil('set-meta', zone, 'ALSO-NOTIFY', *[_pdns_remote(r) for r in also_notify])

    def add_secondary(self, zone, primaries, key=None, wait=True, allow_axfr_ips=(), tsig_allow_axfr=(),
                      also_notify=()):
        """create-secondary-zone + AXFR-MASTER-TSIG; ``primaries`` (addr, port) tuples.

        For a chain, ``tsig_allow_axfr``/``allow_axfr_ips`` let others transfer from this
        secondary and ``also_notify`` makes it re-notify (SLAVE-RENOTIFY=1 + ALSO-NOTIFY).
        """
        zone = _absolute(zone)
        self.zones[zone] = dict(type='secondary', wait=wait, primaries=list(primaries))
        self.pdnsutil('create-secondary-zone', zone, *[_pdns_remote(p) for p in primaries])
        if key is not None:
            if isinstance(key, TsigKey) and key.name not in self.keys:
                self.add_key(key)
            self.pdnsutil('set-meta', zone, 'AXFR-MASTER-TSIG', key.name if isinstance(key, TsigKey) else key)
        self._set_acl_meta(zone, allow_axfr_ips, tsig_allow_axfr, also_notify)
        if also_notify:
            self.pdnsutil('set-meta', zone, 'SLAVE-RENOTIFY', '1')
        if self.running:
            self.control('retrieve', zone, check=False)
        return zone

    def set_zone_text(self, zone, text):
        """(Re)write the zone's file; reload(zone) loads it into the database."""
        zone = _absolute(zone)
        if self.zones.get(zone, {}).get('type') != 'primary':
            raise LabError('%s is not a primary zone here' % zone)
        path = self.zone_file(zone)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write(text)

    def reload(self, zone=None):
        """pdnsutil load-zone from the file, then purge the cache and send NOTIFY (ALSO-NOTIFY)."""
        zones = [_absolute(zone)] if zone else [z for z, i in self.zones.items() if i['type'] == 'primary']
        out = ''
        for z in zones:
            out += self.pdnsutil('load-zone', z, self.zone_file(z))
            if self.running:
                out += self.control('purge', z + '$', check=False)
                out += self.control('notify', z, check=False)
        return out

    def retrieve(self, zone):
        return self.control('retrieve', _absolute(zone))

    def notify(self, zone):
        return self.control('notify', _absolute(zone))

    def start(self, timeout=15.0):
        """Check the configuration (--config=check), start pdns_server, wait for its zones."""
        started = time.monotonic()
        self.write_config()
        proc = _run([PDNS_SERVER, '--config-dir=%s' % self.workdir, '--config=check'], check=False)
        if proc.returncode != 0:
            raise LabError('pdns_server --config=check rejected %s:\n%s%s\n--- pdns.conf ---\n%s' % (
                self.conf_path, proc.stdout, proc.stderr, self.config_text()))
        self._retrieved = set()
        self._launch([PDNS_SERVER, '--config-dir=%s' % self.workdir])
        self._wait_ready([z for z, i in self.zones.items() if i['wait']], timeout, started)
        self.start_seconds = time.monotonic() - started
        return self

    def _on_pending(self, pending):
        # A secondary transfers on the first xfr cycle anyway; asking once makes it immediate.
        for zone in pending:
            if self.zones[zone]['type'] == 'secondary' and zone not in self._retrieved:
                if os.path.exists(os.path.join(self.socket_dir, 'pdns.controlsocket')):
                    self.control('retrieve', zone, check=False)
                    self._retrieved.add(zone)

    def stop(self, timeout=5.0, kill=False):
        super().stop(timeout, kill)


# --------------------------------------------------------------------------
# Fake servers (faults a real server cannot produce)
# --------------------------------------------------------------------------

class _ThreadedServer(object):
    def _serve(self, server):
        thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': POLL}, daemon=True)
        thread.start()
        self._threads.append((server, thread))

    def stop(self):
        for server, thread in self._threads:
            server.shutdown()
            server.server_close()
            thread.join(5)
        self._threads = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class _UDPServer(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _read_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class CutXfrServer(_ThreadedServer):
    """Answers SOA for ``zone`` properly (UDP and TCP); an AXFR/IXFR gets a first
    message with the SOA and ``records`` A records, then the connection is closed
    before the closing SOA (``mode='cut'``) or left hanging (``mode='stall'``).
    """

    def __init__(self, address, port=53, zone='example.test.', serial=1, records=5, mode='cut',
                 stall_seconds=30):
        self.address, self.port = address, port
        self.zone = dns.name.from_text(_absolute(zone))
        self.serial, self.records, self.mode = serial, records, mode
        self.stall_seconds = stall_seconds
        self.queries = []
        self._threads = []
        self._stopping = threading.Event()
        ensure_address(address)
        lab = self

        class UDPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                resp = lab._answer(data, tcp=False)
                if resp is not None:
                    sock.sendto(resp, self.client_address)

        class TCPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(10)
                try:
                    while True:
                        (length,) = struct.unpack('!H', _read_exact(sock, 2))
                        data = _read_exact(sock, length)
                        resp = lab._answer(data, tcp=True)
                        if resp is None:
                            return
                        if resp == 'xfr':
                            lab._send_partial_xfr(sock, data)
                            return
                        sock.sendall(struct.pack('!H', len(resp)) + resp)
                except (EOFError, OSError):
                    return

        self._serve(_UDPServer((address, port), UDPHandler))
        self._serve(_TCPServer((address, port), TCPHandler))

    def soa_rrset(self):
        return dns.rrset.from_text(self.zone, 300, 'IN', 'SOA',
                                   'ns1.%s hostmaster.%s %d 3600 600 1209600 300' % (self.zone, self.zone,
                                                                                     self.serial))

    def _answer(self, data, tcp):
        try:
            msg = dns.message.from_wire(data)
        except Exception:
            return None
        q = msg.question[0] if msg.question else None
        self.queries.append((q.name.to_text(), dns.rdatatype.to_text(q.rdtype), tcp) if q is not None else None)
        resp = dns.message.make_response(msg)
        resp.flags &= ~dns.flags.RA
        if q is None or q.name != self.zone:
            resp.set_rcode(dns.rcode.REFUSED)
            return resp.to_wire()
        if q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            if not tcp:
                resp.set_rcode(dns.rcode.REFUSED)   # (IXFR over UDP: just refuse)
                return resp.to_wire()
            return 'xfr'
        resp.flags |= dns.flags.AA
        if q.rdtype == dns.rdatatype.SOA:
            resp.answer.append(self.soa_rrset())
        return resp.to_wire()

    def _send_partial_xfr(self, sock, data):
        msg = dns.message.from_wire(data)
        resp = dns.message.make_response(msg)
        resp.flags |= dns.flags.AA
        resp.answer.append(self.soa_rrset())
        resp.answer.append(dns.rrset.from_text(self.zone, 300, 'IN', 'NS', 'ns1.%s' % self.zone))
        for i in range(self.records):
            resp.answer.append(dns.rrset.from_text('host%d.%s' % (i, self.zone), 300, 'IN', 'A',
                                                   '10.0.%d.%d' % ((i >> 8) & 255, i & 255)))
        wire = resp.to_wire()
        sock.sendall(struct.pack('!H', len(wire)) + wire)
        if self.mode == 'stall':
            self._stopping.wait(self.stall_seconds)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stop(self):
        self._stopping.set()
        super().stop()


def record_axfr(address, zone, port=53, timeout=10.0):
    """The messages of an unsigned AXFR of ``zone`` from a server, as wires (for replay by a fake server)."""
    zone_name = dns.name.from_text(_absolute(zone))
    query = dns.message.make_query(zone_name, 'AXFR')
    query.flags &= ~dns.flags.RD
    wire = query.to_wire()
    messages = []
    soas = 0
    with socket.create_connection((address, port), timeout=timeout) as sock:
        sock.sendall(struct.pack('!H', len(wire)) + wire)
        while soas < 2:
            (length,) = struct.unpack('!H', _read_exact(sock, 2))
            data = _read_exact(sock, length)
            msg = dns.message.from_wire(data, xfr=True, multi=True, one_rr_per_rrset=True)
            if msg.rcode() != dns.rcode.NOERROR:
                raise LabError('AXFR of %s from %s: %s' % (zone, address, dns.rcode.to_text(msg.rcode())))
            messages.append(data)
            soas += sum(1 for rrset in msg.answer if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zone_name)
    return messages


class SlowReaderCutXfrServer(_ThreadedServer):
    """Replays a recorded AXFR over TCP like a primary that cuts off readers that stall (Knot: 500 ms).

    ``messages`` are the wires of an unsigned AXFR (record_axfr()); each is sent with the ID of the
    query. The accepted socket gets a small SO_SNDBUF, so back-pressure shows as soon as the client
    stops reading; when nothing can be sent for ``idle_timeout`` seconds the connection is closed
    and counted in ``cut_off``, a transfer sent to the end in ``completed``. Only TCP is served.
    """

    def __init__(self, address, port, messages, idle_timeout=0.2, sndbuf=4096):
        self.address, self.port = address, port
        self.messages = list(messages)
        self.idle_timeout = idle_timeout
        self.sndbuf = sndbuf
        self.cut_off = 0
        self.completed = 0
        self.stalls = []   # the longest wait for the client to read, per connection (seconds)
        self._threads = []
        ensure_address(address)
        lab = self

        class TCPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                lab._serve_one(self.request)

        self._serve(_TCPServer((address, port), TCPHandler))

    def _serve_one(self, sock):
        sock.settimeout(5)
        try:
            (length,) = struct.unpack('!H', _read_exact(sock, 2))
            query = _read_exact(sock, length)
        except (EOFError, OSError):
            return
        qid = query[:2]
        data = b''.join(struct.pack('!H', len(m)) + qid + m[2:] for m in self.messages)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        sock.setblocking(False)
        view = memoryview(data)
        pos = 0
        longest = 0.0
        try:
            while pos < len(data):
                waited = time.monotonic()
                dummy, writable, dummy2 = select.select([], [sock], [], self.idle_timeout)
                longest = max(longest, time.monotonic() - waited)
                if not writable:
                    self.cut_off += 1
                    return
                try:
                    pos += sock.send(view[pos:pos + 65536])
                except (BlockingIOError, InterruptedError):
                    continue
            self.completed += 1
        except OSError:
            return
        finally:
            self.stalls.append(longest)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HttpServer(_ThreadedServer):
    """A plain HTTP server (http.server) on ``address``:``port`` - a TCP port that is not DNS."""

    def __init__(self, address, port=8080, body=b'not dns\n'):
        self.address, self.port = address, port
        self.requests = []
        self._threads = []
        ensure_address(address)
        lab = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 5

            def do_GET(self):
                lab.requests.append(self.path)
                self.send_response(200)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._serve(Server((address, port), Handler))


# --------------------------------------------------------------------------
# dig (for runs inside a namespace or under a wrapper)
# --------------------------------------------------------------------------

def dig_cmd(address, qname, rdtype='SOA', port=53, tcp=False, timeout=1, tries=1, key=None, extra=()):
    """A dig command line (+norec, short timeouts); prepend a NetNS wrapper to run it inside."""
    cmd = [DIG, '@%s' % address, '-p', str(port), qname, rdtype, '+norec', '+time=%d' % timeout,
           '+tries=%d' % tries]
    if tcp:
        cmd.append('+tcp')
    if key is not None:
        cmd += ['-y', '%s:%s:%s' % (key.algorithm, key.name, key.secret)]
    return cmd + list(extra)
