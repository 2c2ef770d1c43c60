# -*- coding: utf-8 -*-
"""module_utils/_supply_chain.py and its filters: image references and the base image policy, image IDs of docker save
tarballs, OpenPGP fingerprints of repository keys, package checksums (#12, supply chain)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sfops.secretflow.plugins.filter.checksum_problems import FilterModule as ChecksumFilters
from ansible_collections.sfops.secretflow.plugins.filter.docker_archive_id import FilterModule as ArchiveFilters
from ansible_collections.sfops.secretflow.plugins.filter.image_base_check import FilterModule as BaseFilters
from ansible_collections.sfops.secretflow.plugins.filter.pgp_key_problem import FilterModule as PgpFilters
from ansible_collections.sfops.secretflow.plugins.module_utils._supply_chain import (
    archive_image_id, base_image_check, checksum_problems, image_id, image_reference, normalize_fingerprint,
    normalize_sha256, pgp_fingerprints, pgp_key_problem)

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'data', 'pgp')
# gpg --show-keys --with-colons of the fixtures (generated with gpg for these tests: throwaway keys)
KEY_ONE = 'DFEB4685E866DEA3B8714472CE8E628C205A29AE'      # with an encryption subkey 9102F8B7...DF010BE4DE0AC1B4
KEY_ONE_SUBKEY = '9102F8B7A1F5C8C80F02C4E8DF010BE4DE0AC1B4'
KEY_TWO = 'D18B4CF2B3768502A3FB5B8F12AA89B09658611A'
DIGEST = 'sha256:' + 'ab' * 32
HEX = 'cd' * 32


def _read(name):
    with open(os.path.join(DATA, name)) as handle:
        return handle.read()


# --- image references and the base image policy -----------------------------------------------------------

@pytest.mark.parametrize('ref, expected', [
    ('sfops/debian-base:latest', ('sfops/debian-base', None, 'latest', None)),
    ('debian', ('debian', None, None, None)),
    ('registry.example.org:5000/sf/deb:12', ('registry.example.org:5000/sf/deb', 'registry.example.org:5000', '12', None)),
    ('localhost/x@' + DIGEST, ('localhost/x', 'localhost', None, DIGEST)),
    ('secretflow-registry.cn-hangzhou.cr.aliyuncs.com/secretflow/secretflow-lite-anolis8:1.11.0b1@' + DIGEST,
     ('secretflow-registry.cn-hangzhou.cr.aliyuncs.com/secretflow/secretflow-lite-anolis8',
      'secretflow-registry.cn-hangzhou.cr.aliyuncs.com', '1.11.0b1', DIGEST)),
])
def test_image_reference(ref, expected):
    parsed = image_reference(ref)
    assert (parsed['repository'], parsed['registry'], parsed['tag'], parsed['digest']) == expected
    assert parsed['pinned'] is (expected[3] is not None)


@pytest.mark.parametrize('ref', ['', 'Debian:12', 'x@sha256:abc', 'x@md5:' + 'a' * 32, 'x:tag with space',
                                 'x@sha256:' + 'AB' * 32])
def test_image_reference_rejects(ref):
    with pytest.raises(ValueError):
        image_reference(ref)


def test_base_pinned_by_digest_is_accepted_present_or_not():
    for images in ([], [{'Id': 'sha256:' + HEX, 'RepoDigests': ['deb@' + DIGEST]}]):
        assert base_image_check('deb:12@' + DIGEST, images) == {'error': '', 'warning': ''}


def test_base_by_tag_to_be_pulled_is_refused_unless_acknowledged():
    result = base_image_check('debian:12', [])
    assert 'would be pulled by a mutable tag' in result['error']
    assert 'image_base_image=' in result['error'] and 'image_base_allow_mutable_tag=true' in result['error']
    assert result['warning'] == ''
    result = base_image_check('debian:12', [], allow_mutable_tag=True)
    assert result['error'] == '' and 'accepted because image_base_allow_mutable_tag is true' in result['warning']


def test_base_by_tag_from_a_registry_is_refused_and_the_hint_is_the_digest():
    images = [{'Id': 'sha256:' + HEX, 'RepoDigests': ['reg.example.org/deb@' + DIGEST]}]
    result = base_image_check('reg.example.org/deb:12', images)
    assert 'mutable tag of an image from a registry' in result['error']
    assert 'image_base_image=reg.example.org/deb:12@' + DIGEST in result['error']


def test_base_that_exists_only_locally_is_accepted():
    # the harness's docker-imported sfops/debian-base: no RepoDigests, no registry can change it
    assert base_image_check('sfops/debian-base:latest', [{'Id': 'sha256:' + HEX, 'RepoDigests': []}]) == \
        {'error': '', 'warning': ''}
    assert base_image_check('sfops/debian-base:latest', [{'Id': 'sha256:' + HEX}]) == {'error': '', 'warning': ''}


def test_base_filter_names_the_variable_on_a_bad_reference():
    check = BaseFilters().filters()['image_base_check']
    assert check('debian:12', [], allow_mutable_tag=True)['warning']
    with pytest.raises(AnsibleFilterError, match='image_base_image'):
        check('Not A Ref', [])


# --- image IDs ---------------------------------------------------------------------------------------------

def test_image_id_normalizes():
    assert image_id(HEX) == 'sha256:' + HEX
    assert image_id('SHA256:' + HEX.upper()) == 'sha256:' + HEX
    with pytest.raises(ValueError):
        image_id('sha256:123')


def _manifest(config, tags):
    return json.dumps([{'Config': config, 'RepoTags': tags, 'Layers': ['x/layer.tar']}])


@pytest.mark.parametrize('config', [HEX + '.json', 'blobs/sha256/' + HEX])
def test_archive_image_id_classic_and_oci(config):
    assert archive_image_id(_manifest(config, ['sfops/w:t'])) == 'sha256:' + HEX
    assert archive_image_id(_manifest(config, ['sfops/w:t']), 'sfops/w:t') == 'sha256:' + HEX


def test_archive_image_id_picks_the_tag_and_refuses_ambiguity():
    two = json.dumps([{'Config': HEX + '.json', 'RepoTags': ['a:1']}, {'Config': 'ef' * 32 + '.json', 'RepoTags': ['b:2']}])
    assert archive_image_id(two, 'b:2') == 'sha256:' + 'ef' * 32
    with pytest.raises(ValueError, match='holds 2 images'):
        archive_image_id(two)
    with pytest.raises(ValueError, match='no image tagged c:3'):
        archive_image_id(two, 'c:3')
    for bad in ('not json', '[]', _manifest('../../etc/passwd', ['a:1'])):
        with pytest.raises(ValueError):
            archive_image_id(bad)
    with pytest.raises(AnsibleFilterError, match='docker_archive_id'):
        ArchiveFilters().filters()['docker_archive_id']('[]')


# --- OpenPGP -----------------------------------------------------------------------------------------------

def test_fingerprint_of_an_armoured_key_ignores_subkeys():
    assert pgp_fingerprints(_read('test-key-with-subkey.asc')) == [KEY_ONE]


def test_fingerprint_of_binary_key_data():
    armoured = _read('test-key-with-subkey.asc').splitlines()
    start = armoured.index('') + 1
    body = ''.join(line for line in armoured[start:] if line and not line.startswith(('=', '-----')))
    assert pgp_fingerprints(base64.b64decode(body)) == [KEY_ONE]


def test_two_primary_keys_are_both_listed():
    assert pgp_fingerprints(_read('two-primary-keys.asc')) == [KEY_ONE, KEY_TWO]


def test_key_problem():
    key = _read('test-key-with-subkey.asc')
    assert pgp_key_problem(key, KEY_ONE) == ''
    # the way fingerprints are printed (gpg --fingerprint) is accepted
    spaced = ' '.join(KEY_ONE[i:i + 4] for i in range(0, 40, 4))
    assert pgp_key_problem(key, spaced) == ''
    assert pgp_key_problem(key, [KEY_ONE.lower()]) == ''
    # another key (the Docker key pinned, a look-alike served)
    assert 'expected 9DC858229FC7DD38854AE2D88D81803C0EBFCD88' in pgp_key_problem(
        key, '9DC858229FC7DD38854AE2D88D81803C0EBFCD88')
    # a subkey's fingerprint is not the key's
    assert pgp_key_problem(key, KEY_ONE_SUBKEY) != ''
    # the real key plus an extra one: apt would trust both -> refused
    problem = pgp_key_problem(_read('two-primary-keys.asc'), KEY_ONE)
    assert KEY_TWO in problem and 'expected ' + KEY_ONE in problem
    # garbage (an HTML error page, a truncated download)
    assert 'not usable' in pgp_key_problem('<html>502 Bad Gateway</html>', KEY_ONE)
    assert 'not usable' in pgp_key_problem(key[:400] + '\n-----END PGP PUBLIC KEY BLOCK-----\n', KEY_ONE)


def test_fingerprint_format_is_checked():
    assert normalize_fingerprint('0x' + KEY_ONE.lower()) == KEY_ONE
    for bad in ('', 'ABCD', KEY_ONE + '00', 'G' * 40):
        with pytest.raises(ValueError):
            normalize_fingerprint(bad)
    with pytest.raises(AnsibleFilterError):
        PgpFilters().filters()['pgp_key_problem'](_read('test-key-with-subkey.asc'), 'ABCD')


# --- package checksums -------------------------------------------------------------------------------------

FILES = ['docker.io_20.10.24.deb', 'containerd_1.6.20.deb']


def test_every_file_needs_a_pin_unless_acknowledged():
    assert checksum_problems(FILES, {FILES[0]: HEX}) == ['docker_offline_checksums has no sha256 for ' + FILES[1]]
    assert checksum_problems(FILES, {FILES[0]: HEX}, allow_unverified=True) == []
    assert checksum_problems(FILES, {}) == ['docker_offline_checksums has no sha256 for %s' % f for f in FILES]


def test_pins_are_compared():
    pins = {FILES[0]: 'sha256:' + HEX.upper(), FILES[1]: HEX}
    assert checksum_problems(FILES, pins, actual={FILES[0]: HEX, FILES[1]: HEX}) == []
    problems = checksum_problems(FILES, pins, actual={FILES[0]: HEX, FILES[1]: 'ee' * 32})
    assert problems == ['%s has sha256 %s, docker_offline_checksums pins %s' % (FILES[1], 'ee' * 32, HEX)]
    assert 'no checksum computed' in checksum_problems(FILES, pins, actual={FILES[0]: HEX})[0]


def test_bad_and_stray_pins():
    problems = checksum_problems(FILES, {FILES[0]: 'md5:abc', FILES[1]: HEX, 'typo.deb': HEX})
    assert any('docker_offline_checksums[%s]' % FILES[0] in p for p in problems)
    assert any('names typo.deb, which is not among the files' in p for p in problems)
    assert normalize_sha256(' SHA256:' + HEX.upper() + ' ') == HEX


def test_checksum_filter():
    problems = ChecksumFilters().filters()['checksum_problems']
    assert problems(FILES, {FILES[0]: HEX, FILES[1]: HEX}) == []
    assert problems(FILES, {}, variable='x') == ['x has no sha256 for %s' % f for f in FILES]
    with pytest.raises(AnsibleFilterError, match='mapping'):
        problems(FILES, ['not', 'a', 'dict'])
