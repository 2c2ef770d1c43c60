"""The Celery app and its tasks: the original SecretFlow Worker's names, arguments and result keys (#13).

    tasks.secretflow.hello.hello_task(name="SecretFlow")
    tasks.secretflow.hello.ping_task()
    tasks.secretflow.hello.echo_task(data)
    tasks.secretflow.health_check.health_check_task()
    tasks.secretflow.execute_task(task_params)                    the original's form
    tasks.secretflow.execute_task(task_request_id, task_params)   this project's form (and the original's older one)

Broker and result backend: the party's Redis (config redis_url). JSON only, never pickle. The queue (config
``queue``, default secretflow_queue) is bound to the direct exchange ``secretflow`` with routing key ``secretflow``
as the original declares it, and to its own name (what a client that only names the queue publishes to).
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import sys
import time
from typing import Any, Dict

from celery import Celery
from kombu import Exchange, Queue, binding

from .config import WorkerConfig
from .envhygiene import scrub_ray_env

log = logging.getLogger("sfworker")

HELLO_TASK = "tasks.secretflow.hello.hello_task"
PING_TASK = "tasks.secretflow.hello.ping_task"
ECHO_TASK = "tasks.secretflow.hello.echo_task"
HEALTH_TASK = "tasks.secretflow.health_check.health_check_task"
EXECUTE_TASK = "tasks.secretflow.execute_task"

# The original's exchange and routing key of secretflow_queue (its src/config/celery_config.py).
EXCHANGE = "secretflow"
ROUTING_KEY = "secretflow"

_state: Dict[str, Any] = {}


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def task_queues(queue: str):
    """The worker's one queue, bound like the original's (exchange ``secretflow``, direct, routing key
    ``secretflow``) and to the exchange of its own name (a client that sends with queue=<name> only)."""
    return (Queue(queue, bindings=[binding(Exchange(EXCHANGE, type="direct"), routing_key=ROUTING_KEY),
                                   binding(Exchange(queue, type="direct"), routing_key=queue)]),)


def routing_settings(queue: str) -> Dict[str, Any]:
    """Queues and routes, shared by the worker and `sfworker submit`: tasks.secretflow.* go to ``queue`` through
    the original's exchange and routing key."""
    return dict(
        task_queues=task_queues(queue),
        task_routes={"tasks.secretflow.*": {"queue": queue, "exchange": EXCHANGE, "routing_key": ROUTING_KEY}},
        task_default_queue=queue,
        task_default_exchange=EXCHANGE,
        task_default_exchange_type="direct",
        task_default_routing_key=ROUTING_KEY,
    )


def celery_settings(cfg: WorkerConfig) -> Dict[str, Any]:
    from .execute import job_budget_s

    return dict(
        broker_url=cfg.redis_url,
        result_backend=cfg.redis_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        **routing_settings(cfg.queue),
        # a job blocks its pool process for its whole duration: never hoard messages that a peer
        # party is already running
        worker_prefetch_multiplier=1,
        # the original's guarantees: a message is acknowledged when its task ended, and requeued when the pool
        # process running it died; a redelivery never runs a job twice in the party (sfworker.slots.RunOnce)
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # jobs run in child processes; recycle pool processes now and then anyway
        worker_max_tasks_per_child=100,
        worker_concurrency=cfg.concurrency,
        task_track_started=True,
        result_expires=cfg.result_expires_s,
        result_extended=True,
        broker_connection_retry_on_startup=True,
        # Redis re-delivers reserved-but-unacked messages after visibility_timeout: longer than any job
        # (a redelivery of a job that still runs would only wait for its outcome, but never start it twice)
        broker_transport_options={"visibility_timeout": int(job_budget_s(cfg) + 600)},
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )


