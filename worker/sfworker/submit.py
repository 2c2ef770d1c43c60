"""`sfworker submit`: send one job to several parties' brokers and wait for every result.

An operator tool and a reference for orchestrators: plain Celery send_task, JSON only.
Never imports secretflow or ray.

    sfworker submit --party alice=redis://:PW@10.0.0.1:16379/0 --party bob=redis://:PW@10.0.0.2:16379/0 \
        --params job.json [--task-request-id ID] [--timeout 600]

job.json is the task_params mapping ({"task_config": {...}, "sf_init_config": {...}, "spu_config": {...}}).
Prints {"task_request_id", "ok", "results": {party: {"state", "result" | "error"}}} and exits 0 only
if every party succeeded.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any, Dict, List, Optional

EXECUTE_TASK = "tasks.secretflow.execute_task"


def make_client(broker_url: str):
    from celery import Celery

    app = Celery("sfworker_submit", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_accept_content=["json"], broker_connection_retry_on_startup=True,
    )
    return app


def submit_job(brokers: Dict[str, str], task_params: Optional[Dict[str, Any]], task_request_id: Optional[str] = None,
               queue: str = "secretflow_queue", timeout_s: float = 600.0, task_name: str = EXECUTE_TASK) -> Dict[str, Any]:
    """Send the same job to every party's queue at (about) the same time and collect all results."""
    task_request_id = task_request_id or f"job-{uuid.uuid4().hex[:16]}"
    args: List[Any] = [task_request_id, task_params] if task_name == EXECUTE_TASK else []
    apps = {p: make_client(url) for p, url in brokers.items()}
    handles = {p: app.send_task(task_name, args=args, queue=queue) for p, app in apps.items()}
    deadline = time.monotonic() + timeout_s
    results: Dict[str, Dict[str, Any]] = {}
    try:
        while len(results) < len(handles):
            for p, h in handles.items():
                if p in results:
                    continue
                try:
                    ready = h.ready()
                except Exception as e:  # noqa: BLE001  backend unreachable
                    results[p] = {"state": "UNKNOWN", "error": f"{type(e).__name__}: {e}"}
                    continue
                if ready:
                    if h.successful():
                        results[p] = {"state": "SUCCESS", "result": h.result}
                    else:
                        exc = h.result
                        results[p] = {"state": h.state, "error": f"{type(exc).__name__}: {exc}"}
            if len(results) < len(handles):
                if time.monotonic() > deadline:
                    for p in handles:
                        results.setdefault(p, {"state": "TIMEOUT", "error": f"no result within {timeout_s:g}s"})
                    break
                time.sleep(0.5)
    finally:
        for app in apps.values():
            try:
                app.close()
            except Exception:  # noqa: BLE001
                pass
    ok = all(r["state"] == "SUCCESS" for r in results.values())
    return {"task_request_id": task_request_id, "ok": ok,
            "celery_task_ids": {p: h.id for p, h in handles.items()}, "results": results}


def _parse_party(s: str):
    name, sep, url = s.partition("=")
    if not sep or not name or not url.startswith(("redis://", "rediss://")):
        raise SystemExit(f"sfworker submit: --party must be NAME=redis://..., got {s!r}")
    return name, url


def cmd_submit(args) -> int:
    if args.party:
        brokers = dict(_parse_party(s) for s in args.party)
    else:
        # No --party: this node's own party and broker, from the worker's config file (--config /
        # $SFWORKER_CONFIG), so no password appears on a command line. Each organisation submits the
        # same job (same --task-request-id) to its own party this way.
        from .config import load_config
        from .errors import ConfigError

        try:
            cfg = load_config(args.config)
        except ConfigError as e:
            raise SystemExit(f"sfworker submit: no --party given and {e}")
        brokers = {cfg.party: cfg.redis_url}
        if args.queue is None:
            args.queue = cfg.queue
    if args.queue is None:
        args.queue = "secretflow_queue"
    params = None
    if args.task == EXECUTE_TASK:
        if args.params_json:
            params = json.loads(args.params_json)
        elif args.params:
            text = sys.stdin.read() if args.params == "-" else open(args.params, encoding="utf-8").read()
            params = json.loads(text)
        else:
            raise SystemExit("sfworker submit: --params FILE or --params-json JSON is required for execute_task")
    out = submit_job(brokers, params, args.task_request_id, args.queue, args.timeout, args.task)
    print(json.dumps(out, indent=2, default=str))
    return 0 if out["ok"] else 1


def add_submit_parser(sub) -> None:
    s = sub.add_parser("submit", help="send a job to several parties' brokers and wait for all results (JSON)")
    s.add_argument("--party", action="append", metavar="NAME=REDIS_URL",
                   help="a party and its broker URL (repeat for every party); default: this node's own party "
                        "and broker from the worker config file")
    s.add_argument("--params", help="task_params JSON file ('-' for stdin)")
    s.add_argument("--params-json", help="task_params as a JSON string")
    s.add_argument("--task-request-id", help="default: a random job-<hex>")
    s.add_argument("--queue", default=None, help="default: the config's queue, else secretflow_queue")
    s.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all results")
    s.add_argument("--task", default=EXECUTE_TASK,
                   help="task name (default execute_task; e.g. tasks.secretflow.hello.hello_task)")
    s.set_defaults(func=cmd_submit)
