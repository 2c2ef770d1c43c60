"""Real two-party run: Redis + Ray + sfworker per party, SecretFlow PSI and secure sum in
production mode, jobs sent with plain Celery send_task to both parties' queues."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from conftest import GATEWAY_RESOURCE, PARTIES, PEER_TIMEOUT_S, WORKER_NODES

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("dump_logs_on_failure")]

EXECUTE = "tasks.secretflow.execute_task"
HELLO = "tasks.secretflow.hello.hello_task"
HEALTH = "tasks.secretflow.health_check.health_check_task"


def _send_all(parties, names, task_request_id, params):
    """What an orchestrator does: the same job to every party's queue, then wait for all."""
    handles = {n: parties[n].send(EXECUTE, [task_request_id, params]) for n in names}
    out = {}
    for n, h in handles.items():
        out[n] = h.get(timeout=300, propagate=True)
    return out


def _assert_placement(parties, results):
    """alice (2 Ray nodes, head has sf_gateway, driver on the worker node): the fed proxies and the SPU
    runtime ran on alice-head although Ray would have preferred the driver's node (4 CPUs vs 1).
    bob (1 node, no sf_gateway): not pinned, says so, everything on its only node."""
    pa = results["alice"]["placement"]
    assert pa["pinned"] is True and pa["gateway_resource"] == GATEWAY_RESOURCE, pa
    assert pa["gateway_nodes"] == ["alice-head"], pa
    assert pa["driver"] == WORKER_NODES["alice"][0] == parties["alice"].node_id, pa
    assert pa["receiver_proxy"] == pa["sender_proxy"] == pa["spu_runtime"] == "alice-head", pa
    pb = results["bob"]["placement"]
    assert pb["pinned"] is False and "not offered" in pb["note"] and pb["gateway_nodes"] == [], pb
    assert pb["driver"] == pb["receiver_proxy"] == pb["sender_proxy"] == pb["spu_runtime"] == "bob-head", pb


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _read_csv(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    return r[0], r[1:]


def test_hello_and_health(two_parties):
    for name, p in two_parties.items():
        h = p.send(HELLO).get(timeout=30)
        assert h["party"] == name and h["node_id"] == p.node_id and h["time"]
        hc = p.send(HEALTH).get(timeout=60)
        assert hc["overall_status"] == "healthy", json.dumps(hc, indent=1)
        c = hc["components"]
        assert c["redis"]["status"] == "healthy" and c["celery"]["status"] == "healthy"
        assert c["ray"]["reachable"] is True and c["ray"]["alive_nodes"] == len(p.ray_nodes)
        assert c["ray"]["alive_node_ids"] == sorted(p.ray_nodes)
        assert c["node_info"] == {"node_id": p.node_id, "node_ip": p.node_ip, "party": name}
    assert two_parties["alice"].ray_nodes == ["alice-head", "alice-w1"]


def test_healthcheck_cli(two_parties):
    for p in two_parties.values():
        cp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "sfworker"), "--config", p.config_path,
                             "healthcheck", "--json"], capture_output=True, text=True, timeout=90)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert json.loads(cp.stdout)["ok"] is True


def test_secure_sum(two_parties):
    a, b = two_parties["alice"], two_parties["bob"]
    _write_csv(os.path.join(a.data_dir, "sales.csv"), ["id", "amount"], [[i, i * 3] for i in range(1, 101)])
    _write_csv(os.path.join(b.data_dir, "sales.csv"), ["id", "amount"], [[i, 7] for i in range(1, 51)])
    expected = sum(i * 3 for i in range(1, 101)) + 7 * 50
    tid = f"sum-{uuid.uuid4().hex[:8]}"
    params = {"task_config": {"task_type": "secure_sum", "column": "amount",
                              "input_paths": {"alice": "sales.csv", "bob": "sales.csv"}}}
    t = time.monotonic()
    res = _send_all(two_parties, ["alice", "bob"], tid, params)
    took = time.monotonic() - t
    for name, r in res.items():
        assert r["status"] == "SUCCESS" and r["party"] == name
        assert r["sum"] == expected
        assert r["task_request_id"] == tid and r["parties"] == ["alice", "bob"]
        for k in ("init", "devices", "algorithm", "total", "slot_wait"):
            assert isinstance(r["timings"][k], (int, float))
    assert res["alice"]["job_name"] == res["bob"]["job_name"] and res["alice"]["job_slot"] == res["bob"]["job_slot"]
    _assert_placement(two_parties, res)
    print(f"\n[integration] secure_sum took {took:.1f}s; timings alice={res['alice']['timings']} bob={res['bob']['timings']}",
          file=sys.stderr)
    # status events in each party's Redis
    import redis

    for name, p in two_parties.items():
        r = redis.Redis.from_url(p.redis_url)
        hist = [json.loads(x) for x in r.lrange(f"secretflow:task_status:{tid}", 0, -1)]
        assert [e["status"] for e in hist] == ["RUNNING", "SUCCESS"], hist
        assert all(e["party"] == name and e["node_id"] == p.node_id for e in hist)
        assert r.get(f"secretflow:job_slot:{name}:{res[name]['job_slot']}") is None  # slot released
        r.close()