def _redis(cfg: WorkerConfig):
    r = _state.get("redis")
    if r is None or _state.get("redis_pid") != os.getpid():
        import redis

        r = redis.Redis.from_url(cfg.redis_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
        _state["redis"] = r
        _state["redis_pid"] = os.getpid()
    return r


def _node_facts(cfg: WorkerConfig, request) -> Dict[str, Any]:
    """This project's facts added to the original's small tasks' results."""
    return {"node_id": cfg.node_id, "party": cfg.party, "node_ip": cfg.node_ip, "hostname": socket.gethostname(),
            "worker": getattr(request, "hostname", None), "time": _now_iso()}


def hello_result(cfg: WorkerConfig, name: Any, request=None) -> Dict[str, Any]:
    """The original's hello_task keys (without its simulated second of work), plus this node's facts."""
    start = datetime.datetime.now(datetime.timezone.utc)
    end = datetime.datetime.now(datetime.timezone.utc)
    res = {
        "message": f"Hello, {name}! sfworker {cfg.node_id} of party {cfg.party} is up",
        "task_name": "hello_task",
        "execution_time": (end - start).total_seconds(),
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "status": "success",
        "greeting_target": name,
        "system_info": {"python_version": sys.version.split()[0], "task_queue": cfg.queue, "worker_type": "secretflow"},
    }
    res.update(_node_facts(cfg, request))
    return res


def ping_result(cfg: WorkerConfig, request=None) -> Dict[str, Any]:
    t = time.monotonic()
    res = {
        "message": f"Pong! sfworker {cfg.node_id} of party {cfg.party} is running",
        "task_name": "ping_task",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "status": "healthy",
    }
    res.update(_node_facts(cfg, request))
    res["response_time_ms"] = round((time.monotonic() - t) * 1000, 3)
    return res


def echo_result(cfg: WorkerConfig, data: Any, request=None) -> Dict[str, Any]:
    """The original's echo_task: the data back, its (JSON-decoded) Python type name and len(str(data))."""
    res = {
        "message": "echo ok",
        "task_name": "echo_task",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "echoed_data": data,
        "data_type": type(data).__name__,
        "data_length": len(str(data)) if data is not None else 0,
        "status": "success",
    }
    res.update(_node_facts(cfg, request))
    return res


def create_app(cfg: WorkerConfig) -> Celery:
    scrub_ray_env()
    app = Celery("secretflow_worker")
    app.conf.update(celery_settings(cfg))
    _state["cfg"] = cfg

    @app.task(name=HELLO_TASK, bind=True)
    def hello_task(self, name: Any = "SecretFlow") -> Dict[str, Any]:
        return hello_result(cfg, name, self.request)

    @app.task(name=PING_TASK, bind=True)
    def ping_task(self) -> Dict[str, Any]:
        return ping_result(cfg, self.request)

    @app.task(name=ECHO_TASK, bind=True)
    def echo_task(self, data: Any = None) -> Dict[str, Any]:
        return echo_result(cfg, data, self.request)

    @app.task(name=HEALTH_TASK, bind=True)
    def health_check_task(self) -> Dict[str, Any]:
        from .health import health_report

        return health_report(cfg, _redis(cfg), worker=getattr(self.request, "hostname", None))

    from .execute import job_budget_s

    budget = job_budget_s(cfg)

    @app.task(name=EXECUTE_TASK, bind=True, time_limit=budget + 60, soft_time_limit=budget,
              acks_late=True, reject_on_worker_lost=True)
    def execute_task(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        from .execute import Delivery, RetryJob, execute_call

        req = self.request
        info = getattr(req, "delivery_info", None) or {}
        delivery = Delivery(celery_task_id=getattr(req, "id", None), retries=int(getattr(req, "retries", 0) or 0),
                            max_retries=cfg.job_max_retries, retry_countdown_s=cfg.job_retry_countdown_s,
                            queue=info.get("routing_key"), exchange=info.get("exchange"),
                            hostname=getattr(req, "hostname", None),
                            eta=str(req.eta) if getattr(req, "eta", None) else None)
        try:
            return execute_call(cfg, _redis(cfg), args, kwargs, delivery)
        except RetryJob as e:
            raise self.retry(exc=e.exc, countdown=e.countdown, max_retries=cfg.job_max_retries)

    return app
