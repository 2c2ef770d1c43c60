import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import base_config

SFWORKER = [sys.executable, "-m", "sfworker.cli"]


def run(args, **kw):
    env = dict(os.environ)
    env.pop("SFWORKER_CONFIG", None)
    env.update(kw.pop("env", {}))
    return subprocess.run(SFWORKER + args, capture_output=True, text=True, timeout=120, env=env, **kw)


def test_check_config_redacts(tmp_path, data_dir):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir)))
    cp = run(["--config", str(p), "check-config"])
    assert cp.returncode == 0, cp.stderr
    d = json.loads(cp.stdout)
    assert d["party"] == "alice" and d["redis_url"] == "redis://:***@127.0.0.1:16379/0"


def test_config_from_env_var(tmp_path, data_dir):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir, node_id="from-env")))
    cp = run(["check-config"], env={"SFWORKER_CONFIG": str(p)})
    assert cp.returncode == 0 and json.loads(cp.stdout)["node_id"] == "from-env"


def test_bad_config_exit_2_names_key(tmp_path, data_dir):
    raw = base_config(data_dir)
    del raw["parties"]["bob"]["fed_port"]
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(raw))
    cp = run(["--config", str(p), "worker"])
    assert cp.returncode == 2 and "'parties.bob.fed_port'" in cp.stderr


def test_submit_arg_errors():
    cp = run(["submit", "--party", "alice"])
    assert cp.returncode != 0 and "NAME=redis://" in cp.stderr
    cp = run(["submit", "--party", "alice=redis://127.0.0.1:1/0"])
    assert cp.returncode != 0 and "--params" in cp.stderr


def test_healthcheck_fails_without_ray_and_worker(tmp_path, data_dir, redis_server):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir, redis_url=redis_server, ray_address="127.0.0.1:1")))
    cp = run(["--config", str(p), "healthcheck", "--timeout", "1", "--json"])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    rep = json.loads(cp.stdout)
    assert rep["ok"] is False and rep["ray"]["reachable"] is False and rep["worker_ping"] == {}


def test_health_report_without_ray(cfg, redis_client):
    from sfworker.health import health_report

    rep = health_report(cfg, redis_client, worker="w@x")
    assert rep["overall_status"] == "error"
    assert rep["components"]["redis"]["status"] == "healthy"
    assert rep["components"]["ray"]["reachable"] is False and rep["components"]["ray"]["status"] == "error"
    assert rep["components"]["node_info"] == {"node_id": "alice-head", "node_ip": "127.0.0.1", "party": "alice"}


def test_celery_settings_json_only(cfg):
    from sfworker.celery_app import EXECUTE_TASK, HEALTH_TASK, HELLO_TASK, create_app

    app = create_app(cfg)
    c = app.conf
    assert c.accept_content == ["json"] and c.result_accept_content == ["json"]
    assert c.task_serializer == c.result_serializer == "json"
    assert c.broker_url == c.result_backend == cfg.redis_url
    assert c.task_default_queue == "secretflow_queue" and c.worker_prefetch_multiplier == 1
    assert {EXECUTE_TASK, HEALTH_TASK, HELLO_TASK} <= set(app.tasks)
    assert EXECUTE_TASK == "tasks.secretflow.execute_task"


def test_submit_defaults_to_own_party_from_config(tmp_path, data_dir, redis_server):
    """Without --party, submit sends to this node's own party and broker (no password on the command line)."""
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir, redis_url=redis_server)))
    cp = run(["--config", str(p), "submit", "--task", "tasks.secretflow.hello.hello_task", "--timeout", "1"])
    assert cp.returncode == 1, cp.stdout + cp.stderr  # nobody consumes the queue: a timeout, reported per party
    out = json.loads(cp.stdout)
    assert list(out["results"]) == ["alice"] and out["results"]["alice"]["state"] == "TIMEOUT"


def test_submit_without_party_or_config_says_why(tmp_path):
    cp = run(["--config", str(tmp_path / "missing.yml"), "submit", "--params-json", "{}"])
    assert cp.returncode != 0 and "no --party given" in cp.stderr
