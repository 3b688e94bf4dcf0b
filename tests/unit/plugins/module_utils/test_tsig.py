# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_tsig.py: algorithms, secrets, BIND/JSON key files, the tsig option.

Key files are produced by the real tsig-keygen and checked by the real
named-checkconf (BIND 9); both tests are skipped where BIND is not installed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import pytest

import dns.name
import dns.tsig

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._tsig import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    TSIG_ARGSPEC,
    decode_secret,
    dns_key,
    encode_secret,
    generate_secret,
    key_name_text,
    load_tsig_option,
    normalize_algorithm,
    normalize_key_name,
    parse_bind,
    parse_json,
    parse_key_text,
    render_bind,
    render_json,
    strip_comments,
    validated_key,
)

TSIG_KEYGEN = shutil.which('tsig-keygen') or ('/usr/sbin/tsig-keygen' if os.path.exists('/usr/sbin/tsig-keygen') else None)
NAMED_CHECKCONF = (shutil.which('named-checkconf')
                   or ('/usr/sbin/named-checkconf' if os.path.exists('/usr/sbin/named-checkconf') else None))
needs_keygen = pytest.mark.skipif(TSIG_KEYGEN is None, reason='tsig-keygen (BIND 9) is not installed')
needs_checkconf = pytest.mark.skipif(NAMED_CHECKCONF is None, reason='named-checkconf (BIND 9) is not installed')


def b64(length, fill=b'k'):
    return base64.b64encode(fill * length).decode('ascii')


def tsig_keygen(name, algorithm=None):
    cmd = [TSIG_KEYGEN]
    if algorithm:
        cmd += ['-a', algorithm]
    cmd.append(name)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout


def named_checkconf(tmp_path, key_file_text, filename='test.key'):
    """Run named-checkconf on a named.conf that includes ``key_file_text`` and uses its keys."""
    key_file = tmp_path / filename
    key_file.write_text(key_file_text)
    names = [k['name'] for k in parse_bind(key_file_text)]
    conf = tmp_path / 'named.conf'
    conf.write_text('include "%s";\n' % key_file
                    + ''.join('server 192.0.2.%d { keys { "%s"; }; };\n' % (i + 1, n) for i, n in enumerate(names)))
    return subprocess.run([NAMED_CHECKCONF, str(conf)], capture_output=True, text=True, timeout=30, check=False)


# ---------------------------------------------------------------- algorithms

@pytest.mark.parametrize('value, expected', [
    ('hmac-sha256', 'hmac-sha256'),
    ('HMAC-SHA256', 'hmac-sha256'),
    ('hmac-sha256.', 'hmac-sha256'),
    (' hmac-sha512 ', 'hmac-sha512'),
    ('hmac-sha224', 'hmac-sha224'),
    ('hmac-sha384', 'hmac-sha384'),
    (None, DEFAULT_ALGORITHM),
    ('', DEFAULT_ALGORITHM),
])
def test_normalize_algorithm(value, expected):
    assert normalize_algorithm(value) == (expected, [])


def test_default_algorithm_is_sha256():
    assert DEFAULT_ALGORITHM == 'hmac-sha256'


@pytest.mark.parametrize('value', ['hmac-md5', 'HMAC-MD5', 'hmac-md5.sig-alg.reg.int', 'hmac-md5.sig-alg.reg.int.'])
def test_md5_refused_citing_rfc8945(value):
    with pytest.raises(ZonesyncError) as exc:
        normalize_algorithm(value)
    assert str(exc.value).startswith('algorithm: hmac-md5 is refused')
    assert 'RFC 8945' in str(exc.value)


def test_sha1_accepted_with_warning():
    algorithm, warnings = normalize_algorithm('hmac-sha1', param='tsig.algorithm')
    assert algorithm == 'hmac-sha1'
    assert len(warnings) == 1
    assert warnings[0].startswith('tsig.algorithm: hmac-sha1 is accepted but not recommended by RFC 8945')


@pytest.mark.parametrize('value', ['hmac-sha3', 'sha256', 'gss-tsig', 'hmac-sha256x'])
def test_unknown_algorithm(value):
    with pytest.raises(ZonesyncError) as exc:
        normalize_algorithm(value)
    assert str(exc.value) == ('algorithm: unknown TSIG algorithm %r; use one of hmac-sha1, hmac-sha224, '
                              'hmac-sha256, hmac-sha384, hmac-sha512.' % value)


