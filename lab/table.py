"""Print the convergence table and the problems of a check.yml JSON report (lab/lab.sh)."""

import json
import sys


def main(path):
    with open(path) as handle:
        report = json.load(handle)
    rows = report['rows']
    headers = ('zone', 'server', 'role', 'upstream', 'address', 'serial', 'status')
    data = [(r['zone'], r['host'], r['role'], r.get('upstream') or '-', r['address'] or '-',
             '-' if r['serial'] is None else str(r['serial']),
             r['status'] + (' by %d' % abs(r['lag']) if r['status'] in ('behind', 'ahead') and r.get('lag') else '')) for r in rows]
    widths = [max([len(h)] + [len(d[i]) for d in data]) for i, h in enumerate(headers)]
    print()
    print('  '.join(h.ljust(w) for h, w in zip(headers, widths)))
    print('  '.join('-' * w for w in widths))
    for d in data:
        print('  '.join(c.ljust(w) for c, w in zip(d, widths)))
    s = report['summary']
    print()
    print('%d zone(s) on %d server(s): %d/%d in sync, %d problem(s).' % (s['zones'], s['servers'], s['in_sync'], s['pairs'], s['problems']))
    for p in report['problems']:
        print('- %s on %s: %s. %s Fix: %s' % (p['zone'], p['host'], p['status'], (p.get('diagnosis') or '').rstrip('.') + '.', p.get('remediation') or '-'))
    print()


if __name__ == '__main__':
    main(sys.argv[1])
