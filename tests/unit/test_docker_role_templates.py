# -*- coding: utf-8 -*-
"""roles/docker: render its templates and computed variables with ansible-core's own Templar.

Only `docker_install_source: distro` on Debian can be exercised end to end on the harness (molecule/default);
the docker_ce (deb822 .sources / yum .repo) and offline paths are covered here by rendering what they would
write, for Debian/Ubuntu and RHEL-family facts, with defaults and with a mirror.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import json
import os

import pytest
import yaml

pytest.importorskip('ansible')
from role_templar import RoleTemplar, trust_as_template  # noqa: E402


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(ROOT, 'roles', 'docker')

FACTS = {
    'debian12': {'os_family': 'Debian', 'distribution': 'Debian', 'distribution_release': 'bookworm',
                 'distribution_major_version': '12', 'architecture': 'x86_64'},
    'ubuntu2404': {'os_family': 'Debian', 'distribution': 'Ubuntu', 'distribution_release': 'noble',
                   'distribution_major_version': '24', 'architecture': 'aarch64'},
    'rocky9': {'os_family': 'RedHat', 'distribution': 'Rocky', 'distribution_release': 'Blue Onyx',
               'distribution_major_version': '9', 'architecture': 'x86_64'},
    'anolis8': {'os_family': 'RedHat', 'distribution': 'Anolis', 'distribution_release': '',
                'distribution_major_version': '8', 'architecture': 'x86_64'},
}


def Role(facts='debian12', **overrides):  # noqa: N802 - reads like the class it used to be
    return RoleTemplar('docker', facts=FACTS[facts], **overrides)


def _load(relpath):
    with open(os.path.join(ROLE, relpath)) as handle:
        return yaml.safe_load(handle)


def _deb822(text):
    """Header comment lines, then one deb822 stanza -> dict."""
    lines = [line for line in text.splitlines() if line.strip()]
    body = [line for line in lines if not line.startswith('#')]
    assert lines[0].startswith('#'), 'ansible_managed header first'
    assert all(line.startswith('#') for line in lines[:len(lines) - len(body)]), 'comments only at the top'
    stanza = {}
    for line in body:
        key, sep, value = line.partition(': ')
        assert sep and key and value.strip() == value and value, 'bad deb822 line %r' % line
        stanza[key] = value
    return stanza


def _repo(text):
    assert text.startswith('#')
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


# --- docker_ce: apt deb822 .sources -----------------------------------------------------------------------

def test_deb822_sources_debian_defaults():
    stanza = _deb822(Role('debian12', docker_install_source='docker_ce').render('docker.sources.j2'))
    assert stanza == {
        'Types': 'deb',
        'URIs': 'https://download.docker.com/linux/debian',
        'Suites': 'bookworm',
        'Components': 'stable',
        'Architectures': 'amd64',
        'Signed-By': '/etc/apt/keyrings/docker.asc',
    }


def test_deb822_sources_ubuntu_arm64():
    stanza = _deb822(Role('ubuntu2404', docker_install_source='docker_ce').render('docker.sources.j2'))
    assert stanza['URIs'] == 'https://download.docker.com/linux/ubuntu'
    assert stanza['Suites'] == 'noble'
    assert stanza['Architectures'] == 'arm64'


def test_deb822_sources_mirror_and_key_follow_repo_url():
    role = Role('debian12', docker_install_source='docker_ce', docker_ce_channel='test',
                docker_ce_repo_url='https://mirrors.example.org/docker-ce/linux/debian')
    stanza = _deb822(role.render('docker.sources.j2'))
    assert stanza['URIs'] == 'https://mirrors.example.org/docker-ce/linux/debian'
    assert stanza['Components'] == 'test'
    assert role.var('docker_ce_gpg_key_url') == 'https://mirrors.example.org/docker-ce/linux/debian/gpg'


# --- docker_ce: yum .repo ---------------------------------------------------------------------------------

@pytest.mark.parametrize('facts,major', [('rocky9', '9'), ('anolis8', '8')])
def test_yum_repo_rhel_family_defaults(facts, major):
    repo = _repo(Role(facts, docker_install_source='docker_ce').render('docker-ce.repo.j2'))
    assert repo.sections() == ['docker-ce-stable']
    section = repo['docker-ce-stable']
    assert section['baseurl'] == 'https://download.docker.com/linux/centos/%s/$basearch/stable' % major
    # the key dnf trusts is the verified local copy, never fetched from the URL by dnf itself (#12)
    assert section['gpgkey'] == 'file:///etc/pki/rpm-gpg/docker-ce.asc'
    assert section['enabled'] == '1'
    assert section['gpgcheck'] == '1'
    assert section['name'] == 'Docker CE Stable - $basearch'


def test_yum_repo_mirror_releasever_and_key():
    role = Role('anolis8', docker_install_source='docker_ce',
                docker_ce_repo_url='http://mirror.internal/docker-ce/linux/centos',
                docker_ce_gpg_key_url='http://mirror.internal/keys/docker.gpg',
                docker_ce_rpm_releasever='8.9')
    section = _repo(role.render('docker-ce.repo.j2'))['docker-ce-stable']
    assert section['baseurl'] == 'http://mirror.internal/docker-ce/linux/centos/8.9/$basearch/stable'
    assert section['gpgkey'] == 'file:///etc/pki/rpm-gpg/docker-ce.asc'
    assert role.var('docker_ce_gpg_key_url') == 'http://mirror.internal/keys/docker.gpg'


# --- docker_ce: the repository key is pinned by fingerprint (#12) ---------------------------------------------

@pytest.mark.parametrize('facts,fingerprint', [
    ('debian12', '9DC858229FC7DD38854AE2D88D81803C0EBFCD88'), ('ubuntu2404', '9DC858229FC7DD38854AE2D88D81803C0EBFCD88'),
    ('rocky9', '060A61C51B558A7F742B77AAC52FEB6B621E9F35'), ('anolis8', '060A61C51B558A7F742B77AAC52FEB6B621E9F35')])
def test_default_key_fingerprint_is_dockers_official_one(facts, fingerprint):
    assert Role(facts, docker_install_source='docker_ce').var('docker_ce_gpg_fingerprint') == fingerprint


def _task_file(name):
    with open(os.path.join(ROLE, 'tasks', name)) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize('install', ['install-debian-docker_ce.yml', 'install-redhat-docker_ce.yml'])
def test_key_is_verified_before_anything_trusts_it(install):
    tasks = _task_file(install)
    names = [t['name'] for t in tasks]
    verify = names.index('Download and verify the repository signing key')
    assert tasks[verify]['ansible.builtin.include_tasks'] == 'docker_ce-key.yml'
    # nothing downloads the key straight to where apt/rpm trust it (the old get_url / rpm_key from the URL)
    for task in tasks:
        assert 'ansible.builtin.get_url' not in task, task['name']
        assert task.get('ansible.builtin.rpm_key', {}).get('key') != '{{ docker_ce_gpg_key_url }}', task['name']
    writes = [i for i, t in enumerate(tasks) if 'ansible.builtin.copy' in t or 'ansible.builtin.rpm_key' in t
              or 'docker-ce.repo.j2' in str(t.get('ansible.builtin.template', {}))
              or 'docker.sources.j2' in str(t.get('ansible.builtin.template', {}))]
    assert writes and min(writes) > verify
    key = _task_file('docker_ce-key.yml')
    assert key[0]['ansible.builtin.uri']['return_content'] is True and key[0]['check_mode'] is False
    assert [t for t in key if 'ansible.builtin.copy' in t or 'ansible.builtin.get_url' in t] == []
    check = key[-1]
    assert 'pgp_key_problem(docker_ce_gpg_fingerprint)' in check['vars']['_docker_ce_key_problem']
    assert 'docker_ce_gpg_fingerprint' in check['ansible.builtin.assert']['fail_msg']
    assert "host '{{ inventory_hostname }}'" in check['ansible.builtin.assert']['fail_msg']


# --- packages per OS family and source ----------------------------------------------------------------------

@pytest.mark.parametrize('facts,source,expected', [
    ('debian12', 'distro', ['docker.io']),
    ('ubuntu2404', 'distro', ['docker.io']),
    ('debian12', 'docker_ce', ['docker-ce', 'docker-ce-cli', 'containerd.io']),
    ('rocky9', 'distro', ['moby-engine']),
    ('anolis8', 'docker_ce', ['docker-ce', 'docker-ce-cli', 'containerd.io']),
])
def test_default_packages(facts, source, expected):
    assert Role(facts, docker_install_source=source).var('_docker_packages_effective') == expected


def test_packages_override_and_never_podman_docker():
    assert Role('rocky9', docker_packages=['moby-engine', 'moby-cli']).var('_docker_packages_effective') == [
        'moby-engine', 'moby-cli']
    defaults = _load('vars/main.yml')['_docker_default_packages']
    assert not any('podman' in p for fam in defaults.values() for pkgs in fam.values() for p in pkgs)


# --- offline ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('facts,expected', [
    ('debian12', ['containerd.io_1.7_amd64.deb', 'docker-ce-cli_27_amd64.deb', 'docker-ce_27_amd64.deb']),
    ('rocky9', ['containerd.io-1.7.x86_64.rpm', 'docker-ce-27.x86_64.rpm']),
])
def test_offline_files_found_in_controller_dir(tmp_path, facts, expected):
    for name in ['docker-ce_27_amd64.deb', 'containerd.io_1.7_amd64.deb', 'docker-ce-cli_27_amd64.deb',
                 'docker-ce-27.x86_64.rpm', 'containerd.io-1.7.x86_64.rpm', 'README.txt']:
        (tmp_path / name).write_text(u'x')
    role = Role(facts, docker_install_source='offline', docker_offline_packages_dir=str(tmp_path))
    assert role.var('_docker_offline_files') == expected


def test_offline_files_explicit_list_wins(tmp_path):
    role = Role('debian12', docker_install_source='offline', docker_offline_packages_dir=str(tmp_path),
                docker_offline_packages=['b.deb', 'a.deb'])
    assert role.var('_docker_offline_files') == ['b.deb', 'a.deb']


# --- daemon.json ----------------------------------------------------------------------------------------

def test_daemon_json_defaults():
    assert Role().var('_docker_daemon_config') == {
        'log-driver': 'json-file',
        'log-opts': {'max-size': '100m', 'max-file': '5'},
        'live-restore': True,
    }


def test_daemon_json_all_options_and_extra_merged():
    config = Role(
        docker_daemon_data_root='/data/docker',
        docker_daemon_registry_mirrors=['https://mirror.example.org'],
        docker_daemon_insecure_registries=['registry.internal:5000'],
        docker_daemon_dns=['10.0.0.53'],
        docker_daemon_live_restore=False,
        docker_daemon_options_extra={'log-opts': {'compress': 'true'}, 'default-address-pools': [
            {'base': '10.201.0.0/16', 'size': 24}]},
    ).var('_docker_daemon_config')
    assert config == {
        'log-driver': 'json-file',
        'log-opts': {'max-size': '100m', 'max-file': '5', 'compress': 'true'},
        'live-restore': False,
        'data-root': '/data/docker',
        'registry-mirrors': ['https://mirror.example.org'],
        'insecure-registries': ['registry.internal:5000'],
        'dns': ['10.0.0.53'],
        'default-address-pools': [{'base': '10.201.0.0/16', 'size': 24}],
    }


def test_daemon_json_content_is_stable_json():
    role = Role()
    role.variables['_cfg'] = role.variables['_docker_daemon_config']
    text = role.templar.template(trust_as_template('{{ _cfg | to_nice_json(indent=2) }}'))
    assert json.loads(text) == role.var('_docker_daemon_config')
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True)  # sorted keys -> idempotent writes


# --- argument spec mirrors defaults ---------------------------------------------------------------------------

def test_argument_specs_mirror_defaults():
    defaults = _load('defaults/main.yml')
    options = _load('meta/argument_specs.yml')['argument_specs']['main']['options']
    assert sorted(defaults) == sorted(options)
    assert all(name.startswith('docker_') for name in defaults)
    internals = _load('vars/main.yml')
    assert all(name.startswith('_docker_') for name in internals)
