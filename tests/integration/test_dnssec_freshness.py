"""Signed zones on real servers: each server's earliest signature expiry, and the copy a re-signing left behind.

What it must prove:
- a BIND primary that signs its zone as it loads it (dnssec-policy, inline signing) serves its file's records
  plus signatures under a serial of its own; the check compares it with its file by data, reads the same
  signatures on its BIND and PowerDNS secondaries, and reports green;
- a zone signed again before it is loaded, under the same serial (dnssec-signzone -N keep, the mistake that
  left secondaries serving expired signatures), is served anew by the primary. A PowerDNS secondary compares the
  SOA's signature too and transfers again; a BIND secondary compares serials only and keeps the old signatures.
  The check names that secondary as "same serial, other signatures", with its own earliest expiry (never the
  primary's later one), and names its copy as expiring within the threshold.
"""

import os
import subprocess
import time

import dns.name
import pytest

import dnslab
from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet
from ansible_collections.dnsops.zonesync.plugins.module_utils._content import zone_digests

ZONE = 'signed.test.'
DAY = 86400
KEYGEN = '/usr/bin/dnssec-keygen'
SIGNZONE = '/usr/bin/dnssec-signzone'

pytestmark = pytest.mark.skipif(not os.path.exists(SIGNZONE), reason='dnssec-signzone (bind9-utils) is not installed')


def ip_and_key(addresses, key):
    return '!{ !{ %s }; any; }; key "%s";' % (' '.join('%s;' % a for a in addresses), key.name)


def digests(server, key, client, file=None):
    (out,) = zone_digests([{'zone': dns.name.from_text(ZONE), 'file': file, 'collect': False}], server.address,
                          key=key.dns_key, source=client)
    assert out['status'] == 'ok', out
    return out


def fleet_of(primary, secondaries):
    def server(host, address, role, kind='bind'):
        return {'host': host, 'address': address, 'transfer_source': address, 'server': kind,
                'key': None if role == 'primary' else 'k', 'role': role,
                'upstream': None if role == 'primary' else 'p',
                'upstream_address': None if role == 'primary' else primary.address, 'check_key': 'zonesync-check'}
    servers = [server('p', primary.address, 'primary')]
    for host, (srv, kind) in secondaries.items():
        servers.append(server(host, srv.address, 'secondary', kind))
    return [{'zone': ZONE.rstrip('.'), 'primary': 'p', 'key': 'k', 'servers_key': 'x', 'servers': servers}]


def soa_results(serials):
    """soa_serial's result shape for the serials each server really answered: address -> serial."""
    reference = serials[0][1]
    return [{'zones': [{'zone': ZONE, 'reference_serial': reference, 'servers': [
        {'address': address, 'serial': serial, 'status': 'in_sync' if serial == reference else 'behind',
         'lag': reference - serial} for address, serial in serials]}]}]


def servers(bind, pdns, tsig_key):
    """The check and transfer keys, a BIND primary that knows both, and a BIND and a PowerDNS secondary."""
    check = tsig_key('zonesync-check')
    transfer = tsig_key('transfer')
    primary = bind()
    second = bind()
    third = pdns()
    primary.add_key(check)
    primary.add_key(transfer)
    return check, transfer, primary, second, third


def start_secondaries(primary, second, third, check, transfer, client):
    """The BIND and the PowerDNS secondary of the primary, with the transfer key; both let the check key read."""
    second.add_key(check)
    second.add_secondary(ZONE, [(primary.address, 53)], key=transfer, allow_transfer=[ip_and_key([client], check)])
    second.start()
    third.add_key(check)
    third.add_secondary(ZONE, [(primary.address, 53)], key=transfer, tsig_allow_axfr=[check.name])
    third.start()


def content_of(results):
    return dict((host, {'changed': False, 'zones': [entry]}) for host, entry in results.items())


