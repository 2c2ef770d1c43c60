"""health_check_task and `sfworker healthcheck`."""

from __future__ import annotations

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
    components = {
        "redis": check_redis(r),
        "celery": {"status": "healthy", "worker": worker, "queue": cfg.queue, "pid": os.getpid()},
        "ray": check_ray(cfg),
        "node_info": {"node_id": cfg.node_id, "node_ip": cfg.node_ip, "party": cfg.party},
    }
    states = [c.get("status") for k, c in components.items() if k != "node_info"]
    overall = "error" if "error" in states else "warning" if "warning" in states else "healthy"
    return {
        "overall_status": overall,
        "components": components,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
