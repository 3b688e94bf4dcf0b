# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note: this module_util is private to dnsops.zonesync and may change without notice.

"""The fleet topology: validate the inventory's description once, derive each host's view.

The operator describes the DNS once, in inventory:

* ``zonesync_keys``: the TSIG keys (name, algorithm, secret);
* ``zonesync_zones``: every zone with its primary host, its secondaries (each may
  pull from another secondary: multi-tier), its key, extra notify targets,
  and its content (records, or a zone file);
* per host, ``zonesync_server`` (``bind`` or ``powerdns``) and optionally
  ``zonesync_listen`` and ``zonesync_transfer_source``.

:func:`host_plan` checks the whole description (so that every host fails the
same way before anything changes) and returns what one host must configure.
:func:`fleet_plan` returns the (zone, server) pairs the convergence check needs.
Errors name the variable, the value and the fix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.tokenizer
    HAS_DNSPYTHON = True
except ImportError:
    HAS_DNSPYTHON = False

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:
    HAS_NETADDR = False

SERVER_TYPES = ('bind', 'powerdns')
# The read-only key the checks transfer with: every server accepts it for every zone, from its own address
# only, so that check.yml can digest each server's copy without opening transfers to anyone else.
CHECK_KEY_DEFAULT = 'zonesync-check'
ALGORITHMS = ('hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha1')
SOA_DEFAULTS = {'refresh': 3600, 'retry': 600, 'expire': 1209600, 'minimum': 300}
# Record types a zone description may not carry itself: the SOA is generated,
# DNSSEC records are the signer's business, and meta-types are not data.
FORBIDDEN_TYPES = ('SOA', 'ANY', 'AXFR', 'IXFR', 'OPT', 'TSIG', 'TKEY', 'RRSIG', 'NSEC', 'NSEC3')
_SAFE_NAME_RE = re.compile(r'^[a-z0-9_*-]+(\.[a-z0-9_*-]+)*$')
_KEYNAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$')


def _fail(text):
    raise ZonesyncError(text)


# Names made of letters, digits, "-" and "_" in labels of 1 to 63 characters, 253 at most in all: what dnspython
# would return for them is the name in lower case without its final dot. At 10,000 zones, parsing each with
# dnspython was most of the topology check's time.
_PLAIN_NAME_RE = re.compile(r'^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?$')


def _name(value, where):
    if not isinstance(value, str) or not value.strip():
        _fail('%s: %r is not a DNS name. Write it like "example.com".' % (where, value))
    if len(value) <= 254 and _PLAIN_NAME_RE.match(value) and len(value.rstrip('.')) <= 253:
        return value.rstrip('.').lower()
    try:
        name = dns.name.from_text(value.strip())
    except dns.exception.DNSException as exc:
        _fail('%s: %r is not a valid DNS name (%s).' % (where, value, exc))
    if name == dns.name.root:
        _fail('%s: the root zone "." is not supported here.' % where)
    text = name.to_text(omit_final_dot=True).lower()
    if not _SAFE_NAME_RE.match(text):
        # Zone names become file names on the servers: no escapes, slashes or spaces.
        _fail('%s: %r may only contain letters, digits, "-", "_" and dots.' % (where, value))
    return text


def check_address(value, where):
    """A single IP address, canonical text."""
    try:
        if not isinstance(value, str):
            raise TypeError
        return str(netaddr.IPAddress(value.strip(), flags=netaddr.INET_PTON if hasattr(netaddr, 'INET_PTON') else 0))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        _fail('%s: %r is not a valid IP address. Use a literal IPv4 or IPv6 address such as "192.0.2.53".' % (where, value))


def check_acl_entry(value, where):
    """An IP address or a CIDR network (host bits must be zero), or the keywords any/none."""
    if isinstance(value, str) and value.strip().lower() in ('any', 'none'):
        return value.strip().lower()
    try:
        if not isinstance(value, str):
            raise TypeError
        text = value.strip()
        if '/' not in text:
            return str(netaddr.IPAddress(text, flags=netaddr.INET_PTON if hasattr(netaddr, 'INET_PTON') else 0))
        address, prefix = text.split('/', 1)
        netaddr.IPAddress(address, flags=netaddr.INET_PTON if hasattr(netaddr, 'INET_PTON') else 0)
        net = netaddr.IPNetwork(text)
        if not prefix.isdigit() or int(prefix) > (32 if net.version == 4 else 128):
            raise ValueError(prefix)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        _fail('%s: %r is not a valid IP address or CIDR network (e.g. "192.0.2.0/24"), nor "any" or "none".' % (where, value))
    if net.network != net.ip:
        _fail('%s: %r has host bits set; did you mean %s?' % (where, value, net.cidr))
    return str(net.cidr)


def _as_list(value, where):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    _fail('%s must be a list, not %s.' % (where, type(value).__name__))


def _check_keys(keys):
    if keys is None:
        keys = []
    if isinstance(keys, dict):
        keys = [dict(v or {}, name=v.get('name', k) if isinstance(v, dict) else k) for k, v in keys.items()]
    result = {}
    for index, key in enumerate(_as_list(keys, 'zonesync_keys')):
        where = 'zonesync_keys[%d]' % index
        if not isinstance(key, dict):
            _fail('%s must be a dictionary with name, algorithm and secret.' % where)
        name = key.get('name')
        if not isinstance(name, str) or not _KEYNAME_RE.match(name.rstrip('.')):
            _fail('%s.name: %r is not a valid key name (letters, digits, ".", "-" and "_").' % (where, name))
        name = name.rstrip('.').lower()
        algorithm = str(key.get('algorithm') or 'hmac-sha256').lower()
        if algorithm == 'hmac-md5' or algorithm.startswith('hmac-md5.'):
            _fail('%s.algorithm: hmac-md5 must not be used (RFC 8945). Use hmac-sha256.' % where)
        if algorithm not in ALGORITHMS:
            _fail('%s.algorithm: %r is not supported; use one of %s.' % (where, algorithm, ', '.join(ALGORITHMS)))
        if name in result:
            _fail('%s: key %r is defined twice.' % (where, name))
        result[name] = {'name': name, 'algorithm': algorithm, 'secret': key.get('secret')}
    return result


def _check_record(record, zone, where):
    if not isinstance(record, dict):
        _fail('%s must be a dictionary with name, type and value.' % where)
    rtype = record.get('type')
    if not isinstance(rtype, str) or not rtype.strip():
        _fail('%s.type is missing.' % where)
    rtype = rtype.strip().upper()
    try:
        rdtype = dns.rdatatype.from_text(rtype)
    except dns.exception.DNSException:
        _fail('%s.type: %r is not a DNS record type. Use a type such as A, AAAA, CNAME, MX, NS, TXT, SRV or CAA.' % (where, rtype))
    if dns.rdatatype.to_text(rdtype).startswith('TYPE') and not rtype.startswith('TYPE'):
        _fail('%s.type: %r is not a DNS record type.' % (where, rtype))
    if rtype in FORBIDDEN_TYPES or dns.rdatatype.is_metatype(rdtype):
        _fail('%s.type: %s records cannot be listed in a zone description (the SOA is generated from `soa`; '
              'DNSSEC records come from the signer).' % (where, rtype))
    name = record.get('name', '@')
    if name is None or (isinstance(name, str) and name.strip() in ('', '@')):
        owner = dns.name.from_text(zone)
        name = '@'
    else:
        try:
            owner = dns.name.from_text(str(name), origin=dns.name.from_text(zone))
        except dns.exception.DNSException as exc:
            _fail('%s.name: %r is not a valid owner name (%s).' % (where, name, exc))
        if not owner.is_subdomain(dns.name.from_text(zone)):
            _fail('%s.name: %r is outside the zone %s.' % (where, name, zone))
    values = record.get('value', record.get('values'))
    if isinstance(values, (list, tuple)):
        values = list(values)
    elif values is None:
        _fail('%s.value is missing.' % where)
    else:
        values = [values]
    if not values:
        _fail('%s.value is empty.' % where)
    texts = []
    for value in values:
        text = str(value)
        try:
            dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=dns.name.from_text(zone))
        except (dns.exception.DNSException, ValueError) as exc:
            _fail('%s.value: %r is not valid %s data (%s).' % (where, text, rtype, exc))
        texts.append(text)
    ttl = record.get('ttl')
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
            _fail('%s.ttl: %r is not a TTL (0-2147483647 seconds).' % (where, ttl))
    return {'name': name if name == '@' else str(name), 'type': rtype, 'value': texts, 'ttl': ttl}


def _check_coexistence(records, zone, where):
    """Refuse record sets a server would refuse to load: a CNAME next to other data or at the apex, two CNAMEs."""
    origin = dns.name.from_text(zone)
    owners = {}
    for index, record in enumerate(records):
        owner = origin if record['name'] == '@' else dns.name.from_text(record['name'], origin=origin)
        owners.setdefault(owner, []).append((index, record))
    for owner, entries in owners.items():
        cnames = [(i, r) for i, r in entries if r['type'] == 'CNAME']
        if not cnames:
            continue
        shown = owner.relativize(origin).to_text() if owner != origin else '@'
        index = cnames[0][0]
        if owner == origin:
            _fail('%s.records[%d]: a CNAME cannot be at the zone apex (%s), which holds the SOA and NS records. Use '
                  'A/AAAA records there instead.' % (where, index, zone))
        values = [v for i, r in cnames for v in r['value']]
        if len(values) > 1:
            _fail('%s.records[%d]: %s has %d CNAME values; a name can have only one CNAME.'
                  % (where, index, shown, len(values)))
        others = [(i, r) for i, r in entries if r['type'] != 'CNAME']
        if others:
            other_index, other = others[0]
            _fail('%s.records[%d]: %s has a CNAME and also %s data (records[%d]); a CNAME cannot coexist with other '
                  'records at the same name (RFC 1034 3.6.2), so the server would refuse the zone. Keep one of them.'
                  % (where, index, shown, other['type'], other_index))


def _host_facts(host, hostvars, where):
    """Server type and addresses of one inventory host."""
    if host not in hostvars:
        _fail('%s: host %r is not in the inventory. Add it, or correct the name (inventory hostnames: %s).'
              % (where, host, ', '.join(sorted(hostvars)[:20])))
    hv = hostvars[host] or {}
    server = hv.get('zonesync_server')
    if server is None:
        _fail('zonesync_server is not set for host %r (used by %s). Set it to "bind" or "powerdns" in its host or group vars.'
              % (host, where))
    if server not in SERVER_TYPES:
        _fail('zonesync_server on host %r is %r; it must be "bind" or "powerdns".' % (host, server))
    listen = [check_address(a, 'zonesync_listen on host %r' % host) for a in _as_list(hv.get('zonesync_listen'), 'zonesync_listen on host %r' % host)]
    source = hv.get('zonesync_transfer_source')
    if source is not None:
        source = check_address(source, 'zonesync_transfer_source on host %r' % host)
    fallback = None
    ansible_host = hv.get('ansible_host')
    if isinstance(ansible_host, str):
        try:
            fallback = str(netaddr.IPAddress(ansible_host))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            fallback = None
    if fallback is None:
        default = hv.get('ansible_default_ipv4') or {}
        fallback = default.get('address') if isinstance(default, dict) else None
    address = listen[0] if listen else (source or fallback)
    if address is None:
        _fail('Cannot tell which address host %r serves DNS on (used by %s). Set zonesync_listen (a list of IP addresses) '
              'for it, or gather its facts so that ansible_default_ipv4 is known.' % (host, where))
    return {'host': host, 'server': server, 'listen': listen or [address], 'address': address,
            'transfer_source': source or address}


def catalog_label(zone):
    """The stable unique label of a member zone in a catalog (RFC 9432 4.1): base32hex of the SHA-1 of its name.

    The same zone gets the same label in every catalog and on every run, so that a consumer never sees a member
    "relabelled", which both BIND and PowerDNS treat as a reset (delete, create, transfer again).
    """
    wire = dns.name.from_text(zone).canonicalize().to_wire()
    return base64.b32hexencode(hashlib.sha1(wire).digest()).decode('ascii').lower()


def _check_label(value, where):
    if not isinstance(value, str) or not re.match(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', value.strip().lower()):
        _fail('%s: %r is not a catalog member label (one DNS label: letters, digits and "-").' % (where, value))
    return value.strip().lower()


_POLICY_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')


def _dnssec_policy(value, where, primary, server):
    """The zone's dnssec-policy name (signed by its BIND primary as it loads the zone), or None."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not _POLICY_NAME.match(value) or value == 'none':
        _fail('%s.dnssec_policy: %r is not a dnssec-policy name. Use "default" (BIND\'s built-in policy), "insecure" '
              '(to unsign a zone step by step), or the name of a policy in bind_dnssec_policies; leave it out for an '
              'unsigned zone.' % (where, value))
    if server != 'bind':
        _fail('%s.dnssec_policy: the primary %s runs %s, and this version signs zones on BIND primaries only (BIND '
              'dnssec-policy with inline signing). Sign the zone on PowerDNS yourself ("pdnsutil secure-zone"), and '
              'leave dnssec_policy out.' % (where, primary, server))
    return value


