# -*- coding: utf-8 -*-
"""Facts the collection states in several places agree: plugin versions with galaxy.yml, role licences with the
collection's licence, private module_utils names."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

from ansible.module_utils.compat.version import LooseVersion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, 'galaxy.yml')) as _handle:
    GALAXY = yaml.safe_load(_handle)
PLUGINS = sorted(p for p in glob.glob(os.path.join(ROOT, 'plugins', '*', '*.py'))
                 if os.path.basename(os.path.dirname(p)) in ('modules', 'filter', 'lookup', 'action')
                 and not os.path.basename(p).startswith('__'))
ROLE_METAS = sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'main.yml')))


def _doc_block(path):
    with open(path) as handle:
        text = handle.read()
    match = re.search(r"^DOCUMENTATION = r?'''\n(.*?)^'''", text, re.M | re.S)
    return yaml.safe_load(match.group(1)) if match else None


@pytest.mark.parametrize('path', PLUGINS, ids=lambda p: os.path.relpath(p, ROOT))
def test_version_added_is_not_after_the_collection_version(path):
    doc = _doc_block(path)
    if doc is None:
        assert os.path.basename(os.path.dirname(path)) == 'action', 'only action plugins document in plugins/modules'
        return
    added = str(doc.get('version_added'))
    assert LooseVersion(added) <= LooseVersion(str(GALAXY['version'])), (
        '%s: version_added %s is after the collection version %s (galaxy.yml)' % (path, added, GALAXY['version']))


@pytest.mark.parametrize('path', ROLE_METAS, ids=lambda p: os.path.relpath(p, ROOT))
def test_roles_carry_the_collection_licence(path):
    with open(path) as handle:
        meta = yaml.safe_load(handle)
    assert meta['galaxy_info']['license'] in GALAXY['license'], path


def test_module_utils_are_private():
    names = [os.path.basename(p) for p in glob.glob(os.path.join(ROOT, 'plugins', 'module_utils', '*.py'))]
    public = [n for n in names if not n.startswith('_')]
    assert not public, 'module_utils are internal: name them _name.py (community.docker convention): %s' % public
