"""Helpers shared by unit and integration tests (a real redis-server, config dicts)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REDIS_PASSWORD = "s3cret-test-pw"

# The collection this worker belongs to (worker/tests/helpers.py -> the collection root).
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shared_table(name: str):
    """A test table shared with the collection's unit tests (tests/unit/data/<name>.json), e.g. the RAY_*ADDRESS
    rule's cases, which the plan's inventory validation is tested against as well."""
    with open(os.path.join(COLLECTION_ROOT, "tests", "unit", "data", name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def plan_lib():
    """The collection's deployment plan module (plugins/module_utils/_plan.py). It imports nothing from ansible,
    so the worker's venv can run it: tests build their worker configs with the plan's own functions."""
    parent = os.path.dirname(os.path.dirname(COLLECTION_ROOT))
    if os.path.basename(parent) == "ansible_collections":  # an installed collection
        path = os.path.dirname(parent)
    else:  # a checkout: collections/ansible_collections/sfops/secretflow -> the checkout
        path = os.path.join(COLLECTION_ROOT, "collections")
    if path not in sys.path:
        sys.path.insert(0, path)
    from ansible_collections.sfops.secretflow.plugins.module_utils import _plan

    return _plan


def plan_defaults():
    """The deployment's defaults, from the files they are written in: roles/plan/defaults/main.yml, and for the
    firewall switch the plan reads (planlib.FIREWALL_VARS) roles/firewall/defaults/main.yml - what the
    deployment_plan action plugin's load_defaults gives the plan."""
    import yaml

    with open(os.path.join(COLLECTION_ROOT, "roles", "plan", "defaults", "main.yml"), encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    with open(os.path.join(COLLECTION_ROOT, "roles", "firewall", "defaults", "main.yml"), encoding="utf-8") as f:
        firewall = yaml.safe_load(f) or {}
    defaults.update((key, firewall[key]) for key in plan_lib().FIREWALL_VARS if key in firewall)
    return defaults


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_redis(tmpdir: str, password: str = REDIS_PASSWORD, port: int | None = None):
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server binary not found (Debian: apt-get install -y redis-server); "
                    "the CI script installs it, so this skip must not happen in CI")
    port = port or free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "",
         "--appendonly", "no", "--dir", tmpdir, "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    import redis

    r = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            r.ping()
            break
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("redis-server did not come up")
    return proc, url, port


def base_config(data_dir: str, **over):
    cfg = {
        "party": "alice",
        "node_id": "alice-head",
        "node_ip": "127.0.0.1",
        "ray_address": "127.0.0.1:16380",
        "redis_url": "redis://:pw@127.0.0.1:16379/0",
        "queue": "secretflow_queue",
        "data_dir": data_dir,
        "work_dir": os.path.join(data_dir, ".work"),
        "job_slots": 10,
        "peer_timeout_s": 120,
        "job_timeout_s": 3600,
        "parties": {
            "alice": {"external_ip": "127.0.0.1", "fed_port": 19000, "spu_port": 19500},
            "bob": {"external_ip": "127.0.0.2", "fed_port": 19000, "spu_port": 19500},
            "carol": {"external_ip": "127.0.0.3", "fed_port": 19000, "spu_port": 19500},
        },
        "spu_runtime_config": {"protocol": "SEMI2K", "field": "FM128"},
        "tls": None,
    }
    cfg.update(over)
    return cfg
