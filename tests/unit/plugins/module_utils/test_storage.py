"""Whether a server can write its copies: the kernel's rules on real directories, and the server's own process."""

import os
import subprocess

import pytest

from ansible_collections.dnsops.zonesync.plugins.module_utils import _storage

UID = 60123        # a user no file here belongs to
GID = 60124


def test_owner_group_and_other_bits_are_read_like_the_kernel(tmp_path):
    d = tmp_path / 'zones'
    d.mkdir()
    os.chmod(d, 0o755)
    ok, why = _storage.writable_directory(str(d), (UID, {GID}))
    assert not ok and 'drwxr-xr-x' in why and 'as others' in why and '(uid %d)' % UID in why
    os.chown(d, UID, 0)
    assert _storage.writable_directory(str(d), (UID, {GID})) == (True, None)
    os.chmod(d, 0o555)
    ok, why = _storage.writable_directory(str(d), (UID, {GID}))
    assert not ok and 'as its owner' in why
    os.chown(d, 0, GID)
    os.chmod(d, 0o775)
    assert _storage.writable_directory(str(d), (UID, {GID})) == (True, None)
    os.chmod(d, 0o765)   # write without search: no file can be created
    ok, why = _storage.writable_directory(str(d), (UID, {GID}))
    assert not ok and 'as its group' in why
    # root writes anywhere that is not read-only; unknown ids (no process) only check the directory itself
    assert _storage.writable_directory(str(d), (0, {0})) == (True, None)
    assert _storage.writable_directory(str(d), None) == (True, None)
    ok, why = _storage.writable_directory(str(tmp_path / 'nowhere'), (UID, {GID}))
    assert not ok and 'does not exist' in why
    (tmp_path / 'afile').write_text('x')
    ok, why = _storage.writable_directory(str(tmp_path / 'afile'), (0, {0}))
    assert not ok and 'is not a directory' in why


def test_a_read_only_mount_is_not_writable_even_for_root(tmp_path):
    mountpoint = tmp_path / 'ro'
    mountpoint.mkdir()
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', str(mountpoint)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: %s' % done.stderr.strip())
    try:
        ok, why = _storage.writable_directory(str(mountpoint), (0, {0}))
        assert not ok and why == '%s is on a read-only file system' % mountpoint
    finally:
        subprocess.run(['umount', str(mountpoint)], check=True)
    assert _storage.writable_directory(str(mountpoint), (0, {0})) == (True, None)


def test_zone_files_missing_or_in_a_directory_the_server_cannot_write(tmp_path):
    good = tmp_path / 'secondary'
    good.mkdir()
    os.chown(good, UID, GID)
    (good / 'a.test.db').write_text('x')
    bad = tmp_path / 'locked'
    bad.mkdir()
    os.chmod(bad, 0o755)
    zones = {
        'a.test': {'type': 'secondary', 'file': 'secondary/a.test.db'},        # relative to directory
        'b.test': {'type': 'secondary', 'file': str(good / 'b.test.db')},     # never written
        'c.test': {'type': 'secondary', 'file': str(bad / 'c.test.db')},
        'd.test': {'type': 'primary', 'file': str(bad / 'd.test.zone')},      # primaries are read, not written
        'e.test': {'type': 'secondary', 'file': None},                         # in memory only by choice
    }
    found = _storage.zone_file_findings(zones, str(tmp_path), (UID, {GID}))
    assert sorted(found) == ['b.test', 'c.test']
    assert found['b.test']['problem'] == 'file_missing'
    assert found['c.test']['problem'] == 'directory_not_writable' and found['c.test']['directory'] == str(bad)


def test_the_servers_own_process_is_found_in_proc(tmp_path):
    proc = tmp_path / 'proc'
    for pid, comm, uid, gid, groups in (('10', 'named', 0, 0, ''), ('11', 'named', 104, 110, '110 111'),
                                        ('12', 'sshd', 0, 0, '')):
        (proc / pid).mkdir(parents=True)
        (proc / pid / 'comm').write_text(comm + '\n')
        (proc / pid / 'status').write_text('Name:\t%s\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nGroups:\t%s\n'
                                           % (comm, uid, uid, uid, uid, gid, gid, gid, gid, groups))
    assert _storage.process_ids('bind', str(proc)) == (104, {110, 111})
    assert _storage.process_ids('powerdns', str(proc)) is None


def test_server_storage_groups_problems_and_reads_the_journal_only_when_needed(tmp_path):
    bad = tmp_path / 'locked'
    bad.mkdir()
    os.chmod(bad, 0o755)
    proc = tmp_path / 'proc'
    (proc / '7').mkdir(parents=True)
    (proc / '7' / 'comm').write_text('named\n')
    (proc / '7' / 'status').write_text('Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nGroups:\t\n' % ((UID,) * 4 + (GID,) * 4))
    state = {'zones': {'c.test': {'type': 'secondary', 'file': str(bad / 'c.test.db')},
                       'f.test': {'type': 'secondary', 'file': str(bad / 'f.test.db')}},
             'directory': str(tmp_path)}
    zones = [{'zone': 'c.test'}, {'zone': 'f.test'}]
    journal = ('2026-11-28T10:00:00 ns1 named[7]: zone c.test/IN: dumping master file: %s/tmp-1: open: permission '
               'denied\n2026-11-28T10:00:01 ns1 named[7]: zone c.test/IN: transferred serial 5\n' % bad)
    calls = []
    out = _storage.server_storage('bind', state, zones, {}, None, lambda: calls.append(1) or journal, str(proc))
    assert out['process_uid'] == UID
    (problem,) = out['problems']
    assert problem['zones'] == ['c.test', 'f.test'] and problem['problem'] == 'directory_not_writable'
    assert problem['log'] == [journal.splitlines()[0]]
    assert zones[0]['storage'] == 'directory_not_writable' and 'drwxr-xr-x' in zones[0]['storage_detail']
    assert calls == [1]
    os.chown(bad, UID, GID)
    for name in ('c.test.db', 'f.test.db'):
        (bad / name).write_text('x')
    zones = [{'zone': 'c.test'}, {'zone': 'f.test'}]
    out = _storage.server_storage('bind', state, zones, {}, None, lambda: calls.append(1) or journal, str(proc))
    assert out['problems'] == [] and calls == [1] and 'storage' not in zones[0]


def test_a_powerdns_database_the_server_cannot_write(tmp_path):
    db = tmp_path / 'pdns.sqlite3'
    db.write_text('')
    os.chown(tmp_path, UID, GID)
    os.chmod(db, 0o644)
    found = _storage.database_findings(str(db), (UID, {GID}))
    assert found['problem'] == 'file_not_writable' and '-rw-r--r-- 0:0' in found['detail']
    os.chown(db, UID, GID)
    assert _storage.database_findings(str(db), (UID, {GID})) is None
    os.chown(tmp_path, 0, 0)
    os.chmod(tmp_path, 0o755)
    assert _storage.database_findings(str(db), (UID, {GID}))['problem'] == 'directory_not_writable'
