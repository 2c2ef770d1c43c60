"""health_check_task and `sfworker healthcheck`."""

from __future__ import annotations

import datetime
import os
import time
from typing import Any, Dict, Optional

from .config import WorkerConfig
from .raycheck import probe_ray


def check_redis(r) -> Dict[str, Any]:
    t = time.monotonic()
    try:
        r.ping()
        return {"status": "healthy", "latency_ms": round((time.monotonic() - t) * 1000, 1)}
    except Exception as e:  # noqa: BLE001
        return {"status": "error", "error": f"{type(e).__name__}: {e}"}


def check_ray(cfg: WorkerConfig, timeout_s: float = 10.0) -> Dict[str, Any]:
    res = probe_ray(cfg.ray_address, timeout_s)
    if not res.get("reachable"):
        res["status"] = "error"
        return res
    names = [n["node_id"] for n in res.get("nodes", []) if n.get("alive")]
    res["alive_node_ids"] = names
    if res.get("alive_nodes", 0) < 1:
        res["status"] = "error"
        res["error"] = "no alive Ray node"
    elif cfg.node_id not in names:
        res["status"] = "warning"
        res["warning"] = f"this node's id {cfg.node_id!r} is not among the alive Ray nodes {names} (ray start --node-name?)"
    else:
        res["status"] = "healthy"
    return res


def health_report(cfg: WorkerConfig, r, worker: Optional[str] = None) -> Dict[str, Any]:
    """This project's report (components redis, celery, ray, node_info, each with its status) with the original
    worker's keys (message, task_name, execution_time, start_time, end_time, status, each component's details)."""
    start = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    redis_c = check_redis(r)
    redis_c["details"] = {k: v for k, v in redis_c.items() if k != "status"}
    celery_c = {"status": "healthy", "worker": worker, "queue": cfg.queue, "pid": os.getpid()}
    celery_c["details"] = {"worker": worker, "queue": cfg.queue, "pid": os.getpid()}
    components = {
        "redis": redis_c,
        "celery": celery_c,
        "ray": check_ray(cfg),
        "node_info": {"node_id": cfg.node_id, "node_ip": cfg.node_ip, "party": cfg.party},
    }
    states = [c.get("status") for k, c in components.items() if k != "node_info"]
    overall = "error" if "error" in states else "warning" if "warning" in states else "healthy"
    end = datetime.datetime.now(datetime.timezone.utc)
    return {
        "message": f"health check done, overall status: {overall}",
        "task_name": "health_check_task",
        "execution_time": round(time.monotonic() - t0, 3),
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "status": "success",
        "overall_status": overall,
        "components": components,
        "node_info": {"node_id": cfg.node_id, "node_ip": cfg.node_ip, "party": cfg.party, "app_env": "production"},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
