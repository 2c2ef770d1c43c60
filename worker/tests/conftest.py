"""Shared fixtures: a real redis-server (Debian package) and config helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from helpers import base_config, start_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_server():
    d = tempfile.mkdtemp(prefix="sfw-redis-")
    proc, url, port = start_redis(d)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def redis_client(redis_server):
    import redis

    r = redis.Redis.from_url(redis_server)
    r.flushdb()
    yield r
    r.close()


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "alice.csv").write_text("id,x\n1,10\n2,20\n")
    return str(d)


@pytest.fixture
def cfg(data_dir):
    from sfworker.config import parse_config

    return parse_config(base_config(data_dir))
