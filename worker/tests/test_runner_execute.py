"""Job-process supervision and execute() without Ray: a fake interpreter stands in for
`python -m sfworker.job` so crash / hang / timeout handling is tested in seconds."""

import json
import os
import stat
import sys
import textwrap
import time

import pytest

from sfworker import runner, status
from sfworker.execute import execute
from sfworker.slots import slot_key

FAKE_JOB = textwrap.dedent('''
    import json, os, subprocess, sys, time
    assert sys.argv[1:3] == ["-m", "sfworker.job"], sys.argv
    spec = json.load(open(sys.argv[3])); out = sys.argv[4]
    mode = spec.get("mode") or spec.get("task_config", {}).get("column", "ok")
    assert "RAY_ADDRESS" not in os.environ
    print("fake job starting", mode, flush=True)
    def write(o):
        json.dump(o, open(out + ".tmp", "w")); os.replace(out + ".tmp", out)
    def stage(name, **info):  # what sfworker.job.report_stage writes
        if spec.get("stage_path"):
            with open(spec["stage_path"], "a") as f:
                f.write(json.dumps(dict(info, stage=name, t=time.time())) + "\\n")
    # every run, in the work directory (the job dir's parent): "start <pid> <parent pid>", later "done <pid>"
    runs = os.path.join(os.path.dirname(os.path.dirname(sys.argv[3])), "runs.log")
    with open(runs, "a") as f:
        f.write("start %d %d\\n" % (os.getpid(), os.getppid()))
    stage("job_started")
    if mode in ("ok", "slow"):
        if mode == "slow":
            time.sleep(float(os.environ.get("FAKE_JOB_SLEEP", "6")))
        stage("cluster_initialized", cluster_init_time=0.1)
        stage("devices_initialized", device_init_time=0.1, initialized_devices=spec.get("parties", []) + ["spu"])
        stage("task_execution", task_type=spec.get("task_type"))
        stage("outputs_published", published=[])
        write({"ok": True, "output": {"sum": 42, "devices_used": spec.get("parties", []) + ["spu"],
                                      "tls": {"enabled": False}, "published": [], "unpublished": []},
               "timings": {"init": 0.1, "devices": 0.1, "algorithm": 0.1}})
        with open(runs, "a") as f:
            f.write("done %d\\n" % os.getpid())
    elif mode == "fail":
        write({"ok": False, "error": "boom from secretflow", "error_type": "RuntimeError"}); sys.exit(1)
    elif mode == "initfail":
        write({"ok": False, "error": "sf.init failed", "error_type": "RuntimeError", "phase": "init",
               "retryable": True}); sys.exit(1)
    elif mode == "peer":
        write({"ok": False, "error": "peer 'carol' at 127.0.0.3:19000 did not join", "error_type": "PeerTimeoutError"}); sys.exit(1)
    elif mode == "crash":
        print("Fatal Python error: Segmentation fault", flush=True); os._exit(139)
    elif mode == "hang":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        time.sleep(300)
    elif mode == "hang_after_result":
        write({"ok": True, "output": {}, "timings": {}}); time.sleep(300)
''')


@pytest.fixture
def fake_python(tmp_path):
    job = tmp_path / "fakejob.py"
    job.write_text(FAKE_JOB)
    exe = tmp_path / "fakepython"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {job} \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def _spec(mode):
    return {"job_name": "sfjob-test", "mode": mode}