def _check_chain(entries, primary, zone_name, where_key='where'):
    """Every entry's upstream is the primary or another entry, and the chain reaches the primary without a loop."""
    members = set([primary] + [e['host'] for e in entries])
    for sec in entries:
        if sec['upstream'] not in members:
            _fail('%s.upstream: %r is neither the primary nor a secondary of zone %s.' % (sec[where_key], sec['upstream'], zone_name))
        seen_chain = [sec['host']]
        up = sec['upstream']
        while up != primary:
            if up in seen_chain:
                _fail('%s.upstream: the transfer chain of zone %s loops (%s).' % (sec[where_key], zone_name, ' -> '.join(seen_chain + [up])))
            seen_chain.append(up)
            up = [s for s in entries if s['host'] == up][0]['upstream']


def _host_entry(entry, where, taken, owner, role, optional, hosts, hostvars):
    """One secondary or consumer: a host name or {host, ...}, not taken yet in ``owner``, known to the inventory
    (its facts are added to ``hosts``). Returns the entry as a dictionary."""
    if isinstance(entry, str):
        entry = {'host': entry}
    if not isinstance(entry, dict) or not entry.get('host'):
        _fail('%s must be a host name or a dictionary with `host` (and optionally %s).' % (where, optional))
    host = entry['host']
    if host in taken:
        _fail('%s: host %r appears twice in %s (as primary or %s).' % (where, host, owner, role))
    if host not in hosts:
        hosts[host] = _host_facts(host, hostvars, where)
    return entry


