"""The execution environment files: valid for ansible-builder, and in step with the collection.

* meta/execution-environment.yml is the collection's own dependency metadata,
  which ansible-builder's introspection reads when an execution environment
  installs the collection (paths relative to the collection root).
* execution-environment.yml (repository root) builds an execution environment
  for the collection (schema version 3; paths relative to the file).

Both name meta/ee-requirements.txt (the same packages as requirements.txt) and
meta/bindep.txt. ansible-builder renders the build context (no image is built:
there is no registry here) and introspects an installed copy of the collection.
"""

import os
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ansible_helper import REPO, ansible_env

BIN = os.path.dirname(sys.executable)
ANSIBLE_BUILDER = os.path.join(BIN, 'ansible-builder')
META_EE = os.path.join(REPO, 'meta', 'execution-environment.yml')
ROOT_EE = os.path.join(REPO, 'execution-environment.yml')


def _yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _lines(path):
    """Requirement lines of a pip or bindep file: no comments, no blank lines."""
    with open(path) as handle:
        lines = [line.split(' #', 1)[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith('#')]


def _pip(lines):
    """{canonical name: specifier set} of pip requirement lines."""
    result = {}
    for line in lines:
        req = Requirement(line)
        result[canonicalize_name(req.name)] = (req.specifier, req.marker and str(req.marker), sorted(req.extras))
    return result


def _builder(*args, cwd=None):
    if not os.path.exists(ANSIBLE_BUILDER):
        pytest.fail('ansible-builder is not installed in the venv: add it to tests/requirements-dev.txt '
                    '(pip install ansible-builder)', pytrace=False)
    return subprocess.run([ANSIBLE_BUILDER] + list(args), capture_output=True, text=True, cwd=cwd, check=False,
                          env=ansible_env(), timeout=300)


def test_collection_metadata_is_what_introspection_reads():
    meta = _yaml(META_EE)
    assert meta['version'] == 3
    # Introspection reads only these two, as paths relative to the collection root.
    assert set(meta['dependencies']) == {'python', 'system'}
    for entry in ('python', 'system'):
        path = meta['dependencies'][entry]
        assert isinstance(path, str) and not os.path.isabs(path), path
        assert os.path.isfile(os.path.join(REPO, path)), '%s: %s does not exist relative to the collection root' % (entry, path)


def test_buildable_definition_is_schema_version_3():
    ee = _yaml(ROOT_EE)
    assert ee['version'] == 3
    assert set(ee) <= {'version', 'images', 'dependencies', 'additional_build_files', 'additional_build_steps',
                       'build_arg_defaults', 'options'}
    assert ee['images']['base_image']['name']
    deps = ee['dependencies']
    assert set(deps) <= {'ansible_core', 'ansible_runner', 'python', 'system', 'galaxy', 'python_interpreter', 'exclude'}
    assert Requirement(deps['ansible_core']['package_pip']).name == 'ansible-core'
    assert Requirement(deps['ansible_runner']['package_pip']).name == 'ansible-runner'
    for entry in ('python', 'system'):
        path = deps[entry]
        assert os.path.isfile(os.path.join(os.path.dirname(ROOT_EE), path)), '%s: %s does not exist' % (entry, path)


def test_both_definitions_name_the_same_files():
    # The root definition's paths are relative to the repository root, which is
    # also the collection root that the metadata's paths are relative to.
    ee = _yaml(ROOT_EE)['dependencies']
    meta = _yaml(META_EE)['dependencies']
    assert (ee['python'], ee['system']) == (meta['python'], meta['system'])


def test_ansible_core_matches_requires_ansible():
    ee = _yaml(ROOT_EE)['dependencies']
    runtime = _yaml(os.path.join(REPO, 'meta', 'runtime.yml'))
    assert Requirement(ee['ansible_core']['package_pip']).specifier == SpecifierSet(runtime['requires_ansible'])


def test_python_requirements_equal_requirements_txt():
    meta = _yaml(META_EE)['dependencies']
    ee_reqs = _pip(_lines(os.path.join(REPO, meta['python'])))
    assert ee_reqs == _pip(_lines(os.path.join(REPO, 'requirements.txt')))
    assert set(ee_reqs) == {'dnspython', 'netaddr'}


def test_galaxy_dependencies_match_galaxy_yml():
    galaxy = _yaml(os.path.join(REPO, 'galaxy.yml'))
    wanted = {name: str(version) for name, version in (galaxy.get('dependencies') or {}).items()}
    deps = _yaml(ROOT_EE)['dependencies']
    galaxy_dep = deps.get('galaxy')
    if isinstance(galaxy_dep, str):
        galaxy_dep = _yaml(os.path.join(os.path.dirname(ROOT_EE), galaxy_dep))
    collections = (galaxy_dep or {}).get('collections') or []
    have = {}
    for entry in collections:
        entry = {'name': entry} if isinstance(entry, str) else entry
        have[entry['name']] = str(entry.get('version', '*'))
    assert have == wanted


def test_bindep_names_dig_for_both_package_families():
    from bindep.depends import Depends

    meta = _yaml(META_EE)['dependencies']
    with open(os.path.join(REPO, meta['system'])) as handle:
        depends = Depends(handle.read())
    assert [rule[0] for rule in depends.active_rules(['platform:dpkg'])] == ['bind9-dnsutils']
    assert [rule[0] for rule in depends.active_rules(['platform:rpm'])] == ['bind-utils']


def test_bindep_packages_exist_and_are_installed_here():
    # This is a Debian machine: bindep resolves the dpkg names and finds them installed.
    meta = _yaml(META_EE)['dependencies']
    proc = subprocess.run([os.path.join(BIN, 'bindep'), '--file', os.path.join(REPO, meta['system']), '--brief'],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == '', proc.stdout + proc.stderr
    proc = subprocess.run(['dpkg-query', '--show', '--showformat=${Package} ${Status}\n', 'bind9-dnsutils'],
                          capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == 'bind9-dnsutils install ok installed', proc.stdout + proc.stderr


def test_ansible_builder_renders_the_build_context(tmp_path):
    context = tmp_path / 'context'
    proc = _builder('create', '--file', ROOT_EE, '--context', str(context), '--output-filename', 'Containerfile')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ee = _yaml(ROOT_EE)
    containerfile = (context / 'Containerfile').read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % ee['images']['base_image']['name'] in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="%s %s"' % (ee['dependencies']['ansible_core']['package_pip'],
                                                 ee['dependencies']['ansible_runner']['package_pip']) in containerfile
    # The user requirements are copied verbatim and fed to the introspection step.
    build = context / '_build'
    with open(os.path.join(REPO, ee['dependencies']['python'])) as handle:
        assert (build / 'requirements.txt').read_text() == handle.read()
    with open(os.path.join(REPO, ee['dependencies']['system'])) as handle:
        assert (build / 'bindep.txt').read_text() == handle.read()
    assert 'introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt' in containerfile
    assert 'RUN /output/scripts/install-from-bindep' in containerfile
    # No collection dependencies, no Galaxy step (it would need a network and a Galaxy server).
    assert ('ansible-galaxy collection install' in containerfile) == bool(_yaml(os.path.join(REPO, 'galaxy.yml')).get('dependencies'))


def test_introspection_of_the_installed_collection(tmp_path):
    """What an execution environment that installs dnsops.zonesync gets from it."""
    env = ansible_env({'ANSIBLE_COLLECTIONS_PATH': str(tmp_path / 'collections')})
    build = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', REPO, '--output-path',
                            str(tmp_path)], capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = [name for name in os.listdir(str(tmp_path)) if name.endswith('.tar.gz')]
    install = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '--force',
                              '-p', str(tmp_path / 'collections'), str(tmp_path / tarball[0])],
                             capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    installed = tmp_path / 'collections' / 'ansible_collections' / 'dnsops' / 'zonesync'
    assert (installed / 'meta' / 'execution-environment.yml').is_file()

    proc = _builder('introspect', str(tmp_path / 'collections'), '--write-pip', str(tmp_path / 'pip.txt'),
                    '--write-bindep', str(tmp_path / 'bindep.txt'), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'from collection dnsops.zonesync' in (tmp_path / 'pip.txt').read_text()
    assert _pip(_lines(str(tmp_path / 'pip.txt'))) == _pip(_lines(os.path.join(REPO, 'requirements.txt')))
    assert _lines(str(tmp_path / 'bindep.txt')) == _lines(os.path.join(REPO, 'meta', 'bindep.txt'))
