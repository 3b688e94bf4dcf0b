# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn soa_serial and zone_transfer_check results into the fleet's state and reports.

Documented next to this file, one YAML file per filter (lagging_servers.yml, transfer_targets.yml,
path_groups.yml, soa_groups.yml, content_zones.yml, serial_floors.yml, records_to_list.yml, fleet_differences.yml,
exposure_targets.yml, fleet_report.yml, fleet_summary.yml, fleet_table.yml, fleet_markdown.yml, fleet_html.yml and
fleet_problems_text.yml).
"""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet, _fleet_text, _topology
from ansible_collections.dnsops.zonesync.plugins.module_utils._common import ZonesyncError


def _data(value, what):
    """A plan or fleet plan given as data or as the JSON string the topology action stores."""
    try:
        return _topology.loads(value, what)
    except ZonesyncError as exc:
        raise AnsibleFilterError('dnsops.zonesync: %s' % exc)


def lagging_servers(fleet, soa_results):
    return _fleet.lagging(_data(fleet, 'fleet plan'), soa_results)


def transfer_targets(fleet, soa_results, all_zones=True):
    return _fleet.transfer_targets(_data(fleet, 'fleet plan'), soa_results, all_zones)


def path_groups(plan, zones=None):
    return _fleet.path_groups(_data(plan, 'host plan'), zones)


def soa_groups(fleet):
    return _fleet.soa_groups(_data(fleet, 'fleet plan'))


def serial_floors(soa_results, skip=None):
    return _fleet.serial_floors(soa_results, skip)


def _report(value):
    """A report given as data or as the JSON string fleet_report(as_json=true) returns."""
    return _data(value, 'report')


def _same_form(given, report):
    """The report in the form it was given: a JSON string stays a JSON string."""
    return json.dumps(report, separators=(',', ':')) if isinstance(given, (str, bytes)) else report


def records_to_list(report, max_zones=20):
    return _fleet.records_to_list(_report(report), max_zones)


def fleet_differences(report, collected, limit=20):
    return _same_form(report, _fleet.add_differences(_report(report), collected, limit))


def fleet_summary(report):
    return dict(_report(report)['summary'])


def content_zones(plan, zone_dirs, only=None):
    return _fleet.content_zones(_data(plan, 'host plan'), zone_dirs, only)


def exposure_targets(fleet, all_zones=False):
    return _fleet.exposure_targets(_data(fleet, 'fleet plan'), all_zones)


def fleet_report(fleet, soa_results, transfer_results=None, exposure_results=None, generated_at=None, content=None,
                 paths=None, state=None, as_json=False, rrsig_warn=_fleet.RRSIG_WARN):
    try:
        rrsig_warn = int(float(rrsig_warn))
    except (TypeError, ValueError):
        raise AnsibleFilterError('fleet_report: rrsig_warn must be a number of seconds, got %r.' % (rrsig_warn,))
    if rrsig_warn < 0:
        raise AnsibleFilterError('fleet_report: rrsig_warn must be 0 or more seconds, got %d.' % rrsig_warn)
    report = _fleet.report(_data(fleet, 'fleet plan'), soa_results, transfer_results, exposure_results, generated_at,
                           content, paths, state, rrsig_warn=rrsig_warn)
    # At 10,000 zones the report has 40,000 rows: as one JSON string, set_fact copies it for free.
    return json.dumps(report, separators=(',', ':')) if as_json else report


def fleet_table(rows, show_all=False):
    """``rows``: the report's rows, or the whole report (data or JSON string)."""
    if isinstance(rows, (str, bytes)):
        rows = _report(rows)
    if isinstance(rows, dict):
        rows = rows['rows']
    return _fleet_text.table(rows, show_all=show_all)


def fleet_problems_text(report):
    return _fleet_text.problems_text(_report(report))


def fleet_markdown(report, show_all=False):
    return _fleet_text.markdown(_report(report), show_all=show_all)


def fleet_html(report, show_all=False):
    return _fleet_text.html_report(_report(report), show_all=show_all)


class FilterModule(object):
    def filters(self):
        return {
            'lagging_servers': lagging_servers,
            'transfer_targets': transfer_targets,
            'path_groups': path_groups,
            'soa_groups': soa_groups,
            'content_zones': content_zones,
            'serial_floors': serial_floors,
            'records_to_list': records_to_list,
            'fleet_differences': fleet_differences,
            'exposure_targets': exposure_targets,
            'fleet_report': fleet_report,
            'fleet_summary': fleet_summary,
            'fleet_table': fleet_table,
            'fleet_markdown': fleet_markdown,
            'fleet_problems_text': fleet_problems_text,
            'fleet_html': fleet_html,
        }
