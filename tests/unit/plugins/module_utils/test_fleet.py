from ansible_collections.dnsops.zonesync.plugins.module_utils import _fleet

FLEET = [{'zone': 'example.test', 'primary': 'p', 'key': 'k', 'servers_key': '10.0.0.1 10.0.0.2 10.0.0.3', 'servers': [
    {'host': 'p', 'address': '10.0.0.1', 'transfer_source': '10.0.0.1', 'server': 'bind', 'key': None, 'role': 'primary', 'upstream': None},
    {'host': 's1', 'address': '10.0.0.2', 'transfer_source': '10.0.0.2', 'server': 'bind', 'key': 'k', 'role': 'secondary',
     'upstream': 'p', 'upstream_address': '10.0.0.1'},
    {'host': 's2', 'address': '10.0.0.3', 'transfer_source': '10.0.0.3', 'server': 'powerdns', 'key': 'k', 'role': 'secondary',
     'upstream': 'p', 'upstream_address': '10.0.0.1'},
]}]


def soa(statuses):
    servers = [{'address': a, 'serial': serial, 'status': st, 'lag': lag} for a, (serial, st, lag) in statuses.items()]
    return [{'zones': [{'zone': 'example.test.', 'reference_serial': 5, 'servers': servers}]}]


SERIALS = soa({'10.0.0.1': (5, 'in_sync', 0), '10.0.0.2': (5, 'in_sync', 0), '10.0.0.3': (4, 'behind', 1)})


def test_lagging_and_table():
    lag = _fleet.lagging(FLEET, SERIALS)
    assert [(r['host'], r['status'], r['upstream_address'], r['key']) for r in lag] == [('s2', 'behind', '10.0.0.1', 'k')]
    lines = _fleet.table(_fleet.matrix(FLEET, SERIALS))
    assert lines[0].split() == ['zone', 'server', 'role', 'address', 'serial', 'status']
    assert lines[4].split()[-3:] == ['behind', 'by', '1'] and lines[2].split()[-1] == 'in_sync'


def test_diagnosis_from_the_transfer_check_of_the_lagging_secondary():
    transfers = {'s2': {'results': [{'item': {'name': 'example.test'}, 'status': 'tcp_unreachable',
                                     'diagnosis': 'TCP 53 blocked', 'remediation': {'bind': 'open TCP 53', 'powerdns': 'x'}}]}}
    report = _fleet.report(FLEET, SERIALS, transfers)
    (problem,) = report['problems']
    assert problem['host'] == 's2' and problem['transfer_status'] == 'tcp_unreachable'
    assert problem['diagnosis'] == 'TCP 53 blocked' and problem['remediation'] == 'open TCP 53'  # the upstream runs BIND
    assert report['summary'] == {'zones': 1, 'servers': 3, 'pairs': 3, 'in_sync': 2, 'zones_converged': 0, 'problems': 1}
    md = _fleet.markdown(report)
    assert '### example.test on s2 (secondary): behind' in md and '- Fix: open TCP 53' in md
    page = _fleet.html_report(report)
    assert '<b>Fix:</b> open TCP 53' in page and page.count('<tr class="bad">') == 1


def test_transfer_ok_but_behind_points_at_notify():
    transfers = [{'item': {'zone': 'example.test', 'host': 's2'}, 'status': 'ok'}]
    (problem,) = _fleet.diagnoses(FLEET, SERIALS, transfers)
    assert 'NOTIFY' in problem['diagnosis'] and 'retransfer' in problem['remediation']


def test_open_transfer_is_a_problem_and_in_sync_fleet_has_none():
    serials = soa({'10.0.0.1': (5, 'in_sync', 0), '10.0.0.2': (5, 'in_sync', 0), '10.0.0.3': (5, 'in_sync', 0)})
    assert _fleet.report(FLEET, serials)['problems'] == []
    exposure = [{'item': [FLEET[0], FLEET[0]['servers'][1]], 'status': 'open_transfer', 'diagnosis': 'leak',
                 'remediation': {'bind': 'write allow-transfer'}}]
    (problem,) = _fleet.report(FLEET, serials, None, exposure)['problems']
    assert (problem['host'], problem['status'], problem['remediation']) == ('s1', 'open_transfer', 'write allow-transfer')


def test_primary_without_serial():
    serials = soa({'10.0.0.1': (None, 'timeout', None), '10.0.0.2': (5, 'not_comparable', None), '10.0.0.3': (5, 'not_comparable', None)})
    problems = _fleet.diagnoses(FLEET, serials, [])
    assert problems[0]['role'] == 'primary' and 'gave no usable serial' in problems[0]['diagnosis']


def test_problems_text_names_where_why_and_fix():
    transfers = {'s2': {'results': [{'item': {'name': 'example.test'}, 'status': 'tcp_unreachable',
                                     'diagnosis': 'TCP 53 blocked.', 'remediation': {'bind': 'Open TCP 53.'}}]}}
    text = _fleet.problems_text(_fleet.report(FLEET, SERIALS, transfers))
    assert text.splitlines() == [
        '- example.test on s2 (secondary, 10.0.0.3): behind, serial 4, primary has 5.',
        '  Transfer check from s2 to p: tcp_unreachable. TCP 53 blocked.',
        '  Fix: Open TCP 53.',
    ]


def test_targets_and_a_failing_transfer_while_in_sync():
    serials = soa({'10.0.0.1': (5, 'in_sync', 0), '10.0.0.2': (5, 'in_sync', 0), '10.0.0.3': (4, 'behind', 1)})
    fleet = FLEET + [dict(FLEET[0], zone='example.net')]
    targets = _fleet.transfer_targets(fleet, serials + [{'zones': [dict(serials[0]['zones'][0], zone='example.net.')]}])
    # s1: one canary (example.test); s2: both zones lag
    assert [(t['zone'], t['host']) for t in targets] == [('example.test', 's1'), ('example.test', 's2'), ('example.net', 's2')]
    assert len(_fleet.transfer_targets(fleet, serials, all_zones=True)) == 4
    assert [(t['zone'], t['host']) for t in _fleet.exposure_targets(fleet)] == [('example.test', 'p'), ('example.test', 's1'), ('example.test', 's2')]
    in_sync = soa({'10.0.0.1': (5, 'in_sync', 0), '10.0.0.2': (5, 'in_sync', 0), '10.0.0.3': (5, 'in_sync', 0)})
    transfers = [{'item': {'zone': 'example.test', 'host': 's1'}, 'status': 'tsig_bad_signature', 'diagnosis': 'secret differs',
                  'remediation': {'bind': 'copy the key'}}]
    (problem,) = _fleet.report(FLEET, in_sync, transfers)['problems']
    assert problem['status'] == 'transfer_failing' and 'next transfer will fail: secret differs' in problem['diagnosis']
    assert problem['remediation'] == 'copy the key'
