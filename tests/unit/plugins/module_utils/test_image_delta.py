# -*- coding: utf-8 -*-
"""image_archive_delta: which members a delta leaves out, and that the written delta is the source minus them.

The tarballs are built here in both layouts docker save writes (classic <id>/layer.tar and OCI blobs/sha256)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _image_delta as delta


def _add(tar, name, data=b'', link=None):
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
        return
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_archive(path, layers, oci=False, symlink_last_to_first=False):
    """A docker save tarball of one image whose layers have the given contents; returns the diff IDs."""
    diff_ids = ['sha256:' + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps({'rootfs': {'type': 'layers', 'diff_ids': diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + '.json'
    files = []
    with tarfile.open(path, 'w') as tar:
        for i, data in enumerate(layers):
            if oci:
                name = 'blobs/sha256/' + diff_ids[i].split(':')[1]
                _add(tar, name, data)
            else:
                layer_dir = hashlib.sha256(b'dir%d' % i).hexdigest()
                name = layer_dir + '/layer.tar'
                _add(tar, layer_dir + '/VERSION', b'1.0')
                _add(tar, layer_dir + '/json', b'{}')
                if symlink_last_to_first and i == len(layers) - 1:
                    _add(tar, name, link='../' + files[0])
                else:
                    _add(tar, name, data)
            files.append(name)
        _add(tar, config_name, config)
        _add(tar, 'manifest.json', json.dumps([{'Config': config_name, 'RepoTags': ['x/y:1'],
                                                'Layers': files}]).encode())
        _add(tar, 'repositories', b'{}')
    return diff_ids, files


def names(path):
    with tarfile.open(path) as tar:
        return sorted(m.name for m in tar.getmembers())


def test_shared_prefix_takes_the_longest_leading_run():
    ids = ['a', 'b', 'c']
    assert delta.shared_prefix(ids, []) == 0
    assert delta.shared_prefix(ids, [['b', 'c']]) == 0          # same layers, other order: other chain
    assert delta.shared_prefix(ids, [['a', 'x'], ['a', 'b']]) == 2
    assert delta.shared_prefix(ids, [['a', 'b', 'c', 'd']]) == 3


@pytest.mark.parametrize('oci', [False, True])
def test_delta_leaves_out_the_shared_layers_only(tmp_path, oci):
    src = str(tmp_path / 'img.tar')
    ids, files = make_archive(src, [b'base', b'venv', b'worker'], oci=oci)
    out = delta.run({'src': src, 'src_sha256': 'f' * 64, 'have': [ids[:2] + ['sha256:other']]}, False)
    assert (out['full'], out['skipped'], out['layers'], out['changed']) == (False, 2, 3, True)
    left = names(out['path'])
    assert files[2] in left and files[0] not in left and files[1] not in left
    assert 'manifest.json' in left and 'repositories' in left
    if not oci:                                                   # the skipped layers' directories go entirely
        assert not [n for n in left if n.startswith(files[0].split('/')[0])]
        assert files[2].split('/')[0] + '/json' in left
    with open(out['path'], 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == out['sha256']
    with open(out['path'] + '.sha256') as handle:
        assert handle.read().split() == [out['sha256'], os.path.basename(out['path'])]
    # the kept members are byte for byte the source's
    with tarfile.open(src) as a, tarfile.open(out['path']) as b:
        assert b.extractfile(files[2]).read() == a.extractfile(files[2]).read() == b'worker'
    # a second run (another server with the same layers) reuses the file
    again = delta.run({'src': src, 'src_sha256': '', 'have': [ids[:2]]}, False)
    assert (again['changed'], again['path'], again['sha256']) == (False, out['path'], out['sha256'])


def test_nothing_in_common_is_the_full_archive(tmp_path):
    src = str(tmp_path / 'img.tar')
    make_archive(src, [b'base', b'worker'])
    out = delta.run({'src': src, 'src_sha256': 'a' * 64, 'have': [['sha256:' + '0' * 64]]}, False)
    assert (out['full'], out['path'], out['sha256'], out['skipped']) == (True, src, 'a' * 64, 0)
    assert os.listdir(str(tmp_path)) == ['img.tar']


def test_check_mode_writes_nothing(tmp_path):
    src = str(tmp_path / 'img.tar')
    ids, _files = make_archive(src, [b'base', b'worker'])
    out = delta.run({'src': src, 'src_sha256': '', 'have': [ids[:1]]}, True)
    assert (out['changed'], out['full'], out['skipped'], out['sha256']) == (True, False, 1, '')
    assert os.listdir(str(tmp_path)) == ['img.tar']


def test_a_kept_layer_linking_to_a_skipped_one_keeps_its_target(tmp_path):
    """docker save links a layer file that repeats an earlier one; the target must stay in the delta."""
    src = str(tmp_path / 'img.tar')
    ids, files = make_archive(src, [b'base', b'mid', b'base'], symlink_last_to_first=True)
    out = delta.run({'src': src, 'have': [ids[:2]]}, False)
    left = names(out['path'])
    assert files[0] in left and files[2] in left and files[1] not in left


def test_bad_archives_are_named(tmp_path):
    with pytest.raises(delta.DeltaError, match='no such archive'):
        delta.run({'src': str(tmp_path / 'missing.tar'), 'have': []}, False)
    path = str(tmp_path / 'two.tar')
    with tarfile.open(path, 'w') as tar:
        _add(tar, 'manifest.json', b'[{}, {}]')
    with pytest.raises(delta.DeltaError, match='holds 2 images'):
        delta.run({'src': path, 'have': []}, False)


def _unzstd(path):
    return subprocess.run(['zstd', '-d', '-q', '-c', path], stdout=subprocess.PIPE, check=True).stdout


needs_zstd = pytest.mark.skipif(not shutil.which('zstd'), reason='zstd not installed (scripts/deps.sh installs it)')


@needs_zstd
@pytest.mark.parametrize('shared', [False, True])
def test_zstd_copy_decompresses_to_the_tarball_it_reports(tmp_path, shared):
    """The whole tarball (nothing shared) or the delta: the .zst decompresses byte for byte to tar_path, whose
    sha256 is tar_sha256; the .zst's own sha256 (what the server checks after the copy) is in its .sha256 file."""
    src = str(tmp_path / 'img.tar')
    ids, _files = make_archive(src, [b'base' * 1000, b'venv' * 1000, b'worker'])
    cache = tmp_path / 'cache'
    cache.mkdir()
    src_sha = hashlib.sha256(open(src, 'rb').read()).hexdigest()
    out = delta.run({'src': src, 'src_sha256': src_sha, 'dest_dir': str(cache), 'compress': 'zstd',
                     'have': [ids[:2]] if shared else []}, False)
    assert out['compressed'] and out['changed'] and out['full'] is (not shared)
    assert os.path.basename(out['path']) == os.path.basename(out['tar_path']) + '.zst'
    # a whole tarball's copy goes to dest_dir (the source may be a read-only prebuilt archive), a delta's beside it
    assert os.path.dirname(out['path']) == str(cache)
    raw = _unzstd(out['path'])
    assert hashlib.sha256(raw).hexdigest() == out['tar_sha256'] and len(raw) == out['tar_bytes']
    if not shared:
        assert out['tar_path'] == src and out['tar_sha256'] == src_sha
    data = open(out['path'], 'rb').read()
    assert hashlib.sha256(data).hexdigest() == out['sha256'] and len(data) == out['bytes'] < out['tar_bytes']
    with open(out['path'] + '.sha256') as handle:
        assert handle.read().split() == [out['sha256'], os.path.basename(out['path'])]
    # the next server (or run) reuses it
    again = delta.run({'src': src, 'src_sha256': src_sha, 'dest_dir': str(cache), 'compress': 'zstd',
                       'have': [ids[:2]] if shared else []}, False)
    assert (again['changed'], again['path'], again['sha256']) == (False, out['path'], out['sha256'])