def test_ok(tmp_path, fake_python, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.9.9.9:6379")  # must not reach the job
    seen = []
    res = runner.run_job_process(_spec("ok"), str(tmp_path / "w"), 30, python=fake_python,
                                 on_stage=lambda stage, info: seen.append((stage, info)))
    assert res["ok"] and res["output"]["sum"] == 42 and res["exit_code"] == 0
    # the child's stage lines, in order, each with its facts (#13)
    assert [x[0] for x in seen] == res["stages"] == [
        "job_started", "cluster_initialized", "devices_initialized", "task_execution", "outputs_published"]
    assert seen[1][1]["cluster_init_time"] == 0.1
    assert res["job_dir"] is None and os.listdir(tmp_path / "w") == ["runs.log"]  # the fake job's own count


def test_failure_keeps_log(tmp_path, fake_python):
    res = runner.run_job_process(_spec("fail"), str(tmp_path / "w"), 30, python=fake_python)
    assert not res["ok"] and res["error"] == "boom from secretflow"
    assert os.path.exists(os.path.join(res["job_dir"], "job.log"))


def test_crash(tmp_path, fake_python):
    res = runner.run_job_process(_spec("crash"), str(tmp_path / "w"), 30, python=fake_python)
    assert not res["ok"] and res["error_type"] == "JobCrashed"
    assert "code 139" in res["error"] and "Segmentation fault" in res["error"]


def test_hard_timeout_kills_process_group(tmp_path, fake_python):
    t = time.monotonic()
    res = runner.run_job_process(_spec("hang"), str(tmp_path / "w"), 1.5, python=fake_python)
    assert time.monotonic() - t < 10
    assert not res["ok"] and res["error_type"] == "JobTimeout" and "job_timeout_s=1.5" in res["error"]
    time.sleep(0.3)
    out = os.popen("pgrep -f 'time.sleep\\(300\\)'").read().split()
    assert not [p for p in out if int(p) != os.getpid()], "grandchild survived"


def test_hang_after_result(tmp_path, fake_python, monkeypatch):
    monkeypatch.setattr(runner, "SHUTDOWN_GRACE_S", 1.0)
    t = time.monotonic()
    res = runner.run_job_process(_spec("hang_after_result"), str(tmp_path / "w"), 60, python=fake_python)
    assert res["ok"] and time.monotonic() - t < 10


def test_job_dies_with_the_process_that_started_it(tmp_path, fake_python):
    """A Celery pool process killed mid-job (SIGKILL) takes its job process with it (PR_SET_PDEATHSIG): the
    redelivered message's run never meets the old driver on the same ports (#13)."""
    import signal
    import subprocess

    work = tmp_path / "w"
    starter = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, %r); from sfworker import runner; "
        "runner.run_job_process({'job_name': 'sfjob-t', 'mode': 'slow'}, %r, 60, python=%r)")
        % (os.path.dirname(os.path.dirname(os.path.abspath(runner.__file__))), str(work), fake_python)],
        env=dict(os.environ, FAKE_JOB_SLEEP="120"))
    runs = work / "runs.log"
    deadline = time.monotonic() + 20
    while not (runs.exists() and runs.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    _start, pid, ppid = runs.read_text().split()[:3]
    time.sleep(0.5)
    assert int(ppid) == starter.pid
    starter.send_signal(signal.SIGKILL)
    starter.wait()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(")")[-1].split()[0] == "Z":  # a zombie (reaped by init later) is dead
                break
        time.sleep(0.1)
    alive = os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] != "Z"
    assert not alive, "the job process outlived the process that started it"


def test_abort(tmp_path, fake_python):
    res = runner.run_job_process(_spec("hang"), str(tmp_path / "w"), 60, python=fake_python,
                                 should_abort=lambda: "lost the job slot lock in Redis")
    assert not res["ok"] and "lost the job slot lock" in res["error"]


# ------------------------------------------------------------------ execute()

def _params(column="ok"):
    return {"task_config": {"task_type": "secure_sum", "input_paths": {"alice": "alice.csv", "bob": "b.csv"},
                            "column": column}}


def test_execute_bad_params(cfg, redis_client):
    with pytest.raises(ValueError, match=r"invalid task_params: .*unknown task type 'nope'"):
        execute(cfg, redis_client, "req-bad", {"task_config": {"task_type": "nope"}})
    h = status.history(redis_client, "req-bad")
    assert [e["status"] for e in h] == ["FAILURE"] and "unknown task type" in h[0]["error"]


def test_execute_success_events_and_slot(cfg, redis_client, fake_python):
    res = execute(cfg, redis_client, "req-ok", _params("ok"), python=fake_python)
    # the original worker's nested shape (#13), this project's facts inside it
    assert sorted(res) == ["celery_metadata", "performance_metrics", "result", "status", "task_metadata"]
    assert res["status"] == "success" and res["result"] == {"sum": 42}
    md = res["task_metadata"]
    assert md["party"] == "alice" and md["parties"] == ["alice", "bob"] and md["task_type"] == "secure_sum"
    assert md["execution_id"] == md["task_request_id"] == "req-ok" and md["task_id"] is None and md["form"] == "own"
    assert md["devices_used"] == ["alice", "bob", "spu"] and md["tls"] == {"enabled": False}
    assert md["published"] == [] and md["unpublished"] == []
    assert md["started_at"] <= md["completed_at"] and md["completed_at"].endswith("+00:00")
    assert md["fed_port"] == 19000 + md["job_slot"] and md["spu_port"] == 19500 + md["job_slot"]
    pm = res["performance_metrics"]
    for k in ("init", "devices", "algorithm", "total", "slot_wait", "process"):
        assert k in pm["timings"]
    assert pm["cluster_init_time"] == 0.1 and pm["device_init_time"] == 0.1 and pm["algorithm_exec_time"] == 0.1
    assert pm["total_execution_time"] == round(pm["timings"]["total"], 2) and "overhead_time" in pm
    assert res["celery_metadata"]["celery_task_id"] is None and res["celery_metadata"]["retry_count"] == 0
    h = status.history(redis_client, "req-ok")
    assert [e["status"] for e in h] == ["RUNNING", "SUCCESS"]
    assert redis_client.get(slot_key("alice", md["job_slot"])) is None  # released
    json.dumps(res)  # JSON-serialisable


