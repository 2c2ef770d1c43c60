"""Status events published to the party's Redis.

* pub/sub channel  secretflow:task_status                 (every event of every job)
* capped list      secretflow:task_status:<task_request_id> (RPUSH; LTRIM to status_list_max; 7-day expiry)

Payload (JSON): {"task_request_id", "party", "node_id", "status", "time", "error", ...extra}
status is RUNNING | SUCCESS | FAILURE (| WAITING while the job slot is busy).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, Optional

log = logging.getLogger(__name__)

CHANNEL = "secretflow:task_status"
LIST_FMT = "secretflow:task_status:{task_request_id}"
LIST_TTL_S = 7 * 24 * 3600

RUNNING, SUCCESS, FAILURE, WAITING = "RUNNING", "SUCCESS", "FAILURE", "WAITING"


def list_key(task_request_id: str) -> str:
    return LIST_FMT.format(task_request_id=task_request_id)


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


def publish(redis_client, event: Dict[str, Any], list_max: int = 100) -> None:
    """Best effort: a Redis hiccup must not fail the job."""
    data = json.dumps(event, default=str)
    key = list_key(event["task_request_id"])
    try:
        pipe = redis_client.pipeline()
        pipe.rpush(key, data)
        pipe.ltrim(key, -list_max, -1)
        pipe.expire(key, LIST_TTL_S)
        pipe.publish(CHANNEL, data)
        pipe.execute()
    except Exception as e:
        log.warning("could not publish status event %s: %s", event.get("status"), e)


def history(redis_client, task_request_id: str):
    return [json.loads(x) for x in redis_client.lrange(list_key(task_request_id), 0, -1)]
