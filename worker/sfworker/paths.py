"""Path confinement: every file a job reads or writes must resolve under data_dir; outputs are staged.

A job's own output files are written under a staging name in the same directory (:func:`staging_path`) and
published by :func:`publish_output` once the job succeeded: a reader never sees a half-written file, a failed job
leaves none behind, and an existing file is replaced only when the task said ``overwrite: true``.
"""

from __future__ import annotations

import errno
import os
import uuid

from .errors import ParamsError

STAGING_PREFIX = ".sfpart-"


class OutputExistsError(FileExistsError):
    """An output file appeared while the job ran; the job's own result stays in its staging file."""


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
        raise ParamsError(f"{what}: path {path!r} resolves to {resolved}, which is outside the data directory {root} "
                          f"(the worker config's data_dir)")
    return resolved


def confine(data_dir: str, path, what: str) -> str:
    """``path`` resolved under data_dir (symlinks and '..' resolved); whether it exists is not checked (an input a
    pipeline's earlier step writes, sfworker.tasks.pipeline)."""
    return _confine(data_dir, path, what)


def resolve_input(data_dir: str, path, what: str) -> str:
    """Resolve an input file under data_dir; it must exist and be a regular file."""
    resolved = _confine(data_dir, path, what)
    if not os.path.isfile(resolved):
        raise ParamsError(f"{what}: input file {resolved} does not exist or is not a regular file")
    return resolved


def resolve_output(data_dir: str, path, what: str, create_parent: bool = True, overwrite: bool = False) -> str:
    """Resolve an output file under data_dir; its parent directory is created if needed. An existing file (another
    job's input or output, say) is refused unless ``overwrite`` (the task's ``overwrite: true``)."""
    resolved = _confine(data_dir, path, what)
    if os.path.isdir(resolved):
        raise ParamsError(f"{what}: output path {resolved} is a directory")
    if os.path.lexists(resolved) and not overwrite:
        raise ParamsError(f"{what}: output file {resolved} exists; a job does not replace a file unless the task says "
                          f"so (task_config.overwrite: true)")
    parent = os.path.dirname(resolved)
    if not os.path.isdir(parent):
        if not create_parent:
            raise ParamsError(f"{what}: output directory {parent} does not exist")
        os.makedirs(parent, exist_ok=True)
    return resolved


def staging_path(final: str, job_name: str) -> str:
    """Where a job writes ``final`` until it succeeded: a hidden name in the same directory (so the rename is
    atomic), unique per job run, keeping the file's extension."""
    directory, base = os.path.split(final)
    return os.path.join(directory, f"{STAGING_PREFIX}{job_name}-{uuid.uuid4().hex[:8]}-{base}")


def publish_output(staging: str, final: str, overwrite: bool) -> bool:
    """Move a job's finished ``staging`` file to ``final``. Returns False when the job wrote nothing there.

    ``overwrite``: ``os.replace`` (atomic). Else a hard link (fails if ``final`` exists - also if another job
    created it while this one ran) then unlink; where the filesystem has no hard links, a check then ``os.rename``
    (a short race). Raises OutputExistsError naming both files; the staging file is kept for the operator."""
    if not os.path.exists(staging):
        return False
    if overwrite:
        os.replace(staging, final)
        return True
    try:
        os.link(staging, final)
    except FileExistsError:
        raise OutputExistsError(errno.EEXIST, _clash(final, staging)) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(final):
            raise OutputExistsError(errno.EEXIST, _clash(final, staging)) from None
        os.rename(staging, final)
        return True
    os.unlink(staging)
    return True


def _clash(final: str, staging: str) -> str:
    return f"output file {final} was created by someone else while the job ran; this job's output is kept in {staging}"


def discard_staging(staging: str) -> None:
    try:
        os.unlink(staging)
    except OSError:
        pass
