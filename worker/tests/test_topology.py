"""sfworker._topology is the deployment plan's own address code (the collection's plugins/module_utils/_topology.py,
reached by a symlink), so a job's cluster_config / SPU cluster_def are the plan's."""

import os

import sfworker._topology as topology
from sfworker.config import parse_config
from sfworker.params import build_job_spec

from helpers import COLLECTION_ROOT, base_config


def test_the_installed_module_is_the_collections_file():
    """Also for a non-editable install (scripts/worker-venv.sh, the image): the same bytes, not a stale copy."""
    with open(topology.__file__, "rb") as f:
        mine = f.read()
    with open(os.path.join(COLLECTION_ROOT, "plugins", "module_utils", "_topology.py"), "rb") as f:
        assert mine == f.read()


def test_ipv6_job_endpoints(data_dir):
    parties = {
        "alice": {"external_ip": "2001:db8::11", "fed_port": 19000, "spu_port": 19500},
        "bob": {"external_ip": "10.0.0.21", "fed_port": 19000, "spu_port": 19500},
        "carol": {"external_ip": "carol.example.org", "fed_port": 29000, "spu_port": 29500},
    }
    cfg = parse_config(base_config(data_dir, parties=parties, ray_address="[fd00::11]:16380"))
    params = {"task_config": {"task_type": "secure_sum", "column": "x", "job_slot": 2,
                              "input_paths": {"alice": "alice.csv", "carol": "c.csv"}}}
    spec = build_job_spec(cfg, "req-v6", params)
    assert spec["cluster_config"] == {
        "parties": {
            "alice": {"address": "[2001:db8::11]:19002", "listen_addr": "[::]:19002"},
            "carol": {"address": "carol.example.org:29002", "listen_addr": "0.0.0.0:29002"},
        },
        "self_party": "alice",
    }
    assert spec["spu_cluster_def"]["nodes"] == [
        {"party": "alice", "address": "[2001:db8::11]:19502", "listen_address": "[::]:19502"},
        {"party": "carol", "address": "carol.example.org:29502", "listen_address": "0.0.0.0:29502"},
    ]
    assert spec["ray_address"] == "[fd00::11]:16380"
    assert spec["cluster_config"] == topology.cluster_config(
        {p: parties[p] for p in ("alice", "carol")}, "alice", 2)
