"""execute_task: parse the call -> run once per party -> take the job slot -> run the job process -> publish status.

The result (both call forms, #13) is the original SecretFlow Worker's nested shape, with this project's facts
inside it:

    {"status": "success",
     "result": {...the task's output...},
     "performance_metrics": {total_execution_time, cluster_init_time, device_init_time, algorithm_exec_time,
                             overhead_time, *_percentage, "timings": {this project's timings}},
     "task_metadata": {task_id, subtask_id, execution_id, task_type, started_at, completed_at, devices_used,
                       task_request_id, form, party, node_id, parties, job_name, job_slot, fed_port, spu_port,
                       placement, tls, published, unpublished},
     "celery_metadata": {celery_task_id, celery_queue, celery_exchange, retry_count, celery_execution_time,
                         worker_hostname, task_eta}}
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from . import compat, status
from .config import WorkerConfig
from .errors import ParamsError
from .params import build_job_spec, ports_of
from .runner import run_job_process
from .slots import RunOnce, SlotBusyTimeout, SlotLock

log = logging.getLogger("sfworker.execute")

# the worker's own facts of a job that the child reports among the task's output: they go to task_metadata
_JOB_FACTS = ("placement", "tls", "published", "unpublished", "devices_used")
# builtin exception types a client can rebuild without importing sfworker (the run-once record names one)
_BUILTIN_ERRORS = {c.__name__: c for c in (ValueError, TimeoutError, ConnectionError, RuntimeError)}


@dataclass(frozen=True)
class Delivery:
    """What the Celery task knows about this delivery of its message (all optional: unit tests call directly)."""

    celery_task_id: Optional[str] = None
    retries: int = 0
    max_retries: int = 0
    retry_countdown_s: float = 60.0
    queue: Optional[str] = None
    exchange: Optional[str] = None
    hostname: Optional[str] = None
    eta: Optional[str] = None


class RetryJob(Exception):
    """The job failed creating its cluster or devices and has a retry left: the Celery task retries it with
    ``exc`` (a builtin exception) after ``countdown`` seconds."""

    def __init__(self, exc: BaseException, countdown: float):
        super().__init__(str(exc))
        self.exc = exc
        self.countdown = countdown


def job_budget_s(cfg: WorkerConfig) -> float:
    """The longest a job's Celery task may take: waiting for its slot, the job, 120 s of start and shutdown."""
    return cfg.slot_wait_timeout_s + cfg.job_timeout_s + 120


def performance_metrics(timings: Dict[str, Any]) -> Dict[str, Any]:
    """The original's performance_metrics from this project's timings (kept whole under "timings")."""
    total = float(timings.get("total") or 0.0)
    parts = {"cluster_init_time": timings.get("init"), "device_init_time": timings.get("devices"),
             "algorithm_exec_time": timings.get("algorithm")}
    m: Dict[str, Any] = {"total_execution_time": round(total, 2)}
    m.update({k: (round(float(v), 2) if v is not None else None) for k, v in parts.items()})
    m["overhead_time"] = round(total - sum(float(v or 0) for v in parts.values()), 2)
    if total > 0:
        for k, v in parts.items():
            m[k.replace("_time", "_percentage")] = round(float(v or 0) / total * 100, 1)
    m["timings"] = dict(timings)
    return m


def celery_metadata(delivery: Delivery, elapsed_s: float) -> Dict[str, Any]:
    return {
        "celery_task_id": delivery.celery_task_id,
        "celery_queue": delivery.queue,
        "celery_exchange": delivery.exchange,
        "retry_count": delivery.retries,
        "celery_execution_time": round(elapsed_s, 2),
        "worker_hostname": delivery.hostname,
        "task_eta": delivery.eta,
    }


def task_metadata(ids: Dict[str, Optional[str]], meta: Dict[str, Any], facts: Dict[str, Any], started_at: str,
                  completed_at: str, form: str) -> Dict[str, Any]:
    """The original's task_metadata keys first, then this project's facts of the job."""
    md: Dict[str, Any] = {k: ids.get(k) for k in ("task_id", "subtask_id", "execution_id")}
    md.update(task_type=meta["task_type"], started_at=started_at, completed_at=completed_at,
              devices_used=list(facts.get("devices_used") or []), form=form)
    md.update((k, v) for k, v in meta.items() if k not in md)
    md.update((k, v) for k, v in facts.items() if k != "devices_used")
    return md


def _builtin_error(error_type: Optional[str], msg: str) -> BaseException:
    if error_type in ("PeerTimeoutError", "JobTimeout"):
        return TimeoutError(msg)
    if error_type == "PeerTlsError":
        return ConnectionError(msg)
    return RuntimeError(msg)


