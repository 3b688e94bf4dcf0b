"""Print the convergence table and the problems of a check.yml JSON report (lab/lab.sh)."""

import json
import os
import sys

# The collection, importable under its name (make collection-link).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '.tmp', 'collections'))

from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet_text  # noqa: E402


def main(path):
    with open(path) as handle:
        report = json.load(handle)
    print()
    print('\n'.join(_fleet_text.table(report['rows'])))
    s = report['summary']
    print()
    print('%d zone(s) on %d server(s): %d/%d in sync, %d with their records proven, %d problem(s) from %d cause(s).'
          % (s['zones'], s['servers'], s['in_sync'], s['pairs'], s.get('content_proven', 0), s['problems'],
             s.get('causes', 0)))
    print(_fleet_text.verdict(report))
    text = _fleet_text.problems_text(report)
    if text:
        print(text)
    print()


if __name__ == '__main__':
    main(sys.argv[1])
