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


@pytest.mark.parametrize('name', ['zonesync_zones', 'zonesync_keys'])
def test_shared_inputs_have_one_shape(name):
    """A zone field added to one role but not another would make that role reject valid inventories."""
    shapes = dict((role, spec(role)[name].get('options')) for role in ROLES if name in spec(role) and spec(role)[name].get('options'))
    assert len(shapes) >= 2, shapes.keys()
    first = next(iter(shapes.values()))
    for role, options in shapes.items():
        assert sorted(options) == sorted(first), role
        for field, definition in options.items():
            assert definition.get('type') == first[field].get('type'), (role, field)


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
