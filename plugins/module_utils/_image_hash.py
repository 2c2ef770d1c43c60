# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content hash of a container image's inputs (used as its tag by the sfops.secretflow.image role).

Everything that goes into the image is fed to one sha256: literal texts (the rendered Dockerfile, the
base image reference and ID, ...) and files or directory trees (requirements, the worker package).
Directory trees are walked in sorted order; files and directories whose NAME matches one of the
exclude patterns (tests, __pycache__, build, *.egg-info, ...) are skipped. Every item is framed by its
kind, label/relative path and length, so moving bytes between items always changes the hash.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import hashlib
import os

DEFAULT_EXCLUDE = ('tests', '__pycache__', 'build', 'dist', '*.egg-info', '*.pyc', '*.pyo',
                   '.pytest_cache', '.mypy_cache', '.git')


def _excluded(name, exclude):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)


def tree_files(path, exclude=DEFAULT_EXCLUDE):
    """Sorted relative paths ('/'-separated) of the regular files under path, without excluded names.

    A file path yields [''] (itself)."""
    if os.path.isfile(path):
        return ['']
    if not os.path.isdir(path):
        raise ValueError('%s is neither a file nor a directory' % path)
    found = []
    for parent, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _excluded(d, exclude))
        for name in sorted(files):
            if _excluded(name, exclude):
                continue
            full = os.path.join(parent, name)
            if os.path.isfile(full):
                found.append(os.path.relpath(full, path).replace(os.sep, '/'))
    return sorted(found)


def _frame(digest, kind, label, data):
    if not isinstance(data, bytes):
        data = data.encode('utf-8')
    digest.update(('%s\0%s\0%d\0' % (kind, label, len(data))).encode('utf-8'))
    digest.update(data)


def content_hash(texts=None, paths=None, exclude=DEFAULT_EXCLUDE, length=12):
    """First `length` hex digits of sha256 over `texts` (label -> str) and `paths` (label -> file or dir).

    Labels are sorted, so dict order does not matter. Raises ValueError for a missing path, TypeError for
    a text that is not a string."""
    texts = texts or {}
    paths = paths or {}
    if not 1 <= int(length) <= 64:
        raise ValueError('length must be 1-64, got %r' % (length,))
    digest = hashlib.sha256()
    for label in sorted(texts):
        value = texts[label]
        if value is None:
            value = ''
        if not isinstance(value, (str, bytes)):
            if isinstance(value, (int, float)):
                value = str(value)
            else:
                raise TypeError('text %r must be a string, got %s' % (label, type(value).__name__))
        _frame(digest, 'text', label, value)
    for label in sorted(paths):
        root = os.path.expanduser(str(paths[label]))
        for rel in tree_files(root, exclude):
            full = os.path.join(root, rel) if rel else root
            with open(full, 'rb') as handle:
                _frame(digest, 'file', label + ('/' + rel if rel else ''), handle.read())
    return digest.hexdigest()[:int(length)]
