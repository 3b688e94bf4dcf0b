"""The plans as the topology action stores them (summaries and JSON strings), the zones file written from a plan
in Python, and the SOA groups of the fleet plan: the same answers the Jinja loops gave, at fleet scale."""

import hashlib
import json

import dns.name
import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils import _bind_zones, _fleet, _topology
from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError

KEYS = [{'name': 'xfr', 'algorithm': 'hmac-sha256', 'secret': 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI='},
        {'name': 'zonesync-check', 'algorithm': 'hmac-sha256', 'secret': 'Y2hlY2tjaGVja2NoZWNrY2hlY2tjaGVja2NoZWNrMTI='}]
HOSTS = {
    'hidden': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.1']},
    'ns1': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.2']},
    'ns2': {'zonesync_server': 'powerdns', 'zonesync_listen': ['10.0.0.3']},
    'tier2': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.4']},
}
CATALOG = 'catalog.zonesync.invalid'
CATALOGS = [{'name': CATALOG, 'primary': 'hidden', 'key': 'xfr',
             'consumers': ['ns1', 'ns2', {'host': 'tier2', 'upstream': 'ns1'}]}]
ZONES = [
    {'name': 'member.test', 'primary': 'hidden', 'ns': ['ns1.member.test']},
    {'name': 'explicit.test', 'primary': 'hidden', 'ns': ['ns1.explicit.test'], 'key': 'xfr',
     'secondaries': ['ns1', {'host': 'tier2', 'upstream': 'ns1'}]},
    {'name': 'open.test', 'primary': 'hidden', 'ns': ['ns1.open.test'], 'catalog': False, 'secondaries': ['ns2']},
]


@pytest.fixture(scope='module')
def compiled():
    return _topology.compile_topology(ZONES, KEYS, HOSTS, sorted(HOSTS), CATALOGS)


def test_summaries_carry_what_the_roles_read_and_the_plans_round_trip(compiled):
    facts = _topology.plan_facts(compiled)
    assert json.loads(facts['fleet']) == compiled['fleet']
    assert facts['fleet_zones'] == 4 and facts['fleet_pairs'] == 4 + 3 + 2 + 4
    assert facts['fleet_hosts'] == sorted(HOSTS)
    for host, plan in compiled['hosts'].items():
        assert _topology.loads(facts['plans'][host]) == plan
        summary = facts['hosts'][host]
        assert 'zones' not in summary and summary['zone_count'] == len(plan['zones'])
        assert summary['host'] == host and summary['derived_by'] == 'dnsops.zonesync.host_plan'
    hidden = facts['hosts']['hidden']
    assert hidden['primary_count'] == 4 and hidden['secondary_count'] == 0
    assert hidden['primary_secondary_addresses'] == ['10.0.0.2', '10.0.0.3', '10.0.0.4']
    assert hidden['produced_catalogs'] == [{'name': CATALOG, 'key': 'xfr',
                                            'secondary_addresses': ['10.0.0.2', '10.0.0.3', '10.0.0.4']}]
    # open.test is pulled without a key by ns2: its address is a downstream source like the keyed ones.
    assert hidden['downstream_sources'] == ['10.0.0.2', '10.0.0.3']
    assert hidden['transfer_keys'] == ['xfr', 'zonesync-check'] and hidden['upstream_sources'] == []
    ns1 = facts['hosts']['ns1']
    assert ns1['member_count'] == 1 and ns1['secondary_count'] == 3 and ns1['upstream_sources'] == ['10.0.0.1']
    assert ns1['downstream_sources'] == ['10.0.0.4'] and ns1['primary_files'] == []
    # The consumed catalogs keep their peers but not their member list (thousands of names).
    assert [c['name'] for c in ns1['catalogs']] == [CATALOG] and 'members' not in ns1['catalogs'][0]
    assert 'members' in compiled['hosts']['ns1']['catalogs'][0]


def test_a_plan_that_is_neither_data_nor_json_is_refused():
    with pytest.raises(ZonesyncError, match='neither data nor the JSON'):
        _topology.loads('{"zones": [', 'host plan')
    assert _topology.loads({'zones': []}) == {'zones': []}


@pytest.mark.parametrize('text', ['Example.COM', 'example.com.', 'a-b_c.d', 'x' * 63 + '.test', 'a' * 61 + '.' + 'b' * 63 + '.' + 'c' * 63 + '.' + 'd' * 63])
def test_plain_names_take_the_fast_path_with_dnspython_s_answer(text):
    expected = dns.name.from_text(text).to_text(omit_final_dot=True).lower()
    assert _topology._name(text, 'here') == expected


@pytest.mark.parametrize('text, message', [('x' * 64 + '.test', 'not a valid DNS name'), ('a..b', 'not a valid DNS name'),
                                           ('a' * 62 + '.' + 'b' * 63 + '.' + 'c' * 63 + '.' + 'd' * 63, 'not a valid DNS name'),
                                           ('a b.test', 'may only contain')])
def test_names_the_fast_path_declines_still_fail_as_before(text, message):
    with pytest.raises(ZonesyncError, match=message):
        _topology._name(text, 'here')


def test_zone_statements_follow_the_plan(compiled):
    hidden = _bind_zones.zone_statements(compiled['hosts']['hidden'], '/p', '/s')
    # Address AND key for keyed peers, the check key for the host itself, unkeyed peers by address first.
    assert ('zone "open.test" {\n    // primary; secondaries: ns2\n    type primary;\n    file "/p/open.test.zone";\n'
            '    ixfr-from-differences yes;\n    allow-update { none; };\n    notify explicit;\n'
            '    also-notify { 10.0.0.3; };\n    allow-transfer { 10.0.0.3; !{ !{ 10.0.0.1; }; any; }; '
            'key "zonesync-check"; };\n    allow-query { any; };\n};\n\n') in hidden
    # The catalog answers signed queries only.
    assert 'allow-query { key "xfr"; key "zonesync-check"; };' in hidden
    assert hidden.count('zone "') == 4
    ns1 = _bind_zones.zone_statements(compiled['hosts']['ns1'], '/p', '/s', ixfr_from_differences=False)
    # The member comes from the catalog; the explicit zone feeds tier2 with its key.
    assert 'member.test' not in ns1 and 'zone "explicit.test" {\n    // secondary of hidden\n' in ns1
    assert '    primaries { 10.0.0.1 key "xfr"; };' in ns1
    assert '    allow-transfer { !{ !{ 10.0.0.2; 10.0.0.4; }; any; }; key "xfr"; key "zonesync-check"; };' in ns1
    kept = _bind_zones.zone_statements(compiled['hosts']['ns1'], '/p', '/s', keep_explicit=['member.test.'])
    assert 'zone "member.test" {' in kept
    tier2 = _bind_zones.zone_statements(compiled['hosts']['tier2'], '/p', '/s')
    assert '    notify no;' in tier2 and '    allow-transfer { !{ !{ 10.0.0.4; }; any; }; key "zonesync-check"; };' in tier2


def test_zone_changes_read_the_file_written_before(compiled):
    ns1 = compiled['hosts']['ns1']
    before = ('zone "member.test" {\n    type secondary;\n};\n\nzone "gone.test" {\n    type secondary;\n};\n')
    changes = _bind_zones.zone_changes(before, ns1)
    assert [z['name'] for z in changes['kept']] == ['gone.test']
    assert changes['handover'] == [{'name': 'member.test', 'catalog': CATALOG,
                                    'file': '__catz___default_%s_member.test.db' % CATALOG}]
    # explicit.test (and the catalog) have no statement yet: they get what a catalog saved of them, if anything.
    assert changes['taken_back'] == ['explicit.test', CATALOG]
    assert changes['taken_back_files'] == [
        {'name': 'explicit.test', 'files': ['__catz___default_%s_explicit.test.db' % CATALOG]},
        {'name': CATALOG, 'files': ['__catz___default_%s_%s.db' % (CATALOG, CATALOG)]}]
    again = _bind_zones.zone_changes(_bind_zones.zone_statements(ns1, '/p', '/s'), ns1)
    assert again == {'kept': [], 'handover': [], 'taken_back': [], 'taken_back_files': []}


def test_a_long_member_name_gets_the_sha256_file_name_bind_gives_it():
    # 65 characters of "<view>_<catalog>_<member>" stay as they are; one more, or a slash, and BIND hashes them.
    catalog = 'c.invalid'
    fits = 'm' * (65 - len('_default_c.invalid_') - len('.test')) + '.test'
    assert _bind_zones.catz_member_file(catalog + '.', fits + '.') == '__catz___default_c.invalid_%s.db' % fits
    longer = 'm' + fits
    text = '_default_c.invalid_%s' % longer
    assert _bind_zones.catz_member_file(catalog, longer) == '__catz__%s.db' % hashlib.sha256(text.encode()).hexdigest()
    assert _bind_zones.catz_member_file(catalog, 'a/b.test') == \
        '__catz__%s.db' % hashlib.sha256(b'_default_c.invalid_a/b.test').hexdigest()


def test_soa_groups_put_zones_with_the_same_servers_together(compiled):
    groups = _fleet.soa_groups(compiled['fleet'])
    by_zones = dict((tuple(g['zones']), g) for g in groups)
    assert sorted(by_zones) == [(CATALOG,), ('explicit.test',), ('member.test',), ('open.test',)]
    member = by_zones[('member.test',)]
    assert member['servers'] == ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] and member['reference'] == '10.0.0.1'
    assert member['hosts'] == ['hidden', 'ns1', 'ns2', 'tier2'] and member['query_key'] is None
    # Same servers as the members, but asked with the catalog's key: a group of its own.
    assert by_zones[(CATALOG,)]['query_key'] == 'xfr'
    two = _fleet.soa_groups(compiled['fleet'] + [dict(compiled['fleet'][0], zone='second.test')])
    assert sum(len(g['zones']) for g in two) == 5 and len(two) == 4
