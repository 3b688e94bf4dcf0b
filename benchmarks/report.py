# -*- coding: utf-8 -*-
# Copyright (c) dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time the fleet report (module_utils/_fleet.py and _fleet_text.py) at 1,000 and 10,000 zones x 4 servers, with
one server behind and another with other records in every zone (20,000 problems, the worst case for grouping).

The peer, measured in the same run: json.dumps of the same report, which every run pays anyway to write
report.json. Run: .venv/bin/python benchmarks/report.py
"""

from __future__ import annotations

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils'))
sys.path.insert(0, os.path.join(ROOT, '.tmp', 'collections'))

from test_fleet import _compact, content, fleet, paths, soa  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet, _fleet_text  # noqa: E402


def main():
    for count in (1000, 10000):
        names = ['z%05d.test' % i for i in range(count)]
        zones = fleet(*names)
        parts = _compact(soa({'p': 5, 's1': 5, 's2': 4, 't2': 5}, zones=names))
        serials = [{'zones': [z for r in parts for z in r['zones']], 'servers_asked': parts[0]['servers_asked'],
                    'compact': True}]
        digests = content({'p': 'aa', 's1': 'aa', 's2': 'aa', 't2': 'bb'}, zones=names)
        started = time.time()
        report = _fleet.report(zones, serials, content=digests,
                               paths=paths({'s1': 'ok', 's2': 'tcp_unreachable', 't2': 'ok'}, zones=names))
        built = time.time() - started
        started = time.time()
        _fleet_text.table(report['rows'])
        _fleet_text.problems_text(report)
        _fleet_text.markdown(report)
        _fleet_text.html_report(report)
        texts = time.time() - started
        started = time.time()
        json.dumps(report)
        peer = time.time() - started
        print('report: %5d zones x 4 servers, %d problems from %d causes: built in %.2f s, table/text/md/html %.2f s; '
              'peer json.dumps of it %.2f s' % (count, len(report['problems']), len(report['causes']), built, texts, peer))


if __name__ == '__main__':
    main()