def test_execute_original_events_follow_the_real_stages(cfg, redis_client, fake_python):
    ps = redis_client.pubsub()
    ps.subscribe("task_status_events")
    ps.get_message(timeout=1)
    execute(cfg, redis_client, "req-st", _params("ok"), python=fake_python)
    evs = status.original_history(redis_client, "req-st")
    assert [e["data"]["stage"] for e in evs] == [
        "validated", "slot_acquired", "job_started", "cluster_initialized", "devices_initialized", "task_execution",
        "outputs_published", "task_completed"]
    assert [e["status"] for e in evs] == ["RUNNING"] * 7 + ["SUCCESS"]
    progress = [e["data"]["progress"] for e in evs]
    assert progress == sorted(progress) and progress[0] > 0 and progress[-1] == 1.0
    for e in evs:
        assert sorted(e) == ["data", "execution_id", "status", "subtask_id", "task_id", "task_name", "timestamp",
                             "worker_container"]
        assert e["execution_id"] == e["data"]["execution_id"] == "req-st" and e["task_id"] is None
        assert e["worker_container"] == "alice-head" and e["task_name"] == "tasks.secretflow.execute_task"
        assert e["timestamp"].endswith("+00:00") and e["data"]["party"] == "alice"
    assert evs[3]["data"]["cluster_init_time"] == 0.1 and evs[4]["data"]["initialized_devices"][-1] == "spu"
    assert evs[-1]["data"]["result"] == {"sum": 42} and "performance_metrics" in evs[-1]["data"]
    published = []
    while True:
        m = ps.get_message(timeout=0.5)
        if m is None:
            break
        if m["type"] == "message":
            published.append(json.loads(m["data"])["data"]["stage"])
    assert published == [e["data"]["stage"] for e in evs]  # PUBLISH and LPUSH carry the same events
    ps.close()


def test_execute_original_event_names_and_cap_from_the_config(data_dir, redis_client, fake_python):
    from helpers import base_config
    from sfworker.config import parse_config

    cfg = parse_config(base_config(data_dir, status_channel="orch:events", status_queue="orch:queue",
                                   status_queue_max=3))
    execute(cfg, redis_client, "req-cap", _params("ok"), python=fake_python)
    assert redis_client.llen("orch:queue") == 3 and not redis_client.exists("task_status_queue")
    assert [e["data"]["stage"] for e in status.original_history(redis_client, queue="orch:queue")] == [
        "task_execution", "outputs_published", "task_completed"]


def test_execute_failure_events_carry_error_and_type(cfg, redis_client, fake_python):
    with pytest.raises(TimeoutError):
        execute(cfg, redis_client, "req-pf", _params("peer"), python=fake_python)
    last = status.original_history(redis_client, "req-pf")[-1]
    assert last["status"] == "FAILURE" and last["data"]["stage"] == "task_failed"
    assert last["data"]["error_type"] == "PeerTimeoutError" and "did not join" in last["data"]["error"]
    assert last["data"]["progress"] == 0.2  # the last stage it reached: job_started


def test_execute_bad_params_original_event(cfg, redis_client):
    with pytest.raises(ValueError):
        execute(cfg, redis_client, "req-bad2", {"task_config": {"task_type": "nope"}})
    (ev,) = status.original_history(redis_client, "req-bad2")
    assert ev["status"] == "FAILURE" and ev["data"]["error_type"] == "ValueError"
    assert "unknown task type" in ev["data"]["error"] and ev["data"]["stage"] == "task_failed"


