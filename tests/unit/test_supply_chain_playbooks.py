# -*- coding: utf-8 -*-
"""The supply-chain checks of the docker and image roles, run for real by ansible-playbook on the controller (#12).

Only read-only task files run here, against ``localhost`` with the local connection: the docker role's preflight
(offline package pins, checked on the controller before any host is touched), its repository-key check
(``docker_ce-key.yml``: fetch + fingerprint assert, nothing written) with a ``file://`` key URL, and the image
role's preflight (a prebuilt archive needs its ``.sha256``).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import textwrap

import pytest

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import ROOT, needs_playbook, run_playbook

pytestmark = needs_playbook

KEY = os.path.join(ROOT, 'tests', 'unit', 'data', 'pgp', 'test-key-with-subkey.asc')
KEY_FPR = 'DFEB4685E866DEA3B8714472CE8E628C205A29AE'
TWO_KEYS = os.path.join(ROOT, 'tests', 'unit', 'data', 'pgp', 'two-primary-keys.asc')


def _play(tmp_path, role, tasks_from, variables, facts=False):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(u'all:\n  hosts:\n    ctl-1:\n      ansible_connection: local\n'
                         u'      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n')
    playbook = tmp_path / 'play.yml'
    playbook.write_text(textwrap.dedent(u"""
        - hosts: all
          gather_facts: {facts}
          gather_subset: [min]
          tasks:
            - ansible.builtin.include_role:
                name: sfops.secretflow.{role}
                tasks_from: {tasks_from}
              vars: {variables}
    """).format(facts='true' if facts else 'false', role=role, tasks_from=tasks_from, variables=variables))
    return run_playbook(str(playbook), inventory)


# --- docker: offline packages are pinned by sha256 -------------------------------------------------------------

@pytest.fixture
def debs(tmp_path):
    folder = tmp_path / 'debs'
    folder.mkdir()
    sums = {}
    for name, body in (('a_1.0_amd64.deb', b'package a'), ('b_2.0_amd64.deb', b'package b')):
        (folder / name).write_bytes(body)
        sums[name] = hashlib.sha256(body).hexdigest()
    return folder, sums


def _offline(tmp_path, folder, **extra):
    variables = dict(docker_install_source='offline', docker_offline_packages_dir=str(folder), **extra)
    return _play(tmp_path, 'docker', 'preflight.yml', variables, facts=True)


def test_offline_package_without_a_pin_fails_before_any_copy(tmp_path, debs):
    folder, sums = debs
    rc, out = _offline(tmp_path, folder, docker_offline_checksums={'a_1.0_amd64.deb': sums['a_1.0_amd64.deb']})
    assert rc != 0, out
    assert "docker role, host 'ctl-1': docker_offline_checksums has no sha256 for b_2.0_amd64.deb" in out, out
    assert 'docker_offline_allow_unverified=true' in out


def test_offline_package_with_a_wrong_pin_fails_on_the_controller(tmp_path, debs):
    folder, sums = debs
    wrong = dict(sums, **{'b_2.0_amd64.deb': 'sha256:' + '0' * 64})
    rc, out = _offline(tmp_path, folder, docker_offline_checksums=wrong)
    assert rc != 0, out
    assert 'b_2.0_amd64.deb has sha256 %s, docker_offline_checksums pins %s' % (sums['b_2.0_amd64.deb'], '0' * 64) in out
    assert 'nothing was copied' in out


def test_offline_packages_with_their_pins_pass(tmp_path, debs):
    folder, sums = debs
    rc, out = _offline(tmp_path, folder, docker_offline_checksums=sums)
    assert rc == 0, out


def test_offline_unpinned_only_when_acknowledged(tmp_path, debs):
    folder, sums = debs
    rc, out = _offline(tmp_path, folder, docker_offline_checksums={}, docker_offline_allow_unverified=True)
    assert rc == 0, out


# --- docker: a registry's private CA (docker_registry_ca_certs) ---------------------------------------------------

PEM = u'-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'


def test_registry_ca_certs_by_host_and_port_pass(tmp_path):
    rc, out = _play(tmp_path, 'docker', 'preflight.yml',
                    {'docker_registry_ca_certs': {'registry.bank-a.internal:5000': PEM, '10.0.0.5:443': PEM}},
                    facts=True)
    assert rc == 0, out


@pytest.mark.parametrize('registry, cert, named', [
    ('https://registry.example.org:5000', PEM, 'https://registry.example.org:5000'),   # a URL, not host[:port]
    ('registry.example.org/project', PEM, 'registry.example.org/project'),              # a path
    ('registry.example.org:5000', u'not a certificate', 'registry.example.org:5000'),  # no PEM
])
def test_registry_ca_certs_wrong_entry_is_named(tmp_path, registry, cert, named):
    rc, out = _play(tmp_path, 'docker', 'preflight.yml', {'docker_registry_ca_certs': {registry: cert}}, facts=True)
    assert rc != 0, out
    assert "docker role, host 'ctl-1': docker_registry_ca_certs must map" in out, out
    assert 'wrong: %s' % named in out, out


# --- docker: the repository key is trusted only with the pinned fingerprint --------------------------------------

def _key(tmp_path, url, **extra):
    return _play(tmp_path, 'docker', 'docker_ce-key.yml', dict(docker_ce_gpg_key_url=url, **extra), facts=True)


def test_key_with_the_pinned_fingerprint_passes(tmp_path):
    spaced = ' '.join(KEY_FPR[i:i + 4] for i in range(0, 40, 4))
    rc, out = _key(tmp_path, 'file://' + KEY, docker_ce_gpg_fingerprint=spaced)
    assert rc == 0, out


def test_key_other_than_dockers_fails_naming_host_and_variable(tmp_path):
    rc, out = _key(tmp_path, 'file://' + KEY)  # the default: Docker's official Debian key
    assert rc != 0, out
    assert "docker role, host 'ctl-1': the key from docker_ce_gpg_key_url=file://%s" % KEY in out, out
    assert ('the downloaded key has fingerprint(s) %s, expected 9DC858229FC7DD38854AE2D88D81803C0EBFCD88' % KEY_FPR) in out
    assert '(docker_ce_gpg_fingerprint)' in out


def test_key_file_with_an_extra_key_fails(tmp_path):
    rc, out = _key(tmp_path, 'file://' + TWO_KEYS, docker_ce_gpg_fingerprint=KEY_FPR)
    assert rc != 0, out
    assert 'D18B4CF2B3768502A3FB5B8F12AA89B09658611A' in out


# --- image: a prebuilt archive needs its checksum file -----------------------------------------------------------

def test_prebuilt_archive_without_sha256_file_is_refused(tmp_path):
    archive = tmp_path / 'prebuilt.tar'
    archive.write_bytes(b'not really a tarball')
    rc, out = _play(tmp_path, 'image', 'preflight.yml', dict(image_archive_src=str(archive), image_tag='abc'))
    assert rc != 0, out
    assert 'image role: missing on the controller: %s.sha256' % archive in out, out
    (tmp_path / 'prebuilt.tar.sha256').write_text(u'%s  prebuilt.tar\n' % hashlib.sha256(b'x').hexdigest())
    rc, out = _play(tmp_path, 'image', 'preflight.yml', dict(image_archive_src=str(archive), image_tag='abc'))
    assert rc == 0, out
