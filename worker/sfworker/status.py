"""Status events published to the party's Redis, on two channels.

This project's own (unchanged by #13):

* pub/sub channel  secretflow:task_status                   (every event of every job)
* capped list      secretflow:task_status:<task_request_id> (RPUSH; LTRIM to status_list_max; 7-day expiry)

  Payload (JSON): {"task_request_id", "party", "node_id", "status", "time", "timestamp", "error", ...extra}
  status is RUNNING | WAITING (job slot busy) | RETRY | SUCCESS | FAILURE.

The original SecretFlow Worker's (#13; names and cap from the worker config, defaults = the original's names):

* pub/sub channel  task_status_events   (PUBLISH)
* list             task_status_queue    (LPUSH, newest first; LTRIM to status_queue_max so Redis cannot fill up)

  Payload (JSON): {"execution_id", "task_id", "subtask_id", "status", "timestamp" (ISO 8601), "data": {"stage",
  "progress", ...ids and facts...}, "worker_container": <node id>, "task_name"}
  status is RUNNING | SUCCESS | FAILURE | RETRY; this project's WAITING is RUNNING with stage waiting_for_slot.

Every stage of a job (STAGES) is an event on the original's channel; this project's own channel keeps its own
cadence (RUNNING once, WAITING, RETRY, SUCCESS/FAILURE).
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

log = logging.getLogger(__name__)

CHANNEL = "secretflow:task_status"
LIST_FMT = "secretflow:task_status:{task_request_id}"
LIST_TTL_S = 7 * 24 * 3600

RUNNING, SUCCESS, FAILURE, WAITING, RETRY = "RUNNING", "SUCCESS", "FAILURE", "WAITING", "RETRY"

# The original's channel and list (its src/utils/status_notifier.py) and a cap of the list.
ORIGINAL_CHANNEL = "task_status_events"
ORIGINAL_QUEUE = "task_status_queue"
ORIGINAL_QUEUE_MAX = 10000
EXECUTE_TASK_NAME = "tasks.secretflow.execute_task"

# The stages of one job, in order, with the progress (0..1) the original's events carry. Who reports them:
# the Celery task (validated .. slot_acquired, task_completed/failed/retrying) or the job's child process
# (job_started .. outputs_published, through the runner's stage file: sfworker/runner.py, sfworker/job.py).
STAGES = {
    "validated": 0.05,            # task_params accepted, job name/slot known
    "waiting_for_slot": 0.1,      # the job slot is held by another job (this project's WAITING)
    "slot_acquired": 0.15,        # the job slot is ours
    "job_started": 0.2,           # the job's child process runs (before SecretFlow is imported)
    "cluster_initialized": 0.4,   # sf.init done and every peer answered
    "devices_initialized": 0.5,   # PYUs and the SPU created
    "task_execution": 0.6,        # the task type runs
    "outputs_published": 0.9,     # the task succeeded, its outputs renamed to their final names
    "task_completed": 1.0,        # result written (SUCCESS)
}
# terminal or side stages: their progress is the last one reached
STAGE_FAILED, STAGE_RETRYING, STAGE_COMPLETED = "task_failed", "task_retrying", "task_completed"
CHILD_STAGES = ("job_started", "cluster_initialized", "devices_initialized", "task_execution", "outputs_published")

# this project's status -> the original's
_ORIGINAL_STATUS = {RUNNING: RUNNING, WAITING: RUNNING, SUCCESS: SUCCESS, FAILURE: FAILURE, RETRY: RETRY}


@dataclass(frozen=True)
class OriginalChannel:
    """Where the original's events go (worker config status_channel, status_queue, status_queue_max)."""

    channel: str = ORIGINAL_CHANNEL
    queue: str = ORIGINAL_QUEUE
    queue_max: int = ORIGINAL_QUEUE_MAX


def list_key(task_request_id: str) -> str:
    return LIST_FMT.format(task_request_id=task_request_id)


def iso_now() -> str:
    """UTC, ISO 8601 with the offset: 2026-11-27T10:52:31.120345+00:00."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def iso_now_plus(seconds: float) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)).isoformat()


def make_event(task_request_id: str, party: str, node_id: str, status: str,
               error: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    ev = {
        "task_request_id": task_request_id,
        "party": party,
        "node_id": node_id,
        "status": status,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
        "timestamp": time.time(),
        "error": error,
    }
    ev.update(extra)
    return ev


def make_original_event(status: str, ids: Dict[str, Optional[str]], worker_container: str, stage: str,
                        progress: float, data: Optional[Dict[str, Any]] = None,
                        task_name: str = EXECUTE_TASK_NAME) -> Dict[str, Any]:
    """The original's event: ids at the top and in ``data`` (as the original puts them), ``data.stage`` and
    ``data.progress``, plus ``data`` (facts of the job: party, job_slot, error, error_type, ...)."""
    ids = {k: ids.get(k) for k in ("task_id", "subtask_id", "execution_id")}
    body = dict(data or {})
    body.update(ids)
    body["stage"] = stage
    body["progress"] = round(float(progress), 3)
    return {
        "execution_id": ids["execution_id"],
        "task_id": ids["task_id"],
        "subtask_id": ids["subtask_id"],
        "status": _ORIGINAL_STATUS.get(status, status),
        "timestamp": iso_now(),
        "data": body,
        "worker_container": worker_container,
        "task_name": task_name,
    }


def publish(redis_client, event: Optional[Dict[str, Any]], list_max: int = 100,
            original: Optional[Dict[str, Any]] = None, channels: OriginalChannel = OriginalChannel()) -> None:
    """Publish this project's ``event`` and/or the original's ``original`` event in one round trip.
    Best effort: a Redis hiccup must not fail the job."""
    try:
        pipe = redis_client.pipeline()
        if event is not None:
            data = json.dumps(event, default=str)
            key = list_key(event["task_request_id"])
            pipe.rpush(key, data)
            pipe.ltrim(key, -list_max, -1)
            pipe.expire(key, LIST_TTL_S)
            pipe.publish(CHANNEL, data)
        if original is not None:
            data = json.dumps(original, default=str)
            pipe.publish(channels.channel, data)
            pipe.lpush(channels.queue, data)
            pipe.ltrim(channels.queue, 0, channels.queue_max - 1)
        pipe.execute()
    except Exception as e:
        what = (event or original or {}).get("status")
        log.warning("could not publish status event %s: %s", what, e)


def history(redis_client, task_request_id: str):
    return [json.loads(x) for x in redis_client.lrange(list_key(task_request_id), 0, -1)]


def original_history(redis_client, execution_id: Optional[str] = None, queue: str = ORIGINAL_QUEUE):
    """The original's events in the order they were published (the list is newest first), optionally only
    those of one execution_id."""
    evs = [json.loads(x) for x in reversed(redis_client.lrange(queue, 0, -1))]
    return [e for e in evs if execution_id is None or e.get("execution_id") == execution_id]