def test_algorithm_not_a_string():
    with pytest.raises(ZonesyncError, match=r'^algorithm: expected a TSIG algorithm name'):
        normalize_algorithm(256)


# ---------------------------------------------------------------- secrets

def test_decode_secret_full_length():
    raw, warnings = decode_secret(b64(32), 'hmac-sha256')
    assert raw == b'k' * 32
    assert warnings == []


def test_decode_secret_ignores_whitespace():
    text = b64(32)
    raw, dummy = decode_secret(' %s\n %s ' % (text[:20], text[20:]), 'hmac-sha256')
    assert raw == b'k' * 32


@pytest.mark.parametrize('value', ['not base64!', 'abc', 'a' * 43, 'Zm9v=YmFy', 'äöü' * 10])
def test_bad_base64(value):
    with pytest.raises(ZonesyncError) as exc:
        decode_secret(value, 'hmac-sha256')
    assert str(exc.value).startswith('secret: the TSIG secret is not valid base64')
    assert value not in str(exc.value)


@pytest.mark.parametrize('value', [None, '', '   '])
def test_empty_secret(value):
    with pytest.raises(ZonesyncError, match=r'^secret: the TSIG secret is empty\.$'):
        decode_secret(value, 'hmac-sha256')


def test_secret_not_a_string():
    with pytest.raises(ZonesyncError, match=r'^secret: the TSIG secret must be a base64 string\.$'):
        decode_secret(12345, 'hmac-sha256')


def test_15_bytes_rejected():
    secret = b64(15)
    with pytest.raises(ZonesyncError) as exc:
        decode_secret(secret, 'hmac-sha256', param='tsig.secret')
    assert str(exc.value).startswith('tsig.secret: the TSIG secret is 15 bytes long; at least 16 bytes are required.')
    assert secret not in str(exc.value)


@pytest.mark.parametrize('length', [16, 20, 31])
def test_short_secret_warns_for_sha256(length):
    secret = b64(length)
    raw, warnings = decode_secret(secret, 'hmac-sha256')
    assert len(raw) == length
    assert warnings == ['secret: the TSIG secret is %d bytes, shorter than the 32-byte hmac-sha256 output; '
                        'RFC 8945 recommends a secret at least as long as the hash output.' % length]
    assert secret not in warnings[0]


def test_32_bytes_warns_for_sha512_only():
    assert decode_secret(b64(32), 'hmac-sha256')[1] == []
    assert decode_secret(b64(32), 'hmac-sha512')[1][0].startswith('secret: the TSIG secret is 32 bytes, '
                                                                  'shorter than the 64-byte hmac-sha512 output')


@pytest.mark.parametrize('algorithm', sorted(ALGORITHMS))
def test_generate_secret_has_hash_length(algorithm):
    raw = generate_secret(algorithm)
    assert len(raw) == ALGORITHMS[algorithm]
    assert generate_secret(algorithm) != raw
    assert decode_secret(encode_secret(raw), algorithm) == (raw, [])


# ---------------------------------------------------------------- names

@pytest.mark.parametrize('value, text', [
    ('mykey', 'mykey'),
    ('MyKey.', 'mykey'),
    ('ns1-ns2.Example.COM', 'ns1-ns2.example.com'),
    ('_xfr.example', '_xfr.example'),
])
def test_key_names(value, text):
    name = normalize_key_name(value)
    assert name.to_text() == text + '.'
    assert key_name_text(name) == text


@pytest.mark.parametrize('value', ['', 'bad name', 'a..b', '-lead.example', 'x' * 64, 'key"quote', 'semi;colon'])
def test_bad_key_names(value):
    with pytest.raises(ZonesyncError, match=r'^name: '):
        normalize_key_name(value)


# ---------------------------------------------------------------- BIND files

