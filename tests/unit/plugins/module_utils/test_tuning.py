"""Transfer settings derived from the zone count: the server's default for small fleets, growing to a cap."""

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError
from ansible_collections.dnsops.zonesync.plugins.module_utils._tuning import bind_tuning, powerdns_tuning


def test_small_fleets_keep_the_servers_defaults():
    assert bind_tuning(2) == {'transfers_in': 10, 'transfers_per_ns': 2, 'transfers_out': 10, 'serial_query_rate': 20,
                              'notify_rate': 20, 'startup_notify_rate': 20, 'tcp_clients': 150}
    assert powerdns_tuning(300) == {'retrieval_threads': 2}


def test_values_grow_with_the_zone_count_up_to_a_cap():
    assert bind_tuning(10000) == {'transfers_in': 100, 'transfers_per_ns': 50, 'transfers_out': 100,
                                  'serial_query_rate': 1000, 'notify_rate': 1000, 'startup_notify_rate': 1000,
                                  'tcp_clients': 300}
    assert bind_tuning(1000)['serial_query_rate'] == 100 and bind_tuning(1000)['transfers_per_ns'] == 5
    assert bind_tuning(150000)['transfers_out'] == 200 and bind_tuning(150000)['tcp_clients'] == 500
    assert powerdns_tuning(10000) == {'retrieval_threads': 10} and powerdns_tuning(10 ** 6) == {'retrieval_threads': 16}


def test_the_operators_values_win_and_are_checked():
    out = bind_tuning(10000, {'transfers_in': 40, 'transfers_per_ns': None, 'tcp_clients': 1000})
    assert out['transfers_in'] == 40 and out['transfers_per_ns'] == 50 and out['tcp_clients'] == 1000
    with pytest.raises(ZonesyncError, match='transfers_in must be a whole number of at least 1'):
        bind_tuning(10, {'transfers_in': 0})
    with pytest.raises(ZonesyncError, match='zone count'):
        bind_tuning(-1)


def test_one_zone_more_does_not_change_the_settings_only_a_step_does():
    from ansible_collections.dnsops.zonesync.plugins.module_utils._tuning import size_class
    assert [size_class(n) for n in (0, 1, 3, 10, 19, 20, 49, 50, 99, 100, 1999, 2000, 10001)] == [
        0, 1, 2, 10, 10, 20, 20, 50, 50, 100, 1000, 2000, 10000]
    # A catalog member added to a fleet of 1,234 zones leaves every consumer's named.conf as it was.
    assert bind_tuning(1234) == bind_tuning(1235) == bind_tuning(1000)
    assert bind_tuning(2000) != bind_tuning(1999)
