"""zone_content (module_utils/_content.py) against real BIND 9 and PowerDNS servers on loopback.

What it must prove: two servers with the same serial and other records give different digests; the
digest of a primary's zone file equals the digest of what the server serves from it, and differs once
the file is edited without being loaded; a server that does not accept the key is named, never "ok".
"""

import dns.name
import pytest

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils._content import file_digest, zone_digests
from ansible_collections.dnsops.zonesync.plugins.module_utils._xfr import check_zone_transfer
from ansible_collections.dnsops.zonesync.plugins.module_utils._soa import expand_servers

ZONE = 'example.test.'
OTHER = 'other.test.'


def entries(*zones, files=None, collect=()):
    files = files or {}
    return [{'zone': dns.name.from_text(z), 'file': files.get(z), 'collect': z in collect} for z in zones]


def ip_and_key(addresses, key):
    """One BIND ACL element for several addresses AND a key (separate elements would stop at the first)."""
    return '!{ !{ %s }; any; }; key "%s";' % (' '.join('%s;' % a for a in addresses), key.name)


@pytest.fixture
def pair(bind, tsig_key, client):
    """A BIND primary of two zones and a BIND secondary, both accepting the check key."""
    check = tsig_key('zonesync-check')
    primary = bind()
    secondary = bind()
    primary.add_key(check)
    for zone in (ZONE, OTHER):
        primary.add_primary(zone, dnslab.make_zone_text(zone, 2024061501, count=20),
                            allow_transfer=[ip_and_key([client, secondary.address], check)])
    primary.start()
    secondary.add_key(check)
    for zone in (ZONE, OTHER):
        secondary.add_secondary(zone, [(primary.address, 53)], key=check,
                                allow_transfer=[ip_and_key([client], check)])
    secondary.start()
    return primary, secondary, check


def test_same_content_same_digest_and_file_digest_matches(pair, client):
    primary, secondary, check = pair
    files = {ZONE: primary.zone_file(ZONE)}
    first = zone_digests(entries(ZONE, OTHER, files=files), primary.address, key=check.dns_key, source=client)
    second = zone_digests(entries(ZONE, OTHER), secondary.address, key=check.dns_key, source=client)
    assert [r['status'] for r in first + second] == ['ok'] * 4, first + second
    assert [r['zone'] for r in first] == ['example.test', 'other.test']
    assert first[0]['digest'] == second[0]['digest']
    assert first[1]['digest'] == second[1]['digest']
    assert first[0]['digest'] != first[1]['digest']
    # SOA, NS, ns1 A, 20 hosts
    assert first[0]['records'] == 23
    # The file, parsed as a server loads it, has the digest of what BIND serves from it.
    assert first[0]['file']['status'] == 'ok'
    assert first[0]['file']['digest'] == first[0]['digest']
    assert first[0]['file']['serial'] == 2024061501
    # The digest is zone_transfer_check's.
    ok, xfr = check_zone_transfer(dns.name.from_text(ZONE), expand_servers([primary.address], None, True)[0],
                                  key=check.dns_key, source=client)
    assert ok and xfr['digest'] == first[0]['digest']


def test_same_serial_other_content_and_unloaded_edit(pair, client):
    """A hand edit without a serial bump: the primary serves it, the secondary keeps the old records."""
    primary, secondary, check = pair
    edited = dnslab.make_zone_text(ZONE, 2024061501, count=20, records=[('extra', 300, 'A', '192.0.2.99')])
    primary.set_zone_text(ZONE, edited)
    primary.reload(ZONE)
    dnslab.wait_for(lambda: primary.query('extra.' + ZONE, 'A').answer, what='the primary serving the edit')
    files = {ZONE: primary.zone_file(ZONE)}
    first = zone_digests(entries(ZONE, files=files, collect=[ZONE]), primary.address, key=check.dns_key,
                         source=client)[0]
    second = zone_digests(entries(ZONE, collect=[ZONE]), secondary.address, key=check.dns_key, source=client)[0]
    assert first['serial'] == second['serial'] == 2024061501
    assert first['digest'] != second['digest']
    assert first['records'] == second['records'] + 1
    assert set(first['record_lines']) - set(second['record_lines']) == {'extra.example.test. 300 A 192.0.2.99'}
    # Now an edit the server refuses to load: BIND keeps serving the last good copy.
    path = primary.zone_file(ZONE)
    with open(path, 'a') as handle:
        handle.write('broken 300 IN A 300.1.1.1\n')
    primary.rndc('reload', ZONE.rstrip('.'), check=False)
    again = zone_digests(entries(ZONE, files=files), primary.address, key=check.dns_key, source=client)[0]
    assert again['digest'] == first['digest']
    assert again['file']['status'] == 'unloadable'
    assert again['file']['detail'].startswith(path), again['file']


