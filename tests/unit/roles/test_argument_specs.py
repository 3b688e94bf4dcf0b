"""The roles declare the shared topology inputs the same way, and every role documents its variables."""

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(os.listdir(os.path.join(REPO, 'roles')))


def spec(role):
    with open(os.path.join(REPO, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def defaults(role):
    path = os.path.join(REPO, 'roles', role, 'defaults', 'main.yml')
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize('role', ROLES)
def test_no_role_validates_the_zones_again(role):
    """zonesync_zones and zonesync_catalogs are checked once, by dnsops.zonesync.topology. A role whose spec listed
    them would template all of them on every host before its first task (5 to 12 s per host and role at 10,000
    zones measured), and could reject inventories the topology accepts."""
    assert 'zonesync_zones' not in spec(role) and 'zonesync_catalogs' not in spec(role)


def test_the_keys_have_one_spec():
    """The fields of zonesync_keys are declared once, in dnsops.zonesync.topology's argument spec; a role that
    spells them out (the tsig role fills in secrets) uses exactly those fields, with the same types."""
    from ansible_collections.dnsops.zonesync.plugins.module_utils._topology_spec import ARGUMENT_SPEC
    name = 'zonesync_keys'
    fields = ARGUMENT_SPEC['keys']['options']
    declaring = [role for role in ROLES if name in spec(role)]
    assert len(declaring) >= 2
    for role in declaring:
        options = spec(role)[name].get('options')
        if options is None:
            assert spec(role)[name]['type'] == 'list' and spec(role)[name]['elements'] == 'dict', role
            continue
        # A role that reads a field itself (the tsig role fills in secrets) may spell out the fields, but only
        # those of the one spec, with the same types.
        assert sorted(options) == sorted(fields), role
        for field, definition in options.items():
            assert definition.get('type') == fields[field].get('type'), (role, field)


@pytest.mark.parametrize('role', ROLES)
def test_every_default_is_in_the_argument_spec_with_the_same_value(role):
    options = spec(role)
    for name, value in defaults(role).items():
        assert name.startswith(role + '_'), name
        assert name in options, '%s: %s is in defaults/main.yml but not in meta/argument_specs.yml' % (role, name)
        if '{{' not in str(value):
            assert options[name].get('default') == value, '%s: %s defaults differ' % (role, name)


@pytest.mark.parametrize('family', ['Debian', 'RedHat'])
def test_the_content_check_reads_the_zone_files_where_the_server_roles_write_them(family):
    def load(role):
        with open(os.path.join(REPO, 'roles', role, 'vars', family + '.yml')) as handle:
            return yaml.safe_load(handle)
    mine = load('convergence')
    assert mine['convergence__zone_dirs'] == {'bind': load('bind')['bind__primary_dir'],
                                              'powerdns': load('powerdns')['powerdns__zone_dir']}
    assert mine['convergence__bind_config'] == load('bind')['bind__main_conf']
    assert mine['convergence__powerdns_database'] == load('powerdns')['powerdns__database']