def _check_catalogs(catalogs, keys, hostvars, hosts, zone_names):
    """zonesync_catalogs: name, primary (the producer), key (TSIG, required), consumers (hosts, tiers like
    secondaries) and default (zones of that primary that name no secondaries join it)."""
    result = {}
    for index, catalog in enumerate(_as_list(catalogs, 'zonesync_catalogs')):
        where = 'zonesync_catalogs[%d]' % index
        if not isinstance(catalog, dict):
            _fail('%s must be a dictionary (name, primary, key, consumers).' % where)
        name = _name(catalog.get('name'), where + '.name')
        where = '%s (%s)' % (where, name)
        if name in result:
            _fail('%s: catalog %s is listed twice.' % (where, name))
        if name in zone_names:
            _fail('%s: %s is also a zone in zonesync_zones[%d]. A catalog is a zone of its own that the collection '
                  'generates; give it a name no other zone uses, such as "catalog.zonesync.invalid".'
                  % (where, name, zone_names[name]))
        primary = catalog.get('primary')
        if not primary:
            _fail('%s has no primary. Set `primary` to the inventory hostname that serves the member zones and '
                  'produces the catalog.' % where)
        if primary not in hosts:
            hosts[primary] = _host_facts(primary, hostvars, where + '.primary')
        if hosts[primary]['server'] != 'bind':
            _fail('%s.primary: %s runs %s; this version produces catalogs on BIND primaries only. List the zones of '
                  'this primary with `secondaries` instead (explicit mode), or make a BIND host the primary.'
                  % (where, primary, hosts[primary]['server']))
        key = catalog.get('key')
        if not key:
            _fail('%s.key is missing. A catalog lists every member zone, so it is transferred only with TSIG: set '
                  '`key` to one of zonesync_keys (defined: %s).' % (where, ', '.join(sorted(keys)) or 'none'))
        key = str(key).rstrip('.').lower()
        if key not in keys:
            _fail('%s.key: key %r is used but not defined in zonesync_keys (defined: %s).'
                  % (where, catalog.get('key'), ', '.join(sorted(keys)) or 'none'))
        consumers = []
        seen_hosts = set([primary])
        for cindex, entry in enumerate(_as_list(catalog.get('consumers'), where + '.consumers')):
            cwhere = '%s.consumers[%d]' % (where, cindex)
            entry = _host_entry(entry, cwhere, seen_hosts, 'catalog %s' % name, 'consumer', '`upstream`', hosts, hostvars)
            host = entry['host']
            seen_hosts.add(host)
            consumers.append({'host': host, 'upstream': entry.get('upstream') or primary, 'key': key, 'where': cwhere})
        if not consumers:
            _fail('%s.consumers is empty: a catalog needs at least one secondary that consumes it.' % where)
        _check_chain(consumers, primary, name)
        for sec in consumers:
            upstream = sec['upstream']
            if upstream != primary and hosts[upstream]['server'] != 'bind':
                _fail('%s.upstream: %s runs %s, and a PowerDNS 4.7 consumer cannot pass catalog members on to a '
                      'second tier (they get no transfer ACL there). Use a BIND host as the tier-1 upstream.'
                      % (sec['where'], upstream, hosts[upstream]['server']))
        default = catalog.get('default', True)
        if not isinstance(default, bool):
            _fail('%s.default must be true or false.' % where)
        result[name] = {'name': name, 'primary': primary, 'key': key, 'consumers': consumers, 'default': default,
                        'where': where}
    by_primary = {}
    for catalog in result.values():
        if catalog['default']:
            if catalog['primary'] in by_primary:
                _fail('%s and %s are both the default catalog of %s. Set `default: false` on one of them and name it '
                      'in its zones with `catalog`.' % (by_primary[catalog['primary']]['where'], catalog['where'],
                                                        catalog['primary']))
            by_primary[catalog['primary']] = catalog
    return result, by_primary