def test_wrong_key_and_missing_zone_are_named(pair, client, tsig_key):
    primary, secondary, check = pair
    wrong = tsig_key('zonesync-check')
    result = zone_digests(entries(ZONE), primary.address, key=wrong.dns_key, source=client)[0]
    assert result['status'] == 'tsig_bad_signature', result
    assert result['digest'] is None
    missing = zone_digests(entries('absent.test.'), primary.address, key=check.dns_key, source=client)[0]
    assert missing['status'] == 'not_authoritative', missing
    assert missing['digest'] is None


def test_pdns_serves_the_digest_of_the_bind_primary(pdns, pair, client):
    """A PowerDNS secondary's copy digests like the BIND primary's: the digest is the records, not the server."""
    primary, secondary, check = pair
    server = pdns(allow_axfr_ips=[client])
    for zone in (ZONE, OTHER):
        primary.zones[zone]['allow_transfer'] = [ip_and_key([client, secondary.address, server.address], check)]
    primary.reload()
    server.add_key(check)
    server.add_secondary(ZONE, [(primary.address, 53)], key=check, tsig_allow_axfr=[check])
    server.start()
    server.wait_serial(ZONE, 2024061501)
    theirs = zone_digests(entries(ZONE), server.address, key=check.dns_key, source=client)[0]
    ours = zone_digests(entries(ZONE), primary.address, key=check.dns_key, source=client)[0]
    assert theirs['status'] == 'ok', theirs
    assert theirs['digest'] == ours['digest']


def test_file_digest_states(tmp_path):
    zone = dns.name.from_text(ZONE)
    assert file_digest(zone, str(tmp_path / 'none.zone'))['status'] == 'missing'
    bad = tmp_path / 'bad.zone'
    bad.write_text('$ORIGIN example.test.\n@ 300 IN SOA ns1 hostmaster 1 2 3 4\n@ 300 IN NS\n')
    assert file_digest(zone, str(bad))['status'] == 'unloadable'
    good = tmp_path / 'good.zone'
    good.write_text(dnslab.make_zone_text(ZONE, 7, count=1))
    result = file_digest(zone, str(good), collect=True)
    assert result['status'] == 'ok' and result['serial'] == 7 and result['records'] == 4
    assert 'host0.example.test. 300 A 10.0.0.0' in result['record_lines']


def test_quota_servfail_is_retried_not_reported(bind, tsig_key, client):
    """BIND answers SERVFAIL when its transfers-out quota is full. With a quota of 1 and 8 parallel transfers
    of large zones, some first attempts meet the quota; each must be tried again and end 'ok'."""
    check = tsig_key('zonesync-check')
    primary = bind()
    primary.options_extra.append('transfers-out 1')
    primary.add_key(check)
    zones = ['z%02d.test.' % i for i in range(16)]
    for zone in zones:
        primary.add_primary(zone, dnslab.make_zone_text(zone, 2024061501, count=3000),
                            allow_transfer=[ip_and_key([client], check)])
    primary.start()
    results = zone_digests(entries(*zones), primary.address, key=check.dns_key, source=client, workers=8)
    assert [r['status'] for r in results] == ['ok'] * len(zones), results
    # The quota really was met: at least one zone needed a second attempt (otherwise this test proves nothing).
    assert any(r.get('attempts', 1) > 1 for r in results), results
