"""Helpers shared by unit and integration tests (a real redis-server, config dicts)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REDIS_PASSWORD = "s3cret-test-pw"


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
    }
    cfg.update(over)
    return cfg