def test_an_inline_signed_primary_and_its_secondaries_are_green_with_their_expiry(bind, pdns, tsig_key, client):
    check, transfer, primary, second, third = servers(bind, pdns, tsig_key)
    primary.add_primary(ZONE, dnslab.make_zone_text(ZONE, 2026112801, count=30),
                        allow_transfer=['key "%s"' % transfer.name, ip_and_key([client], check)],
                        extra=['dnssec-policy default', 'inline-signing yes'])
    primary.start()
    # Signing takes a moment after the zone loads: wait until the served copy carries signatures.
    dnslab.wait_for(lambda: digests(primary, check, client).get('signed'), timeout=30,
                    what='the primary to serve the zone signed')
    served = digests(primary, check, client, file=primary.zone_file(ZONE))
    start_secondaries(primary, second, third, check, transfer, client)
    now = time.time()
    # The primary's signed serial may move on while it finishes signing: wait for all three to agree.
    copies = {}

    def agreed():
        copies['p'] = digests(primary, check, client, file=primary.zone_file(ZONE))
        copies['s1'] = digests(second, check, client)
        copies['s2'] = digests(third, check, client)
        return len(set(c['digest'] for c in copies.values())) == 1
    if not agreed():
        second.retransfer(ZONE)
        third.retrieve(ZONE)
        dnslab.wait_for(agreed, timeout=30, what='both secondaries to serve the primary\'s signed copy')
    served = copies['p']
    assert served['signed'] and served['rrsigs'] > 30
    # dnssec-policy "default": signatures valid 14 days.
    assert now + 10 * DAY < served['rrsig_expires'] <= now + 15 * DAY
    assert served['rrsig_apex_expires'] >= served['rrsig_expires']
    # Its file: unsigned, the same data.
    assert served['file']['status'] == 'ok' and served['file']['signed'] is False
    assert served['file']['digest'] != served['digest']
    assert served['file']['data_digest'] == served['data_digest']
    for host in ('s1', 's2'):
        assert copies[host]['rrsig_expires'] == served['rrsig_expires'], host
    fleet = fleet_of(primary, {'s1': (second, 'bind'), 's2': (third, 'powerdns')})
    serials = soa_results([(primary.address, served['serial']), (second.address, copies['s1']['serial']),
                           (third.address, copies['s2']['serial'])])
    report = _fleet.report(fleet, serials, content=content_of(copies))
    assert report['causes'] == [], report['causes']
    assert [r['content'] for r in report['rows']] == ['read', 'match', 'match']
    assert [r['rrsig_expires'] for r in report['rows']] == [served['rrsig_expires']] * 3
    assert report['summary']['signed_zones'] == 1
    # An edit of the file that named has not loaded is still found, signatures or not.
    with open(primary.zone_file(ZONE), 'a') as handle:
        handle.write('edited 300 IN A 192.0.2.99\n')
    copies['p'] = digests(primary, check, client, file=primary.zone_file(ZONE))
    report = _fleet.report(fleet, serials, content=content_of(copies))
    assert [c['kind'] for c in report['causes']] == ['primary_not_serving_file']


def sign(workdir, text, expires_in, serial_kept=True):
    """The zone signed before it is loaded, with dnssec-signzone: the signed text."""
    unsigned = os.path.join(workdir, 'zone.unsigned')
    with open(unsigned, 'w') as handle:
        handle.write(text)
    signed = os.path.join(workdir, 'zone.signed')
    subprocess.run([SIGNZONE, '-q', '-S', '-K', workdir, '-d', workdir, '-N', 'keep' if serial_kept else 'increment',
                    '-e', '+%d' % expires_in, '-o', ZONE, '-f', signed, unsigned],
                   check=True, cwd=workdir, capture_output=True, timeout=60)
    with open(signed) as handle:
        return handle.read()


