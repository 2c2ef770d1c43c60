"""Path confinement: every file a job reads or writes must resolve under data_dir."""

from __future__ import annotations

import os

from .errors import ParamsError


def _confine(data_dir: str, path, what: str) -> str:
    if not isinstance(path, str) or not path.strip():
        raise ParamsError(f"{what}: must be a non-empty string path, got {path!r}")
    if "\x00" in path:
        raise ParamsError(f"{what}: path contains a NUL byte")
    root = os.path.realpath(data_dir)
    candidate = path if os.path.isabs(path) else os.path.join(root, path)
    # realpath resolves symlinks and '..' (a symlink pointing outside is caught too)
    resolved = os.path.realpath(candidate)
    if os.path.commonpath([root, resolved]) != root or resolved == root:
        raise ParamsError(f"{what}: path {path!r} resolves to {resolved}, which is outside the data directory {root}")
    return resolved


def resolve_input(data_dir: str, path, what: str) -> str:
    """Resolve an input file under data_dir; it must exist and be a regular file."""
    resolved = _confine(data_dir, path, what)
    if not os.path.isfile(resolved):
        raise ParamsError(f"{what}: input file {resolved} does not exist or is not a regular file")
    return resolved


def resolve_output(data_dir: str, path, what: str, create_parent: bool = True) -> str:
    """Resolve an output file under data_dir; its parent directory is created if needed."""
    resolved = _confine(data_dir, path, what)
    if os.path.isdir(resolved):
        raise ParamsError(f"{what}: output path {resolved} is a directory")
    parent = os.path.dirname(resolved)
    if not os.path.isdir(parent):
        if not create_parent:
            raise ParamsError(f"{what}: output directory {parent} does not exist")
        os.makedirs(parent, exist_ok=True)
    return resolved
