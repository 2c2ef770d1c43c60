# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supply-chain checks of the image and docker roles, as pure functions (the roles call them through filters).

* image references: ``[registry/]repository[:tag][@sha256:<64 hex>]``, and the base image policy (a mutable tag
  that comes from a registry is refused unless acknowledged);
* image IDs: the ID of the image in a ``docker save`` tarball (its ``manifest.json``), ID comparison;
* OpenPGP: the v4 fingerprints of the primary keys in a (ASCII-armoured or binary) public key file, so a downloaded
  repository key is trusted only when it is exactly the pinned key, without gpg on the target;
* checksums: sha256 of package files against the ones the inventory pins.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import re

_DIGEST = re.compile(r'^sha256:[0-9a-f]{64}$')
_HEX64 = re.compile(r'^[0-9a-f]{64}$')
_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
_REFERENCE = re.compile(
    r'^(?P<repository>(?:(?P<registry>[A-Za-z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)/)?'
    + _COMPONENT + r'(?:/' + _COMPONENT + r')*)'
    r'(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?'
    r'(?:@(?P<digest>[a-z0-9]+:[0-9a-fA-F]{32,}))?$')


def image_reference(ref):
    """``[registry/]repository[:tag][@sha256:hex]`` -> dict(repository, tag, digest, pinned). ValueError if malformed.

    The first path component is a registry when it has a ``.`` or ``:`` or is ``localhost`` (Docker's rule)."""
    if not isinstance(ref, str) or not ref:
        raise ValueError('image reference must be a non-empty string, got %r' % (ref,))
    match = _REFERENCE.match(ref)
    if not match:
        raise ValueError('%r is not an image reference ([registry/]repository[:tag][@sha256:<64 hex>])' % ref)
    registry = match.group('registry')
    if registry and not ('.' in registry or ':' in registry or registry == 'localhost' or registry.startswith('[')):
        registry = None  # e.g. sfops/debian-base: a Docker Hub namespace, not a registry host
    digest = match.group('digest')
    if digest is not None and not _DIGEST.match(digest):
        raise ValueError('%r: only sha256 digests (sha256:<64 lowercase hex>) are accepted' % ref)
    return {'repository': match.group('repository'), 'registry': registry, 'tag': match.group('tag'),
            'digest': digest, 'pinned': digest is not None}


def base_image_check(ref, images, allow_mutable_tag=False, variable='image_base_image'):
    """Policy for the base image of a build: {'error': str, 'warning': str} (empty strings when there is nothing).

    ``images`` is what ``docker_image_info`` found for ``ref`` on the builder (empty: it will be pulled).
    * ``name@sha256:...`` (optionally with a tag): fine; Docker resolves it only to that content.
    * a tag, image not on the builder: it would be pulled from a registry by a tag the registry can move ->
      error, or a warning when ``allow_mutable_tag``;
    * a tag, image on the builder with RepoDigests (it came from a registry): the same;
    * a tag, image on the builder without RepoDigests (built or ``docker import``ed locally, never pulled): fine - no
      registry can change it, and the worker image's tag covers its ID.
    """
    parsed = image_reference(ref)
    if parsed['pinned']:
        return {'error': '', 'warning': ''}
    images = images or []
    repo_digests = sorted(set(d for image in images for d in (image.get('RepoDigests') or [])))
    if images and not repo_digests:
        return {'error': '', 'warning': ''}
    if images:
        why = ('base image %s is a mutable tag of an image from a registry (RepoDigests: %s)'
               % (ref, ', '.join(repo_digests)))
        hint = 'pin it: %s=%s' % (variable, repo_digests[0].split('@')[0] + ':' + (parsed['tag'] or 'latest')
                                  + '@' + repo_digests[0].split('@', 1)[1])
    else:
        why = 'base image %s would be pulled by a mutable tag (the registry can serve other content under it)' % ref
        hint = 'pin it: %s=<repository>[:tag]@sha256:<digest> (docker inspect --format \'{{index .RepoDigests 0}}\')' \
            % variable
    if allow_mutable_tag:
        return {'error': '', 'warning': '%s; accepted because image_base_allow_mutable_tag is true (%s)' % (why, hint)}
    return {'error': '%s; %s, or acknowledge with image_base_allow_mutable_tag=true' % (why, hint), 'warning': ''}


