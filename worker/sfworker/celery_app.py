"""The Celery app and its three tasks (names compatible with the original SecretFlow Worker).

    tasks.secretflow.hello.hello_task()
    tasks.secretflow.health_check.health_check_task()
    tasks.secretflow.execute_task(task_request_id, task_params)

Broker and result backend: the party's Redis (config redis_url). JSON only, never pickle.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Dict, Optional

from celery import Celery

from .config import WorkerConfig
from .envhygiene import scrub_ray_env

log = logging.getLogger("sfworker")

HELLO_TASK = "tasks.secretflow.hello.hello_task"
HEALTH_TASK = "tasks.secretflow.health_check.health_check_task"
EXECUTE_TASK = "tasks.secretflow.execute_task"

_state: Dict[str, Any] = {}


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def celery_settings(cfg: WorkerConfig) -> Dict[str, Any]:
    job_budget = cfg.slot_wait_timeout_s + cfg.job_timeout_s + 120
    return dict(
        broker_url=cfg.redis_url,
        result_backend=cfg.redis_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=cfg.queue,
        task_create_missing_queues=True,
        # a job blocks its pool process for its whole duration: never hoard messages that a peer
        # party is already running
        worker_prefetch_multiplier=1,
        task_acks_late=False,
        # jobs run in child processes; recycle pool processes now and then anyway
        worker_max_tasks_per_child=100,
        worker_concurrency=cfg.concurrency,
        task_track_started=True,
        result_expires=7 * 24 * 3600,
        result_extended=True,
        broker_connection_retry_on_startup=True,
        # Redis re-delivers reserved-but-unacked messages after visibility_timeout: longer than any job
        broker_transport_options={"visibility_timeout": int(job_budget + 600)},
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


def create_app(cfg: WorkerConfig) -> Celery:
    scrub_ray_env()
    app = Celery("secretflow_worker")
    app.conf.update(celery_settings(cfg))
    _state["cfg"] = cfg

    @app.task(name=HELLO_TASK, bind=True)
    def hello_task(self) -> Dict[str, Any]:
        return {
            "message": f"hello from {cfg.node_id} ({cfg.party})",
            "node_id": cfg.node_id,
            "party": cfg.party,
            "node_ip": cfg.node_ip,
            "hostname": socket.gethostname(),
            "worker": getattr(self.request, "hostname", None),
            "time": _now_iso(),
        }

    @app.task(name=HEALTH_TASK, bind=True)
    def health_check_task(self) -> Dict[str, Any]:
        from .health import health_report

        return health_report(cfg, _redis(cfg), worker=getattr(self.request, "hostname", None))

    job_budget = cfg.slot_wait_timeout_s + cfg.job_timeout_s + 120

    @app.task(name=EXECUTE_TASK, bind=True, time_limit=job_budget + 60, soft_time_limit=job_budget)
    def execute_task(self, task_request_id: str, task_params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        from .execute import execute

        return execute(cfg, _redis(cfg), task_request_id, task_params,
                       celery_task_id=getattr(self.request, "id", None))

    return app
