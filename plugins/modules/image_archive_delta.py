#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: image_archive_delta
short_description: A docker save tarball without the layers a server already has
version_added: 0.1.0
description:
  - Runs where the tarball is (the image role delegates it to the controller). Given the layer lists (diff IDs,
    C(RootFS.Layers) of C(docker image inspect)) of the images a server already has, writes next to O(src) a copy
    of the tarball that leaves out the longest prefix of the image's layers one of them shares. C(docker load) of
    that copy on that server gives the same image (same ID); the engine takes a layer it already has from its store
    and never opens the layer's file; on a server without those layers the load fails ("no such file"), it never
    loads another image.
  - Nothing in common (a first deployment) - RV(full) is true and RV(path) is O(src) itself; nothing is written.
  - The copy is named after O(src) and the skipped layers (C(<name>.delta-<hash>.tar) in O(dest_dir), with a
    C(.sha256) file in sha256sum format), so servers with the same layers share it and a second run reuses it.
  - Reads the classic (C(<id>/layer.tar)) and the OCI (C(blobs/sha256/...)) layout through C(manifest.json); the
    tarball must hold exactly one image.
  - With O(compress=zstd) RV(path) is a zstd copy of that tarball (C(<tarball>.zst), made once with all cores and
    reused while it and its C(.sha256) exist; a whole tarball's copy goes to O(dest_dir)). Docker 20.10 cannot load
    zstd, so the server decompresses it (C(zstd -d), which also checks the frame checksum) before C(docker load).
    Needs the C(zstd) program on the controller.
options:
  src:
    description: The full tarball (C(docker save) of one image).
    type: path
    required: true
  src_sha256:
    description: The full tarball's sha256, returned as RV(sha256) when nothing can be left out.
    type: str
    default: ''
  dest_dir:
    description: Where the copy is written (an existing directory); default the directory of O(src).
    type: path
  have:
    description: The diff ID lists of the server's images (each a list of C(sha256:...) strings).
    type: list
    elements: list
    default: []
  compress:
    description: C(none) sends the tarball as it is; C(zstd) sends a zstd copy of it.
    type: str
    choices: [none, zstd]
    default: none
  compress_level:
    description: The zstd level (1 is fast and already shrinks a worker image ~2.4x; higher levels cost far more time).
    type: int
    default: 1
attributes:
  check_mode:
    support: full
    description: Reports what it would leave out and where it would write; writes nothing (RV(sha256) empty when
      the file is not there yet).
  diff_mode:
    support: none
    description: A binary archive; there is nothing to diff.
seealso:
  - module: community.docker.docker_image_load
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: The images the server has (their layer lists)
  community.docker.docker_image_info:
    name: "{{ _server_image_ids }}"
  register: _server_images

- name: The tarball without the layers the server has (controller)
  sfops.secretflow.image_archive_delta:
    src: ~/.cache/sfops/images/sfops_secretflow-worker-0123abcd.tar
    src_sha256: "{{ lookup('ansible.builtin.file', '~/.cache/sfops/images/sfops_secretflow-worker-0123abcd.tar.sha256').split()[0] }}"
    have: "{{ _server_images.images | map(attribute='RootFS.Layers') | list }}"
  delegate_to: localhost
  become: false
  register: _delta

- name: The same, as a zstd copy (the server runs zstd -d before docker load)
  sfops.secretflow.image_archive_delta:
    src: ~/.cache/sfops/images/sfops_secretflow-worker-0123abcd.tar
    have: "{{ _server_images.images | map(attribute='RootFS.Layers') | list }}"
    compress: zstd
  delegate_to: localhost
  become: false
  register: _delta
'''

RETURN = r'''
full:
  description: True when the server shares no leading layer with the image; RV(path) is then O(src).
  type: bool
  returned: always
path:
  description: The tarball to copy to the server.
  type: str
  returned: always
sha256:
  description: Its sha256 (O(src_sha256) when RV(full); empty in check mode before the copy exists).
  type: str
  returned: always
layers:
  description: How many layers the image has.
  type: int
  returned: always
skipped:
  description: How many of them the copy leaves out.
  type: int
  returned: always
bytes:
  description: The size of RV(path) in bytes (0 in check mode before the copy exists).
  type: int
  returned: always
src_bytes:
  description: The size of O(src) in bytes.
  type: int
  returned: always
compressed:
  description: Whether RV(path) is a zstd copy (O(compress=zstd)).
  type: bool
  returned: always
tar_path:
  description: The uncompressed tarball RV(path) was made from (RV(path) itself without compression).
  type: str
  returned: always
tar_sha256:
  description: Its sha256 (empty in check mode before it exists).
  type: str
  returned: always
tar_bytes:
  description: Its size in bytes - what the server has after decompressing.
  type: int
  returned: always
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sfops.secretflow.plugins.module_utils import _image_delta as delta


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            src_sha256=dict(type='str', default=''),
            dest_dir=dict(type='path'),
            have=dict(type='list', elements='list', default=[]),
            compress=dict(type='str', default='none', choices=['none', 'zstd']),
            compress_level=dict(type='int', default=1),
        ),
        supports_check_mode=True,
    )
    try:
        result = delta.run(module.params, module.check_mode)
    except (delta.DeltaError, OSError, EnvironmentError) as exc:
        module.fail_json(msg='image_archive_delta: %s' % exc)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
