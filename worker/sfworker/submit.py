"""`sfworker submit`: send one job to several parties' brokers and wait for every result.

An operator tool and a reference for orchestrators: plain Celery send_task, JSON only.
Never imports secretflow or ray.

    sfworker submit --party alice=redis://10.0.0.1:16379/0 --password-file alice=/run/secrets/alice.pw \
        --party bob=redis://10.0.0.2:16379/0 --password-file bob=/run/secrets/bob.pw \
        --params job.json [--task-request-id ID] [--timeout 600]

Passwords never on the command line (every user of the machine reads it in ps or /proc): a --party URL that
carries one is refused. Each party's password comes from its --password-file, else from $REDISCLI_AUTH (the
variable redis-cli reads; one password for every party without a file). Without --party: this node's own party,
broker and password file from the worker config.

job.json is the task_params mapping ({"task_config": {...}, "sf_init_config": {...}, "spu_config": {...}}).
Prints {"task_request_id", "ok", "celery_task_ids", "results": {party: {"state", "result" | "error"}}} and exits 0
only if every party succeeded; an execute_task "result" is the worker's nested result (docs/worker.md, Results):
{"status": "success", "result": {...task output...}, "performance_metrics", "task_metadata", "celery_metadata"}.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
import uuid
from typing import Any, Dict, List, Optional

# Like redis-cli: the password of every --party without a --password-file.
PASSWORD_ENV_VAR = "REDISCLI_AUTH"

EXECUTE_TASK = "tasks.secretflow.execute_task"


def make_client(broker_url: str, queue: str = "secretflow_queue"):
    """A Celery client configured like the original worker's orchestrator: ``queue`` bound to the direct exchange
    ``secretflow`` with routing key ``secretflow``, tasks.secretflow.* routed there (the worker binds its queue the
    same way, sfworker.celery_app.task_queues)."""
    from celery import Celery
    from kombu import Exchange, Queue

    from .celery_app import EXCHANGE, ROUTING_KEY

    app = Celery("sfworker_submit", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_accept_content=["json"], broker_connection_retry_on_startup=True,
        task_queues=(Queue(queue, Exchange(EXCHANGE, type="direct"), routing_key=ROUTING_KEY),),
        task_routes={"tasks.secretflow.*": {"queue": queue}},
    )
    return app


def submit_job(brokers: Dict[str, str], task_params: Optional[Dict[str, Any]], task_request_id: Optional[str] = None,
               queue: str = "secretflow_queue", timeout_s: float = 600.0, task_name: str = EXECUTE_TASK) -> Dict[str, Any]:
    """Send the same job to every party's queue at (about) the same time and collect all results."""
    task_request_id = task_request_id or f"job-{uuid.uuid4().hex[:16]}"
    args: List[Any] = [task_request_id, task_params] if task_name == EXECUTE_TASK else []
    apps = {p: make_client(url, queue) for p, url in brokers.items()}
    handles = {p: app.send_task(task_name, args=args) for p, app in apps.items()}
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
        raise SystemExit(f"sfworker submit: --party must be NAME=redis://HOST:PORT/DB, got {_redacted(s)!r}")
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:
        raise SystemExit(f"sfworker submit: --party {name}: not a valid URL") from None
    if password is not None:
        raise SystemExit(
            f"sfworker submit: --party {name}: the URL carries a password, and a command line is visible to every "
            f"user of this machine (ps, /proc). Give the URL without it ({_redacted(url)} -> "
            f"{_without_password(url)}) and the password with --password-file {name}=FILE or ${PASSWORD_ENV_VAR}")
    return name, url


def _redacted(s: str) -> str:
    """NAME=URL or URL with any password replaced by ***, for error messages."""
    from .config import redact_url

    name, sep, url = s.partition("=")
    return name + sep + redact_url(url) if sep else redact_url(s)


def _without_password(url: str) -> str:
    from .config import _url_host

    u = urllib.parse.urlsplit(url)
    user = f"{u.username}@" if u.username else ""
    return urllib.parse.urlunsplit((u.scheme, user + _url_host(u.hostname or "", u.port), u.path, u.query, u.fragment))


def _parse_password_file(s: str):
    name, sep, path = s.partition("=")
    if not sep or not name or not path:
        raise SystemExit(f"sfworker submit: --password-file must be NAME=FILE, got {s!r}")
    return name, path


def brokers_from_args(parties: List[str], password_files: Optional[List[str]],
                      environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """{party: broker URL with its password}: the URLs of ``parties`` (NAME=URL, never with a password), each
    password from its NAME=FILE of ``password_files``, else from $REDISCLI_AUTH, else none (a Redis without one)."""
    from .config import url_with_password

    environ = os.environ if environ is None else environ
    brokers = dict(_parse_party(s) for s in parties)
    files = dict(_parse_password_file(s) for s in password_files or [])
    unknown = sorted(set(files) - set(brokers))
    if unknown:
        raise SystemExit(f"sfworker submit: --password-file for {', '.join(unknown)}, which has no --party")
    for name, url in brokers.items():
        if name in files:
            try:
                with open(files[name], "r", encoding="utf-8") as f:
                    password = f.read().strip()
            except OSError as e:
                raise SystemExit(f"sfworker submit: --password-file {name}: cannot read {files[name]}: {e.strerror}")
            if not password:
                raise SystemExit(f"sfworker submit: --password-file {name}: {files[name]} is empty")
        else:
            password = environ.get(PASSWORD_ENV_VAR) or None
        if password is not None:
            brokers[name] = url_with_password(url, password)
    return brokers


def cmd_submit(args) -> int:
    if args.party:
        brokers = brokers_from_args(args.party, args.password_file)
    elif args.password_file:
        raise SystemExit("sfworker submit: --password-file needs the --party it belongs to")
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
                   help="a party and its broker URL without a password (repeat for every party); default: this "
                        "node's own party and broker from the worker config file")
    s.add_argument("--password-file", action="append", metavar="NAME=FILE",
                   help=f"the file holding party NAME's Redis password (default: ${PASSWORD_ENV_VAR}, else none)")
    s.add_argument("--params", help="task_params JSON file ('-' for stdin)")
    s.add_argument("--params-json", help="task_params as a JSON string")
    s.add_argument("--task-request-id", help="default: a random job-<hex>")
    s.add_argument("--queue", default=None, help="default: the config's queue, else secretflow_queue")
    s.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all results")
    s.add_argument("--task", default=EXECUTE_TASK,
                   help="task name (default execute_task; e.g. tasks.secretflow.hello.hello_task)")
    s.set_defaults(func=cmd_submit)