def _catalog_zone(catalog, members, labels):
    """The catalog itself as a zone of the topology: generated records, transferred with its key only."""
    records = [{'name': 'version', 'type': 'TXT', 'value': ['"2"'], 'ttl': None}]
    for member in members:
        records.append({'name': '%s.zones' % labels[member], 'type': 'PTR', 'value': [member + '.'], 'ttl': None})
    return {
        'name': catalog['name'], 'primary': catalog['primary'],
        'secondaries': [dict(c) for c in catalog['consumers']], 'key': catalog['key'],
        'records': records, 'file': None, 'ns': ['invalid'],
        # RFC 9432 4.1: the SOA and NS are never used for resolution; a short negative TTL.
        'soa': {'refresh': 3600, 'retry': 600, 'expire': 1209600, 'minimum': 0, 'mname': 'invalid', 'rname': 'invalid'},
        'ttl': 0, 'notify': [], 'allow_query': [], 'accept_keys': [], 'catalog': None,
        'is_catalog': True, 'members': len(members),
    }


def check_topology(zones, keys, hostvars, catalogs=None):
    """Validate the whole description; return (zones, keys, hosts) normalised.

    Zones that are members of a catalog (``catalog``, or the default catalog of their primary when they name no
    ``secondaries``) take the catalog's consumers as their secondaries and its key; each catalog is added as a
    zone of its own (``is_catalog``) with its generated records.
    """
    if not HAS_DNSPYTHON or not HAS_NETADDR:
        _fail('The topology check needs dnspython and netaddr on the controller: pip install -r requirements.txt')
    keys = _check_keys(keys)
    hosts = {}
    result = []
    seen = {}
    zone_list = _as_list(zones, 'zonesync_zones')
    zone_names = {}
    for index, zone in enumerate(zone_list):
        if isinstance(zone, dict) and isinstance(zone.get('name'), str):
            try:
                zone_names.setdefault(dns.name.from_text(zone['name'].strip()).to_text(omit_final_dot=True).lower(), index)
            except dns.exception.DNSException:
                pass
    catalogs, default_catalogs = _check_catalogs(catalogs, keys, hostvars, hosts, zone_names)
    members = dict((name, []) for name in catalogs)
    labels = dict((name, {}) for name in catalogs)
    label_where = dict((name, {}) for name in catalogs)
    for index, zone in enumerate(zone_list):
        where = 'zonesync_zones[%d]' % index
        if not isinstance(zone, dict):
            _fail('%s must be a dictionary (name, primary, secondaries, ...).' % where)
        name = _name(zone.get('name'), where + '.name')
        where = '%s (%s)' % (where, name)
        if name in seen:
            _fail('%s: zone %s is listed twice (also zonesync_zones[%d]).' % (where, name, seen[name]))
        seen[name] = index
        primary = zone.get('primary')
        if not primary:
            _fail('%s has no primary. Set `primary` to the inventory hostname of the server that holds the master copy.' % where)
        if primary not in hosts:
            hosts[primary] = _host_facts(primary, hostvars, where + '.primary')
        zone_key = zone.get('key')
        if zone_key is not None:
            zone_key = str(zone_key).rstrip('.').lower()
            if zone_key not in keys:
                _fail('%s.key: key %r is used but not defined in zonesync_keys (defined: %s).'
                      % (where, zone.get('key'), ', '.join(sorted(keys)) or 'none'))
        accept_keys = []
        for kindex, extra in enumerate(_as_list(zone.get('accept_keys'), where + '.accept_keys')):
            extra = str(extra).rstrip('.').lower()
            if extra not in keys:
                _fail('%s.accept_keys[%d]: key %r is used but not defined in zonesync_keys (defined: %s).'
                      % (where, kindex, extra, ', '.join(sorted(keys)) or 'none'))
            accept_keys.append(extra)
        catalog = _zone_catalog(zone, where, primary, catalogs, default_catalogs, zone_key)
        if catalog is not None:
            zone_key = catalog['key']
        secondaries = []
        in_zone = {primary: None}
        label = None
        if catalog is not None:
            secondaries = [dict(c, where='%s (catalog %s)' % (c['where'], catalog['name'])) for c in catalog['consumers']]
            label = catalog_label(name)
            if zone.get('catalog_label') is not None:
                label = _check_label(zone['catalog_label'], where + '.catalog_label')
            if label in labels[catalog['name']]:
                _fail('%s.catalog_label: label %r is already the label of %s (%s) in catalog %s; two PTR records under one '
                      'label make BIND and PowerDNS ignore the whole catalog. Give each member its own label.'
                      % (where, label, labels[catalog['name']][label], label_where[catalog['name']][label], catalog['name']))
            labels[catalog['name']][label] = name
            label_where[catalog['name']][label] = where
            members[catalog['name']].append(name)
        for sindex, entry in enumerate(_as_list(zone.get('secondaries'), where + '.secondaries')):
            swhere = '%s.secondaries[%d]' % (where, sindex)
            entry = _host_entry(entry, swhere, in_zone, 'zone %s' % name, 'secondary', '`upstream`, `key`', hosts, hostvars)
            host = entry['host']
            key = entry.get('key', zone_key)
            if key is not None:
                key = str(key).rstrip('.').lower()
                if key not in keys:
                    _fail('%s.key: key %r is used but not defined in zonesync_keys (defined: %s).'
                          % (swhere, entry.get('key'), ', '.join(sorted(keys)) or 'none'))
            in_zone[host] = sindex
            secondaries.append({'host': host, 'upstream': entry.get('upstream') or primary, 'key': key, 'where': swhere})
        _check_chain(secondaries, primary, name)
        records = []
        if zone.get('records') is not None and zone.get('file') is not None:
            _fail('%s: set either `records` or `file`, not both.' % where)
        for rindex, record in enumerate(_as_list(zone.get('records'), where + '.records')):
            records.append(_check_record(record, name, '%s.records[%d]' % (where, rindex)))
        _check_coexistence(records, name, where)
        ns = [_name(n, '%s.ns[%d]' % (where, i)) for i, n in enumerate(_as_list(zone.get('ns'), where + '.ns'))]
        soa = dict(SOA_DEFAULTS)
        user_soa = zone.get('soa') or {}
        if not isinstance(user_soa, dict):
            _fail('%s.soa must be a dictionary (mname, rname, refresh, retry, expire, minimum).' % where)
        for field in ('refresh', 'retry', 'expire', 'minimum'):
            if user_soa.get(field) is not None:
                value = user_soa[field]
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2147483647:
                    _fail('%s.soa.%s: %r is not a number of seconds.' % (where, field, value))
                soa[field] = value
        if soa['expire'] <= soa['refresh']:
            _fail('%s.soa: expire (%d) must be larger than refresh (%d), or secondaries expire the zone between refreshes.'
                  % (where, soa['expire'], soa['refresh']))
        soa['mname'] = _name(user_soa.get('mname') or (ns[0] if ns else 'ns1.' + name), where + '.soa.mname')
        soa['rname'] = _name(user_soa.get('rname') or 'hostmaster.' + name, where + '.soa.rname')
        ttl = zone.get('ttl', 3600)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
            _fail('%s.ttl: %r is not a TTL in seconds.' % (where, ttl))
        notify = [check_address(a, '%s.notify[%d]' % (where, i)) for i, a in enumerate(_as_list(zone.get('notify'), where + '.notify'))]
        allow_query = [check_acl_entry(a, '%s.allow_query[%d]' % (where, i))
                       for i, a in enumerate(_as_list(zone.get('allow_query', ['any']), where + '.allow_query'))]
        if zone.get('file') is None and not records and not ns:
            _fail('%s has neither `records` nor `file` nor `ns`: a zone needs at least its NS records.' % where)
        dnssec_policy = _dnssec_policy(zone.get('dnssec_policy'), where, primary, hosts[primary]['server'])
        result.append({
            'name': name, 'primary': primary, 'secondaries': secondaries, 'key': zone_key,
            'records': records, 'file': zone.get('file'), 'ns': ns, 'soa': soa, 'ttl': ttl,
            'notify': notify, 'allow_query': allow_query, 'accept_keys': accept_keys,
            'catalog': catalog['name'] if catalog else None,
            'catalog_label': label if catalog else None,
            'dnssec_policy': dnssec_policy,
        })
    for name, catalog in catalogs.items():
        result.append(_catalog_zone(catalog, members[name], dict((v, k) for k, v in labels[name].items())))
    return result, keys, hosts


