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
            'bind': 'On the primary, add {src} to the addresses of the zone\'s allow-transfer, keeping the ones already '
                    'there and requiring address and key together: allow-transfer {{ !{{ !{{ <addresses already '
                    'listed>; {src}; }}; any; }}; key "{keyname}"; }}; then "named-checkconf && rndc reconfig". With '
                    'dnsops.zonesync, list the secondary in the zone\'s secondaries in zonesync_zones (and its '
                    'zonesync_transfer_source if it sends from another address) and re-run site.yml. Or the other '
                    'side: if the secondary should send from an address the ACL already allows, set its '
                    'transfer-source (and transfer-source-v6) to that address in named.conf; {src} is where this '
                    'check sent from, which is where the secondary sends from only when it has no transfer-source.',
            'powerdns': 'On the primary, let the key in for the zone: "pdnsutil set-meta {zone} TSIG-ALLOW-AXFR '
                        '{keyname}" (keeping the keys already listed), or add {src} to allow-axfr-ips in pdns.conf for '
                        'unsigned transfers and restart pdns. With dnsops.zonesync, list the secondary in the zone\'s '
                        'secondaries in zonesync_zones and re-run site.yml. Or the other side: a PowerDNS secondary '
                        'sends from query-local-address (pdns.conf); set it to an address the primary allows.',
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
            'bind': 'Open TCP 53 on the primary (and any firewall between) for {src}. With the dnsops.zonesync.firewall '
                    'role, the primary\'s table inet zonesync admits the transfer sources of the zone\'s secondaries '
                    '(set transfer_v4/transfer_v6): re-run site.yml, or by hand "nft add element inet zonesync '
                    'transfer_v4 {{ {src} }}"; if the set has it, another firewall drops TCP 53 ("nft list ruleset"). '
                    'Check that listen-on covers {server}.',
            'powerdns': 'Open TCP 53 on the primary (and any firewall between) for {src}. With the dnsops.zonesync.firewall '
                        'role, the primary\'s table inet zonesync admits the transfer sources of the zone\'s secondaries '
                        '(set transfer_v4/transfer_v6): re-run site.yml, or by hand "nft add element inet zonesync '
                        'transfer_v4 {{ {src} }}"; if the set has it, another firewall drops TCP 53 ("nft list ruleset"). '
                        'Check that local-address includes {server}.',
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
    'not_implemented': (
        '{server} answered NOTIMP to the transfer of {zone}: it does not implement this kind of transfer (an IXFR '
        'that fails this way is asked again as AXFR), or it is not a DNS server that does zone transfers.',
        {
            'bind': 'Check that {server} runs named and serves {zone} ("rndc zonestatus {zone}"); BIND 9 implements '
                    'AXFR and IXFR, so NOTIMP means another program answers on that address and port.',
            'powerdns': 'Check that {server} runs pdns with a backend that serves {zone} ("pdnsutil list-zone '
                        '{zone}"); PowerDNS answers IXFR only for primary zones with the data for it, and falls back '
                        'to AXFR itself.',
        }),
    'limit_exceeded': (
        'The transfer of {zone} from {server} was stopped: {detail}. A server that sends more than a zone holds is '
        'broken or hostile; a zone really that large needs a higher limit.',
        {
            'bind': 'If {zone} really is that large ("named-compilezone -f raw -F text ..." or "rndc zonestatus '
                    '{zone}" on {server} shows its size), raise max_records, max_bytes or max_time; if not, look at '
                    'what {server} sends ("dig @{server} {zone} AXFR | tail").',
            'powerdns': 'If {zone} really is that large ("pdnsutil list-zone {zone} | wc -l" on {server}), raise '
                        'max_records, max_bytes or max_time; if not, look at what {server} sends '
                        '("dig @{server} {zone} AXFR | tail").',
        }),
    'tsig_unknown_key': (
        '{server} signed its answer for {zone} with another key than the request\'s ({detail}): the server is told '
        'to sign for this client with a key the check was not given.',
        {
            'bind': 'On {server}, look for a server {{ ... keys {{ ...; }}; }} statement or a view that picks another '
                    'key for this client, and give the check the key the zone\'s allow-transfer names ("{keyname}" '
                    'was sent).',
            'powerdns': 'On {server}, compare "pdnsutil get-meta {zone} TSIG-ALLOW-AXFR" with the key given to the '
                        'check ("{keyname}" was sent), and check "pdnsutil list-tsig-keys".',
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
                    '"rndc reload {zone}". With dnsops.zonesync: ansible-playbook -i <inventory> dnsops.zonesync.site '
                    '-e \'{{"zonesync_bump_serials": ["{zone}"]}}\'.',
            'powerdns': 'Run "pdnsutil increase-serial {zone}" on the primary, or set SOA-EDIT-API so API changes '
                        'bump the serial; then "pdns_control notify {zone}". With dnsops.zonesync: ansible-playbook -i '
                        '<inventory> dnsops.zonesync.site -e \'{{"zonesync_bump_serials": ["{zone}"]}}\'.',
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


# --------------------------------------------------------------------------
# Root causes across the fleet (check.yml, the convergence role)
# --------------------------------------------------------------------------
#
# Each text is about one root cause, which may affect many zones and servers;
# the fix names this collection's own files, variables and playbooks, so that
# it is right when pasted on a fleet the collection deployed. {site} is the
# command that puts every server back to the inventory's description.

SITE = 'ansible-playbook -i <inventory> dnsops.zonesync.site'

_SERVICE = {'bind': 'named', 'powerdns': 'pdns'}

_CAUSES = {
    'primary_unanswered': (
        'The primary {host} ({address}) gave no serial for {zones_text} ({status}: {detail}). Its secondaries keep '
        'serving their last copy until SOA expire, then stop answering for those zones. Time left before each '
        'stops (the least over its zones): {expire_text}.',
        'Start the server on {host} ("systemctl status {service}"; "journalctl -u {service}" for the reason), and '
        'check that UDP and TCP 53 reach {address} from the controller. Once it answers, its secondaries refresh by '
        'themselves within their SOA retry time; to have one transfer at once, "rndc retransfer <zone>" (BIND) or '
        '"pdns_control retrieve <zone>" (PowerDNS) on it. Then re-run check.yml.'),
    'server_unanswered': (
        '{host} ({address}) does not answer for {zones_text} ({status}: {detail}).',
        'Check that {service} runs on {host} ("systemctl status {service}") and listens on {address} '
        '(zonesync_listen); then re-run {site}, which puts its configuration back.'),
    'not_serving': (
        '{host} ({address}) is not authoritative for {zones_text}: the zone is missing from its configuration or its '
        'copy failed to load or expired.',
        'Re-run {site}: it writes the zone on {host} and asks it to transfer. If the zone is still missing, read '
        '"journalctl -u {service}" on {host}.'),
    'copy_unusable': (
        '{host} ({address}) has {zones_text} configured but answers SERVFAIL: its copy expired (no successful refresh '
        'within the SOA expire time, so it stopped answering) or failed to load.',
        'Read "journalctl -u {service}" on {host} for the zone. A secondary whose copy expired must reach its upstream '
        'again: the transfer path named for {host} says why it cannot; once it can, "rndc retransfer <zone>" (BIND) '
        'or "pdns_control retrieve <zone>" (PowerDNS) reloads it. A primary zone that failed to load: re-run {site}, '
        'which validates the zone file before it installs it.'),
    'primary_serial_backwards': (
        'The serial of {zones_text} on the primary {host} went backwards: it serves {serial} while {ahead} hold(s) '
        '{ahead_serial}. Secondaries never transfer an older serial, so every change on {host} is invisible to them '
        'until its serial passes theirs (a rebuilt or restored primary).',
        'Re-run {site}: the roles never leave a primary serial behind the highest serial a secondary of the zone '
        'serves, so the zone gets serial {next_serial} or later and the secondaries transfer it.'),
    'serial_not_incremented': (
        '{zones_text} on the primary {host} serve(s) other records than {others} under the same serial {serial}: the '
        'zone was changed without incrementing its serial, so the secondaries keep their old copy.',
        'Re-run {site} -e \'{{"zonesync_bump_serials": [{zones_json}]}}\': the zone files are written from the '
        'inventory with the next serial, and the secondaries transfer them. Never edit a zone file the collection '
        'manages by hand; change zonesync_zones instead.'),
    'signatures_differ': (
        '{zones_text} on {others} hold(s) the records and the serial {serial} of the primary {host}, with other '
        'signatures: the zone was signed again without a new serial, so these secondaries kept their older signatures '
        '(BIND compares serials only; PowerDNS also compares the SOA\'s signature and transfers again), and '
        'validating resolvers fail the zone there once those expire.',
        'Give every new signing a new serial: BIND\'s dnssec-policy (inline signing) does it by itself; a zone signed '
        'before it is loaded must be signed with "dnssec-signzone -N increment" (or unixtime); PowerDNS needs '
        'SOA-EDIT (for example INCEPTION-EPOCH) on the zone. Then make the secondaries transfer it now: "rndc '
        'retransfer <zone>" (BIND) or "pdns_control retrieve <zone>" (PowerDNS) on {others}.'),
    'signatures_expiring': (
        'The signatures of {zones_text} on the primary {host} expire at {expires} ({remaining} from now; {rrset} '
        'first): nothing has signed the zone again in time, and every server serves its signatures. Once they expire, '
        'validating resolvers answer SERVFAIL for the zone.',
        'Find out why the signer stopped: for BIND with dnssec-policy, "rndc dnssec -status <zone>" and '
        '"journalctl -u named" on {host} (key files that named cannot read or write in its key-directory stop '
        're-signing); for a zone signed before it is loaded, sign it again with a new serial ("dnssec-signzone -N '
        'increment") and re-run {site}; for PowerDNS, "pdnsutil check-zone <zone>".'),
    'signatures_expired': (
        'The signatures of {zones_text} on the primary {host} expired at {expires} ({remaining} ago; {rrset} first): '
        'validating resolvers answer SERVFAIL for the zone now, on every server that serves these signatures.',
        'Sign the zone again now: for BIND with dnssec-policy, "rndc sign <zone>" on {host}, then read "rndc dnssec '
        '-status <zone>" and "journalctl -u named" for why it stopped (key files named cannot read or write in its '
        'key-directory); for a zone signed before it is loaded, "dnssec-signzone -N increment" and re-run {site}; '
        'for PowerDNS, "pdnsutil rectify-zone <zone>" and "pdnsutil check-zone <zone>". The secondaries transfer '
        'the new serial.'),
    'signatures_expiring_copy': (
        'The copy of {zones_text} on {host} ({address}) carries signatures that expire at {expires} ({remaining} from '
        'now; {rrset} first), older than the primary\'s: {host} has not transferred the zone since it was signed '
        'again.',
        'Make {host} transfer the zone: "rndc retransfer <zone>" (BIND) or "pdns_control retrieve <zone>" '
        '(PowerDNS), after fixing the transfer problem named for {host} (if any). It serves SERVFAIL to validating '
        'resolvers once its signatures expire.'),
    'signatures_expired_copy': (
        'The copy of {zones_text} on {host} ({address}) carries signatures that expired at {expires} ({remaining} '
        'ago; {rrset} first), while the primary serves newer ones: validating resolvers that ask {host} answer '
        'SERVFAIL for the zone now.',
        'Make {host} transfer the zone now: "rndc retransfer <zone>" (BIND) or "pdns_control retrieve <zone>" '
        '(PowerDNS), after fixing the transfer problem named for {host} (if any).'),
    'cannot_write_copy': (
        '{host} ({address}) serves {zones_text} but cannot write its copies: {detail}. It serves what it transferred '
        'from memory only: after a restart it has nothing to load, and until it transfers again (never, while its '
        'upstream is unreachable) it answers nothing for these zones. Its own log: {log}.',
        'Give {service}\'s user its directory back: on BIND, "chown bind:bind {directory}" and "chmod 0750 '
        '{directory}" (or re-run {site}, which creates the bind role\'s directories with their owner), then "rndc '
        'retransfer <zone>" so that each copy is written now; on PowerDNS, "chown pdns:pdns" the database and its '
        'directory. A read-only file system must be remounted read-write.'),
    'copy_not_saved': (
        '{host} ({address}) serves {zones_text} in sync, but the file of each copy does not exist: the server never '
        'wrote what it transferred ({detail}), for example because a mandatory access control profile (AppArmor) '
        'denies the path. After a restart it has nothing to load. Its own log: {log}.',
        'Read "journalctl -u {service}" on {host} for "dumping master file" and "permission denied"; keep secondary '
        'zone files under /var/lib/bind or /var/cache/bind, where Debian\'s AppArmor profile lets named write, or '
        're-run {site}; then "rndc retransfer <zone>" so that each copy is written now.'),
    'copy_differs': (
        '{host} serves other records for {zones_text} than its upstream {upstream} under the same serial {serial}: it '
        'does not serve a copy transferred from {upstream} (the zone is configured differently there, or its file was '
        'edited).',
        'Re-run {site}: it writes the zone on {host} as a secondary of {upstream} again. Then re-run check.yml.'),
    'zone_file_not_loaded': (
        'The zone file of {zones_text} on the primary {host} does not load ({detail}). {host} keeps serving its '
        'last good copy: the change in the file is not live anywhere.',
        'Re-run {site}: it writes the file from the inventory and checks it with named-checkzone/zone2sql before it '
        'goes live. Never edit a zone file the collection manages by hand; change zonesync_zones instead.'),
    'primary_not_serving_file': (
        'The primary {host} serves other records for {zones_text} than its zone file holds ({detail}): the file '
        'was changed and not loaded, or it failed to load.',
        'Re-run {site}: it writes the file from the inventory with the next serial and reloads the zone.'),
    'config_drift': (
        '{host} is configured otherwise than the inventory says: it {drift_text}. This breaks (or will break at the '
        'next change) the transfers of {zones_text}.',
        'Re-run {site}: it writes {host}\'s zones and keys from the inventory again and makes the zones that lag '
        'transfer. If the inventory is what is wrong, correct zonesync_zones or zonesync_keys first.'),
    'server_log_tsig': (
        '{host}\'s own log says its transfers of {zones_text} from {upstream} fail TSIG ({log_line}), although the '
        'same transfer with the inventory\'s key works from its address: the key {host} is running with is not the '
        'one in its configuration files (a change not reloaded).',
        'Re-run {site}: it writes the key again and reloads {host}; then re-run check.yml.'),
    'upstream_lags': (
        '{host} lags for {zones_text} because its upstream {upstream} lags too: it cannot get what {upstream} does not '
        'have yet.',
        'Fix {upstream} first (see its own problem); {host} follows through NOTIFY from {upstream}.'),
    'not_refreshed': (
        'The transfer of {zones_text} from {upstream} works from {host}\'s address with the inventory\'s key, yet '
        '{host} has not taken the new serial: {host} itself is configured otherwise than the inventory says (another '
        'primary address or key secret), or it has not been told (NOTIFY lost) and waits for its refresh timer.',
        'Re-run {site}: it puts the zone configuration of {host} back and makes {host} transfer the zones that lag. '
        'Then re-run check.yml.'),
    'lagging_unchecked': (
        '{host} lags behind {upstream} for {zones_text}, and no transfer from {host} was tried, so the cause is not '
        'known yet.',
        'Run check.yml: it tries every zone\'s transfer from each secondary, as the secondary itself pulls, and '
        'names the cause.'),
    'content_unverified': (
        'The copies of {zones_text} on {host} could not be read for comparison: {detail}. Their serials agree, but '
        'their records are not proven to match the primary\'s.',
        'Re-run {site}: it installs the read-only check key named by zonesync_check_key (default zonesync-check) on '
        'every server, accepted from the server\'s own address only (an empty zonesync_check_key switches content '
        'proof off). Then re-run check.yml.'),
    'check_failed': (
        'The check could not run on {host}: {detail}. Nothing is known about what {host} serves, so the fleet is not '
        'proven in sync.',
        'Make {host} reachable for Ansible (ansible -i <inventory> {host} -m ansible.builtin.ping) and give it the '
        'collection\'s requirements (dnspython, netaddr), then re-run check.yml.'),
    'config_invalid': (
        'The configuration of {host} does not parse: {detail}. named keeps serving what it loaded last, but it will '
        'not reload {config}, and it will not start with it after a restart; the real configuration of {host} '
        'could not be compared with the inventory.',
        'Run named-checkconf {config} on {host} to see the line at fault. If site.yml writes that file, re-run '
        '{site}: it validates every file before installing it and puts the managed files back. If the broken '
        'line is a hand edit, undo it. Then re-run check.yml.'),
    'open_transfer': (
        '{host} ({address}) hands out {zones_text} to the controller, which is in no transfer ACL: anyone at that '
        'address can copy the zone.',
        'Re-run {site}: allow-transfer (BIND) and allow-axfr-ips/TSIG-ALLOW-AXFR (PowerDNS) are written from the '
        'topology, and the firewall role opens TCP 53 only to the secondaries.'),
    # Transfer failures from a secondary to its upstream, grouped by (status, secondary, upstream, key).
    'refused': (
        '{upstream} ({upstream_address}) refuses to transfer {zones_text} to {host} (from {source}{keytext}): its '
        'transfer ACL does not admit that address with that key.',
        'site.yml writes {upstream}\'s ACL from the topology for {host} sending from {source}. If {host} really sends '
        'from another address, set zonesync_transfer_source for {host} to it; then re-run {site}.'),
    'not_authoritative_upstream': (
        '{upstream} ({upstream_address}) does not serve {zones_text}, which {host} pulls from it: the upstream lacks '
        'the zone, or {host} asks the wrong server.',
        'Re-run {site}: it configures the zone on {upstream}. If the topology names the wrong upstream, correct '
        'zonesync_zones ({host}\'s entry in secondaries) first.'),
    'tsig_bad_key': (
        '{upstream} does not know the key {key} (or knows it with another algorithm) that {host} signs {zones_text} '
        'with (BADKEY).',
        'Re-run {site}: it writes key {key} from zonesync_keys on every server whose zones use it.'),
    'tsig_bad_signature': (
        '{upstream} knows the key {key}, but with another secret than the inventory\'s (BADSIG) for {zones_text}.',
        'Re-run {site}: it writes the inventory\'s secret of {key} on every server. If the secret was rotated by hand, '
        'put the new one in zonesync_keys first.'),
    'tsig_bad_time': (
        'The clocks of {host} and {upstream} differ by {skew_text}, more than TSIG\'s 300 s, so every signed transfer '
        'of {zones_text} fails (BADTIME).',
        'Synchronise both clocks (chrony or systemd-timesyncd; "timedatectl" shows the state). site.yml\'s ntp_check '
        'role fails on a host whose clock is off.'),
    'tsig_unsigned_response': (
        '{upstream} answers {host}\'s signed request for {zones_text} without a signature: it does not accept key '
        '{key} for these zones (PowerDNS answers a bad key this way).',
        'Re-run {site}: it writes key {key} and the zones\' TSIG-ALLOW-AXFR on {upstream}.'),
    'tcp_unreachable': (
        '{upstream} ({upstream_address}) answers over UDP, but TCP 53 does not connect from {host} ({source}): '
        'zone transfers use TCP, so {zones_text} cannot be transferred.',
        'On {upstream}, "nft list table inet zonesync" must show {source} in set transfer_v4/transfer_v6: re-run '
        '{site} to write it. If it is there, another firewall drops TCP 53 ("nft list ruleset" on {upstream} and '
        '{host}, and any firewall between).'),
    'upstream_down': (
        '{upstream} ({upstream_address}) does not answer {host} for {zones_text} ({status}: {detail}).',
        'Check that {upstream_service} runs on {upstream} and listens on {upstream_address}; check the network '
        'between {host} and {upstream}.'),
    'tsig_unknown_key': (
        '{upstream} answers {host}\'s request for {zones_text}, signed with key {key}, with a signature by another key: '
        '{detail}.',
        'Re-run {site}: it writes {upstream}\'s keys from the topology. A server {{ keys {{ ...; }}; }} statement '
        'added by hand on {upstream} for {host}\'s address picks the other key: remove it.'),
    'transfer_broken': (
        'The transfer of {zones_text} from {upstream} to {host} fails: {status}: {detail}.',
        'Read "journalctl -u {upstream_service}" on {upstream} for the zone; re-run {site}, then check.yml.'),
}


def fleet_cause(kind, context):
    """Return (diagnosis, remediation) for one root cause, filled from ``context``."""
    values = dict((k, v) for k, v in context.items() if v is not None)
    values.setdefault('site', SITE)
    values.setdefault('detail', 'no detail')
    values.setdefault('expire_text', 'none of its secondaries answered')
    values['service'] = _SERVICE.get(values.get('server'), 'the DNS server')
    values['upstream_service'] = _SERVICE.get(values.get('upstream_server'), 'the DNS server')
    values['keytext'] = ', key %s' % values['key'] if values.get('key') else ', unsigned'
    skew = context.get('skew')
    values['skew_text'] = ('%d s' % abs(skew)) if skew is not None else 'more than 300 s'

    class _Missing(dict):
        def __missing__(self, name):
            return '<%s>' % name

    diagnosis, remediation = _CAUSES[kind]
    return (' '.join(diagnosis.format_map(_Missing(values)).split()),
            ' '.join(remediation.format_map(_Missing(values)).split()))
