"""Per-job child process: `python -m sfworker.job SPEC.json RESULT.json`.

One process per job, because sf.init/RayFed keep process-global state, install signal
handlers and may kill their own process when a peer fails. The Celery worker (sfworker.runner)
starts this process with a hard timeout and reads RESULT.json:

    {"ok": true,  "output": {...}, "timings": {...}}
    {"ok": false, "error": "...", "error_type": "...", "traceback": "...", "timings": {...}}

Production mode only: sf.init(address=<own Ray head>, cluster_config=..., job_name=...), never
`parties=`. RAY_ADDRESS-like variables are removed before ray is imported.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from typing import Any, Dict, List, Optional

from .envhygiene import scrub_ray_env
from .pinning import (
    collect_placement, decide_pinning, fed_proxies_without_cpu, merge_comm_options, pin_spu_runtimes,
)


class PeerTimeoutError(TimeoutError):
    pass


class JobRuntime:
    """What a task type's run() gets."""

    def __init__(self, sf, spec: Dict[str, Any]):
        self.sf = sf
        self.spec = spec
        self.self_party: str = spec["self_party"]
        self.parties: List[str] = list(spec["parties"])
        self.task_request_id: str = spec["task_request_id"]
        self._pyus: Dict[str, Any] = {}
        self._spu = None

    def pyu(self, party: str):
        if party not in self._pyus:
            self._pyus[party] = self.sf.PYU(party)
        return self._pyus[party]

    @property
    def spu(self):
        if self._spu is None:
            cluster_def = json.loads(json.dumps(self.spec["spu_cluster_def"]))  # SPU sorts nodes in place
            self._spu = self.sf.SPU(cluster_def, link_desc=dict(self.spec["spu_link_desc"]))
        return self._spu


class _ResultFile:
    def __init__(self, path: str):
        self.path = path
        self.written = False
        self._lock = threading.Lock()

    def write(self, obj: Dict[str, Any], overwrite: bool = False) -> None:
        with self._lock:
            if self.written and not overwrite:
                return
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(obj, f, default=_json_default)
            os.replace(tmp, self.path)
            self.written = True


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _short(e: BaseException, limit: int = 300) -> str:
    s = f"{type(e).__name__}: {e}".replace("\n", " ")
    return s if len(s) <= limit else s[:limit] + "..."


def wait_for_peers(spec: Dict[str, Any], timeout_s: float) -> float:
    """Ping every peer's RayFed receiver until it answers; bounded by timeout_s.

    Replaces RayFed's own `barrier_on_initializing` ping loop, which retries 3600 times
    (~3 hours) and cannot be configured.
    """
    import ray
    from fed.proxy.barriers import send

    addrs = {p: v["address"] for p, v in spec["cluster_config"]["parties"].items() if p != spec["self_party"]}
    pending = sorted(addrs)
    last_err: Dict[str, str] = {}
    t0 = time.monotonic()
    end = t0 + timeout_s
    while pending:
        refs = {p: send(p, b"data", "ping", "ping", check_sending=False) for p in pending}
        remaining = end - time.monotonic()
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=max(0.2, min(5.0, remaining)))
        ready_set = set(ready)
        for p, ref in refs.items():
            if ref in ready_set:
                try:
                    ray.get(ref)
                    pending.remove(p)
                except Exception as e:  # connection refused / job name mismatch / ...
                    last_err[p] = _short(e, 200)
            else:
                last_err.setdefault(p, "no answer")
        if not pending:
            break
        if time.monotonic() >= end:
            who = ", ".join(f"{p!r} at {addrs[p]}" for p in pending)
            raise PeerTimeoutError(
                f"peer{'s' if len(pending) > 1 else ''} {who} did not join job {spec['job_name']} within "
                f"{timeout_s:g}s (RayFed port not answering: is that party's worker up and running the same "
                f"task_request_id? last error: {'; '.join(f'{p}: {last_err.get(p)}' for p in pending)})"
            )
        time.sleep(1.0)
    return time.monotonic() - t0