def _zone_catalog(zone, where, primary, catalogs, default_catalogs, zone_key):
    """The catalog a zone is a member of, or None (explicit mode: the zone lists its secondaries)."""
    name = zone.get('catalog')
    if name is None:
        if zone.get('secondaries') is not None:
            return None
        catalog = default_catalogs.get(primary)
        if catalog is None:
            return None
        catalog_name = catalog['name']
    elif name is False or name == '':
        return None
    else:
        catalog_name = _name(name, where + '.catalog')
        catalog = catalogs.get(catalog_name)
    if catalog is None:
        _fail('%s.catalog: %r is not in zonesync_catalogs (defined: %s).'
              % (where, name, ', '.join(sorted(catalogs)) or 'none'))
    if zone.get('secondaries'):
        _fail('%s: a member of catalog %s takes its secondaries from the catalog\'s consumers; remove `secondaries`, '
              'or remove `catalog` to list them here (explicit mode).' % (where, catalog_name))
    if primary != catalog['primary']:
        _fail('%s.catalog: catalog %s is produced by %s, but this zone\'s primary is %s: a catalog may only list zones '
              'its own primary serves. Put the zone in a catalog of %s, or list its secondaries.'
              % (where, catalog_name, catalog['primary'], primary, primary))
    if zone_key is not None and zone_key != catalog['key']:
        _fail('%s.key: members of catalog %s are transferred with its key %s, not %s. Remove `key` from the zone, or '
              'change the catalog\'s key.' % (where, catalog_name, catalog['key'], zone_key))
    return catalog


