"""Parent side of a job: start `python -m sfworker.job` in its own session, enforce the hard
timeout, stream its output into the worker's log and return its result dict.

A crash, hang or sys.exit inside SecretFlow/RayFed only ever kills this child process.

Stages (#13): the child appends one JSON line per stage it reaches ({"stage": ..., "t": ..., ...}) to the file
named by the spec's ``stage_path`` (in the job's directory; no network); this side reads new lines while it
waits and hands each to ``on_stage``.

The child gets SIGKILL when the process that started it dies (PR_SET_PDEATHSIG): a Celery pool process killed
mid-job takes its job with it, so the redelivered message's run never meets a stale driver on the same ports.
"""

from __future__ import annotations

import collections
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Callable, Dict, Optional

from .envhygiene import clean_child_env
from .paths import discard_staging

log = logging.getLogger(__name__)

# after RESULT.json appeared, how long sf.shutdown() may take before the process group is killed
SHUTDOWN_GRACE_S = 30.0


class JobProcessError(RuntimeError):
    pass


_PR_SET_PDEATHSIG = 1


def _prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


# resolved once, before any fork: the preexec_fn below only calls it (no dlopen/dlsym between fork and exec)
_PRCTL = _prctl()


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the thread that started it exits (Linux; a no-op elsewhere)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, 9, 0, 0, 0)


class StageReader:
    """Reads the stage lines the job child appends to its stage file (complete lines only)."""

    def __init__(self, path: str, on_stage: Optional[Callable[[str, Dict[str, Any]], None]]):
        self.path = path
        self.on_stage = on_stage
        self._pos = 0
        self.seen: list = []

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._pos)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self._pos += end + 1
        for raw in chunk[:end].split(b"\n"):
            try:
                info = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(info, dict) or not isinstance(info.get("stage"), str):
                continue
            self.seen.append(info["stage"])
            if self.on_stage is not None:
                try:
                    self.on_stage(info.pop("stage"), info)
                except Exception as e:  # noqa: BLE001  reporting must not break the supervision
                    log.warning("stage callback failed: %s", e)


def _kill_group(p: subprocess.Popen, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def prune_old_job_dirs(work_dir: str, max_age_s: float = 3 * 24 * 3600) -> None:
    """Failed jobs keep their directory (spec.json, job.log) for inspection; prune old ones."""
    try:
        entries = os.listdir(work_dir)
    except OSError:
        return
    now = time.time()
    for name in entries:
        path = os.path.join(work_dir, name)
        try:
            if name.startswith("sfjob-") and os.path.isdir(path) and now - os.path.getmtime(path) > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def run_job_process(
    spec: Dict[str, Any],
    work_dir: str,
    timeout_s: float,
    should_abort: Optional[Callable[[], Optional[str]]] = None,
    log_prefix: str = "",
    python: str = sys.executable,
    keep_dir_on_failure: bool = True,
    on_stage: Optional[Callable[[str, Dict[str, Any]], None]] = None,
) -> Dict[str, Any]:
    os.makedirs(work_dir, exist_ok=True)
    prune_old_job_dirs(work_dir)
    job_dir = os.path.join(work_dir, f"{spec['job_name']}-{uuid.uuid4().hex[:8]}")
    os.makedirs(job_dir)
    spec_path = os.path.join(job_dir, "spec.json")
    result_path = os.path.join(job_dir, "result.json")
    stage_path = os.path.join(job_dir, "stages.jsonl")
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(dict(spec, stage_path=stage_path), f)
    stages = StageReader(stage_path, on_stage)

    env = clean_child_env({"PYTHONUNBUFFERED": "1"})
    cmd = [python, "-m", "sfworker.job", spec_path, result_path]
    t0 = time.monotonic()
    p = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, cwd=job_dir, start_new_session=True, preexec_fn=_die_with_parent,
    )
    tail: collections.deque = collections.deque(maxlen=40)
    logf = open(os.path.join(job_dir, "job.log"), "wb")

    def pump():
        assert p.stdout is not None
        for raw in iter(p.stdout.readline, b""):
            logf.write(raw)
            line = raw.decode("utf-8", "replace").rstrip("\n")
            tail.append(line)
            try:
                sys.stderr.write(f"{log_prefix}{line}\n")
            except Exception:
                pass
        logf.flush()

    reader = threading.Thread(target=pump, name="job-output", daemon=True)
    reader.start()

    result: Optional[Dict[str, Any]] = None
    result_seen = None
    failure: Optional[str] = None
    deadline = t0 + timeout_s
    try:
        while True:
            rc = p.poll()
            stages.poll()
            if result is None and os.path.exists(result_path):
                result = _read_result(result_path)
                result_seen = time.monotonic()
            if rc is not None:
                break
            now = time.monotonic()
            if result_seen is not None and now - result_seen > SHUTDOWN_GRACE_S:
                log.warning("%sjob process still running %.0fs after its result; killing it", log_prefix, SHUTDOWN_GRACE_S)
                break
            if now > deadline:
                failure = f"job exceeded job_timeout_s={timeout_s:g}s and was killed"
                break
            if should_abort is not None:
                reason = should_abort()
                if reason:
                    failure = f"job aborted: {reason}"
                    break
            time.sleep(0.2)
    finally:
        # the whole session: the driver and anything it spawned
        if p.poll() is None:
            _kill_group(p, signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(p, signal.SIGKILL)
        p.wait()
        reader.join(timeout=5)
        logf.close()
        stages.poll()

    if result is None and os.path.exists(result_path):
        result = _read_result(result_path)
    elapsed = time.monotonic() - t0
    if failure:
        if result is None or result.get("ok"):
            result = {"ok": False, "error": failure, "error_type": "JobTimeout" if "timeout" in failure else "JobAborted"}
        else:
            result["error"] = f"{failure}; {result.get('error')}"
    if result is None:
        last = "\n".join(list(tail)[-15:])
        result = {
            "ok": False,
            "error_type": "JobCrashed",
            "error": f"job process exited with code {p.returncode} without a result; last output:\n{last}",
        }
    if result.get("error_type") in ("JobCrashed", "JobTimeout", "JobAborted"):
        # killed or crashed before it could clean up: no partial output stays behind
        for entry in spec.get("outputs") or ():
            discard_staging(entry["staging"])
    result.setdefault("timings", {})["process"] = round(elapsed, 3)
    result["exit_code"] = p.returncode
    result["stages"] = list(stages.seen)
    result["job_dir"] = job_dir
    if result.get("ok") or not keep_dir_on_failure:
        shutil.rmtree(job_dir, ignore_errors=True)
        result["job_dir"] = None
    return result


def _read_result(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
