"""The original SecretFlow Worker's orchestrator against this worker (#13, the issue's first "Done when").

Two real parties (conftest.py: real Redis, a Ray cluster per party, real SecretFlow, real Celery workers, TLS between
the parties). Each party's orchestrator is sfworker.orchestrator, configured from what the deployment's plan gives
that party (its worker config: broker, every party's external address and first fed/SPU port, job slots) and sending
what the original's orchestrator sends: a Celery client configured like the original's, hello/ping/echo/health, and
``execute_task(task_params)`` with ONE dict in the original's cluster-mode layout - different
task_id/subtask_id/execution_id in each party, the self party's address on loopback, the original's PSI keys.
It subscribes to ``task_status_events`` before sending and checks the nested result (intersection_count exact
against a plaintext intersection of the generated data), the output files, and RUNNING -> SUCCESS events carrying
exactly the ids that party was sent, with progress moving up.
"""

from __future__ import annotations

import csv
import os
import threading
import uuid

import pytest

from conftest import JOB_SLOTS, PARTIES
from sfworker import orchestrator as orch

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("dump_logs_on_failure")]

# a slot other than 0: the ports in the messages are the plan's first ports + the slot
SLOT = 2
KEY = "uid"


def _views(parties):
    return {n: orch.PartyView.from_worker_config(p.config_path) for n, p in parties.items()}


def _write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([KEY, "x"])
        w.writerows(rows)


def test_views_come_from_the_plan(two_parties):
    """What each orchestrator is configured with is the plan's: the other party's external address and first ports."""
    views = _views(two_parties)
    for name, view in views.items():
        assert view.party == name and view.job_slots == JOB_SLOTS
        for other, (ip, _ray, fed, spu) in PARTIES.items():
            assert view.parties[other] == {"external_ip": ip, "fed_port": fed, "spu_port": spu}, (name, other)


@pytest.mark.parametrize("party", ["alice", "bob"])
def test_hello_ping_echo_health(two_parties, party):
    report = orch.run_hello_tasks(_views(two_parties)[party])
    assert report["ok"], report


def test_cluster_mode_psi_with_different_ids_per_party(two_parties):
    parties = ["alice", "bob"]
    run = uuid.uuid4().hex[:10]
    views = _views(two_parties)
    # alice: even numbers, bob: multiples of 3 (and rows in a different order): the intersection is the multiples of 6
    alice_keys = [f"u{i:05d}" for i in range(2, 601, 2)]
    bob_keys = [f"u{i:05d}" for i in reversed(range(3, 601, 3))]
    expected = set(alice_keys) & set(bob_keys)
    assert len(expected) == 100
    inputs, outputs = {}, {}
    for name, keys in (("alice", alice_keys), ("bob", bob_keys)):
        data = two_parties[name].data_dir
        inputs[name] = os.path.join(data, "orig", f"{name}-{run}.csv")       # absolute, inside the data directory
        outputs[name] = os.path.join(data, "orig", f"{name}-{run}-psi.csv")
        _write(inputs[name], [[k, n] for n, k in enumerate(keys)])

    reports = {}
    ready = threading.Barrier(len(parties))

    def one(name):
        try:
            reports[name] = orch.run_psi(views[name], run, parties, SLOT, {p: [KEY] for p in parties}, inputs, outputs,
                                         "alice", expected, timeout_s=300, ready=ready)
        except Exception as e:  # noqa: BLE001 - reported below
            reports[name] = {"ok": False, "problems": [f"{type(e).__name__}: {e}"]}

    threads = [threading.Thread(target=one, args=(name,)) for name in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=400)
    assert set(reports) == set(parties), reports
    for name in parties:  # the orchestrator itself ran through (an exception leaves no ids)
        assert "ids" in reports[name], reports[name]

    # what was sent: different ids per party, the self party on loopback, the peer at its planned address, the
    # plan's first ports + SLOT in both the fed and SPU addresses; the Ray address is not the deployment's
    ids = {n: reports[n].get("ids") for n in parties}
    for key in ("task_id", "subtask_id", "execution_id"):
        assert ids["alice"][key] != ids["bob"][key], ids
    for name in parties:
        params = reports[name]["task_params"]
        sf_parties = params["sf_init_config"]["parties"]
        nodes = {n["party"]: n["address"] for n in params["spu_config"]["cluster_def"]["nodes"]}
        for other in parties:
            ip, _ray, fed, spu = PARTIES[other]
            host = "127.0.0.1" if other == name else ip
            assert sf_parties[other]["address"] == f"{host}:{fed + SLOT}", (name, sf_parties)
            assert nodes[other] == f"{host}:{spu + SLOT}", (name, nodes)
        assert params["sf_init_config"]["self_party"] == name
        assert params["sf_init_config"]["address"] not in (two_parties[name].ray_address,)
    # bob's loopback is not bob's planned external address (127.0.0.2): accepted because it is his own
    assert PARTIES["bob"][0] != "127.0.0.1"

    # every orchestrator-side check: nested result, intersection_count, events on the channel and in the list,
    # its own output file
    for name in parties:
        assert reports[name]["ok"], {k: reports[name].get(k) for k in ("problems", "result", "events")}
        assert reports[name]["result"]["result"]["intersection_count"] == len(expected)
        statuses = [e["status"] for e in reports[name]["events"]]
        assert statuses[0] == "RUNNING" and statuses[-1] == "SUCCESS", statuses
        assert {e["execution_id"] for e in reports[name]["events"]} == {ids[name]["execution_id"]}
    # and both output files (this test sees both parties' data): exactly the intersection
    for name in parties:
        assert orch.check_output_file(outputs[name], KEY, expected) == []