def _outcome(rec: Dict[str, Any]) -> Dict[str, Any]:
    """A finished run's outcome again (a redelivered message of a job that ran): its result, or its error."""
    if rec.get("state") == "SUCCESS":
        return rec["result"]
    raise _BUILTIN_ERRORS.get(rec.get("exc_type"), RuntimeError)(rec.get("message") or "job failed")


def execute(cfg: WorkerConfig, r, task_request_id: Any, task_params: Any,
            celery_task_id: Optional[str] = None, python: Optional[str] = None) -> Dict[str, Any]:
    """This project's own call form, execute_task(task_request_id, task_params); see execute_call."""
    return execute_call(cfg, r, (task_request_id, task_params), {}, Delivery(celery_task_id=celery_task_id),
                        python=python)


def execute_call(cfg: WorkerConfig, r, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                 delivery: Delivery = Delivery(), python: Optional[str] = None) -> Dict[str, Any]:
    """Returns the result dict, or raises ValueError (bad params), TimeoutError (slot/peer/job timeouts),
    ConnectionError (TLS with a peer failed), RuntimeError (job failed) - builtin types so any Celery client can
    rebuild them - or RetryJob (the Celery task retries)."""
    t0 = time.monotonic()
    started_at = status.iso_now()
    channels = status.OriginalChannel(cfg.status_channel, cfg.status_queue, cfg.status_queue_max)
    progress = [0.0]

    def event(own: Optional[str], stage: str, ids: Dict[str, Optional[str]], tid: str,
              error: Optional[str] = None, error_type: Optional[str] = None, own_extra: Optional[Dict] = None,
              **data: Any) -> None:
        """One stage: the original's event (always) and this project's own (when ``own`` is its status)."""
        if stage in status.STAGES:
            progress[0] = status.STAGES[stage]
        original_status = own or status.RUNNING
        if error is not None:
            data.update(error=error, error_type=error_type)
        data.update(celery_task_id=delivery.celery_task_id, task_request_id=tid, party=cfg.party,
                    node_id=cfg.node_id, retry_count=delivery.retries)
        orig = status.make_original_event(original_status, ids, cfg.node_id, stage, progress[0], data)
        mine = None
        if own is not None:
            extra = dict(own_extra or {})
            for k in ("task_request_id", "party", "node_id", "status", "error"):
                extra.pop(k, None)
            mine = status.make_event(tid, cfg.party, cfg.node_id, own, error=error,
                                     celery_task_id=delivery.celery_task_id, **extra)
        status.publish(r, mine, cfg.status_list_max, original=orig, channels=channels)

    try:
        req = compat.parse_call(cfg, args, kwargs)
        for note in req.notes:
            log.info("[%s] %s", req.task_request_id, note)
        spec = build_job_spec(cfg, req.task_request_id, req.task_params)
    except ParamsError as e:
        msg = f"invalid task_params: {e}"
        ids = compat.salvage_ids(args, kwargs)
        tid = ids.get("execution_id") or "<invalid>"
        log.warning("[%s] %s", tid, msg)
        event(status.FAILURE, status.STAGE_FAILED, ids, tid, error=msg, error_type="ValueError",
              failed_at=status.iso_now())
        raise ValueError(msg) from None

    tid = spec["task_request_id"]
    ids = dict(req.ids)
    meta = {
        "task_request_id": tid,
        "task_type": spec["task_type"],
        "party": cfg.party,
        "node_id": cfg.node_id,
        "parties": spec["parties"],
        "job_name": spec["job_name"],
        "job_slot": spec["job_slot"],
        **ports_of(spec),
    }
    job_facts = {k: meta[k] for k in ("task_type", "job_name", "job_slot", "fed_port", "spu_port")}

    once: Optional[RunOnce] = None
    if delivery.celery_task_id:
        once = RunOnce(r, cfg.party, delivery.celery_task_id, ttl_s=cfg.slot_lock_ttl_s,
                       expires_s=cfg.result_expires_s)
        try:
            rec = once.claim(job_budget_s(cfg), on_wait=lambda m: log.warning("[%s] %s", tid, m))
        except TimeoutError:
            raise
        except Exception as e:  # noqa: BLE001  Redis unreachable: nothing can run
            raise RuntimeError(f"could not check this job's run-once record in Redis: {type(e).__name__}: {e}") \
                from None
        if rec is not None:
            log.warning("[%s] celery task %s was delivered again after its run finished (%s): returning that "
                        "outcome, not running the job again", tid, delivery.celery_task_id, rec.get("state"))
            return _outcome(rec)

    def fail(msg: str, error_type: str, exc: BaseException, **extra: Any):
        event(status.FAILURE, status.STAGE_FAILED, ids, tid, error=msg, error_type=error_type,
              own_extra=dict(meta, **extra), failed_at=status.iso_now(), **job_facts, **extra)
        if once is not None:
            once.finish("FAILURE", exc_type=type(exc).__name__, message=str(exc))
        return exc

    event(status.RUNNING, "validated", ids, tid, own_extra=job_facts, form=req.form, started_at=started_at,
          **job_facts)

    lock = SlotLock(r, cfg.party, spec["job_slot"], owner=tid,
                    ttl_s=cfg.slot_lock_ttl_s, wait_timeout_s=cfg.slot_wait_timeout_s)
    try:
        def on_wait(m: str) -> None:
            event(status.WAITING, "waiting_for_slot", ids, tid, own_extra={"job_slot": spec["job_slot"], "detail": m},
                  detail=m, **job_facts)

        waited = lock.acquire(on_wait=on_wait)
    except SlotBusyTimeout as e:
        raise fail(str(e), "SlotBusyTimeout", TimeoutError(str(e))) from None
    except Exception as e:
        msg = f"could not take job slot {spec['job_slot']} in Redis: {type(e).__name__}: {e}"
        raise fail(msg, type(e).__name__, RuntimeError(msg)) from None
    event(None, "slot_acquired", ids, tid, slot_wait=round(waited, 3), **job_facts)

    def on_stage(stage: str, info: Dict[str, Any]) -> None:
        info.pop("t", None)
        event(None, stage, ids, tid, **dict(job_facts, **info))

    def should_abort() -> Optional[str]:
        if lock.lost.is_set():
            return "lost the job slot lock in Redis"
        if once is not None and once.lost.is_set():
            return "lost the job's run-once lease in Redis"
        return None

    try:
        log.info("[%s] starting %s job %s on slot %d (fed port %d, spu port %d), parties %s",
                 tid, spec["task_type"], spec["job_name"], spec["job_slot"], meta["fed_port"], meta["spu_port"],
                 spec["parties"])
        kw = {"python": python} if python else {}
        res = run_job_process(spec, cfg.work_dir, cfg.job_timeout_s, should_abort=should_abort,
                              log_prefix=f"[{spec['job_name']}] ", on_stage=on_stage, **kw)
    except Exception as e:
        msg = f"could not run job process: {type(e).__name__}: {e}"
        raise fail(msg, type(e).__name__, RuntimeError(msg)) from None
    finally:
        lock.release()

    timings = dict(res.get("timings") or {})
    timings["slot_wait"] = round(waited, 3)
    timings["total"] = round(time.monotonic() - t0, 3)
    if not res.get("ok"):
        msg = f"job {spec['job_name']} ({spec['task_type']}) failed in party {cfg.party}: {res.get('error')}"
        if res.get("job_dir"):
            msg += f" [job log: {res['job_dir']}/job.log]"
        log.error("[%s] %s", tid, msg)
        exc = _builtin_error(res.get("error_type"), msg)
        error_type = res.get("error_type") or type(exc).__name__
        if res.get("retryable") and delivery.retries < delivery.max_retries:
            event(status.RETRY, status.STAGE_RETRYING, ids, tid, error=msg, error_type=error_type,
                  own_extra=dict(meta, timings=timings), retry_count=delivery.retries,
                  max_retries=delivery.max_retries, phase=res.get("phase"),
                  next_retry_at=status.iso_now_plus(delivery.retry_countdown_s), **job_facts)
            if once is not None:
                once.abandon()
            raise RetryJob(exc, delivery.retry_countdown_s)
        raise fail(msg, error_type, exc, timings=timings, phase=res.get("phase"))

    output = dict(res.get("output") or {})
    facts = {k: output.pop(k) for k in _JOB_FACTS if k in output}
    completed_at = status.iso_now()
    result = {
        "status": "success",
        "result": output,
        "performance_metrics": performance_metrics(timings),
        "task_metadata": task_metadata(ids, meta, facts, started_at, completed_at, req.form),
        "celery_metadata": celery_metadata(delivery, time.monotonic() - t0),
    }
    event(status.SUCCESS, status.STAGE_COMPLETED, ids, tid, own_extra=dict(meta, timings=timings),
          result=output, performance_metrics=result["performance_metrics"], completed_at=completed_at,
          **job_facts)
    if once is not None:
        once.finish("SUCCESS", result=result)
    log.info("[%s] %s job %s succeeded in %.1fs", tid, spec["task_type"], spec["job_name"], timings["total"])
    return result


def stage_names() -> List[str]:
    """Every stage an event may carry, in order (docs, tests)."""
    return list(status.STAGES) + [status.STAGE_FAILED, status.STAGE_RETRYING]
