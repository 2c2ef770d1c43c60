"""Delivery guarantees with a real Celery worker and a real Redis (#13): the original worker's queue binding, its
small tasks, late acknowledgement + reject on worker lost, and run-once per party - a pool process SIGKILLed
mid-job gets its message redelivered, the job runs to completion exactly once, the result arrives and the events
show both attempts. The job process is the fake interpreter of test_runner_execute.py (no Ray, no SecretFlow)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import yaml

from helpers import base_config
from sfworker import status
from test_runner_execute import FAKE_JOB

WORKER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STARTER = """
import functools, sys
sys.path.insert(0, {worker_dir!r})
from sfworker import execute, runner
execute.run_job_process = functools.partial(runner.run_job_process, python={python!r})
from sfworker.cli import main
main(["--config", {config!r}, "worker"])
"""


def original_client(url):
    """A Celery client configured like the original worker's orchestrator: its queue, exchange and routes."""
    from celery import Celery
    from kombu import Exchange, Queue

    app = Celery("orchestrator", broker=url, backend=url)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    result_accept_content=["json"],
                    task_queues=(Queue("secretflow_queue", Exchange("secretflow", type="direct"),
                                       routing_key="secretflow"),),
                    task_routes={"tasks.secretflow.*": {"queue": "secretflow_queue"}})
    return app


@contextlib.contextmanager
def fake_worker(tmp, redis_url, job_sleep_s):
    """A real `sfworker worker` (Celery prefork, concurrency 1) on ``redis_url`` (flushed first) whose jobs run the
    fake interpreter of test_runner_execute.py, sleeping ``job_sleep_s`` in a "slow" job. Yields {app (a client
    configured like the original's orchestrator), redis, work, log, proc, url, config}; stops the worker after."""
    import redis

    data = tmp / "data"
    data.mkdir()
    (data / "alice.csv").write_text("id,x\n1,10\n")
    job = tmp / "fakejob.py"
    job.write_text(FAKE_JOB)
    fake = tmp / "fakepython"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} {job} \"$@\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    work = tmp / "work"
    cfg = base_config(str(data), redis_url=redis_url, work_dir=str(work), concurrency=1, slot_lock_ttl_s=3,
                      job_timeout_s=60, slot_wait_timeout_s=30, peer_timeout_s=10)
    cfgfile = tmp / "worker.yml"
    cfgfile.write_text(yaml.safe_dump(cfg))
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    log = open(tmp / "worker.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", STARTER.format(worker_dir=WORKER_DIR, python=str(fake), config=str(cfgfile))],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, FAKE_JOB_SLEEP=str(job_sleep_s)),
        start_new_session=True)
    app = original_client(redis_url)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=["sfworker@alice-head"], timeout=1):
            assert proc.poll() is None, (tmp / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp / "worker.log").read_text()
        yield {"app": app, "redis": r, "work": work, "log": tmp / "worker.log", "proc": proc, "url": redis_url,
               "config": str(cfgfile)}
    finally:
        app.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        r.close()


@pytest.fixture(scope="module")
def worker(tmp_path_factory, redis_server):
    with fake_worker(tmp_path_factory.mktemp("delivery"), redis_server, 5) as w:
        yield w


def runs(work):
    path = work / "runs.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_the_queue_is_bound_like_the_originals(worker):
    members = worker["redis"].smembers("_kombu.binding.secretflow")
    assert b"secretflow\x06\x16\x06\x16secretflow_queue" in members, members


def test_the_originals_small_tasks(worker):
    app = worker["app"]
    hello = app.send_task("tasks.secretflow.hello.hello_task", kwargs={"name": "orchestrator"}).get(timeout=30)
    assert hello["status"] == "success" and hello["greeting_target"] == "orchestrator"
    assert hello["task_name"] == "hello_task" and "orchestrator" in hello["message"] and hello["party"] == "alice"
    assert set(hello["system_info"]) == {"python_version", "task_queue", "worker_type"}
    ping = app.send_task("tasks.secretflow.hello.ping_task").get(timeout=30)
    assert ping["status"] == "healthy" and ping["task_name"] == "ping_task" and "response_time_ms" in ping
    echo = app.send_task("tasks.secretflow.hello.echo_task", args=[{"a": [1, 2]}]).get(timeout=30)
    assert echo["echoed_data"] == {"a": [1, 2]} and echo["data_type"] == "dict"
    assert echo["data_length"] == len(str({"a": [1, 2]})) and echo["status"] == "success"
    # `sfworker submit` (configured like the original's client) and a client that only names the queue reach it too
    from celery import Celery

    from sfworker.submit import submit_job

    out = submit_job({"alice": worker["url"]}, None, task_name="tasks.secretflow.hello.ping_task", timeout_s=30)
    assert out["ok"] and out["results"]["alice"]["result"]["task_name"] == "ping_task", out

    plain = Celery("plain", broker=worker["url"], backend=worker["url"])
    plain.conf.update(task_serializer="json", accept_content=["json"], result_accept_content=["json"])
    try:
        assert plain.send_task("tasks.secretflow.hello.hello_task",
                               queue="secretflow_queue").get(timeout=30)["greeting_target"] == "SecretFlow"
    finally:
        plain.close()