def _peer(hosts, host, key):
    facts = hosts[host]
    return {'host': host, 'address': facts['address'], 'transfer_source': facts['transfer_source'],
            'server': facts['server'], 'key': key}


def _fleet_peer(hosts, host, key, keys, hostvars):
    peer = _peer(hosts, host, key)
    peer['check_key'] = check_key_name(keys, hostvars, host)
    return peer


def check_key_name(keys, hostvars, host):
    """The check key of ``host`` (zonesync_check_key, default zonesync-check) when zonesync_keys defines it.

    None when it is switched off (an empty zonesync_check_key) or not defined yet: the tsig role adds it to
    zonesync_keys, generating its secret once, so after site.yml every server accepts it.
    """
    hv = hostvars.get(host) or {}
    name = hv.get('zonesync_check_key', CHECK_KEY_DEFAULT)
    if not name:
        return None
    name = str(name).rstrip('.').lower()
    return name if name in keys else None


def _transfer_acl(downstreams, own_address, check_key):
    """Who may transfer a zone from this host: addresses that must sign, their keys, addresses that need not.

    BIND can require "address AND key" only for one set of addresses and one set of keys per list
    (!{ !{ addresses; }; any; }; key ...;), so every keyed peer's address goes with every accepted key.
    The check key adds the host's own address.
    """
    keyed = set(d['transfer_source'] for d in downstreams if d['key'])
    keys = set(k for d in downstreams if d['key'] for k in d['accepted_keys'])
    if check_key and own_address:
        keyed.add(own_address)
        keys.add(check_key)
    unkeyed = sorted(set(d['transfer_source'] for d in downstreams if not d['key']) - keyed)
    return {'keyed_sources': sorted(keyed), 'keys': sorted(keys), 'unkeyed_sources': unkeyed}


# Zone fields that only the primary's plan carries (its zone file is written from them).
PRIMARY_ONLY = ('records', 'file', 'ns', 'soa', 'ttl', 'secondaries')


