# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""zone_digests' retry policy: what it tries again after the parallel pass, and what it reports as it came."""

from __future__ import annotations

import dns.name

from ansible_collections.dnsops.zonesync.plugins.module_utils import _content


def _run(monkeypatch, zones, first_status):
    """zone_digests over ``zones`` where the first try of each zone gives first_status(name), every later one ok."""
    tries = {}

    def one(entry, *args):
        name = entry['zone'].to_text(omit_final_dot=True)
        tries[name] = tries.get(name, 0) + 1
        status = first_status(name) if tries[name] == 1 else 'ok'
        return {'zone': name, 'status': status, 'serial': 1, 'digest': None, 'records': None, 'detail': None}

    monkeypatch.setattr(_content, '_one', one)
    monkeypatch.setattr(_content, 'RETRY_PAUSE', 0)
    entries = [{'zone': dns.name.from_text(z), 'file': None, 'collect': False} for z in zones]
    return _content.zone_digests(entries, '192.0.2.1'), tries


def test_a_few_timeouts_among_many_zones_are_tried_again(monkeypatch):
    zones = ['z%04d.test' % i for i in range(1000)]
    results, tries = _run(monkeypatch, zones, lambda z: 'timeout' if z in ('z0007.test', 'z0500.test') else 'ok')
    assert all(r['status'] == 'ok' for r in results)
    assert tries['z0007.test'] == tries['z0500.test'] == 2 and tries['z0001.test'] == 1


def test_a_server_that_times_out_on_many_zones_is_reported_at_once(monkeypatch):
    zones = ['z%04d.test' % i for i in range(1000)]
    results, tries = _run(monkeypatch, zones, lambda z: 'timeout' if z < 'z0011.test' else 'ok')
    assert [r['status'] for r in results[:11]] == ['timeout'] * 11 and max(tries.values()) == 1
    small, tries = _run(monkeypatch, ['a.test', 'b.test'], lambda z: 'timeout' if z == 'a.test' else 'ok')
    assert small[0]['status'] == 'timeout' and tries['a.test'] == 1   # a small fleet: a timeout is reported


def test_servfail_is_tried_again_whatever_the_count(monkeypatch):
    zones = ['z%04d.test' % i for i in range(50)]
    results, tries = _run(monkeypatch, zones, lambda z: 'servfail')
    assert all(r['status'] == 'ok' and r['attempts'] == 2 for r in results)