def test_a_pool_process_killed_mid_job_runs_the_job_exactly_once(worker):
    app, r, work = worker["app"], worker["redis"], worker["work"]
    params = {"task_config": {"task_type": "secure_sum", "input_paths": {"alice": "alice.csv", "bob": "b.csv"},
                              "column": "slow"}}
    handle = app.send_task("tasks.secretflow.execute_task", args=["req-kill", params])
    deadline = time.monotonic() + 30
    while not runs(work) or ("RUNNING", "job_started") not in [
            (e["status"], e["data"]["stage"]) for e in status.original_history(r, "req-kill")]:
        assert time.monotonic() < deadline, worker["log"].read_text()
        time.sleep(0.1)
    (_start, job_pid, pool_pid), = runs(work)
    os.kill(int(pool_pid), signal.SIGKILL)  # the Celery pool process running the job
    result = handle.get(timeout=90)

    starts = [x for x in runs(work) if x[0] == "start"]
    done = [x for x in runs(work) if x[0] == "done"]
    assert len(starts) == 2 and len(done) == 1, runs(work)  # killed once, completed exactly once
    assert done[0][1] == starts[1][1] != job_pid and starts[1][2] != pool_pid
    assert not os.path.exists(f"/proc/{job_pid}") or \
        open(f"/proc/{job_pid}/stat").read().split(")")[-1].split()[0] == "Z"  # the old job died with its pool

    assert result["status"] == "success" and result["result"] == {"sum": 42}
    assert result["task_metadata"]["execution_id"] == "req-kill"
    assert result["celery_metadata"]["celery_task_id"] == handle.id
    assert 0 < r.ttl(f"celery-task-meta-{handle.id}") <= 86400  # results kept one day

    stages = [(e["status"], e["data"]["stage"]) for e in status.original_history(r, "req-kill")]
    assert stages.count(("RUNNING", "validated")) == 2 and stages.count(("RUNNING", "job_started")) == 2, stages
    assert stages.count(("SUCCESS", "task_completed")) == 1 and stages[-1] == ("SUCCESS", "task_completed"), stages
    assert [e["status"] for e in status.history(r, "req-kill")] == ["RUNNING", "RUNNING", "SUCCESS"]

    # the same message delivered once more (Redis' visibility timeout, a restarted worker): the finished
    # outcome, not a third run
    again = app.send_task("tasks.secretflow.execute_task", args=["req-kill", params], task_id=handle.id)
    assert again.get(timeout=30) == result  # (the backend has it already: the log says what the worker did)
    deadline = time.monotonic() + 30
    while "delivered again after its run finished" not in worker["log"].read_text():
        assert time.monotonic() < deadline, worker["log"].read_text()[-3000:]
        time.sleep(0.2)
    assert len([x for x in runs(work) if x[0] == "start"]) == 2
    assert r.get(f"celery-task-meta-{handle.id}") and json.loads(r.get(f"celery-task-meta-{handle.id}"))[
        "result"] == result


def test_worker_settings_deliver_at_least_once(cfg):
    from sfworker.celery_app import create_app
    from sfworker.execute import job_budget_s

    c = create_app(cfg).conf
    assert c.task_acks_late is True and c.task_reject_on_worker_lost is True
    assert c.result_expires == 86400 and c.worker_prefetch_multiplier == 1
    assert c.broker_transport_options["visibility_timeout"] > job_budget_s(cfg) + 60  # > the hard time limit
    (q,) = c.task_queues
    assert q.name == "secretflow_queue"
    assert {(b.exchange.name, b.exchange.type, b.routing_key) for b in q.bindings} == {
        ("secretflow", "direct", "secretflow"), ("secretflow_queue", "direct", "secretflow_queue")}
    assert c.task_routes == {"tasks.secretflow.*": {"queue": "secretflow_queue", "exchange": "secretflow",
                                                    "routing_key": "secretflow"}}
    assert json.dumps(c.task_routes)