def image_id(value):
    """``sha256:<64 hex>`` of an image ID given with or without the ``sha256:`` prefix. ValueError if malformed."""
    text = str(value or '').strip().lower()
    if _HEX64.match(text):
        text = 'sha256:' + text
    if not _DIGEST.match(text):
        raise ValueError('%r is not an image ID (sha256:<64 hex>)' % (value,))
    return text


def archive_image_id(manifest, repo_tag=None):
    """Image ID in a ``docker save`` tarball, from its ``manifest.json`` (text or parsed).

    ``Config`` is ``<hex>.json`` (classic format) or ``blobs/sha256/<hex>`` (OCI layout, Docker >= 25); either way
    the config blob's sha256 is the image ID. With ``repo_tag`` the entry carrying that tag is taken; without it the
    tarball must hold exactly one image."""
    if isinstance(manifest, (str, bytes)):
        try:
            manifest = json.loads(manifest)
        except ValueError as exc:
            raise ValueError('manifest.json is not JSON: %s' % exc)
    if not isinstance(manifest, list) or not manifest or not all(isinstance(e, dict) for e in manifest):
        raise ValueError('manifest.json must be a non-empty list of images')
    entries = manifest
    if repo_tag is not None:
        entries = [e for e in manifest if repo_tag in (e.get('RepoTags') or [])]
        if not entries:
            tags = sorted(t for e in manifest for t in (e.get('RepoTags') or []))
            raise ValueError('the archive has no image tagged %s (it has: %s)' % (repo_tag, ', '.join(tags) or 'none'))
    if len(entries) != 1:
        raise ValueError('the archive holds %d images; name the one to use' % len(entries))
    config = str(entries[0].get('Config') or '')
    match = re.match(r'^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$', config)
    if not match:
        raise ValueError('unexpected Config %r in manifest.json' % config)
    return 'sha256:' + match.group(1)


def sha256sum_line(text, filename=None):
    """The hex digest of a ``sha256sum`` line (``<hex>  <name>`` or ``<hex> *<name>``); with ``filename`` the name
    must be that file's base name. ValueError otherwise."""
    lines = [line for line in str(text or '').splitlines() if line.strip()]
    if len(lines) != 1:
        raise ValueError('a checksum file must hold exactly one "<sha256>  <file>" line, found %d' % len(lines))
    match = re.match(r'^([0-9a-fA-F]{64}) [ *](.+)$', lines[0])
    if not match:
        raise ValueError('not a sha256sum line: %r' % lines[0])
    if filename is not None and match.group(2).rsplit('/', 1)[-1] != str(filename).rsplit('/', 1)[-1]:
        raise ValueError('the checksum is for %s, not %s' % (match.group(2), filename))
    return match.group(1).lower()


# --- OpenPGP ----------------------------------------------------------------------------------------------------

def _dearmor(data):
    """Binary OpenPGP data from an ASCII-armoured block (the first PUBLIC KEY BLOCK) or binary input."""
    if isinstance(data, str):
        data = data.encode('utf-8', 'replace')
    if b'-----BEGIN PGP' not in data:
        return data
    lines = data.decode('ascii', 'replace').splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith('-----BEGIN PGP PUBLIC KEY BLOCK'))
    except StopIteration:
        raise ValueError('no "BEGIN PGP PUBLIC KEY BLOCK" in the key file')
    body, in_headers = [], True
    for line in lines[start + 1:]:
        line = line.strip()
        if line.startswith('-----END PGP'):
            break
        if in_headers:
            if not line:
                in_headers = False
            elif ':' in line:
                continue
            else:
                in_headers = False
        if not line or line.startswith('='):  # blank, or the CRC24 line
            continue
        body.append(line)
    else:
        raise ValueError('unterminated PGP armour')
    try:
        return base64.b64decode(''.join(body), validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError('bad base64 in the PGP armour: %s' % exc)


def _packets(data):
    """(tag, body) of each OpenPGP packet (RFC 4880 section 4.2, old and new formats)."""
    pos = 0
    while pos < len(data):
        head = data[pos]
        if not head & 0x80:
            raise ValueError('not OpenPGP data (bad packet header at byte %d)' % pos)
        pos += 1
        if head & 0x40:  # new format
            tag = head & 0x3f
            first = data[pos]
            if first < 192:
                length, pos = first, pos + 1
            elif first < 224:
                length, pos = ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 1:pos + 5], 'big'), pos + 5
            else:
                raise ValueError('partial body lengths are not used in key files')
        else:
            tag = (head >> 2) & 0x0f
            kind = head & 0x03
            if kind == 3:
                raise ValueError('indeterminate packet length in a key file')
            size = (1, 2, 4)[kind]
            length, pos = int.from_bytes(data[pos:pos + size], 'big'), pos + size
        body = data[pos:pos + length]
        if len(body) != length:
            raise ValueError('truncated OpenPGP packet')
        pos += length
        yield tag, body


