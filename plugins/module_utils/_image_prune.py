# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which worker images and image archives a deployment no longer needs (image role, tasks/prune.yml).

Kept on a server: the tag this run deploys and every tag a container of the server was created from (running or not:
the `-previous` container upgrade.yml keeps for a rollback holds the previous tag). Everything else of the image's
repository goes - a tag only, when another tag still holds the same image. Kept among archives (`docker save`
tarballs, their zstd copies, deltas, checksums - named `<repository with / as _>-<tag>[.delta-<hex>].tar[.zst][.sha256]`
by the image role): the ones of a kept tag."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


def archive_prefix(image_name):
    """The file name prefix of image_name's archives: `sfops/secretflow-worker` -> `sfops_secretflow-worker-`."""
    return image_name.replace('/', '_') + '-'


_ARCHIVE_TAIL = re.compile(r'^(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*?)(?:\.delta-[0-9a-f]+)?\.tar(?:\.zst)?(?:\.sha256)?$')


def archive_tag(filename, image_name):
    """The tag an archive file belongs to, or None for a file that is not one of image_name's archives."""
    prefix = archive_prefix(image_name)
    if not filename.startswith(prefix):
        return None
    match = _ARCHIVE_TAIL.match(filename[len(prefix):])
    return match.group('tag') if match else None


def _repo_tag(reference, image_name):
    """`name:tag` -> tag for image_name (no registry prefix expected), else None."""
    name, sep, tag = reference.rpartition(':')
    if not sep or '/' in tag or name != image_name:
        return None
    return tag


def used_tags(containers, image_name):
    """The tags of image_name that containers were created from (their `Image`), and the image IDs they name directly."""
    tags, ids = set(), set()
    for container in containers or []:
        reference = (container or {}).get('Image') or ''
        if reference.startswith('sha256:'):
            ids.add(reference)
            continue
        tag = _repo_tag(reference if ':' in reference.rsplit('/', 1)[-1] else reference + ':latest', image_name)
        if tag is not None:
            tags.add(tag)
    return tags, ids


def prune_plan(images, containers, image_name, keep_tags):
    """What a server removes and keeps of image_name, in one pass over its images:
    {'references': the `name:tag` references to remove, 'kept_tags': the tags that remain (keep_tags included)}, sorted.

    images: the server's images (docker_host_info, each with Id and RepoTags); containers: its containers, running or
    not (each with Image); keep_tags: tags kept whatever happens (the one this run deploys)."""
    if not image_name:
        raise ValueError('image_name is empty')
    tags, ids = used_tags(containers, image_name)
    keep = set(keep_tags or []) | tags
    remove, kept = set(), set(keep_tags or [])
    for image in images or []:
        for reference in image.get('RepoTags') or []:
            tag = _repo_tag(reference, image_name)
            if tag is None:
                continue
            if image.get('Id') not in ids and tag not in keep:
                remove.add(reference)
            else:
                kept.add(tag)
    return {'references': sorted(remove), 'kept_tags': sorted(kept)}


def prunable_archives(filenames, image_name, keep_tags, only_tags=None):
    """The archive files of image_name (names only) whose tag is not in keep_tags - and, with only_tags, is one of
    them - sorted; every other file is left alone."""
    keep = set(keep_tags or [])
    only = None if only_tags is None else set(only_tags)
    out = []
    for name in filenames or []:
        tag = archive_tag(name, image_name)
        if tag is not None and tag not in keep and (only is None or tag in only):
            out.append(name)
    return sorted(out)