def test_psi_via_submit_tool(two_parties):
    from sfworker.submit import submit_job

    a, b = two_parties["alice"], two_parties["bob"]
    a_ids = list(range(0, 300, 2))    # even
    b_ids = list(range(0, 300, 3))    # multiples of 3
    _write_csv(os.path.join(a.data_dir, "a.csv"), ["uid", "age"], [[f"u{i}", i % 70] for i in reversed(a_ids)])
    _write_csv(os.path.join(b.data_dir, "b.csv"), ["uid", "score"], [[f"u{i}", i * 10] for i in b_ids])
    inter = sorted({f"u{i}" for i in a_ids} & {f"u{i}" for i in b_ids})
    params = {
        "task_config": {
            "task_type": "psi", "keys": ["uid"], "protocol": "KKRT_PSI_2PC", "sort": True,
            "receiver_party": "alice",
            "input_paths": {"alice": "a.csv", "bob": "b.csv"},
            "output_paths": {"alice": "out/a_psi.csv", "bob": "out/b_psi.csv"},
        },
        "sf_init_config": {"job_slot": 1},
    }
    t = time.monotonic()
    out = submit_job({n: p.redis_url for n, p in two_parties.items()}, params, f"psi-{uuid.uuid4().hex[:8]}",
                     timeout_s=300)
    took = time.monotonic() - t
    assert out["ok"], json.dumps(out, indent=1)
    for name, r in out["results"].items():
        res = r["result"]
        assert res["job_slot"] == 1 and res["intersection_count"] == len(inter)
        assert {x["party"]: x["intersection_count"] for x in res["reports"]} == {"alice": len(inter), "bob": len(inter)}
    _assert_placement(two_parties, {n: r["result"] for n, r in out["results"].items()})
    ha, rows_a = _read_csv(os.path.join(a.data_dir, "out/a_psi.csv"))
    hb, rows_b = _read_csv(os.path.join(b.data_dir, "out/b_psi.csv"))
    assert ha == ["uid", "age"] and hb == ["uid", "score"]
    assert sorted(r[0] for r in rows_a) == inter and sorted(r[0] for r in rows_b) == inter
    assert len(rows_a) == len(inter) and len(rows_b) == len(inter)
    # rows kept intact
    assert all(int(r[1]) == int(r[0][1:]) % 70 for r in rows_a)
    assert all(int(r[1]) == int(r[0][1:]) * 10 for r in rows_b)
    print(f"\n[integration] psi took {took:.1f}s; alice result: {json.dumps(out['results']['alice']['result'])}",
          file=sys.stderr)


def test_bad_params_fail_cleanly_and_worker_survives(two_parties):
    a = two_parties["alice"]
    cases = [
        ({"task_config": {"task_type": "secure_sum", "column": "x",
                          "input_paths": {"alice": "../../../etc/passwd", "bob": "b.csv"}}}, "outside the data directory"),
        ({"task_config": {"task_type": "train_the_world"}}, "unknown task type 'train_the_world'"),
        ({"task_config": {"task_type": "psi", "keys": ["id"], "receiver_party": "alice",
                          "input_paths": {"alice": "a.csv", "mallory": "m.csv"},
                          "output_paths": {"alice": "o.csv", "mallory": "m.csv"}}}, "unknown party 'mallory'"),
        ({"task_config": {"task_type": "psi", "input_paths": {}}}, "task_config.keys is required"),
        ({"sf_init_config": {"parties": ["alice", "bob"]}, "task_config": {"task_type": "secure_sum"}}, "simulation mode"),
    ]
    for params, msg in cases:
        h = a.send(EXECUTE, [f"bad-{uuid.uuid4().hex[:6]}", params])
        with pytest.raises(ValueError, match="invalid task_params") as ei:
            h.get(timeout=30)
        assert msg in str(ei.value)
        assert h.state == "FAILURE"
    assert a.send(HELLO).get(timeout=30)["party"] == "alice"


def test_missing_peer_times_out_naming_it(two_parties):
    a = two_parties["alice"]
    _write_csv(os.path.join(a.data_dir, "c.csv"), ["v"], [[1], [2]])
    params = {"task_config": {"task_type": "secure_sum", "column": "v",
                              "input_paths": {"alice": "c.csv", "carol": "c.csv"}},
              "sf_init_config": {"job_slot": 2}}
    t = time.monotonic()
    h = a.send(EXECUTE, [f"carol-{uuid.uuid4().hex[:6]}", params])
    with pytest.raises(TimeoutError) as ei:
        h.get(timeout=120)
    took = time.monotonic() - t
    msg = str(ei.value)
    carol_addr = f"{PARTIES['carol'][0]}:{PARTIES['carol'][2] + 2}"
    assert "'carol'" in msg and carol_addr in msg, msg
    assert f"within {PEER_TIMEOUT_S}s" in msg
    # peer_timeout_s plus driver start-up and shutdown; far below RayFed's built-in ~3 h
    assert took < PEER_TIMEOUT_S + 60, took
    print(f"\n[integration] missing peer reported after {took:.1f}s: {msg[:300]}", file=sys.stderr)
    assert a.send(HELLO).get(timeout=30)["party"] == "alice"
    # and the slot was released: a normal two-party job on the same slot still works
    b = two_parties["bob"]
    _write_csv(os.path.join(b.data_dir, "c.csv"), ["v"], [[10]])
    params2 = {"task_config": {"task_type": "secure_sum", "column": "v",
                               "input_paths": {"alice": "c.csv", "bob": "c.csv"}, "job_slot": 2}}
    res = _send_all(two_parties, ["alice", "bob"], f"after-{uuid.uuid4().hex[:6]}", params2)
    assert res["alice"]["sum"] == res["bob"]["sum"] == 13
