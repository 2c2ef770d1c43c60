"""execute_task: validate -> take the job slot -> run the job process -> publish status."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional

from . import status
from .config import WorkerConfig
from .errors import ParamsError
from .params import build_job_spec, ports_of
from .runner import run_job_process
from .slots import SlotBusyTimeout, SlotLock

log = logging.getLogger("sfworker.execute")


def execute(cfg: WorkerConfig, r, task_request_id: Any, task_params: Any,
            celery_task_id: Optional[str] = None, python: Optional[str] = None) -> Dict[str, Any]:
    """Returns the result dict, or raises ValueError (bad params), TimeoutError (slot/peer/job
    timeouts), ConnectionError (TLS with a peer failed) or RuntimeError (job failed). Builtin types so any
    Celery client can rebuild them."""
    t0 = time.monotonic()
    tid = task_request_id if isinstance(task_request_id, str) and task_request_id else "<invalid>"

    def event(st: str, error: Optional[str] = None, **extra: Any) -> None:
        for k in ("task_request_id", "party", "node_id", "status", "error"):
            extra.pop(k, None)
        status.publish(r, status.make_event(tid, cfg.party, cfg.node_id, st, error=error,
                                            celery_task_id=celery_task_id, **extra), cfg.status_list_max)

    try:
        spec = build_job_spec(cfg, task_request_id, task_params)
    except ParamsError as e:
        msg = f"invalid task_params: {e}"
        log.warning("[%s] %s", tid, msg)
        event(status.FAILURE, error=msg)
        raise ValueError(msg) from None

    meta = {
        "task_request_id": spec["task_request_id"],
        "task_type": spec["task_type"],
        "party": cfg.party,
        "node_id": cfg.node_id,
        "parties": spec["parties"],
        "job_name": spec["job_name"],
        "job_slot": spec["job_slot"],
        **ports_of(spec),
    }
    event(status.RUNNING, **{k: meta[k] for k in ("task_type", "job_name", "job_slot", "fed_port", "spu_port")})

    lock = SlotLock(r, cfg.party, spec["job_slot"], owner=spec["task_request_id"],
                    ttl_s=cfg.slot_lock_ttl_s, wait_timeout_s=cfg.slot_wait_timeout_s)
    try:
        waited = lock.acquire(on_wait=lambda m: event(status.WAITING, job_slot=spec["job_slot"], detail=m))
    except SlotBusyTimeout as e:
        event(status.FAILURE, error=str(e), **meta)
        raise TimeoutError(str(e)) from None
    except Exception as e:
        msg = f"could not take job slot {spec['job_slot']} in Redis: {type(e).__name__}: {e}"
        event(status.FAILURE, error=msg, **meta)
        raise RuntimeError(msg) from None

    try:
        log.info("[%s] starting %s job %s on slot %d (fed port %d, spu port %d), parties %s",
                 tid, spec["task_type"], spec["job_name"], spec["job_slot"], meta["fed_port"], meta["spu_port"],
                 spec["parties"])
        kw = {"python": python} if python else {}
        res = run_job_process(
            spec, cfg.work_dir, cfg.job_timeout_s,
            should_abort=lambda: "lost the job slot lock in Redis" if lock.lost.is_set() else None,
            log_prefix=f"[{spec['job_name']}] ", **kw,
        )
    except Exception as e:
        msg = f"could not run job process: {type(e).__name__}: {e}"
        event(status.FAILURE, error=msg, **meta)
        raise RuntimeError(msg) from None
    finally:
        lock.release()

    timings = dict(res.get("timings") or {})
    timings["slot_wait"] = round(waited, 3)
    timings["total"] = round(time.monotonic() - t0, 3)
    if not res.get("ok"):
        msg = f"job {spec['job_name']} ({spec['task_type']}) failed in party {cfg.party}: {res.get('error')}"
        if res.get("job_dir"):
            msg += f" [job log: {res['job_dir']}/job.log]"
        event(status.FAILURE, error=msg, timings=timings, **meta)
        log.error("[%s] %s", tid, msg)
        if res.get("error_type") in ("PeerTimeoutError", "JobTimeout"):
            raise TimeoutError(msg)
        if res.get("error_type") == "PeerTlsError":
            raise ConnectionError(msg)
        raise RuntimeError(msg)

    result = dict(meta)
    result["status"] = status.SUCCESS
    result.update(res.get("output") or {})
    result["timings"] = timings
    event(status.SUCCESS, timings=timings, **meta)
    log.info("[%s] %s job %s succeeded in %.1fs", tid, spec["task_type"], spec["job_name"], timings["total"])
    return result
