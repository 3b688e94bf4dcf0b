import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._topology import fleet_plan, host_plan

KEYS = [{'name': 'xfr', 'algorithm': 'hmac-sha256', 'secret': 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI='}]
HOSTS = {
    'hidden': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.1']},
    'ns1': {'zonesync_server': 'bind', 'ansible_host': '10.0.0.2'},
    'ns2': {'zonesync_server': 'powerdns', 'ansible_default_ipv4': {'address': '10.0.0.3'}},
    'tier2': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.4'], 'zonesync_transfer_source': '10.0.1.4'},
    'web': {},
}


def zones(**over):
    zone = {'name': 'Example.TEST.', 'primary': 'hidden', 'key': 'xfr',
            'secondaries': ['ns1', 'ns2', {'host': 'tier2', 'upstream': 'ns1'}],
            'ns': ['ns1.example.test', 'ns2.example.test'],
            'records': [{'name': 'www', 'type': 'A', 'value': '192.0.2.10'}]}
    zone.update(over)
    return [zone]


def test_primary_view():
    plan = host_plan(zones(), KEYS, HOSTS, 'hidden')
    assert plan['server'] == 'bind' and plan['address'] == '10.0.0.1' and plan['is_primary']
    (zone,) = plan['zones']
    assert zone['name'] == 'example.test' and zone['role'] == 'primary'
    assert [(d['host'], d['address'], d['key']) for d in zone['downstreams']] == [('ns1', '10.0.0.2', 'xfr'), ('ns2', '10.0.0.3', 'xfr')]
    assert zone['also_notify'] == ['10.0.0.2', '10.0.0.3']
    assert zone['soa']['mname'] == 'ns1.example.test'
    assert [k['name'] for k in plan['keys']] == ['xfr']


def test_middle_tier_is_secondary_and_serves_tier2():
    plan = host_plan(zones(), KEYS, HOSTS, 'ns1')
    (zone,) = plan['zones']
    assert zone['role'] == 'secondary'
    assert zone['upstream']['host'] == 'hidden' and zone['upstream']['address'] == '10.0.0.1'
    # tier2 transfers from its transfer_source, which is what ns1 must allow
    assert [(d['host'], d['transfer_source']) for d in zone['downstreams']] == [('tier2', '10.0.1.4')]
    assert plan['serves_transfers']


def test_uninvolved_host_gets_empty_plan():
    plan = host_plan(zones(), KEYS, HOSTS, 'web')
    assert plan['zones'] == [] and plan['keys'] == []


def test_fleet_plan_lists_every_server():
    (zone,) = fleet_plan(zones(), KEYS, HOSTS)
    assert [(s['host'], s['role'], s['upstream']) for s in zone['servers']] == [
        ('hidden', 'primary', None), ('ns1', 'secondary', 'hidden'), ('ns2', 'secondary', 'hidden'), ('tier2', 'secondary', 'ns1')]


@pytest.mark.parametrize('change, hosts, message', [
    ({'primary': None}, None, r'zonesync_zones\[0\] \(example.test\) has no primary'),
    ({'secondaries': ['ns9']}, None, r"secondaries\[0\]: host 'ns9' is not in the inventory"),
    ({'key': 'nokey'}, None, r"\.key: key 'nokey' is used but not defined in zonesync_keys"),
    ({'records': [{'name': 'www', 'type': 'AAA', 'value': '1'}]}, None, r"records\[0\]\.type: 'AAA' is not a DNS record type"),
    ({'records': [{'name': 'www', 'type': 'A', 'value': '300.1.1.1'}]}, None, r"records\[0\]\.value: '300.1.1.1' is not valid A data"),
    ({'records': [{'name': '@', 'type': 'SOA', 'value': 'x'}]}, None, r'SOA records cannot be listed'),
    ({'records': [{'name': 'www', 'type': 'A', 'value': '192.0.2.1'}, {'name': 'WWW', 'type': 'CNAME', 'value': 'x'}]},
     None, r"records\[1\]: www has a CNAME and also A data \(records\[0\]\); a CNAME cannot coexist"),
    ({'records': [{'name': 'www', 'type': 'CNAME', 'value': ['a', 'b']}]}, None, r'www has 2 CNAME values'),
    ({'records': [{'name': 'www.example.test.', 'type': 'CNAME', 'value': 'a'},
                  {'name': 'www', 'type': 'CNAME', 'value': 'b'}]}, None, r'www has 2 CNAME values'),
    ({'records': [{'name': '@', 'type': 'CNAME', 'value': 'elsewhere.test.'}]}, None, r'a CNAME cannot be at the zone apex'),
    ({'allow_query': ['10.0.0.0/33']}, None, r"allow_query\[0\]: '10.0.0.0/33' is not a valid IP address or CIDR"),
    ({'allow_query': ['10.0.0.1/24']}, None, r'has host bits set; did you mean 10.0.0.0/24'),
    ({'notify': ['ns1.example.test']}, None, r"notify\[0\]: 'ns1.example.test' is not a valid IP address"),
    ({'secondaries': [{'host': 'ns1', 'upstream': 'ns2'}]}, None, r"upstream: 'ns2' is neither the primary nor a secondary"),
    ({'secondaries': [{'host': 'ns1', 'upstream': 'ns2'}, {'host': 'ns2', 'upstream': 'ns1'}]}, None, r'loops'),
    ({'secondaries': ['ns1', 'ns1']}, None, r"host 'ns1' appears twice"),
    ({'soa': {'refresh': 86400, 'expire': 3600}}, None, r'expire \(3600\) must be larger than refresh'),
    ({'dnssec_policy': 'my policy'}, None, r"dnssec_policy: 'my policy' is not a dnssec-policy name"),
    ({'dnssec_policy': 'none'}, None, r"dnssec_policy: 'none' is not a dnssec-policy name.*leave it out"),
    ({'dnssec_policy': 'default', 'primary': 'ns2', 'secondaries': ['ns1']}, None,
     r'dnssec_policy: the primary ns2 runs powerdns, and this version signs zones on BIND primaries only'),
    ({}, dict(HOSTS, ns2={'zonesync_server': 'nsd', 'ansible_host': '10.0.0.3'}), r"zonesync_server on host 'ns2' is 'nsd'"),
    ({}, dict(HOSTS, ns1={'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.256']}), r"zonesync_listen on host 'ns1': '10.0.0.256'"),
    ({}, dict(HOSTS, ns1={'zonesync_server': 'bind'}), r"Cannot tell which address host 'ns1' serves DNS on"),
    ({}, dict(HOSTS, ns1={'ansible_host': '10.0.0.2'}), r"zonesync_server is not set for host 'ns1'"),
])
def test_bad_input_names_the_variable(change, hosts, message):
    with pytest.raises(ZonesyncError, match=message):
        host_plan(zones(**change), KEYS, hosts or HOSTS, 'hidden')


def test_bad_keys():
    with pytest.raises(ZonesyncError, match='hmac-md5 must not be used'):
        host_plan(zones(), [{'name': 'xfr', 'algorithm': 'hmac-md5'}], HOSTS, 'hidden')
    with pytest.raises(ZonesyncError, match=r"zonesync_keys\[1\]: key 'xfr' is defined twice"):
        host_plan(zones(), KEYS + KEYS, HOSTS, 'hidden')


def test_duplicate_zone():
    with pytest.raises(ZonesyncError, match=r'zone example.test is listed twice'):
        host_plan(zones() + zones(), KEYS, HOSTS, 'hidden')


def test_rotation_upstreams_accept_both_keys_secondaries_use_one():
    keys = KEYS + [{'name': 'xfr-new', 'secret': 'bmV3c2VjcmV0bmV3c2VjcmV0bmV3c2VjcmV0bmV3MTI='}]
    plan = host_plan(zones(key='xfr-new', accept_keys=['xfr']), keys, HOSTS, 'hidden')
    (zone,) = plan['zones']
    assert {d['host']: d['accepted_keys'] for d in zone['downstreams']} == {'ns1': ['xfr', 'xfr-new'], 'ns2': ['xfr', 'xfr-new']}
    assert [k['name'] for k in plan['keys']] == ['xfr', 'xfr-new']
    secondary = host_plan(zones(key='xfr-new', accept_keys=['xfr']), keys, HOSTS, 'ns2')
    assert secondary['zones'][0]['upstream']['key'] == 'xfr-new'
    assert [k['name'] for k in secondary['keys']] == ['xfr-new']
    with pytest.raises(ZonesyncError, match=r"accept_keys\[0\]: key 'gone' is used but not defined"):
        host_plan(zones(accept_keys=['gone']), KEYS, HOSTS, 'hidden')


CHECK = {'name': 'zonesync-check', 'algorithm': 'hmac-sha256', 'secret': 'Y2hlY2tjaGVja2NoZWNrY2hlY2tjaGVja2NoZWNrMTI='}


def test_check_key_admits_each_host_from_its_own_address_only():
    plan = host_plan(zones(), KEYS + [CHECK], HOSTS, 'ns1')
    assert plan['check_key'] == 'zonesync-check'
    assert sorted(k['name'] for k in plan['keys']) == ['xfr', 'zonesync-check']
    (zone,) = plan['zones']
    # tier2 pulls with xfr from its transfer source; ns1 itself may digest its copy with the check key.
    assert zone['transfer_acl'] == {'keyed_sources': ['10.0.0.2', '10.0.1.4'], 'keys': ['xfr', 'zonesync-check'],
                                    'unkeyed_sources': []}
    leaf = host_plan(zones(), KEYS + [CHECK], HOSTS, 'ns2')['zones'][0]
    assert leaf['transfer_acl'] == {'keyed_sources': ['10.0.0.3'], 'keys': ['zonesync-check'], 'unkeyed_sources': []}


def test_without_the_check_key_nothing_extra_is_allowed():
    leaf = host_plan(zones(), KEYS, HOSTS, 'ns2')
    assert leaf['check_key'] is None
    assert leaf['zones'][0]['transfer_acl'] == {'keyed_sources': [], 'keys': [], 'unkeyed_sources': []}
    off = dict(HOSTS, ns2=dict(HOSTS['ns2'], zonesync_check_key=''))
    assert host_plan(zones(), KEYS + [CHECK], off, 'ns2')['check_key'] is None
    servers = fleet_plan(zones(), KEYS + [CHECK], off)[0]['servers']
    assert [(s['host'], s['check_key']) for s in servers] == [
        ('hidden', 'zonesync-check'), ('ns1', 'zonesync-check'), ('ns2', None), ('tier2', 'zonesync-check')]


def test_unkeyed_peers_are_kept_apart_from_keyed_ones():
    plan = host_plan(zones(key=None), KEYS + [CHECK], HOSTS, 'hidden')
    acl = plan['zones'][0]['transfer_acl']
    assert acl == {'keyed_sources': ['10.0.0.1'], 'keys': ['zonesync-check'], 'unkeyed_sources': ['10.0.0.2', '10.0.0.3']}


def test_a_signed_zone_is_signed_by_its_primary_only_and_keeps_no_serial_floor():
    from ansible_collections.dnsops.zonesync.plugins.module_utils._bind_zones import zone_statement
    from ansible_collections.dnsops.zonesync.plugins.module_utils._topology import host_summary
    plan = host_plan(zones(dnssec_policy='default'), KEYS, HOSTS, 'hidden')
    (zone,) = plan['zones']
    text = zone_statement(zone, '/p', '/s')
    assert '    dnssec-policy "default";\n    inline-signing yes;' in text
    assert host_summary(plan)['signed_zones'] == ['example.test']
    # The secondaries transfer the signed copy: nothing about signing in their statements.
    secondary = host_plan(zones(dnssec_policy='default'), KEYS, HOSTS, 'ns1')['zones'][0]
    assert 'dnssec-policy' not in zone_statement(secondary, '/p', '/s')
    unsigned = host_plan(zones(), KEYS, HOSTS, 'hidden')
    assert 'dnssec-policy' not in zone_statement(unsigned['zones'][0], '/p', '/s')
    assert host_summary(unsigned)['signed_zones'] == []