def test_execute_retries_a_cluster_init_failure_once(cfg, redis_client, fake_python):
    from sfworker.execute import Delivery, RetryJob, execute_call

    args = ("req-rt", _params("initfail"))
    with pytest.raises(RetryJob) as ei:
        execute_call(cfg, redis_client, args, {}, Delivery(celery_task_id="ct-rt", retries=0, max_retries=1,
                                                           retry_countdown_s=60), python=fake_python)
    assert isinstance(ei.value.exc, RuntimeError) and ei.value.countdown == 60
    assert "sf.init failed" in str(ei.value.exc)
    ev = status.original_history(redis_client, "req-rt")[-1]
    assert ev["status"] == "RETRY" and ev["data"]["stage"] == "task_retrying"
    assert ev["data"]["retry_count"] == 0 and ev["data"]["max_retries"] == 1 and ev["data"]["phase"] == "init"
    assert status.history(redis_client, "req-rt")[-1]["status"] == "RETRY"
    # the retry (same Celery task id, retries=1) runs again and, failing again, fails for good
    with pytest.raises(RuntimeError, match="sf.init failed"):
        execute_call(cfg, redis_client, args, {}, Delivery(celery_task_id="ct-rt", retries=1, max_retries=1),
                     python=fake_python)
    assert status.original_history(redis_client, "req-rt")[-1]["status"] == "FAILURE"
    runs = open(os.path.join(cfg.work_dir, "runs.log")).read().split("\n")
    assert sum(1 for x in runs if x.startswith("start")) == 2


def test_execute_does_not_retry_other_failures(cfg, redis_client, fake_python):
    from sfworker.execute import Delivery, execute_call

    with pytest.raises(RuntimeError, match="boom"):
        execute_call(cfg, redis_client, ("req-nr", _params("fail")), {},
                     Delivery(celery_task_id="ct-nr", max_retries=1), python=fake_python)
    assert status.original_history(redis_client, "req-nr")[-1]["status"] == "FAILURE"


def test_execute_runs_a_delivered_again_job_once(cfg, redis_client, fake_python):
    from sfworker.execute import Delivery, execute_call

    d = Delivery(celery_task_id="ct-once")
    first = execute_call(cfg, redis_client, ("req-once", _params("ok")), {}, d, python=fake_python)
    again = execute_call(cfg, redis_client, ("req-once", _params("ok")), {}, d, python=fake_python)
    assert again == first
    runs = open(os.path.join(cfg.work_dir, "runs.log")).read().split()
    assert runs.count("start") == 1
    # a failed job's redelivery raises the same error without running it
    d = Delivery(celery_task_id="ct-once-f")
    for _attempt in range(2):
        with pytest.raises(RuntimeError, match="boom from secretflow"):
            execute_call(cfg, redis_client, ("req-once-f", _params("fail")), {}, d, python=fake_python)
    assert open(os.path.join(cfg.work_dir, "runs.log")).read().split().count("start") == 2


def test_execute_job_failure(cfg, redis_client, fake_python):
    with pytest.raises(RuntimeError, match=r"failed in party alice: boom from secretflow"):
        execute(cfg, redis_client, "req-fail", _params("fail"), python=fake_python)
    h = status.history(redis_client, "req-fail")
    assert [e["status"] for e in h] == ["RUNNING", "FAILURE"] and "boom" in h[-1]["error"]


def test_execute_peer_timeout_is_timeouterror(cfg, redis_client, fake_python):
    with pytest.raises(TimeoutError, match=r"carol.*127.0.0.3:19000"):
        execute(cfg, redis_client, "req-peer", _params("peer"), python=fake_python)


def test_execute_waits_for_busy_slot(cfg, redis_client, fake_python):
    from sfworker.params import slot_for

    slot = slot_for("req-wait", cfg.job_slots)
    redis_client.set(slot_key("alice", slot), "other-job|tok", px=1500)  # expires by itself
    res = execute(cfg, redis_client, "req-wait", _params("ok"), python=fake_python)
    assert res["performance_metrics"]["timings"]["slot_wait"] >= 1.0
    assert [e["status"] for e in status.history(redis_client, "req-wait")] == ["RUNNING", "WAITING", "SUCCESS"]
    # the original's events: WAITING is RUNNING at stage waiting_for_slot
    evs = status.original_history(redis_client, "req-wait")
    assert [(e["status"], e["data"]["stage"]) for e in evs[:3]] == [
        ("RUNNING", "validated"), ("RUNNING", "waiting_for_slot"), ("RUNNING", "slot_acquired")]
    assert "busy" in evs[1]["data"]["detail"]