def host_plan(zones, keys, hostvars, host, catalogs=None):
    """What ``host`` must serve: its zones as primary or secondary, their peers, and the keys it needs.

    Each zone entry carries ``role`` (primary or secondary), ``upstream`` (for a
    secondary: the host, address and key it pulls from) and ``downstreams``
    (the hosts that pull from this one: allow-transfer and also-notify).
    """
    return _host_plan(check_topology(zones, keys, hostvars, catalogs), hostvars, host)


def _host_plan(checked, hostvars, host):
    """host_plan on a topology check_topology has already validated."""
    zones, keys, hosts = checked
    if host not in hostvars:
        _fail('host %r is not in the inventory.' % host)
    own = hosts.get(host)
    if own is None:
        hv = hostvars[host] or {}
        if hv.get('zonesync_server') is not None and hv.get('zonesync_server') not in SERVER_TYPES:
            _fail('zonesync_server on host %r is %r; it must be "bind" or "powerdns".' % (host, hv.get('zonesync_server')))
    plan_zones = []
    needed_keys = set()
    check_key = check_key_name(keys, hostvars, host)
    for zone in zones:
        downstreams = [_peer(hosts, s['host'], s['key']) for s in zone['secondaries'] if s['upstream'] == host]
        for d in downstreams:
            # During a key rotation, upstreams accept the zone's key and accept_keys.
            d['accepted_keys'] = sorted(set(([d['key']] if d['key'] else []) + zone['accept_keys']))
            needed_keys.update(d['accepted_keys'])
        entry = None
        if zone['primary'] == host:
            # Every secondary of the zone, any tier: a new primary serial must never be behind theirs.
            entry = dict(zone, role='primary', upstream=None,
                         secondary_addresses=[hosts[s['host']]['address'] for s in zone['secondaries']])
        else:
            for sec in zone['secondaries']:
                if sec['host'] == host:
                    # A secondary takes its records from upstream: the zone's content stays out of its plan, which
                    # at thousands of zones is most of what Ansible would carry around.
                    entry = dict(((k, v) for k, v in zone.items() if k not in PRIMARY_ONLY), role='secondary',
                                 upstream=_peer(hosts, sec['upstream'], sec['key']))
                    if sec['key']:
                        needed_keys.add(sec['key'])
        if entry is None:
            continue
        entry['downstreams'] = downstreams
        entry['transfer_acl'] = _transfer_acl(downstreams, own['address'], check_key)
        entry['also_notify'] = sorted(set([d['address'] for d in downstreams] + zone['notify']))
        if entry['role'] == 'primary':
            entry['secondaries'] = [s['host'] for s in zone['secondaries']]
        plan_zones.append(entry)
    if plan_zones and check_key:
        needed_keys.add(check_key)
    # The catalogs this host consumes: its members are not configured one by one, they come from the catalog,
    # and take the catalog's upstream, key, transfer ACL and notify targets (BIND: from options).
    consumed = []
    for entry in plan_zones:
        if entry.get('is_catalog') and entry['role'] == 'secondary':
            consumed.append({'name': entry['name'], 'upstream': entry['upstream'], 'members': entry['members'],
                             'producer': entry['primary'], 'producer_address': hosts[entry['primary']]['address'],
                             'transfer_acl': entry['transfer_acl'], 'also_notify': entry['also_notify']})
    # BIND gives catalog members the options' allow-transfer and also-notify: one list for every catalog consumed.
    members_acl = {'keyed_sources': [], 'keys': [], 'unkeyed_sources': []}
    for entry in consumed:
        for field in members_acl:
            members_acl[field] = sorted(set(members_acl[field]) | set(entry['transfer_acl'][field]))
    members_acl['unkeyed_sources'] = sorted(set(members_acl['unkeyed_sources']) - set(members_acl['keyed_sources']))
    return {
        'derived_by': 'dnsops.zonesync.host_plan',
        'host': host,
        'check_key': check_key if plan_zones else None,
        'server': own['server'] if own else (hostvars[host] or {}).get('zonesync_server'),
        'listen': own['listen'] if own else None,
        'address': own['address'] if own else None,
        'transfer_source': own['transfer_source'] if own else None,
        'zones': plan_zones,
        'keys': [keys[k] for k in sorted(needed_keys)],
        'catalogs': consumed,
        'catalog_members_acl': members_acl,
        'catalog_members_notify': sorted(set(a for entry in consumed for a in entry['also_notify'])),
        'produces_catalogs': sorted(z['name'] for z in plan_zones if z.get('is_catalog') and z['role'] == 'primary'),
        'is_primary': any(z['role'] == 'primary' for z in plan_zones),
        'is_secondary': any(z['role'] == 'secondary' for z in plan_zones),
        'serves_transfers': any(z['downstreams'] for z in plan_zones),
    }


def fleet_plan(zones, keys, hostvars, catalogs=None):
    """Every (zone, server) pair of the fleet, for the convergence check and the reports."""
    return _fleet_plan(check_topology(zones, keys, hostvars, catalogs), hostvars)


