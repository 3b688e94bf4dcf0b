import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils._serial import (
    newest, serial_add, serial_compare, serial_distance)


@pytest.mark.parametrize('a, b, expected', [
    (1, 1, 0),
    (2, 1, 1),
    (1, 2, -1),
    (5, 4294967290, 1),          # wrap-around: 5 is newer
    (4294967290, 5, -1),
    (0, 4294967295, 1),
    (2147483647, 0, 1),          # largest increment 2^31 - 1
    (0, 2147483647, -1),
    (2147483648, 0, None),       # exactly 2^31 apart: undefined
    (0, 2147483648, None),
    (4294967295, 2147483647, None),
    (2024061600, 2024061599, 1),
])
def test_serial_compare(a, b, expected):
    assert serial_compare(a, b) == expected


def test_distance_sign_and_size():
    assert serial_distance(5, 4294967290) == 11
    assert serial_distance(4294967290, 5) == -11
    assert serial_distance(7, 7) == 0
    assert serial_distance(2147483648, 0) is None


@pytest.mark.parametrize('bad', [-1, 4294967296, '5', None, 1.5, True])
def test_invalid_serial_rejected(bad):
    with pytest.raises(ValueError):
        serial_distance(bad, 1)


def test_add_wraps_and_limits():
    assert serial_add(4294967295, 1) == 0
    assert serial_add(4294967290, 11) == 5
    with pytest.raises(ValueError):
        serial_add(1, 2147483648)


def test_newest():
    assert newest([4294967290, 5, 3]) == (5, True)
    assert newest([1, 2, 3]) == (3, True)
    assert newest([]) == (None, True)
    serial, comparable = newest([0, 2147483648])
    assert comparable is False
    assert serial in (0, 2147483648)
