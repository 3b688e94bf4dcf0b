import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import (
    ZonesyncError, check_ip, format_server, normalize_zone, parse_server)


@pytest.mark.parametrize('text, expected', [
    ('Example.COM', 'example.com.'),
    ('example.com.', 'example.com.'),
    ('_tcp.example.com', '_tcp.example.com.'),
    ('2.0.192.in-addr.arpa', '2.0.192.in-addr.arpa.'),
    ('.', '.'),
])
def test_normalize_zone(text, expected):
    assert normalize_zone(text).to_text() == expected


@pytest.mark.parametrize('bad', ['', '  ', 'exa mple.com', 'example..com', '-bad.com', 'bad-.com',
                                 'a' * 64 + '.com', 'ex@mple.com', '*.example.com', None])
def test_invalid_zone_names_the_parameter(bad):
    with pytest.raises(ZonesyncError) as exc:
        normalize_zone(bad, param='zones')
    assert str(exc.value).startswith('zones:')


def test_name_too_long():
    with pytest.raises(ZonesyncError):
        normalize_zone('.'.join(['a' * 60] * 5))


@pytest.mark.parametrize('text, host, port, is_ip', [
    ('192.0.2.1', '192.0.2.1', 53, True),
    ('192.0.2.1:5353', '192.0.2.1', 5353, True),
    ('2001:db8::1', '2001:db8::1', 53, True),
    ('[2001:db8::1]:5353', '2001:db8::1', 5353, True),
    ('[2001:DB8:0::1]', '2001:db8::1', 53, True),
    ('ns1.Example.net', 'ns1.example.net', 53, False),
    ('ns1.example.net.:54', 'ns1.example.net', 54, False),
])
def test_parse_server(text, host, port, is_ip):
    parsed = parse_server(text)
    assert (parsed['host'], parsed['port'], parsed['is_ip']) == (host, port, is_ip)


@pytest.mark.parametrize('bad, fragment', [
    ('192.0.2.1:0', 'out of range'),
    ('192.0.2.1:65536', 'out of range'),
    ('192.0.2.1:http', 'not a number'),
    ('300.1.1.1', 'not a valid IPv4'),
    ('192.0.2', 'not a valid IPv4'),
    ('[2001:db8::1', "closing ']'"),
    ('2001:db8::zz', 'not a valid IPv6'),
    ('bad_host!', 'neither an IP'),
    ('', 'empty'),
])
def test_parse_server_rejects(bad, fragment):
    with pytest.raises(ZonesyncError) as exc:
        parse_server(bad, param='servers')
    assert str(exc.value).startswith('servers:')
    assert fragment in str(exc.value)


def test_check_ip_and_format():
    assert check_ip(' 127.0.0.1 ', 'source') == '127.0.0.1'
    with pytest.raises(ZonesyncError, match='^source:'):
        check_ip('127.0.0.300', 'source')
    assert format_server('192.0.2.1', 53) == '192.0.2.1'
    assert format_server('192.0.2.1', 5353) == '192.0.2.1:5353'
    assert format_server('2001:db8::1', 5353) == '[2001:db8::1]:5353'


def test_long_arguments_are_summed_up_in_the_invocation_and_short_ones_echoed():
    from ansible_collections.dnsops.zonesync.plugins.module_utils._common import short_invocation
    params = {'zones': [{'zone': 'z%d.test' % i} for i in range(101)], 'servers': ['192.0.2.1'],
              'members': dict(('m%d' % i, 'c') for i in range(101)), 'timeout': 5, 'tsig': {'name': 'k', 'secret': 's'}}
    args = short_invocation(params)['module_args']
    assert args['zones'] == '(101 entries, not echoed)' and args['members'] == '(101 entries, not echoed)'
    assert args['servers'] == ['192.0.2.1'] and args['timeout'] == 5 and args['tsig'] == params['tsig']
    assert short_invocation({'zones': params['zones'][:100]})['module_args']['zones'] == params['zones'][:100]