def compile_topology(zones, keys, hostvars, hosts, catalogs=None):
    """The topology validated once: the fleet plan, and the host plan of each of ``hosts``.

    The same plans as fleet_plan and host_plan, with the checks run once instead of once per host and role.
    Host plans list their keys by name and algorithm only: no secret is in the result.
    """
    checked = check_topology(zones, keys, hostvars, catalogs)
    plans = {}
    for host in hosts:
        plan = _host_plan(checked, hostvars, host)
        plan['keys'] = [{'name': k['name'], 'algorithm': k['algorithm']} for k in plan['keys']]
        plans[host] = plan
    return {'derived_by': 'dnsops.zonesync.topology', 'fleet': _fleet_plan(checked, hostvars), 'hosts': plans}


def host_summary(plan):
    """The small part of a host plan that the roles' tasks and templates read directly.

    Everything but the zone list, plus what the roles used to work out from it in Jinja: counts, the peers the
    firewall opens for, the transfer keys, the catalogs this host produces. At fleet scale the zone list is
    handed around as one JSON string (see plan_facts) and read by the filters and modules in Python.
    """
    zones = plan['zones']
    primaries = [z for z in zones if z['role'] == 'primary']
    secondaries = [z for z in zones if z['role'] == 'secondary']
    members = [z for z in secondaries if z.get('catalog')]
    summary = dict((k, v) for k, v in plan.items() if k != 'zones')
    summary['catalogs'] = [dict((k, v) for k, v in c.items() if k != 'members') for c in plan['catalogs']]
    summary.update(
        zone_count=len(zones),
        primary_count=len(primaries),
        secondary_count=len(secondaries),
        member_count=len(members),
        # Every secondary of this host's primary zones, any tier (the serial floors are read from them).
        primary_secondary_addresses=sorted(set(a for z in primaries for a in z['secondary_addresses'])),
        # Primary zones the server signs as it loads them: their served serial is ahead of the file's by design,
        # so the secondaries' serials are no floor for the file.
        signed_zones=[z['name'] for z in primaries if z.get('dnssec_policy')],
        # Primary zones given as a file on the controller: the roles read those files there.
        primary_files=[{'name': z['name'], 'file': z['file']} for z in primaries if z.get('file') is not None],
        # The catalogs this host produces, with who consumes them (their serial floors are read with their key).
        produced_catalogs=[{'name': z['name'], 'key': z['key'], 'secondary_addresses': z['secondary_addresses']}
                           for z in primaries if z.get('is_catalog')],
        # Hosts that pull from this one, by the address they transfer from (firewall, PowerDNS allow-axfr-ips).
        downstream_sources=sorted(set(d['transfer_source'] for z in zones for d in z['downstreams'])),
        # Hosts this one pulls from: their NOTIFY comes from their transfer source (firewall).
        upstream_sources=sorted(set(z['upstream']['transfer_source'] for z in secondaries)),
        # Every key a transfer from this host may be signed with (PowerDNS: whether AXFR is on at all).
        transfer_keys=sorted(set(k for z in zones for k in z['transfer_acl']['keys'])),
    )
    return summary


def plan_facts(compiled):
    """What the topology action leaves on localhost: small summaries, and the large plans as JSON strings.

    Ansible walks and tags every node of a variable each time a task copies it (set_fact of a 1 MB dictionary
    costs seconds); a string is one node. The filters and modules take either form.
    """
    plans = compiled['hosts']
    fleet = compiled['fleet']
    return {
        'derived_by': compiled['derived_by'],
        'hosts': dict((host, host_summary(plan)) for host, plan in plans.items()),
        'plans': dict((host, json.dumps(plan, separators=(',', ':'))) for host, plan in plans.items()),
        'fleet': json.dumps(fleet, separators=(',', ':')),
        'fleet_zones': len(fleet),
        'fleet_pairs': sum(len(z['servers']) for z in fleet),
        'fleet_hosts': sorted(set(s['host'] for z in fleet for s in z['servers'])),
    }


def loads(value, what='plan'):
    """A plan or fleet plan given either as data or as the JSON string the topology action stores."""
    if isinstance(value, (bytes, str)):
        try:
            return json.loads(value)
        except ValueError as exc:
            _fail('the %s is neither data nor the JSON the topology action stores: %s' % (what, exc))
    return value


def _fleet_plan(checked, hostvars):
    zones, keys, hosts = checked
    result = []
    for zone in zones:
        servers = [_fleet_peer(hosts, zone['primary'], None, keys, hostvars)]
        servers[0]['role'] = 'primary'
        servers[0]['upstream'] = None
        for sec in zone['secondaries']:
            peer = _fleet_peer(hosts, sec['host'], sec['key'], keys, hostvars)
            peer['role'] = 'secondary'
            peer['upstream'] = sec['upstream']
            peer['upstream_address'] = hosts[sec['upstream']]['address']
            servers.append(peer)
        result.append({'zone': zone['name'], 'primary': zone['primary'], 'key': zone['key'], 'servers': servers,
                       'catalog': zone.get('catalog'), 'is_catalog': bool(zone.get('is_catalog')),
                       # Zones with the same servers are checked in one soa_serial call.
                       # A catalog answers signed queries only (its key): checked apart, with that key.
                       'query_key': zone['key'] if zone.get('is_catalog') else None,
                       'servers_key': ' '.join(s['address'] for s in servers) + (
                           ' tsig:%s' % zone['key'] if zone.get('is_catalog') else '')})
    return result
