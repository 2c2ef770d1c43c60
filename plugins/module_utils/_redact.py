# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of what may be a secret in data that leaves a server (playbooks/logs.yml: ``docker inspect``, the plan).

:func:`redact` walks dicts and lists and replaces
* the value of every key that names a secret (password, passwd, secret, token, credential, private key, api key,
  auth) - a string or a number, not a dict or list (walked into instead);
* ``NAME=value`` strings in a list under a key ``Env``/``env`` (a container's environment) whose NAME names a secret;
* the password of every URL with one (``scheme://user:password@host``), anywhere in a string.
Standard library only; no ansible import (the filter wraps it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

REDACTED = '<redacted>'
SECRET_NAME = re.compile(r'(pass(word|wd)?|secret|token|credential|private[_-]?key|api[_-]?key|auth)', re.I)
_ENV = re.compile(r'^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$', re.S)
_URL_PASSWORD = re.compile(r'([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(@)', re.I)


def secret_name(name):
    return bool(SECRET_NAME.search(str(name)))


def redact_string(text, env=False):
    """``text`` without URL passwords; ``env``: it is a ``NAME=value`` environment entry (value redacted when NAME
    names a secret)."""
    m = _ENV.match(text) if env else None
    if m and secret_name(m.group(1)) and m.group(2):
        return '%s=%s' % (m.group(1), REDACTED)
    return _URL_PASSWORD.sub(r'\g<1>' + REDACTED + r'\g<3>', text)


def redact(value, _env=False):
    """A copy of ``value`` with what may be secret replaced by ``<redacted>``."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if secret_name(key) and not isinstance(item, (dict, list, tuple)) and item not in (None, '', False, True):
                out[key] = REDACTED
            else:
                out[key] = redact(item, _env=str(key).lower() == 'env')
        return out
    if isinstance(value, (list, tuple)):
        return [redact(item, _env=_env) for item in value]
    if isinstance(value, str):
        return redact_string(value, env=_env)
    return value