def test_signed_again_under_the_same_serial_names_every_secondary_and_the_earliest_expiry(bind, pdns, tsig_key,
                                                                                          client, tmp_path):
    keys = str(tmp_path)
    for flags in ([], ['-f', 'KSK']):
        subprocess.run([KEYGEN, '-q', '-K', keys, '-a', 'ECDSAP256SHA256'] + flags + [ZONE], check=True,
                       capture_output=True, timeout=60)
    text = dnslab.make_zone_text(ZONE, 2026112801, count=10)
    first = sign(keys, text, 2 * DAY)
    check, transfer, primary, second, third = servers(bind, pdns, tsig_key)
    primary.add_primary(ZONE, first, allow_transfer=['key "%s"' % transfer.name, ip_and_key([client], check)],
                        also_notify=[(second.address, 53), (third.address, 53)])
    primary.start()
    start_secondaries(primary, second, third, check, transfer, client)
    old = digests(primary, check, client)
    for server in (second, third):
        assert digests(server, check, client)['digest'] == old['digest']
    # Signed again, 30 days, serial kept; the primary loads it and notifies; the secondaries see the same serial.
    primary.set_zone_text(ZONE, sign(keys, text, 30 * DAY))
    time.sleep(1.1)   # a new mtime for named
    primary.reload(ZONE)
    dnslab.wait_for(lambda: digests(primary, check, client)['digest'] != old['digest'], timeout=10,
                    what='the primary to serve the new signatures')
    primary.notify(ZONE)
    new = digests(primary, check, client)
    # PowerDNS compares the SOA's signature as well as its serial ("fresh, but RRSIGs differ on master, so DNSSEC
    # is stale") and transfers again; BIND compares serials only and keeps the old signatures.
    dnslab.wait_for(lambda: digests(third, check, client)['digest'] == new['digest'], timeout=15,
                    what='the PowerDNS secondary to transfer the signatures that changed under the same serial')
    second.rndc('refresh', ZONE.rstrip('.'))
    time.sleep(1)
    copies = {'p': digests(primary, check, client), 's1': digests(second, check, client),
              's2': digests(third, check, client)}
    assert len(set(c['serial'] for c in copies.values())) == 1
    assert copies['p']['rrsig_expires'] > time.time() + 29 * DAY
    assert copies['s1']['digest'] == old['digest']              # kept the old signatures
    assert copies['s1']['data_digest'] == copies['p']['data_digest']
    assert copies['s1']['rrsig_expires'] < time.time() + 2 * DAY + 60
    fleet = fleet_of(primary, {'s1': (second, 'bind'), 's2': (third, 'powerdns')})
    serial = copies['p']['serial']
    serials = soa_results([(primary.address, serial), (second.address, serial), (third.address, serial)])
    report = _fleet.report(fleet, serials, content=content_of(copies))
    # The BIND secondary: the same serial and records, other signatures, which expire within 3 days.
    kinds = sorted((c['kind'], c['servers']) for c in report['causes'])
    assert kinds == [('signatures_differ', ['s1']), ('signatures_expiring_copy', ['s1'])], report['causes']
    assert [(p['host'], p['status']) for p in report['problems']] == [('s1', 'signatures_differ')]
    assert [r['content'] for r in report['rows']] == ['read', 'differs', 'match']
    # The fleet's earliest expiry is the old copy's, not the primary's later one.
    assert report['signatures'][ZONE.rstrip('.')]['host'] == 's1'
    assert report['signatures'][ZONE.rstrip('.')]['expires'] == copies['s1']['rrsig_expires']
    # The fix the report gives: a new serial at signing, then the secondaries follow.
    primary.set_zone_text(ZONE, sign(keys, text, 30 * DAY, serial_kept=False))
    time.sleep(1.1)
    primary.reload(ZONE)
    primary.notify(ZONE)
    fresh = digests(primary, check, client)
    assert fresh['serial'] == serial + 1
    dnslab.wait_for(lambda: digests(second, check, client)['digest'] == fresh['digest']
                    and digests(third, check, client)['digest'] == fresh['digest'], timeout=30,
                    what='the secondaries to transfer the zone signed under a new serial')
