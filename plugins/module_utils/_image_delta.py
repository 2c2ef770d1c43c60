# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A `docker save` tarball without the layers a server already has (module image_archive_delta).

`docker load` looks every layer of the image up by its chain ID before it opens the layer's file in the tarball:
a layer the engine already has is taken from its store and its file is never read. A tarball that leaves out the
layers of the longest prefix of the image's layer list that one of the server's images shares (same diff IDs in
the same order = same chain IDs) therefore loads into the same image (same ID) on that server, and fails with
"no such file" on a server without them - never into another image. The engine checks each layer it does read
against the diff ID of the image's config, and the image ID is the config's digest.

Reads the classic layout (`<id>/layer.tar`, `<id>/json`, `<id>/VERSION`) and the OCI one (`blobs/sha256/<hex>`)
through manifest.json, the index every engine's `docker load` reads.

With compress=zstd what travels is `<tarball>.zst` (zstd -T0, all cores; the frame carries its own checksum, which
`zstd -d` on the server verifies): a worker image's Python layers shrink ~2.4x, and the copy over SSH - CPU-bound
on the servers' and the controller's side - shrinks with them. Docker 20.10's `docker load` reads gzip, bzip2 and xz
but not zstd (measured), so the server decompresses before loading; gzip would need no tool there but compresses
~8x and decompresses ~5x slower than zstd on the same machine (measured on this project's 2-core runner).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile


class DeltaError(Exception):
    pass


def _norm(name):
    name = posixpath.normpath(name.lstrip('/'))
    return '' if name == '.' else name


def read_index(tar):
    """(manifest entry, diff IDs) of the single image of an open tarfile."""
    try:
        manifest = json.load(tar.extractfile('manifest.json'))
    except (KeyError, ValueError) as exc:
        raise DeltaError('no readable manifest.json in the archive: %s' % exc)
    if not isinstance(manifest, list) or len(manifest) != 1:
        raise DeltaError('the archive holds %d images; a delta needs exactly one'
                         % (len(manifest) if isinstance(manifest, list) else 0))
    entry = manifest[0]
    try:
        config = json.load(tar.extractfile(_norm(entry['Config'])))
        diff_ids = config['rootfs']['diff_ids']
    except (KeyError, TypeError, ValueError) as exc:
        raise DeltaError('the image config %s is unreadable: %s' % (entry.get('Config'), exc))
    if len(diff_ids) != len(entry.get('Layers') or []):
        raise DeltaError('manifest.json lists %d layer files for %d diff IDs'
                         % (len(entry.get('Layers') or []), len(diff_ids)))
    return entry, diff_ids


def shared_prefix(diff_ids, have):
    """How many leading layers of diff_ids one of the layer lists in `have` (a server's images) starts with."""
    best = 0
    for layers in have or []:
        n = 0
        for mine, theirs in zip(diff_ids, layers or []):
            if mine != theirs:
                break
            n += 1
        best = max(best, n)
    return best


def skipped_members(members, entry, skip):
    """Names of the tarball members to leave out when the first `skip` layers are on the server.

    A layer's file is left out unless a kept layer uses the same file (or a kept member links to it); in the
    classic layout its whole `<id>/` directory goes with it (json and VERSION are read for no image of ours)."""
    layers = [_norm(p) for p in entry['Layers']]
    keep_files = set(layers[skip:]) | {_norm(entry['Config']), 'manifest.json', 'repositories'}
    by_name = dict((_norm(m.name), m) for m in members)
    # links of kept members point at files that must stay
    for name in list(keep_files):
        member = by_name.get(name)
        while member is not None and (member.issym() or member.islnk()):
            target = _norm(member.linkname if member.islnk()
                           else posixpath.join(posixpath.dirname(name), member.linkname))
            keep_files.add(target)
            name, member = target, by_name.get(target)
    drop_files = set(layers[:skip]) - keep_files
    drop_dirs = set()
    for path in drop_files:
        parent = posixpath.dirname(path)
        if parent and '/' not in parent and posixpath.basename(path) == 'layer.tar' \
                and not any(k.startswith(parent + '/') for k in keep_files):
            drop_dirs.add(parent)
    skipped = set()
    for name in by_name:
        top = name.split('/', 1)[0]
        if name in drop_files or top in drop_dirs:
            skipped.add(name)
    return skipped


def write_delta(src, dest, have):
    """Write to dest the archive src without the layers the server (`have`: its images' diff ID lists) has.

    Returns {layers, skipped, src_bytes, bytes, sha256}; with skipped == 0 nothing is written (use src)."""
    with tarfile.open(src, 'r:') as tar:
        entry, diff_ids = read_index(tar)
        skip = shared_prefix(diff_ids, have)
        result = dict(layers=len(diff_ids), skipped=skip, src_bytes=os.path.getsize(src))
        if skip == 0:
            return result
        members = tar.getmembers()
        drop = skipped_members(members, entry, skip)
        directory = os.path.dirname(os.path.abspath(dest))
        fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(dest) + '.', dir=directory)
        try:
            with os.fdopen(fd, 'wb') as raw:
                digest = _HashingWriter(raw)
                with tarfile.open(fileobj=digest, mode='w|', format=tar.format) as out:
                    for member in members:
                        if _norm(member.name) in drop:
                            continue
                        out.addfile(member, tar.extractfile(member) if member.isfile() else None)
            os.chmod(tmp, 0o644)
            os.rename(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    result.update(bytes=os.path.getsize(dest), sha256=digest.hexdigest())
    return result


class _HashingWriter(object):
    """A write-only file that hashes what goes through it (the sha256 of the delta without a second read)."""

    def __init__(self, raw):
        self._raw = raw
        self._hash = hashlib.sha256()

    def write(self, data):
        self._hash.update(data)
        return self._raw.write(data)

    def flush(self):
        self._raw.flush()

    def hexdigest(self):
        return self._hash.hexdigest()


def delta_name(src, diff_ids_kept_from, dest_dir=None):
    """The delta's file name in dest_dir (default: src's): one per skipped chain, so servers with the same layers
    share it."""
    tag = hashlib.sha256(json.dumps(diff_ids_kept_from).encode('utf-8')).hexdigest()[:12]
    base = os.path.basename(src)
    if base.endswith('.tar'):
        base = base[:-4]
    return os.path.join(dest_dir or os.path.dirname(src), '%s.delta-%s.tar' % (base, tag))


COMPRESSIONS = ('none', 'zstd')


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _write_sha_file(sha_file, sha, name):
    with open(sha_file + '.tmp', 'w') as handle:
        handle.write('%s  %s\n' % (sha, name))
    os.rename(sha_file + '.tmp', sha_file)


def _read_sha_file(sha_file):
    with open(sha_file) as handle:
        return (handle.read().split() or [''])[0]


def compressed_name(path, dest_dir=None):
    """Where the zstd copy of `path` goes (dest_dir, default path's directory)."""
    return os.path.join(dest_dir or os.path.dirname(path), os.path.basename(path) + '.zst')


def compress(path, dest, level=1, zstd=None):
    """Write dest = zstd of path (through a temporary file: never a partial dest), and dest.sha256.

    Returns (bytes, sha256). `zstd` is the binary (default: the one on PATH)."""
    binary = zstd or shutil.which('zstd')
    if not binary:
        raise DeltaError('compression zstd needs the zstd program on the controller (apt-get install zstd), or '
                         'image_archive_compression: none')
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(dest) + '.', dir=os.path.dirname(os.path.abspath(dest)))
    os.close(fd)
    try:
        proc = subprocess.run([binary, '-q', '-f', '-T0', '-%d' % level, path, '-o', tmp],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise DeltaError('zstd %s failed (exit %d): %s'
                             % (path, proc.returncode, proc.stderr.decode('utf-8', 'replace').strip()))
        os.chmod(tmp, 0o644)
        sha = _sha256_of(tmp)
        os.rename(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _write_sha_file(dest + '.sha256', sha, os.path.basename(dest))
    return os.path.getsize(dest), sha


def _compressed(result, params, check_mode):
    """result (an uncompressed answer of run) for its zstd copy: made once, reused while it and its .sha256 exist."""
    tar = result['tar_path']
    dest = compressed_name(tar, params.get('dest_dir') if result['full'] else None)
    result.update(path=dest)
    if os.path.isfile(dest) and os.path.isfile(dest + '.sha256'):
        result.update(sha256=_read_sha_file(dest + '.sha256'), bytes=os.path.getsize(dest))
        return result
    if check_mode:
        result.update(changed=True, sha256='', bytes=0)
        return result
    size, sha = compress(tar, dest, level=params.get('compress_level') or 1, zstd=params.get('zstd_path'))
    result.update(changed=True, sha256=sha, bytes=size)
    return result


def run(params, check_mode):
    """The module: {changed, full, path, sha256, layers, skipped, bytes, src_bytes, compressed, tar_*}."""
    compression = params.get('compress') or 'none'
    if compression not in COMPRESSIONS:
        raise DeltaError('compress=%s: one of %s' % (compression, ', '.join(COMPRESSIONS)))
    result = _run_tar(params, check_mode)
    result.update(compressed=compression != 'none', tar_path=result['path'], tar_sha256=result['sha256'],
                  tar_bytes=result['bytes'])
    if compression == 'none':
        return result
    if check_mode and not os.path.isfile(result['path']):
        # the delta it would compress is not written in check mode
        result.update(path=compressed_name(result['path']), sha256='', bytes=0, changed=True)
        return result
    return _compressed(result, params, check_mode)


def _run_tar(params, check_mode):
    """The uncompressed tarball to send: {changed, full, path, sha256, layers, skipped, bytes, src_bytes}."""
    src = params['src']
    if not os.path.isfile(src):
        raise DeltaError('%s: no such archive on the controller' % src)
    with tarfile.open(src, 'r:') as tar:
        _entry, diff_ids = read_index(tar)
    skip = shared_prefix(diff_ids, params['have'])
    if skip == 0:
        return dict(changed=False, full=True, path=src, sha256=params.get('src_sha256') or '',
                    layers=len(diff_ids), skipped=0, bytes=os.path.getsize(src), src_bytes=os.path.getsize(src))
    dest = delta_name(src, diff_ids[:skip], params.get('dest_dir'))
    sha_file = dest + '.sha256'
    if os.path.isfile(dest) and os.path.isfile(sha_file):
        sha = _read_sha_file(sha_file)
        return dict(changed=False, full=False, path=dest, sha256=sha, layers=len(diff_ids), skipped=skip,
                    bytes=os.path.getsize(dest), src_bytes=os.path.getsize(src))
    if check_mode:
        return dict(changed=True, full=False, path=dest, sha256='', layers=len(diff_ids), skipped=skip,
                    bytes=0, src_bytes=os.path.getsize(src))
    out = write_delta(src, dest, params['have'])
    _write_sha_file(sha_file, out['sha256'], os.path.basename(dest))
    return dict(changed=True, full=False, path=dest, sha256=out['sha256'], layers=out['layers'],
                skipped=out['skipped'], bytes=out['bytes'], src_bytes=out['src_bytes'])