def run(spec: Dict[str, Any], result_path: str) -> int:
    removed = scrub_ray_env()
    out = _ResultFile(result_path)
    timings: Dict[str, float] = {}
    on_error = False
    sf = None
    pin_label: Optional[Dict[str, float]] = None
    pin_note: Optional[str] = None
    t_start = time.monotonic()
    if removed:
        print(f"sfworker.job: removed {sorted(removed)} from the environment", file=sys.stderr, flush=True)

    def sending_failure_handler(err):
        # Called by RayFed's cleanup thread when a cross-silo send failed; RayFed then
        # signals this process to exit. Record the reason first.
        peers = {p: v["address"] for p, v in spec["cluster_config"]["parties"].items() if p != spec["self_party"]}
        out.write({
            "ok": False,
            "error": f"cross-silo send failed (peers: {peers}): {_short(err if isinstance(err, BaseException) else Exception(str(err)), 500)}",
            "error_type": "PeerSendError",
            "timings": timings,
        })

    try:
        t = time.monotonic()
        import secretflow as sf  # noqa: F811  (heavy import; only in this process)
        from .tasks.registry import get_task_type

        task = get_task_type(spec["task_type"])
        timings["import"] = round(time.monotonic() - t, 3)

        t = time.monotonic()
        comm = dict(spec.get("cross_silo_comm_options") or {})
        comm.setdefault("exit_on_sending_failure", True)
        comm["sending_failure_handler"] = sending_failure_handler
        kwargs: Dict[str, Any] = {}
        if spec.get("ray_node_ip"):
            kwargs["_node_ip_address"] = spec["ray_node_ip"]
        gateway = spec.get("gateway_resource")
        if gateway:
            # Connect to the own Ray cluster first (same arguments secretflow's ray.init gets) to
            # learn whether the gateway resource exists: the RayFed proxies are created inside
            # sf.init, so the decision must be made before it. sf.init's own ray.init then just
            # reuses this connection (ignore_reinit_error).
            import ray

            ray.init(address=spec["ray_address"], log_to_driver=True, include_dashboard=False, **kwargs)
            kwargs["ignore_reinit_error"] = True
            pin_label, pin_note = decide_pinning(gateway, ray.cluster_resources())
            if pin_note:
                print(f"sfworker.job: WARNING: {pin_note}", file=sys.stderr, flush=True)
            if pin_label:
                comm = merge_comm_options(comm, pin_label)
                pin_spu_runtimes(pin_label)  # for the rest of this (one-job) process
                fed_proxies_without_cpu()
                print(f"sfworker.job: pinning RayFed proxies and SPU runtime to Ray resource {pin_label}",
                      file=sys.stderr, flush=True)
        sf.init(
            address=spec["ray_address"],
            cluster_config=spec["cluster_config"],
            job_name=spec["job_name"],
            logging_level=spec.get("logging_level", "warning"),
            enable_waiting_for_other_parties_ready=False,  # bounded wait below instead
            cross_silo_comm_options=comm,
            log_to_driver=True,
            **kwargs,
        )
        timings["peer_wait"] = round(wait_for_peers(spec, float(spec["peer_timeout_s"])), 3)
        timings["init"] = round(time.monotonic() - t, 3)

        t = time.monotonic()
        rt = JobRuntime(sf, spec)
        for p in rt.parties:
            rt.pyu(p)
        if spec.get("needs_spu", True):
            rt.spu  # noqa: B018  create the SPU runtime actors
        timings["devices"] = round(time.monotonic() - t, 3)

        t = time.monotonic()
        output = task.run(spec["task_config"], rt)
        timings["algorithm"] = round(time.monotonic() - t, 3)
        t = time.monotonic()
        output = dict(output or {})
        output["placement"] = collect_placement(rt, pin_label is not None, spec.get("gateway_resource"), pin_note)
        timings["placement"] = round(time.monotonic() - t, 3)
        timings["job_total"] = round(time.monotonic() - t_start, 3)
        out.write({"ok": True, "output": output, "timings": timings})
    except BaseException as e:  # noqa: BLE001  includes SystemExit/KeyboardInterrupt from RayFed
        on_error = True
        timings["job_total"] = round(time.monotonic() - t_start, 3)
        out.write({
            "ok": False,
            "error": _short(e, 2000),
            "error_type": type(e).__name__,
            "traceback": traceback.format_exc(limit=20),
            "timings": timings,
        })
    finally:
        if sf is not None:
            try:
                t = time.monotonic()
                # no barrier on error: a missing peer would never answer it
                sf.shutdown(barrier_on_shutdown=not on_error, on_error=on_error)
                print(f"sfworker.job: sf.shutdown done in {time.monotonic() - t:.1f}s", file=sys.stderr, flush=True)
            except BaseException as e:  # noqa: BLE001
                print(f"sfworker.job: sf.shutdown failed: {_short(e)}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
    return 1 if on_error else 0


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m sfworker.job SPEC.json RESULT.json", file=sys.stderr)
        os._exit(2)
    scrub_ray_env()
    with open(argv[0], "r", encoding="utf-8") as f:
        spec = json.load(f)
    rc = run(spec, argv[1])
    # os._exit: do not let atexit hooks of ray/fed block or override the exit status
    os._exit(rc)


if __name__ == "__main__":
    main()