def pgp_fingerprints(key):
    """Upper-case hex v4 fingerprints of the PRIMARY public keys in ``key`` (armoured text, or binary bytes).

    Subkeys are not listed (apt and rpm trust a key file as a whole; what matters is whose primary keys it holds).
    ValueError for data that is not an OpenPGP public key file or a key version other than 4."""
    data = _dearmor(key)
    found = []
    for tag, body in _packets(data):
        if tag != 6:
            continue
        if not body or body[0] != 4:
            raise ValueError('public key version %s is not supported (v4 keys only)' % (body[0] if body else '?'))
        found.append(hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).hexdigest().upper())
    if not found:
        raise ValueError('no public key in the key file')
    return found


def normalize_fingerprint(value):
    """``9DC8 5822 ...`` / ``0x9dc8...`` -> 40 upper-case hex digits. ValueError otherwise."""
    text = re.sub(r'\s+', '', str(value or '')).upper()
    if text.startswith('0X'):
        text = text[2:]
    if not re.match(r'^[0-9A-F]{40}$', text):
        raise ValueError('%r is not a 40-hex-digit OpenPGP v4 fingerprint' % (value,))
    return text


def pgp_key_problem(key, expected):
    """'' when ``key`` holds exactly the pinned primary key(s) ``expected`` (str or list), else why not."""
    wanted = sorted(set(normalize_fingerprint(f) for f in ([expected] if isinstance(expected, str) else expected)))
    if not wanted:
        raise ValueError('no fingerprint to check the key against')
    try:
        got = sorted(set(pgp_fingerprints(key)))
    except ValueError as exc:
        return 'the downloaded key is not usable: %s' % exc
    if got != wanted:
        return 'the downloaded key has fingerprint(s) %s, expected %s' % (', '.join(got), ', '.join(wanted))
    return ''


# --- package checksums -------------------------------------------------------------------------------------------

def normalize_sha256(value):
    """``sha256:<hex>`` or ``<hex>`` -> 64 lower-case hex digits. ValueError otherwise."""
    text = str(value or '').strip().lower()
    if text.startswith('sha256:'):
        text = text[len('sha256:'):]
    if not _HEX64.match(text):
        raise ValueError('%r is not a sha256 checksum (64 hex digits, optionally prefixed sha256:)' % (value,))
    return text


def checksum_problems(files, expected, actual=None, allow_unverified=False, variable='docker_offline_checksums'):
    """Problems (list of str, empty = fine) of package ``files`` against the pinned ``expected`` {file: sha256}.

    ``actual`` {file: sha256} are the computed checksums (None: only check that every file has a valid pin). A file
    without a pin is a problem unless ``allow_unverified``; a pin for a file that is not installed is a problem too
    (a typo would otherwise silently leave the real file unpinned)."""
    expected = expected or {}
    problems, pins = [], {}
    for name in sorted(expected):
        try:
            pins[name] = normalize_sha256(expected[name])
        except ValueError as exc:
            problems.append('%s[%s]: %s' % (variable, name, exc))
    for name in sorted(set(expected) - set(files)):
        problems.append('%s names %s, which is not among the files to install' % (variable, name))
    for name in files:
        if name not in expected:
            if not allow_unverified:
                problems.append('%s has no sha256 for %s' % (variable, name))
            continue
        if actual is None or name not in pins:
            continue
        got = actual.get(name)
        if got is None:
            problems.append('%s: no checksum computed (is the file there?)' % name)
        elif str(got).lower() != pins[name]:
            problems.append('%s has sha256 %s, %s pins %s' % (name, str(got).lower(), variable, pins[name]))
    return problems
