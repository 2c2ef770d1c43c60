"""`sfworker drain` / `sfworker undrain`: take this node's Celery worker out of the party's job queue and back.

Before a node container is recreated (playbooks/upgrade.yml, restart.yml, removing a server), the play drains its
worker: the worker stops consuming the job queue (Celery's remote control ``cancel_consumer``, sent to this node's
worker only), so the party's other nodes - or this node's next container - take the jobs submitted meanwhile; they
wait in the queue, nothing is lost. Then it waits until the jobs this worker already holds are done: those running
(``inspect active``) and those it has received but not started yet (``inspect reserved``: with late
acknowledgement they are still unacknowledged messages of this worker). ``undrain`` (``add_consumer``) undoes it
when the container is kept after all (an aborted upgrade); a new container consumes by itself.

Exit codes: 0 drained (nothing of ours runs or waits in this worker), 1 still busy when ``--timeout`` ran out (the
jobs are listed), 3 the worker does not answer (its container or Celery is down: it runs nothing that could
finish), 2 bad config.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

EXIT_DRAINED, EXIT_BUSY, EXIT_USAGE, EXIT_NO_REPLY = 0, 1, 2, 3


def _reply(replies: Optional[List[Dict[str, Any]]], worker: str) -> Optional[Dict[str, Any]]:
    """This worker's answer among broadcast replies ([{worker: answer}, ...]), or None."""
    for reply in replies or []:
        if worker in reply:
            return reply[worker]
    return None


def _job(task: Dict[str, Any]) -> Dict[str, Any]:
    """What the report says of one task a worker holds (inspect active/reserved entry)."""
    args = task.get("args") or []
    request_id = args[0] if args and isinstance(args[0], str) else None
    started = task.get("time_start")
    return {"id": task.get("id"), "name": task.get("name"), "task_request_id": request_id,
            "running_s": round(time.time() - started, 1) if isinstance(started, (int, float)) else None}


def held(app, worker: str, timeout_s: float = 2.0) -> Optional[Dict[str, List[Dict[str, Any]]]]:
    """The tasks ``worker`` runs and has reserved -> {active: [...], reserved: [...]}; None when it does not
    answer."""
    inspect = app.control.inspect(destination=[worker], timeout=timeout_s)
    active = (inspect.active() or {}).get(worker)
    reserved = (inspect.reserved() or {}).get(worker)
    if active is None and reserved is None:
        return None
    return {"active": [_job(t) for t in active or []], "reserved": [_job(t) for t in reserved or []]}


def drain(app, worker: str, queue: str, timeout_s: float, poll_s: float = 1.0, reply_timeout_s: float = 5.0,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Dict[str, Any]:
    """Stop ``worker`` consuming ``queue``, then wait up to ``timeout_s`` for what it holds to finish.
    Returns the report (``exit`` one of the EXIT_* codes)."""
    t0 = clock()
    out: Dict[str, Any] = {"worker": worker, "queue": queue, "drained": False, "consuming": None,
                           "waited_s": 0.0, "active": [], "reserved": [], "exit": EXIT_NO_REPLY}
    answer = _reply(app.control.cancel_consumer(queue, destination=[worker], reply=True, timeout=reply_timeout_s),
                    worker)
    if answer is None:
        out["message"] = (f"worker {worker} did not answer within {reply_timeout_s:g}s: its container or Celery is "
                          f"down, so it runs no job that could finish")
        return out
    if "error" in answer:
        out["message"] = f"worker {worker} could not stop consuming {queue}: {answer['error']}"
        return out
    out["consuming"] = False
    while True:
        now = held(app, worker, timeout_s=min(reply_timeout_s, 2.0))
        out["waited_s"] = round(clock() - t0, 1)
        if now is None:
            out["message"] = f"worker {worker} stopped consuming {queue}, then stopped answering"
            return out
        out.update(now)
        if not now["active"] and not now["reserved"]:
            out.update(drained=True, exit=EXIT_DRAINED,
                       message=f"worker {worker} drained: it consumes no more from {queue} and holds no job")
            return out
        if clock() - t0 >= timeout_s:
            jobs = ", ".join(f"{j['name']} {j['task_request_id'] or j['id']}"
                             + (f" ({j['running_s']}s)" if j["running_s"] is not None else " (not started)")
                             for j in now["active"] + now["reserved"])
            out.update(exit=EXIT_BUSY,
                       message=f"worker {worker} still holds {len(now['active'])} running and "
                               f"{len(now['reserved'])} waiting job(s) after {timeout_s:g}s: {jobs}")
            return out
        sleep(max(0.05, min(poll_s, timeout_s - (clock() - t0))))


def undrain(app, worker: str, queue: str, reply_timeout_s: float = 5.0) -> Dict[str, Any]:
    """Let ``worker`` consume ``queue`` again (the queue as the worker's app declares it: same exchange, same
    routing key). Idempotent."""
    answer = _reply(app.control.add_consumer(queue, destination=[worker], reply=True, timeout=reply_timeout_s),
                    worker)
    if answer is None:
        return {"worker": worker, "queue": queue, "consuming": None, "exit": EXIT_NO_REPLY,
                "message": f"worker {worker} did not answer within {reply_timeout_s:g}s"}
    if "error" in answer:
        return {"worker": worker, "queue": queue, "consuming": None, "exit": EXIT_USAGE,
                "message": f"worker {worker} could not consume {queue}: {answer['error']}"}
    return {"worker": worker, "queue": queue, "consuming": True, "exit": EXIT_DRAINED,
            "message": f"worker {worker} consumes {queue}: {answer.get('ok', '')}".rstrip(": ")}


def consuming(app, worker: str, timeout_s: float = 2.0) -> Optional[List[str]]:
    """The queues ``worker`` consumes now (None: no answer)."""
    replies = app.control.inspect(destination=[worker], timeout=timeout_s).active_queues()
    queues = (replies or {}).get(worker)
    return None if queues is None else sorted(q.get("name") for q in queues)
