# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: redact_secrets
short_description: Replace what may be a secret in a data structure by <redacted>
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - For data that leaves a server or the controller in a bug report (C(playbooks/logs.yml) - C(docker inspect) of the
    containers, the deployment plan).
  - Replaced - the value of a key naming a secret (password, passwd, secret, token, credential, private key, api
    key, auth) when it is a string or a number; C(NAME=value) strings (a container's C(Env)) whose NAME names a
    secret; the password of any C(scheme://user:password@host) URL inside a string. Dicts and lists are walked.
options:
  _input:
    description: Any data (dict, list, string, ...).
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: A container's configuration for a bug report
  ansible.builtin.copy:
    content: "{{ info.container | sfops.secretflow.redact_secrets | to_nice_json }}"
    dest: /tmp/inspect.json
    mode: "0600"
  # Env ["REDIS_PASSWORD=x", "TZ=UTC"] -> ["REDIS_PASSWORD=<redacted>", "TZ=UTC"]
'''

RETURN = r'''
_value:
  description: A copy of the input with the secrets replaced by C(<redacted>).
  type: raw
'''

from ansible_collections.sfops.secretflow.plugins.module_utils._redact import redact


class FilterModule(object):
    def filters(self):
        return {'redact_secrets': redact}
