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
    if mode == "ok":
        write({"ok": True, "output": {"sum": 42}, "timings": {"init": 0.1, "devices": 0.1, "algorithm": 0.1}})
    elif mode == "fail":
        write({"ok": False, "error": "boom from secretflow", "error_type": "RuntimeError"}); sys.exit(1)
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
    res = runner.run_job_process(_spec("ok"), str(tmp_path / "w"), 30, python=fake_python)
    assert res["ok"] and res["output"] == {"sum": 42} and res["exit_code"] == 0
    assert res["job_dir"] is None and os.listdir(tmp_path / "w") == []


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
    assert res["status"] == "SUCCESS" and res["sum"] == 42 and res["party"] == "alice"
    assert res["parties"] == ["alice", "bob"]
    for k in ("init", "devices", "algorithm", "total", "slot_wait", "process"):
        assert k in res["timings"]
    assert res["fed_port"] == 19000 + res["job_slot"] and res["spu_port"] == 19500 + res["job_slot"]
    h = status.history(redis_client, "req-ok")
    assert [e["status"] for e in h] == ["RUNNING", "SUCCESS"]
    assert redis_client.get(slot_key("alice", res["job_slot"])) is None  # released
    json.dumps(res)  # JSON-serialisable


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
    assert res["timings"]["slot_wait"] >= 1.0
    assert [e["status"] for e in status.history(redis_client, "req-wait")] == ["RUNNING", "WAITING", "SUCCESS"]
