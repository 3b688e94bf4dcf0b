# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""What each transfer failure means, and what to change on BIND and on PowerDNS."""

from __future__ import annotations

_TEXT = {
    'refused': (
        '{server} refused to transfer {zone} to {who}: its transfer ACL does not allow this source address{keyinfo}.',
        {
            'bind': 'On the primary, add the secondary to the zone\'s allow-transfer, requiring address and key '
                    'together, e.g. allow-transfer {{ !{{ !{src}; any; }}; key "{keyname}"; }}; then run '
                    '"named-checkconf && rndc reconfig".',
            'powerdns': 'On the primary, add {src} to allow-axfr-ips in pdns.conf, or let the key in with '
                        '"pdnsutil set-meta {zone} TSIG-ALLOW-AXFR {keyname}"; then "pdns_control reload".',
        }),
    'not_authoritative': (
        '{server} is not authoritative for {zone}: the zone is not configured there, failed to load, or the '
        'secondary asks the wrong primary or the wrong zone name.',
        {
            'bind': 'Check that named.conf on {server} has zone "{zone}" of type primary (or secondary that has '
                    'loaded it): "rndc zonestatus {zone}"; check the zone name and the primaries list of the '
                    'secondary; look for load errors with "named-checkzone {zone} <file>".',
            'powerdns': 'Check the zone exists on {server}: "pdnsutil list-all-zones" and '
                        '"pdnsutil check-zone {zone}"; on the secondary, check the masters of the zone '
                        '("pdnsutil list-zone" / the domains table).',
        }),
    'tsig_bad_key': (
        '{server} does not know the TSIG key "{keyname}" with this algorithm, so it cannot verify the request '
        '(BADKEY): the key name or the algorithm differs between the two sides.',
        {
            'bind': 'Define the same key (same name, same algorithm, same secret) on both sides: key "{keyname}" '
                    '{{ algorithm ...; secret "..."; }}; include it in named.conf and reference it in '
                    'allow-transfer and in the secondary\'s primaries {{ ... key "{keyname}"; }}.',
            'powerdns': 'Import the key on {server} with "pdnsutil import-tsig-key {keyname} <algorithm> <secret>" '
                        '(gsqlite3-dnssec=yes is required) and check "pdnsutil list-tsig-keys".',
        }),
    'tsig_bad_signature': (
        'The TSIG key "{keyname}" is known on {server}, but the signature does not verify (BADSIG): the secret '
        'differs between the two sides. {detail}',
        {
            'bind': 'Copy the secret of key "{keyname}" from the primary to the secondary (or rotate the key with '
                    'playbooks/rotate_tsig.yml), then "rndc reconfig" on both.',
            'powerdns': 'Compare "pdnsutil list-tsig-keys" on both sides and re-import the key with the primary\'s '
                        'secret: "pdnsutil import-tsig-key {keyname} <algorithm> <secret>".',
        }),
    'tsig_bad_time': (
        'The clocks of this host and {server} differ by {skew_text}, more than TSIG\'s fudge of 300 s (BADTIME), '
        'so every signed transfer fails.',
        {
            'bind': 'Synchronise the clocks: enable chrony or systemd-timesyncd on both hosts and check '
                    '"chronyc tracking" or "timedatectl". BIND itself needs no change.',
            'powerdns': 'Synchronise the clocks: enable chrony or systemd-timesyncd on both hosts and check '
                        '"chronyc tracking" or "timedatectl". PowerDNS itself needs no change.',
        }),
    'tsig_unsigned_response': (
        'The request was signed with "{keyname}" but {server} answered without a TSIG signature: {detail}. '
        'A secondary rejects such an answer, so the transfer fails.',
        {
            'bind': 'Define key "{keyname}" on the primary with the same algorithm and secret as here, reference it '
                    'in allow-transfer, and make sure {server} really is the BIND primary (no middlebox answering '
                    'in its place).',
            'powerdns': 'On {server}, check "pdnsutil list-tsig-keys": the key "{keyname}" must exist with the same '
                        'algorithm and secret ("pdnsutil import-tsig-key {keyname} <algorithm> <secret>", which needs '
                        'gsqlite3-dnssec=yes); check the clocks of both hosts (TSIG allows 300 s); then allow the key '
                        'for the zone: "pdnsutil set-meta {zone} TSIG-ALLOW-AXFR {keyname}".',
        }),
    'tcp_unreachable': (
        '{server} answers queries over UDP, but TCP port {port} does not connect from {who}: a firewall lets UDP 53 '
        'through and blocks TCP 53. Zone transfers always use TCP, so the secondary never gets the zone. {detail}',
        {
            'bind': 'Open TCP 53 on the primary (and any firewall between) for the secondaries, e.g. '
                    '"nft add rule inet filter input ip saddr {src} tcp dport 53 accept"; check listen-on covers '
                    'the address.',
            'powerdns': 'Open TCP 53 on the primary for the secondaries (nftables, firewalld or ufw); check that '
                        'local-address includes {server}.',
        }),
    'unreachable': (
        'Nothing answers DNS on {server}: {detail}. The server is down, listens elsewhere, or the address is wrong.',
        {
            'bind': 'Start named ("systemctl status named"), check listen-on in named.conf and the primaries '
                    'address configured on the secondary.',
            'powerdns': 'Start pdns ("systemctl status pdns"), check local-address and local-port in pdns.conf, '
                        'and the masters address configured on the secondary.',
        }),
    'timeout': (
        '{server} did not answer in time: {detail}. A firewall drops the packets, or the server is overloaded.',
        {
            'bind': 'Check that packets reach the primary (tcpdump port 53) and that no firewall drops them; '
                    'check named is running and not blocked by "blackhole".',
            'powerdns': 'Check that packets reach the primary (tcpdump port 53) and that no firewall drops them; '
                        'check pdns is running ("pdns_control ping").',
        }),
    'servfail': (
        '{server} answered SERVFAIL for {zone}: it has the zone configured but cannot serve it (load error, or an '
        'expired secondary copy).',
        {
            'bind': 'Look at the log of named on {server} for the zone ("rndc zonestatus {zone}", '
                    '"journalctl -u named"); a secondary whose copy expired must reach its own primary again.',
            'powerdns': 'Look at the pdns log on {server}; run "pdnsutil check-zone {zone}"; a secondary must '
                        'reach its primary ("pdns_control retrieve {zone}").',
        }),
    'incomplete': (
        'The transfer of {zone} from {server} broke off: {detail}. A secondary discards such a transfer and keeps '
        'its old copy.',
        {
            'bind': 'Look for a middlebox or firewall cutting long TCP sessions, for memory limits on the primary '
                    '(named log), and for tcp idle timeouts.',
            'powerdns': 'Look at the pdns log on the primary for the AXFR; check for a proxy or firewall cutting '
                        'long TCP sessions.',
        }),
    'malformed': (
        '{server} answered with something that is not a valid zone transfer: {detail}. It may not be a DNS server '
        'at all on that port.',
        {
            'bind': 'Check that the address and port are the BIND primary\'s (named listens on 53 unless '
                    'listen-on port says otherwise).',
            'powerdns': 'Check that the address and port are the PowerDNS primary\'s (local-address, local-port).',
        }),
    'serial_not_incremented': (
        'The zone {zone} was changed without incrementing its serial: {detail}. Secondaries compare serials only, '
        'so they keep the old content.',
        {
            'bind': 'Increment the serial in the zone file on the primary (YYYYMMDDNN, or +1) and run '
                    '"rndc reload {zone}"; the roles of this collection do this for you.',
            'powerdns': 'Run "pdnsutil increase-serial {zone}" on the primary, or set SOA-EDIT-API so API changes '
                        'bump the serial; then "pdns_control notify {zone}".',
        }),
    'secondary_behind': (
        '{secondary} is behind the primary for {zone}: {detail}. It has not transferred the latest version.',
        {
            'bind': 'On the secondary, force a transfer with "rndc retransfer {zone}" and read its log; check that '
                    'the primary sends NOTIFY to it (notify explicit + also-notify).',
            'powerdns': 'On the secondary, run "pdns_control retrieve {zone}" and read its log; check ALSO-NOTIFY '
                        'on the primary.',
        }),
    'secondary_ahead': (
        '{secondary} has a newer serial than the primary for {zone}: {detail}. The primary\'s serial went '
        'backwards (restored from backup, or serial scheme changed), and secondaries will ignore the primary '
        'until it is ahead again.',
        {
            'bind': 'Move the primary\'s serial forward past the secondary\'s (RFC 1982: at most 2^31-1 per step), '
                    'or reset secondaries with "rndc retransfer {zone}" after fixing the serial.',
            'powerdns': 'Set the primary\'s serial past the secondary\'s ("pdnsutil increase-serial" or '
                        'edit the SOA), then "pdns_control retrieve {zone}" on the secondaries.',
        }),
    'open_transfer': (
        '{server} handed the whole zone {zone} to {who}, which was expected to be refused: anyone at that address '
        'can copy the zone.',
        {
            'bind': 'Write allow-transfer explicitly for the zone (before BIND 9.20 the default is "any"), listing '
                    'only the secondaries with their key: allow-transfer {{ !{{ !<secondary>; any; }}; key "<key>"; }};',
            'powerdns': 'Set allow-axfr-ips to the secondaries only (the default admits 127.0.0.0/8 and ::1), and use '
                        'TSIG-ALLOW-AXFR per zone.',
        }),
    'not_comparable': (
        'The serials of the primary and {secondary} are exactly 2^31 apart: RFC 1982 cannot order them. {detail}',
        {
            'bind': 'Bump the primary\'s serial by a small amount so that it is unambiguously newer, then retransfer.',
            'powerdns': 'Bump the primary\'s serial by a small amount so that it is unambiguously newer, then '
                        '"pdns_control retrieve" on the secondaries.',
        }),
}


def explain(status, context):
    """Return {'diagnosis': str, 'remediation': {'bind': str, 'powerdns': str}} for a status."""
    text = _TEXT.get(status)
    values = dict((k, v) for k, v in context.items() if v is not None)
    values.setdefault('zone', 'the zone')
    values.setdefault('server', 'the server')
    values.setdefault('secondary', 'the secondary')
    values.setdefault('detail', '')
    values.setdefault('port', '53')
    source = context.get('source')
    values['who'] = source if source else 'this host'
    values['src'] = source if source else '<secondary address>'
    key = context.get('key')
    values['keyname'] = key if key else '<key name>'
    values['keyinfo'] = ' with key "%s"' % key if key else ' (no TSIG key was used)'
    skew = context.get('skew')
    values['skew_text'] = ('%d s (the server is %s)' % (abs(skew), 'ahead' if skew > 0 else 'behind')
                           if skew is not None else 'more than 300 s')
    if text is None:
        return {'diagnosis': 'transfer status %s: %s' % (status, values['detail']), 'remediation': {}}
    diagnosis, remediation = text
    return {
        'diagnosis': ' '.join(diagnosis.format(**values).split()),
        'remediation': dict((k, ' '.join(v.format(**values).split())) for k, v in remediation.items()),
    }