@needs_zstd
def test_zstd_in_check_mode_writes_nothing(tmp_path):
    src = str(tmp_path / 'img.tar')
    ids, _files = make_archive(src, [b'base', b'worker'])
    for have in ([], [ids[:1]]):
        out = delta.run({'src': src, 'dest_dir': str(tmp_path), 'compress': 'zstd', 'have': have}, True)
        assert out['changed'] and out['sha256'] == '' and out['path'].endswith('.tar.zst'), out
        assert os.listdir(str(tmp_path)) == ['img.tar']


def test_zstd_missing_on_the_controller_is_named(tmp_path, monkeypatch):
    src = str(tmp_path / 'img.tar')
    make_archive(src, [b'base', b'worker'])
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    with pytest.raises(delta.DeltaError, match='needs the zstd program on the controller'):
        delta.run({'src': src, 'dest_dir': str(tmp_path), 'compress': 'zstd', 'have': []}, False)
    assert os.listdir(str(tmp_path)) == ['img.tar']


def test_a_failing_zstd_leaves_no_partial_copy(tmp_path):
    src = str(tmp_path / 'img.tar')
    make_archive(src, [b'base', b'worker'])
    fake = tmp_path / 'zstd'
    fake.write_text('#!/bin/sh\necho "disk full" >&2\nexit 1\n')
    fake.chmod(0o755)
    with pytest.raises(delta.DeltaError, match='disk full'):
        delta.compress(src, str(tmp_path / 'img.tar.zst'), zstd=str(fake))
    assert sorted(os.listdir(str(tmp_path))) == ['img.tar', 'zstd']


def test_unknown_compression_is_refused(tmp_path):
    src = str(tmp_path / 'img.tar')
    make_archive(src, [b'base'])
    with pytest.raises(delta.DeltaError, match='compress=lz4'):
        delta.run({'src': src, 'compress': 'lz4', 'have': []}, False)
