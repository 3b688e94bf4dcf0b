# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn soa_serial and zone_transfer_check results into the fleet's state and reports.

Documented in lagging_servers.yml, fleet_report.yml, fleet_table.yml,
fleet_markdown.yml and fleet_html.yml next to this file.
"""

from __future__ import annotations

from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet


def lagging_servers(fleet, soa_results):
    return _fleet.lagging(fleet, soa_results)


def fleet_report(fleet, soa_results, transfer_results=None, exposure_results=None, generated_at=None):
    return _fleet.report(fleet, soa_results, transfer_results, exposure_results, generated_at)


def fleet_table(rows):
    return _fleet.table(rows)


def fleet_markdown(report):
    return _fleet.markdown(report)


def fleet_html(report):
    return _fleet.html_report(report)


class FilterModule(object):
    def filters(self):
        return {
            'lagging_servers': lagging_servers,
            'fleet_report': fleet_report,
            'fleet_table': fleet_table,
            'fleet_markdown': fleet_markdown,
            'fleet_html': fleet_html,
        }
