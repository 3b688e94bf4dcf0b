"""Zones removed from the inventory: their statements are found in the zones file written before."""

from ansible_collections.dnsops.zonesync.plugins.module_utils._bind_zones import removed_zone_statements

TEXT = '''// Ansible managed
include "/etc/bind/zonesync-keys.conf";

zone "a.test" {
    // primary; secondaries: ns1
    type primary;
    file "/var/lib/bind/zonesync/a.test.zone";
    allow-transfer { none; };
};

// Removed from the inventory and kept (bind_purge_removed is false).
zone "old.test" {
    type secondary;
    primaries { 192.0.2.1 key "k"; };
};

zone "B.test" {
    type secondary;
};
'''


def test_only_the_unplanned_statements_come_back_verbatim():
    out = removed_zone_statements(TEXT, ['a.test', 'b.test.'])
    assert [z['name'] for z in out] == ['old.test']
    assert out[0]['text'] == 'zone "old.test" {\n    type secondary;\n    primaries { 192.0.2.1 key "k"; };\n};'
    # Written again and read again, the same statement comes back: a second run changes nothing.
    again = removed_zone_statements('// Removed ...\n' + out[0]['text'] + '\n', ['a.test'])
    assert again == out
    assert removed_zone_statements(TEXT, ['a.test', 'b.test', 'old.test']) == []
    assert removed_zone_statements('', ['a.test']) == [] and removed_zone_statements(None, []) == []


def test_an_unfinished_statement_is_not_taken():
    assert removed_zone_statements('zone "x.test" {\n    type primary;\n', []) == []
