"""`sfworker drain` / `undrain` with a real Celery worker and a real Redis (#15): a drained worker takes no new job
(it stays in the queue, nothing lost), finishes the one it runs, and the drain returns when it is done; a drain
that runs out of time names the jobs; undrain brings the queue back. The job process is the fake interpreter of
test_runner_execute.py (no Ray, no SecretFlow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from sfworker import drain as drainlib
from test_delivery import WORKER_DIR, fake_worker

WORKER = "sfworker@alice-head"
QUEUE = "secretflow_queue"


@pytest.fixture(scope="module")
def worker(tmp_path_factory, redis_server):
    with fake_worker(tmp_path_factory.mktemp("drain"), redis_server, 4) as w:
        yield w


def slow_job(app, request_id):
    params = {"task_config": {"task_type": "secure_sum", "input_paths": {"alice": "alice.csv", "bob": "b.csv"},
                              "column": "slow"}}
    return app.send_task("tasks.secretflow.execute_task", args=[request_id, params])


def wait_running(app, request_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        now = drainlib.held(app, WORKER)
        if now and any(j["task_request_id"] == request_id for j in now["active"]):
            return
        assert time.monotonic() < deadline, now
        time.sleep(0.2)


def sfworker(config, *args, timeout=120):
    proc = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {WORKER_DIR!r}); "
                           "from sfworker.cli import main; sys.exit(main())", "--config", config, *args],
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None, proc.stderr


def test_a_drained_worker_finishes_its_job_and_takes_no_new_one(worker):
    app, r = worker["app"], worker["redis"]
    assert drainlib.consuming(app, WORKER) == [QUEUE]
    running = slow_job(app, "req-drain-1")
    wait_running(app, "req-drain-1")

    rc, report, err = sfworker(worker["config"], "drain", "--timeout", "60", "--poll", "0.5")
    assert rc == drainlib.EXIT_DRAINED, (rc, report, err)
    assert report["drained"] is True and report["worker"] == WORKER and report["queue"] == QUEUE
    assert report["active"] == [] and report["reserved"] == [] and report["waited_s"] >= 1.0, report
    assert running.get(timeout=5)["status"] == "success"   # the job it ran when drained completed
    assert drainlib.consuming(app, WORKER) == []

    # submitted while drained: it waits in the queue (not lost, not taken)
    queued = slow_job(app, "req-drain-2")
    time.sleep(2)
    assert r.llen(QUEUE) == 1 and queued.state == "PENDING"
    assert drainlib.held(app, WORKER) == {"active": [], "reserved": []}
    # draining again is harmless and immediate
    again = drainlib.drain(app, WORKER, QUEUE, timeout_s=5)
    assert again["exit"] == drainlib.EXIT_DRAINED and again["waited_s"] < 5, again

    rc, report, err = sfworker(worker["config"], "undrain")
    assert rc == 0 and report["consuming"] is True, (rc, report, err)
    assert drainlib.consuming(app, WORKER) == [QUEUE]
    assert queued.get(timeout=60)["status"] == "success"   # runs now
    assert r.llen(QUEUE) == 0


def test_a_drain_that_runs_out_of_time_names_the_jobs_and_they_still_complete(worker):
    app = worker["app"]
    running = slow_job(app, "req-drain-3")
    wait_running(app, "req-drain-3")
    report = drainlib.drain(app, WORKER, QUEUE, timeout_s=1, poll_s=0.3)
    try:
        assert report["exit"] == drainlib.EXIT_BUSY and report["drained"] is False, report
        assert [j["task_request_id"] for j in report["active"]] == ["req-drain-3"], report
        assert report["active"][0]["name"] == "tasks.secretflow.execute_task"
        assert "still holds 1 running and 0 waiting job(s) after 1s: tasks.secretflow.execute_task req-drain-3 (" \
            in report["message"], report["message"]
    finally:
        assert drainlib.undrain(app, WORKER, QUEUE)["consuming"] is True
    assert running.get(timeout=60)["status"] == "success"


def test_a_worker_that_does_not_answer(worker):
    app = worker["app"]
    t0 = time.monotonic()
    report = drainlib.drain(app, "sfworker@nobody", QUEUE, timeout_s=30, reply_timeout_s=1)
    assert report["exit"] == drainlib.EXIT_NO_REPLY and report["drained"] is False
    assert "did not answer within 1s" in report["message"] and time.monotonic() - t0 < 5
    assert drainlib.undrain(app, "sfworker@nobody", QUEUE, reply_timeout_s=1)["exit"] == drainlib.EXIT_NO_REPLY
    assert drainlib.consuming(app, WORKER) == [QUEUE]   # the real one was not touched
