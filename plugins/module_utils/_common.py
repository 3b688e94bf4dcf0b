# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""Shared helpers: the dnspython/netaddr import guard, server and zone parsing."""

from __future__ import annotations

import re
import traceback

from ansible.module_utils.basic import missing_required_lib

DNSPYTHON_MIN = (2, 3, 0)

try:
    import dns
    import dns.name
    import dns.version
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError:
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError:
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = traceback.format_exc()


# A list or dictionary argument longer than this is not echoed back in a module's result (its length is): at fleet
# size the echo doubled zone_files' result (10,000 zones) and cost seconds to copy, mask and send.
ECHO_LIMIT = 100


def short_invocation(params, limit=ECHO_LIMIT):
    """The ``invocation`` a module returns: its arguments, with each one longer than ``limit`` entries summed up.

    AnsibleModule still masks the no_log values in it, as in any result.
    """
    args = {}
    for name, value in params.items():
        if isinstance(value, (list, dict)) and len(value) > limit:
            value = '(%d entries, not echoed)' % len(value)
        args[name] = value
    return {'module_args': args}


class ZonesyncError(Exception):
    """An error whose message is meant for the operator, as is."""


def assert_requirements_present(module, need_netaddr=True):
    """Fail the module cleanly when a required Python library is missing or too old."""
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython >= %s' % '.'.join(str(x) for x in DNSPYTHON_MIN)),
                         exception=DNSPYTHON_IMPORT_ERROR)
    version = (dns.version.MAJOR, dns.version.MINOR, dns.version.MICRO)
    if version < DNSPYTHON_MIN:
        module.fail_json(msg=missing_required_lib('dnspython >= %s' % '.'.join(str(x) for x in DNSPYTHON_MIN))
                         + ' Installed version is %s.' % dns.version.version)
    if need_netaddr and not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib('netaddr'), exception=NETADDR_IMPORT_ERROR)


_LABEL_RE = re.compile(r'^(?!-)[A-Za-z0-9_*-]{1,63}(?<!-)$')


def normalize_zone(value, param='zone'):
    """Return the zone as an absolute, lower-case dnspython name.

    Rejects empty labels, labels longer than 63 octets, names longer than 255
    octets and characters outside letters, digits, '-' and '_'.
    """
    if not isinstance(value, str) or not value.strip():
        raise ZonesyncError('%s: a zone name is required, got %r.' % (param, value))
    text = value.strip()
    if text != '.':
        labels = text.rstrip('.').split('.')
        for label in labels:
            if not label:
                raise ZonesyncError('%s: %r is not a valid DNS name (empty label).' % (param, value))
            if not _LABEL_RE.match(label) or '*' in label:
                raise ZonesyncError('%s: %r is not a valid DNS name: label %r may contain only letters, digits, '
                                    "'-' and '_', at most 63 characters, not starting or ending with '-'."
                                    % (param, value, label))
    try:
        name = dns.name.from_text(text)
    except Exception as exc:  # dnspython raises several name errors
        raise ZonesyncError('%s: %r is not a valid DNS name: %s' % (param, value, exc))
    return name.canonicalize()


def zone_text(name):
    """Text form of a zone name, absolute with trailing dot."""
    return name.to_text()


_HOSTNAME_RE = re.compile(r'^(?=.{1,253}\.?$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$')


def parse_server(value, default_port=53, param='servers'):
    """Split 'host', 'host:port', '[v6]:port' or a bare IPv6 address.

    Returns a dict with keys host (canonical IP text or host name), port,
    is_ip and spec (the original text).
    """
    if not isinstance(value, str) or not value.strip():
        raise ZonesyncError('%s: empty server entry.' % param)
    text = value.strip()
    host = text
    port = default_port
    if text.startswith('['):
        end = text.find(']')
        if end < 0:
            raise ZonesyncError("%s: %r has '[' without a closing ']'." % (param, value))
        host = text[1:end]
        rest = text[end + 1:]
        if rest:
            if not rest.startswith(':'):
                raise ZonesyncError('%s: %r: expected [address]:port.' % (param, value))
            port = _parse_port(rest[1:], value, param)
    elif text.count(':') == 1:
        host, port_text = text.split(':')
        port = _parse_port(port_text, value, param)
    host = host.strip()
    is_ip = False
    try:
        ip = netaddr.IPAddress(host, flags=netaddr.INET_PTON if hasattr(netaddr, 'INET_PTON') else 0)
        host = str(ip)
        is_ip = True
    except (netaddr.AddrFormatError, ValueError, TypeError):
        if ':' in host:
            raise ZonesyncError('%s: %r is not a valid IPv6 address.' % (param, value))
        if re.match(r'^[0-9.]+$', host):
            raise ZonesyncError('%s: %r is not a valid IPv4 address.' % (param, value))
        if not _HOSTNAME_RE.match(host):
            raise ZonesyncError('%s: %r is neither an IP address nor a valid host name.' % (param, value))
        host = host.rstrip('.').lower()
    return {'host': host, 'port': port, 'is_ip': is_ip, 'spec': text}


def _parse_port(text, value, param):
    try:
        port = int(text)
    except (TypeError, ValueError):
        raise ZonesyncError('%s: %r: port %r is not a number.' % (param, value, text))
    if not 1 <= port <= 65535:
        raise ZonesyncError('%s: %r: port %d is out of range (1-65535).' % (param, value, port))
    return port


def check_port(port, param='port'):
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ZonesyncError('%s: %r is out of range (1-65535).' % (param, port))
    return port


def check_ip(value, param):
    """Validate a plain IP address (no port); return its canonical text."""
    try:
        return str(netaddr.IPAddress(value.strip(), flags=netaddr.INET_PTON if hasattr(netaddr, 'INET_PTON') else 0))
    except (netaddr.AddrFormatError, ValueError, TypeError, AttributeError):
        raise ZonesyncError('%s: %r is not a valid IP address.' % (param, value))


def format_server(host, port):
    if ':' in host:
        return '[%s]:%d' % (host, port) if port != 53 else host
    return '%s:%d' % (host, port) if port != 53 else host


def native_data(value):
    """Plain Python containers, strings and numbers, from data Ansible hands over in its own lazy, tagged types.

    Walking them once through their own API (so templates in them are rendered) makes the many passes of the
    topology over thousands of zones several times faster than on the tagged values.
    """
    if isinstance(value, dict):
        return dict((str(k), native_data(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [native_data(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