@needs_keygen
@pytest.mark.parametrize('algorithm', [None, 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha1'])
def test_parse_real_tsig_keygen_output(algorithm):
    text = tsig_keygen('Transfer-Key.Example.', algorithm)
    fmt, keys = parse_key_text(text)
    assert fmt == 'bind'
    assert len(keys) == 1
    name, alg, secret, warnings = validated_key(keys[0])
    assert key_name_text(name) == 'transfer-key.example'
    assert alg == (algorithm or 'hmac-sha256')
    assert len(secret) == ALGORITHMS[alg]
    assert encode_secret(secret) == keys[0]['secret']
    assert warnings == ([] if alg != 'hmac-sha1' else [
        'tsig.algorithm: hmac-sha1 is accepted but not recommended by RFC 8945; move this key to hmac-sha256.'])


@needs_keygen
def test_parse_real_tsig_keygen_md5_key_is_refused():
    keys = parse_bind(tsig_keygen('old-key', 'hmac-md5'))
    assert keys[0]['algorithm'] == 'hmac-md5'
    with pytest.raises(ZonesyncError, match=r'^tsig\.algorithm: hmac-md5 is refused.*RFC 8945'):
        validated_key(keys[0])


@needs_keygen
def test_parse_several_real_keys():
    text = tsig_keygen('alpha') + '\n' + tsig_keygen('beta', 'hmac-sha512') + tsig_keygen('gamma', 'hmac-sha384')
    keys = parse_bind(text)
    assert [k['name'] for k in keys] == ['alpha', 'beta', 'gamma']
    assert [k['algorithm'] for k in keys] == ['hmac-sha256', 'hmac-sha512', 'hmac-sha384']
    assert all(len(validated_key(k)[2]) == ALGORITHMS[k['algorithm']] for k in keys)


INLINE = '''
// the transfer key, generated by tsig-keygen
/* a C comment with key "fake" { algorithm hmac-sha1; secret "AAAA"; }; inside
   spanning lines */
# a shell comment: key "fake2" { algorithm hmac-sha1; secret "BBBB"; };
key "xfr.example." {   // trailing comment
    algorithm HMAC-SHA256.;   # upper case and a trailing dot
    secret "ab//cd+/ef//ghijklmnopqrstuvwxyzABCDEFGHIJK=";  /* '//' is part of the secret */
};
key unquoted-name { algorithm "hmac-sha512"; secret "%s"; };
monkey "not-a-key" { algorithm hmac-sha256; secret "CCCC"; };
''' % b64(64)


def test_parse_inline_text_with_comments():
    keys = parse_bind(INLINE)
    assert keys == [
        {'name': 'xfr.example.', 'algorithm': 'HMAC-SHA256.', 'secret': 'ab//cd+/ef//ghijklmnopqrstuvwxyzABCDEFGHIJK='},
        {'name': 'unquoted-name', 'algorithm': 'hmac-sha512', 'secret': b64(64)},
    ]
    name, algorithm, secret, warnings = validated_key(keys[0])
    assert (key_name_text(name), algorithm, len(secret), warnings) == ('xfr.example', 'hmac-sha256', 32, [])


def test_strip_comments_keeps_strings():
    assert strip_comments('a "x // y # z /* w */" b // c\nd # e\n/* f */g') == 'a "x // y # z /* w */" b  \nd  \n g'


def test_parse_bind_incomplete_clause():
    keys = parse_bind('key "k" { secret "%s"; };\nkey "k2" { algorithm hmac-sha256; };' % b64(32))
    assert keys == [{'name': 'k', 'algorithm': None, 'secret': b64(32)},
                    {'name': 'k2', 'algorithm': 'hmac-sha256', 'secret': None}]
    with pytest.raises(ZonesyncError, match=r'^tsig\.secret: the TSIG secret is empty'):
        validated_key(keys[1])


def test_parse_bind_nothing():
    assert parse_bind('') == []
    assert parse_bind('options { directory "/var/cache/bind"; };') == []
    assert parse_key_text('garbage') == ('bind', [])


@pytest.mark.parametrize('algorithm', sorted(ALGORITHMS))
def test_render_bind_round_trip(algorithm):
    raw = generate_secret(algorithm)
    name = normalize_key_name('Round.Trip.')
    text = render_bind(name, algorithm, encode_secret(raw))
    assert text == 'key "round.trip" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' % (algorithm, encode_secret(raw))
    fmt, keys = parse_key_text(text)
    assert fmt == 'bind'
    assert validated_key(keys[0])[:3] == (name, algorithm, raw)


@needs_checkconf
@pytest.mark.parametrize('algorithm', sorted(ALGORITHMS))
def test_render_bind_accepted_by_named_checkconf(tmp_path, algorithm):
    text = render_bind(normalize_key_name('ns1-ns2.example.com'), algorithm, encode_secret(generate_secret(algorithm)))
    proc = named_checkconf(tmp_path, text)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_checkconf
def test_named_checkconf_catches_a_broken_file(tmp_path):
    """The checkconf helper really checks: a clause without its secret is refused."""
    proc = named_checkconf(tmp_path, 'key "broken" {\n\talgorithm hmac-sha256;\n};\n')
    assert proc.returncode != 0


@needs_checkconf
@needs_keygen
def test_render_bind_of_parsed_tsig_keygen_output_is_identical(tmp_path):
    original = tsig_keygen('adopted', 'hmac-sha384')
    name, algorithm, secret, dummy = validated_key(parse_bind(original)[0])
    assert render_bind(name, algorithm, encode_secret(secret)) == original
    assert named_checkconf(tmp_path, original).returncode == 0


# ---------------------------------------------------------------- JSON files

def test_render_json_round_trip():
    raw = generate_secret('hmac-sha512')
    name = normalize_key_name('JSON.Key.')
    text = render_json(name, 'hmac-sha512', encode_secret(raw))
    assert json.loads(text) == {'name': 'json.key', 'algorithm': 'hmac-sha512', 'secret': encode_secret(raw)}
    fmt, keys = parse_key_text(text)
    assert fmt == 'json'
    assert validated_key(keys[0])[:3] == (name, 'hmac-sha512', raw)


def test_parse_json_list_and_errors():
    text = json.dumps([{'name': 'a', 'algorithm': 'hmac-sha256', 'secret': b64(32)}, {'name': 'b', 'secret': b64(32)}])
    assert [k['name'] for k in parse_json(text)] == ['a', 'b']
    assert validated_key(parse_json(text)[1])[1] == 'hmac-sha256'
    assert parse_key_text('{not json') == ('json', [])
    with pytest.raises(ValueError):
        parse_json('"a string"')
    with pytest.raises(ValueError):
        parse_json('[1, 2]')


def test_validated_key_bad_parts():
    with pytest.raises(ZonesyncError, match=r'^tsig: the key has no name\.$'):
        validated_key({'name': None, 'algorithm': 'hmac-sha256', 'secret': b64(32)})
    with pytest.raises(ZonesyncError, match=r'^tsig\.name: '):
        validated_key({'name': 42, 'algorithm': 'hmac-sha256', 'secret': b64(32)})
    with pytest.raises(ZonesyncError, match=r'^tsig\.algorithm: expected a TSIG algorithm name'):
        validated_key({'name': 'k', 'algorithm': ['x'], 'secret': b64(32)})
    with pytest.raises(ZonesyncError, match=r'^tsig\.secret: the TSIG secret must be a base64 string'):
        validated_key({'name': 'k', 'algorithm': 'hmac-sha256', 'secret': 1234})


# ---------------------------------------------------------------- the tsig option

def test_dns_key():
    key = dns_key(normalize_key_name('k.example'), 'hmac-sha384', b'x' * 48)
    assert isinstance(key, dns.tsig.Key)
    assert key.name == dns.name.from_text('k.example.')
    assert key.algorithm == dns.name.from_text('hmac-sha384.')
    assert key.secret == b'x' * 48


def test_load_tsig_option_inline():
    assert load_tsig_option(None) == (None, [])
    assert load_tsig_option({}) == (None, [])
    key, warnings = load_tsig_option({'name': 'Inline.', 'algorithm': 'hmac-sha256', 'secret': b64(32), 'file': None})
    assert (key.name.to_text(), key.algorithm.to_text(), key.secret, warnings) == ('inline.', 'hmac-sha256.',
                                                                                   b'k' * 32, [])
    key, warnings = load_tsig_option({'name': 'k', 'algorithm': 'hmac-sha1', 'secret': b64(16)})
    assert len(warnings) == 2
    with pytest.raises(ZonesyncError, match=r'^tsig: give name and secret'):
        load_tsig_option({'name': 'k', 'algorithm': 'hmac-sha256', 'secret': None, 'file': None})
    with pytest.raises(ZonesyncError, match=r'^tsig\.algorithm: hmac-md5 is refused'):
        load_tsig_option({'name': 'k', 'algorithm': 'hmac-md5', 'secret': b64(16)})


@pytest.fixture
def multi_key_file(tmp_path):
    path = tmp_path / 'keys.conf'
    path.write_text('// two keys\n'
                    + render_bind(normalize_key_name('first'), 'hmac-sha256', b64(32, b'1'))
                    + render_bind(normalize_key_name('second.example'), 'hmac-sha512', b64(64, b'2'))
                    + 'key "broken name" { algorithm hmac-sha256; secret "%s"; };\n' % b64(32))
    return str(path)


def test_load_tsig_option_file_selects_by_name(multi_key_file):
    key, warnings = load_tsig_option({'file': multi_key_file, 'name': 'SECOND.example.', 'algorithm': 'hmac-sha256'})
    assert (key.name.to_text(), key.algorithm.to_text(), key.secret) == ('second.example.', 'hmac-sha512.', b'2' * 64)
    assert warnings == []
    key, dummy = load_tsig_option({'file': multi_key_file, 'name': 'first'})
    assert key.secret == b'1' * 32


def test_load_tsig_option_file_needs_a_name(multi_key_file):
    with pytest.raises(ZonesyncError) as exc:
        load_tsig_option({'file': multi_key_file, 'name': None})
    assert str(exc.value) == 'tsig.file: %s holds 3 keys; set tsig.name to choose one.' % multi_key_file


def test_load_tsig_option_file_unknown_name(multi_key_file):
    with pytest.raises(ZonesyncError) as exc:
        load_tsig_option({'file': multi_key_file, 'name': 'third'})
    assert str(exc.value) == 'tsig.file: no usable key named third found in %s.' % multi_key_file


def test_load_tsig_option_single_key_files(tmp_path):
    bind_file = tmp_path / 'one.key'
    bind_file.write_text(render_bind(normalize_key_name('one'), 'hmac-sha224', b64(28)))
    key, dummy = load_tsig_option({'file': str(bind_file)})
    assert (key.name.to_text(), key.algorithm.to_text()) == ('one.', 'hmac-sha224.')
    json_file = tmp_path / 'one.json'
    json_file.write_text(render_json(normalize_key_name('one'), 'hmac-sha384', b64(48)))
    key, dummy = load_tsig_option({'file': str(json_file), 'name': 'one'})
    assert (key.algorithm.to_text(), key.secret) == ('hmac-sha384.', b'k' * 48)


@needs_keygen
def test_load_tsig_option_tsig_keygen_file(tmp_path):
    path = tmp_path / 'keygen.key'
    path.write_text(tsig_keygen('From-Keygen', 'hmac-sha512'))
    key, dummy = load_tsig_option({'file': str(path), 'name': 'from-keygen'})
    assert (key.name.to_text(), key.algorithm.to_text(), len(key.secret)) == ('from-keygen.', 'hmac-sha512.', 64)


def test_load_tsig_option_file_errors(tmp_path):
    missing = str(tmp_path / 'missing.key')
    with pytest.raises(ZonesyncError) as exc:
        load_tsig_option({'file': missing})
    assert str(exc.value) == 'tsig.file: cannot read %s: No such file or directory' % missing
    empty = tmp_path / 'empty.key'
    empty.write_text('# nothing here\n')
    with pytest.raises(ZonesyncError, match=r'^tsig\.file: no usable key found in '):
        load_tsig_option({'file': str(empty)})
    weak = tmp_path / 'weak.key'
    weak.write_text('key "weak" { algorithm hmac-sha256; secret "%s"; };' % b64(8))
    with pytest.raises(ZonesyncError, match=r'^tsig\.secret: the TSIG secret is 8 bytes long'):
        load_tsig_option({'file': str(weak)})


def test_tsig_argspec():
    assert TSIG_ARGSPEC['type'] == 'dict'
    assert TSIG_ARGSPEC['options']['secret']['no_log'] is True
    assert TSIG_ARGSPEC['options']['file']['type'] == 'path'
    assert TSIG_ARGSPEC['options']['algorithm']['default'] == DEFAULT_ALGORITHM
