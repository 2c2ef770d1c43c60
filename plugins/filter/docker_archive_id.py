# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: docker_archive_id
short_description: The image ID in a docker save tarball, from its manifest.json
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Reads the C(Config) of the image entry (classic C(<hex>.json) or OCI C(blobs/sha256/<hex>)), whose sha256 is the
    image ID, and returns it as C(sha256:<hex>).
options:
  _input:
    description: The text of C(manifest.json) of the tarball.
    type: str
    required: true
  repo_tag:
    description: Take the entry carrying this C(name:tag); without it the tarball must hold exactly one image.
    type: str
notes:
  - The logic lives in the collection's C(plugins/module_utils/_supply_chain.py).
'''

EXAMPLES = r'''
- name: Image ID of a prebuilt tarball
  ansible.builtin.debug:
    msg: "{{ manifest_text | sfops.secretflow.docker_archive_id('sfops/secretflow-worker:0123456789ab') }}"
'''

RETURN = r'''
_value:
  description: The image ID, C(sha256:<64 hex>).
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._supply_chain import archive_image_id


def _docker_archive_id(manifest, repo_tag=None):
    try:
        return archive_image_id(manifest, repo_tag)
    except ValueError as exc:
        raise AnsibleFilterError('docker_archive_id: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'docker_archive_id': _docker_archive_id}
