# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""TSIG key handling: algorithms, secrets, BIND/JSON key files, dnspython keys."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError, normalize_zone

try:
    import dns.name
    import dns.tsig
except ImportError:
    pass  # reported by _common.assert_requirements_present

# Canonical algorithm name -> HMAC output length in bytes.
ALGORITHMS = {
    'hmac-sha1': 20,
    'hmac-sha224': 28,
    'hmac-sha256': 32,
    'hmac-sha384': 48,
    'hmac-sha512': 64,
}
DEFAULT_ALGORITHM = 'hmac-sha256'
MIN_SECRET_BYTES = 16

_DNSPYTHON_ALGORITHM = {
    'hmac-sha1': 'hmac-sha1.',
    'hmac-sha224': 'hmac-sha224.',
    'hmac-sha256': 'hmac-sha256.',
    'hmac-sha384': 'hmac-sha384.',
    'hmac-sha512': 'hmac-sha512.',
}


def normalize_algorithm(value, param='algorithm'):
    """Canonical algorithm name, and a list of warnings.

    Accepts upper case and a trailing dot. hmac-md5 is refused (RFC 8945).
    """
    warnings = []
    if value is not None and not isinstance(value, str):
        raise ZonesyncError('%s: expected a TSIG algorithm name such as %s, got %r.' % (param, DEFAULT_ALGORITHM, value))
    text = (value or DEFAULT_ALGORITHM).strip().lower().rstrip('.')
    if text in ('hmac-md5', 'hmac-md5.sig-alg.reg.int'):
        raise ZonesyncError('%s: hmac-md5 is refused: RFC 8945 section 6 says it MUST NOT be used. '
                            'Use hmac-sha256 (supported by BIND, PowerDNS, Knot and NSD).' % param)
    if text not in ALGORITHMS:
        raise ZonesyncError('%s: unknown TSIG algorithm %r; use one of %s.'
                            % (param, value, ', '.join(sorted(ALGORITHMS))))
    if text == 'hmac-sha1':
        warnings.append('%s: hmac-sha1 is accepted but not recommended by RFC 8945; '
                        'move this key to hmac-sha256.' % param)
    return text, warnings


def decode_secret(secret, algorithm, param='secret'):
    """Validate a base64 secret; return (bytes, warnings). Never echoes the secret."""
    warnings = []
    if secret is not None and not isinstance(secret, str):
        raise ZonesyncError('%s: the TSIG secret must be a base64 string.' % param)
    if not secret or not secret.strip():
        raise ZonesyncError('%s: the TSIG secret is empty.' % param)
    compact = re.sub(r'\s+', '', secret)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ZonesyncError('%s: the TSIG secret is not valid base64 (it is hidden here; check for '
                            'characters outside A-Z a-z 0-9 + / = or missing padding).' % param)
    if len(raw) < MIN_SECRET_BYTES:
        raise ZonesyncError('%s: the TSIG secret is %d bytes long; at least %d bytes are required. '
                            'Generate a new one (tsig-keygen, or this module without secret).'
                            % (param, len(raw), MIN_SECRET_BYTES))
    out_len = ALGORITHMS[algorithm]
    if len(raw) < out_len:
        warnings.append('%s: the TSIG secret is %d bytes, shorter than the %d-byte %s output; '
                        'RFC 8945 recommends a secret at least as long as the hash output.'
                        % (param, len(raw), out_len, algorithm))
    return raw, warnings


def encode_secret(raw):
    return base64.b64encode(raw).decode('ascii')


def generate_secret(algorithm):
    """A new random secret as long as the algorithm's HMAC output (RFC 8945 section 6)."""
    return secrets.token_bytes(ALGORITHMS[algorithm])


def normalize_key_name(value, param='name'):
    return normalize_zone(value, param=param)


def key_name_text(name):
    """Key names are written without the trailing dot, as tsig-keygen does."""
    text = name.to_text()
    return text[:-1] if text.endswith('.') and text != '.' else text


def render_bind(name, algorithm, secret_b64):
    """A BIND key clause, as named-checkconf and tsig-keygen understand it."""
    return 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' % (key_name_text(name), algorithm, secret_b64)


def render_json(name, algorithm, secret_b64):
    return json.dumps({'name': key_name_text(name), 'algorithm': algorithm, 'secret': secret_b64},
                      indent=2, sort_keys=True) + '\n'


