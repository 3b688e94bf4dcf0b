"""zone_file through Ansible: serial management, named-checkzone validation, check and diff modes."""

import os
import re
import time

from ansible_helper import run_adhoc

ZONE = 'example.test'


def args(path, records, **extra):
    base = {'path': path, 'zone': ZONE, 'ns': ['ns1.example.test'], 'soa': {'rname': 'hostmaster.example.test'},
            'records': records, 'validate': 'named-checkzone %s %%s' % ZONE}
    base.update(extra)
    return base


def today():
    return int(time.strftime('%Y%m%d', time.gmtime())) * 100


def test_four_steps_and_serial_follow_content(tmp_path):
    path = str(tmp_path / 'example.test.zone')
    records = [{'name': 'ns1', 'type': 'A', 'value': '192.0.2.1'}, {'name': 'www', 'type': 'A', 'value': '192.0.2.80'}]
    check = run_adhoc('zone_file', args(path, records), check=True)
    assert check.rc == 0 and check.data['changed'] and check.data['serial'] == today(), check
    assert not os.path.exists(path)
    first = run_adhoc('zone_file', args(path, records))
    assert first.rc == 0 and first.data['changed'] and first.data['serial'] == today(), first
    text = open(path).read()
    assert 'www 3600 IN A 192.0.2.80' in text and ' %d ' % today() in text
    again_check = run_adhoc('zone_file', args(path, records), check=True)
    again = run_adhoc('zone_file', args(path, records))
    assert not again_check.data['changed'] and not again.data['changed'] and again.data['serial'] == today(), again
    assert open(path).read() == text
    changed = run_adhoc('zone_file', args(path, records[:1] + [{'name': 'www', 'type': 'A', 'value': '192.0.2.81'}]), diff=True)
    assert changed.data['changed'] and changed.data['serial'] == today() + 1 and changed.data['previous_serial'] == today()
    assert '192.0.2.81' in open(path).read()


def test_invalid_zone_keeps_the_file_in_place(tmp_path):
    path = str(tmp_path / 'example.test.zone')
    good = [{'name': 'ns1', 'type': 'A', 'value': '192.0.2.1'}]
    assert run_adhoc('zone_file', args(path, good)).rc == 0
    before = open(path).read()
    # An in-zone name server without an address: dnspython parses it, named-checkzone refuses it.
    result = run_adhoc('zone_file', args(path, good, ns=['ns1.example.test', 'ns9.example.test']))
    assert result.rc != 0
    assert 'failed validation, so the file in place was kept' in result.stdout, result
    assert 'ns9.example.test' in result.stdout and 'has no address records' in result.stdout, result
    assert open(path).read() == before
    assert [f for f in os.listdir(str(tmp_path)) if f != 'example.test.zone'] == []  # no temporary left behind


def test_user_file_content_and_bad_input(tmp_path):
    path = str(tmp_path / 'example.net.zone')
    content = '$ORIGIN example.net.\n$TTL 600\n@ IN SOA ns1.example.test. h.example.net. 7 3600 600 1209600 300\n@ IN NS ns1.example.test.\n'
    result = run_adhoc('zone_file', {'path': path, 'zone': 'example.net', 'content': content,
                                     'validate': 'named-checkzone example.net %s'})
    assert result.rc == 0 and result.data['serial'] == today(), result
    assert re.search(r'@ 600 IN SOA ns1\.example\.test\. h %d 3600' % today(), open(path).read())
    broken = run_adhoc('zone_file', {'path': path, 'zone': 'example.net', 'content': content + 'www IN A 300.1.1.1\n'})
    assert broken.rc != 0 and 'not a valid zone file for example.net' in broken.stdout, broken
    missing_dir = run_adhoc('zone_file', args(str(tmp_path / 'nope' / 'z.zone'), []))
    assert missing_dir.rc != 0 and 'does not exist. Create it first' in missing_dir.stdout, missing_dir
