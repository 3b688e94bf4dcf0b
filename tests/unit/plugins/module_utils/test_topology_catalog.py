"""Catalog zones in the topology: membership, the generated catalog, the consumers' plans and the refusals."""

import re

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._topology import (
    catalog_label, compile_topology, fleet_plan, host_plan)

KEYS = [{'name': 'xfr', 'algorithm': 'hmac-sha256', 'secret': 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI='},
        {'name': 'other', 'algorithm': 'hmac-sha256', 'secret': 'b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyMTI='},
        {'name': 'zonesync-check', 'algorithm': 'hmac-sha256', 'secret': 'Y2hlY2tjaGVja2NoZWNrY2hlY2tjaGVja2NoZWNrMTI='}]
HOSTS = {
    'hidden': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.1']},
    'ns1': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.2']},
    'ns2': {'zonesync_server': 'powerdns', 'zonesync_listen': ['10.0.0.3']},
    'tier2': {'zonesync_server': 'bind', 'zonesync_listen': ['10.0.0.4']},
    'pdnsprimary': {'zonesync_server': 'powerdns', 'zonesync_listen': ['10.0.0.5']},
}
CATALOG = 'catalog.zonesync.invalid'


def catalogs(**over):
    catalog = {'name': CATALOG, 'primary': 'hidden', 'key': 'xfr',
               'consumers': ['ns1', 'ns2', {'host': 'tier2', 'upstream': 'ns1'}]}
    catalog.update(over)
    return [catalog]


def zone(name, **over):
    entry = {'name': name, 'primary': 'hidden', 'ns': ['ns1.' + name]}
    entry.update(over)
    return entry


def fleet(names=('a.test', 'b.test')):
    return [zone(n) for n in names]


def test_zones_without_secondaries_join_the_default_catalog_and_take_its_consumers():
    plan = fleet_plan(fleet(), KEYS, HOSTS, catalogs())
    by_zone = dict((entry['zone'], entry) for entry in plan)
    assert sorted(by_zone) == ['a.test', 'b.test', CATALOG]
    for name in ('a.test', 'b.test'):
        assert by_zone[name]['catalog'] == CATALOG and by_zone[name]['key'] == 'xfr'
        assert [(s['host'], s['upstream']) for s in by_zone[name]['servers']] == [
            ('hidden', None), ('ns1', 'hidden'), ('ns2', 'hidden'), ('tier2', 'ns1')]
        assert by_zone[name]['query_key'] is None
    catalog = by_zone[CATALOG]
    assert catalog['is_catalog'] and catalog['query_key'] == 'xfr'
    # The catalog is checked apart from its members, with its key.
    assert catalog['servers_key'] != by_zone['a.test']['servers_key']


def test_the_catalog_is_a_version_2_zone_with_one_stable_ptr_per_member():
    plan = host_plan(fleet(), KEYS, HOSTS, 'hidden', catalogs())
    (catalog,) = [z for z in plan['zones'] if z.get('is_catalog')]
    assert catalog['role'] == 'primary' and catalog['members'] == 2
    assert {'name': 'version', 'type': 'TXT', 'value': ['"2"'], 'ttl': None} in catalog['records']
    ptrs = dict((r['value'][0], r['name']) for r in catalog['records'] if r['type'] == 'PTR')
    assert sorted(ptrs) == ['a.test.', 'b.test.']
    assert ptrs['a.test.'] == catalog_label('a.test') + '.zones'
    # Stable (same zone, same label, whatever the case or trailing dot), one DNS label, base32hex of SHA-1.
    assert catalog_label('A.Test.') == catalog_label('a.test')
    assert re.match(r'^[0-9a-v]{32}$', catalog_label('a.test'))
    assert catalog_label('a.test') != catalog_label('b.test')
    assert plan['produces_catalogs'] == [CATALOG]
    # The members on the primary allow and notify the tier-1 consumers with the catalog's key.
    member = [z for z in plan['zones'] if z['name'] == 'a.test'][0]
    assert member['also_notify'] == ['10.0.0.2', '10.0.0.3']
    assert member['transfer_acl']['keys'] == ['xfr', 'zonesync-check']


def test_a_consumer_gets_the_catalog_as_a_secondary_and_its_members_marked():
    plan = host_plan(fleet(), KEYS, HOSTS, 'ns1', catalogs())
    members = [z for z in plan['zones'] if z.get('catalog') == CATALOG]
    assert sorted(z['name'] for z in members) == ['a.test', 'b.test']
    assert all(z['role'] == 'secondary' for z in members)
    (consumed,) = plan['catalogs']
    assert consumed['name'] == CATALOG and consumed['members'] == 2
    assert (consumed['upstream']['address'], consumed['upstream']['key']) == ('10.0.0.1', 'xfr')
    # ns1 feeds tier2: members (through options on BIND) and the catalog are allowed to tier2 and notified to it.
    assert consumed['transfer_acl']['keyed_sources'] == ['10.0.0.2', '10.0.0.4']
    assert consumed['also_notify'] == ['10.0.0.4']
    tier2 = host_plan(fleet(), KEYS, HOSTS, 'tier2', catalogs())
    assert tier2['catalogs'][0]['upstream']['address'] == '10.0.0.2'
    assert tier2['catalogs'][0]['also_notify'] == []


def test_explicit_zones_stay_explicit_next_to_a_catalog():
    zones = fleet() + [zone('c.test', secondaries=['ns1']), zone('d.test', catalog=False)]
    plan = dict((e['zone'], e) for e in fleet_plan(zones, KEYS, HOSTS, catalogs()))
    assert plan['c.test']['catalog'] is None and [s['host'] for s in plan['c.test']['servers']] == ['hidden', 'ns1']
    assert plan['d.test']['catalog'] is None and [s['host'] for s in plan['d.test']['servers']] == ['hidden']
    ptrs = [r['value'][0] for r in host_plan(zones, KEYS, HOSTS, 'hidden', catalogs())['zones']
            if r.get('is_catalog') for r in r['records'] if r['type'] == 'PTR']
    assert sorted(ptrs) == ['a.test.', 'b.test.']


def test_without_default_only_named_zones_join():
    zones = [zone('a.test', catalog=CATALOG), zone('b.test')]
    plan = dict((e['zone'], e) for e in fleet_plan(zones, KEYS, HOSTS, catalogs(default=False)))
    assert plan['a.test']['catalog'] == CATALOG and plan['b.test']['catalog'] is None


def test_no_catalogs_changes_nothing():
    zones = [zone('a.test', secondaries=['ns1'], key='xfr')]
    assert fleet_plan(zones, KEYS, HOSTS) == fleet_plan(zones, KEYS, HOSTS, [])
    assert host_plan(zones, KEYS, HOSTS, 'ns1')['catalogs'] == []


def test_compiled_plans_carry_no_secret():
    compiled = compile_topology(fleet(), KEYS, HOSTS, sorted(HOSTS), catalogs())
    text = repr(compiled)
    for key in KEYS:
        assert key['secret'] not in text


@pytest.mark.parametrize('zones, cats, message', [
    ([zone('a.test', catalog_label='same'), zone('b.test', catalog_label='same')], catalogs(),
     r"zonesync_zones\[1\] \(b.test\)\.catalog_label: label 'same' is already the label of a.test .*two PTR records"),
    ([zone('a.test', catalog='nope.invalid')], catalogs(),
     r"zonesync_zones\[0\] \(a.test\)\.catalog: 'nope.invalid' is not in zonesync_catalogs \(defined: catalog.zonesync.invalid\)"),
    ([zone('a.test', primary='ns1', catalog=CATALOG)], catalogs(),
     r"\(a.test\)\.catalog: catalog catalog.zonesync.invalid is produced by hidden, but this zone's primary is ns1"),
    ([zone('a.test', catalog=CATALOG, secondaries=['ns1'])], catalogs(),
     r"\(a.test\): a member of catalog catalog.zonesync.invalid takes its secondaries from the catalog's consumers"),
    ([zone('a.test', key='other')], catalogs(),
     r"\(a.test\)\.key: members of catalog catalog.zonesync.invalid are transferred with its key xfr, not other"),
    ([zone(CATALOG, secondaries=[])], catalogs(),
     r"zonesync_catalogs\[0\] \(catalog.zonesync.invalid\): catalog.zonesync.invalid is also a zone in zonesync_zones\[0\]"),
    (fleet(), catalogs(key=None), r"zonesync_catalogs\[0\] \(catalog.zonesync.invalid\)\.key is missing.*only with TSIG"),
    (fleet(), catalogs(key='nokey'), r"\.key: key 'nokey' is used but not defined in zonesync_keys"),
    (fleet(), catalogs(consumers=[]), r"\.consumers is empty"),
    (fleet(), catalogs(consumers=['ns1', 'ns1']), r"consumers\[1\]: host 'ns1' appears twice in catalog"),
    (fleet(), catalogs(consumers=['hidden']), r"consumers\[0\]: host 'hidden' appears twice in catalog"),
    (fleet(), catalogs(consumers=['ns9']), r"consumers\[0\]: host 'ns9' is not in the inventory"),
    (fleet(), catalogs(consumers=['ns1', {'host': 'tier2', 'upstream': 'ns7'}]),
     r"consumers\[1\]\.upstream: 'ns7' is neither the primary nor a secondary"),
    (fleet(), catalogs(consumers=['ns2', {'host': 'tier2', 'upstream': 'ns2'}]),
     r"consumers\[1\]\.upstream: ns2 runs powerdns, and a PowerDNS 4.7 consumer cannot pass catalog members on"),
    ([zone('a.test', primary='pdnsprimary')], catalogs(primary='pdnsprimary', consumers=['ns1']),
     r"zonesync_catalogs\[0\] \(catalog.zonesync.invalid\)\.primary: pdnsprimary runs powerdns"),
    (fleet(), catalogs() + [dict(catalogs()[0], name='second.invalid')],
     r"are both the default catalog of hidden"),
    (fleet(), catalogs() + catalogs(), r"zonesync_catalogs\[1\] \(catalog.zonesync.invalid\): catalog .* listed twice"),
])
def test_bad_catalogs_are_refused_with_the_variable_named(zones, cats, message):
    with pytest.raises(ZonesyncError, match=message):
        fleet_plan(zones, KEYS, HOSTS, cats)
