"""The names BIND 9.18 gives catalog members' files, as the bind role computes them (handover and take-back copy
the file under that name): a real producer, a real consumer with a zone-directory, names short, at the limit and
past it."""

import os
import time

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils._bind_zones import catz_member_file

CATALOG = 'catalog.zonesync.invalid'
PREFIX = '_default_%s_' % CATALOG


def _member(length):
    """A member zone name that makes "<view>_<catalog>_<member>" exactly ``length`` characters."""
    size = length - len(PREFIX) - len('.test')
    name = ''.join('.' if i % 61 == 60 else 'm' for i in range(size)) + '.test'   # labels of 60 at most
    assert len(PREFIX + name) == length
    return name


def test_member_files_have_the_names_the_role_computes(bind):
    members = ['short.test', _member(65), _member(66), _member(120)]
    primary = bind(name='producer')
    records = [('version', 'TXT', '"2"')]
    records += [('m%d.zones' % i, 'PTR', member + '.') for i, member in enumerate(members)]
    primary.add_primary(CATALOG, dnslab.make_zone_text(CATALOG, 1, records=records), allow_transfer=['any'])
    for member in members:
        primary.add_primary(member, dnslab.make_zone_text(member, 7), allow_transfer=['any'])
    primary.start()
    consumer = bind(name='consumer')
    os.makedirs(os.path.join(consumer.workdir, 'catz'), exist_ok=True)
    consumer.options_extra.append(
        'catalog-zones { zone "%s" default-primaries { %s; } zone-directory "catz" in-memory no '
        'min-update-interval 1; };' % (CATALOG, primary.address))
    consumer.add_secondary(CATALOG, [(primary.address, 53)])
    consumer.start()
    expected = sorted(catz_member_file(CATALOG, member) for member in members)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = sorted(f for f in os.listdir(os.path.join(consumer.workdir, 'catz')) if f.endswith('.db'))
        if len(found) >= len(members):
            break
        time.sleep(0.3)
    assert found == expected
    # The limit is where the role puts it: 65 characters keep their name, 66 are hashed.
    assert catz_member_file(CATALOG, members[1]) == '__catz__%s%s.db' % (PREFIX, members[1])
    assert len(catz_member_file(CATALOG, members[2])) == len('__catz__.db') + 64