# Quoted strings are matched first so that comment markers inside them survive:
# a base64 secret may well contain '//'.
_STRING_OR_COMMENT_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|/\*.*?\*/|//[^\n]*|#[^\n]*', re.S)
_KEY_RE = re.compile(r'(?<![\w-])key\s+("(?P<q>[^"]+)"|(?P<u>[^\s{;"]+))\s*\{(?P<body>[^{}]*)\}\s*;', re.S | re.I)
_ALG_RE = re.compile(r'algorithm\s+"?(?P<a>[A-Za-z0-9.-]+)"?\s*;', re.I)
_SECRET_RE = re.compile(r'secret\s+"(?P<s>[^"]*)"\s*;', re.I)


def strip_comments(text):
    """Remove C, C++ and shell comments from BIND configuration text, keeping quoted strings."""
    return _STRING_OR_COMMENT_RE.sub(lambda m: m.group(0) if m.group(0).startswith('"') else ' ', text)


def parse_bind(text):
    """Parse every key clause of a BIND key file (tsig-keygen/rndc-confgen style).

    Returns a list of dicts with raw 'name', 'algorithm' and 'secret' strings
    (not yet validated).
    """
    stripped = strip_comments(text)
    keys = []
    for match in _KEY_RE.finditer(stripped):
        body = match.group('body')
        alg = _ALG_RE.search(body)
        sec = _SECRET_RE.search(body)
        keys.append({
            'name': match.group('q') or match.group('u'),
            'algorithm': alg.group('a') if alg else None,
            'secret': sec.group('s') if sec else None,
        })
    return keys


def parse_json(text):
    data = json.loads(text)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError('expected a JSON object or a list of objects')
    keys = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError('expected a JSON object per key')
        keys.append({'name': item.get('name'), 'algorithm': item.get('algorithm'), 'secret': item.get('secret')})
    return keys


def parse_key_text(text):
    """Parse a key file in either format. Returns (format, keys)."""
    stripped = text.lstrip()
    if stripped.startswith('{') or stripped.startswith('['):
        try:
            return 'json', parse_json(text)
        except ValueError:
            return 'json', []
    return 'bind', parse_bind(text)


def validated_key(raw, param='tsig'):
    """Turn a raw key dict into (name, algorithm, secret_bytes, warnings), validating each part."""
    if not raw.get('name'):
        raise ZonesyncError('%s: the key has no name.' % param)
    name = normalize_key_name(raw['name'], param='%s.name' % param)
    algorithm, warnings = normalize_algorithm(raw.get('algorithm') or DEFAULT_ALGORITHM, param='%s.algorithm' % param)
    secret, more = decode_secret(raw.get('secret'), algorithm, param='%s.secret' % param)
    return name, algorithm, secret, warnings + more


def dns_key(name, algorithm, secret_bytes):
    """A dnspython TSIG key object."""
    return dns.tsig.Key(name, secret_bytes, dns.name.from_text(_DNSPYTHON_ALGORITHM[algorithm]))


def _same_name(raw_name, wanted):
    """True when a key name read from a file equals ``wanted``; invalid names never match."""
    if not isinstance(raw_name, str) or not raw_name:
        return False
    try:
        return normalize_key_name(raw_name) == wanted
    except ZonesyncError:
        return False


def load_tsig_option(option, param='tsig'):
    """Resolve the modules' ``tsig`` option into (dns.tsig.Key or None, warnings).

    The option is a dict with ``name``, ``algorithm`` and ``secret``, or with
    ``file`` (a BIND or JSON key file) and optionally ``name`` to choose one
    key of several.
    """
    if not option:
        return None, []
    if option.get('file'):
        path = option['file']
        try:
            with open(path, 'r') as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            raise ZonesyncError('%s.file: cannot read %s: %s' % (param, path, exc.strerror or exc))
        dummy, keys = parse_key_text(text)
        if option.get('name'):
            wanted = normalize_key_name(option['name'], param='%s.name' % param)
            keys = [k for k in keys if _same_name(k.get('name'), wanted)]
        if not keys:
            raise ZonesyncError('%s.file: no usable key%s found in %s.'
                                % (param, ' named %s' % option['name'] if option.get('name') else '', path))
        if len(keys) > 1:
            raise ZonesyncError('%s.file: %s holds %d keys; set %s.name to choose one.' % (param, path, len(keys), param))
        raw = keys[0]
    else:
        if not option.get('name') or not option.get('secret'):
            raise ZonesyncError('%s: give name and secret (and optionally algorithm), or file.' % param)
        raw = option
    name, algorithm, secret, warnings = validated_key(raw, param=param)
    return dns_key(name, algorithm, secret), warnings


TSIG_ARGSPEC = dict(
    type='dict',
    options=dict(
        name=dict(type='str'),
        algorithm=dict(type='str', default=DEFAULT_ALGORITHM),
        secret=dict(type='str', no_log=True),
        file=dict(type='path'),
    ),
)
