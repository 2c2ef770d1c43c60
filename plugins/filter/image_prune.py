# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: image_prune_plan
short_description: The worker image tags a server no longer needs, and the ones it keeps
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Of the server's images of O(image_name), every C(name:tag) reference whose tag is neither in O(keep_tags) nor the
    one a container of the server (running or not) was created from (C(references)); an image a container names by
    ID is kept whole. And the tags of O(image_name) that remain, O(keep_tags) included (C(kept_tags)).
  - The same plugin file provides C(image_prune_archives) (input the file names; then O(image_name), O(keep_tags) and
    optionally C(only_tags)),
    the archive files (C(docker save) tarballs, their zstd copies, deltas and checksums, as the image role names them)
    of O(image_name) whose tag is not in O(keep_tags) - and, with C(only_tags), is one of those; files that are not
    archives of O(image_name) are never returned.
options:
  _input:
    description: The server's images (C(images) of community.docker.docker_host_info, each with C(Id) and C(RepoTags)).
    type: list
    elements: dict
    required: true
  containers:
    description: The server's containers, running or not (C(containers) of community.docker.docker_host_info with
      C(containers_all)), each with C(Image).
    type: list
    elements: dict
    required: true
  image_name:
    description: The repository, e.g. C(sfops/secretflow-worker).
    type: str
    required: true
  keep_tags:
    description: Tags kept in any case (the one the run deploys).
    type: list
    elements: str
    default: []
notes:
  - The logic lives in the collection's C(plugins/module_utils/_image_prune.py).
'''

EXAMPLES = r'''
- name: Untag what nothing uses
  community.docker.docker_image:
    name: "{{ item }}"
    state: absent
  loop: "{{ (_info.images | sfops.secretflow.image_prune_plan(_info.containers, image_name, [image_tag])).references }}"

- name: Archives of other tags
  ansible.builtin.debug:
    msg: "{{ ['sfops_secretflow-worker-abc.tar.zst', 'notes.txt'] | sfops.secretflow.image_prune_archives('sfops/secretflow-worker', ['def']) }}"
'''

RETURN = r'''
_value:
  description:
    - C(references), the references (C(name:tag)) to remove, and C(kept_tags), the tags that remain, both sorted.
    - For C(image_prune_archives), a list of file names.
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._image_prune import (
    prunable_archives, prune_plan)


def _image_prune_plan(images, containers, image_name, keep_tags=None):
    try:
        return prune_plan(list(images or []), list(containers or []), image_name, list(keep_tags or []))
    except (TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError('image_prune_plan: %s' % to_native(exc))


def _image_prune_archives(filenames, image_name, keep_tags=None, only_tags=None):
    try:
        return prunable_archives(list(filenames or []), image_name, list(keep_tags or []),
                                 None if only_tags is None else list(only_tags))
    except (TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError('image_prune_archives: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'image_prune_plan': _image_prune_plan, 'image_prune_archives': _image_prune_archives}
