"""sfworker.orchestrator, the original orchestrator's client (#13): what it sends and that its checks catch every
departure from the original's contract (they must fail on this worker's pre-#13 answers)."""

from __future__ import annotations

import copy
import time
import json
import os

import pytest

from sfworker import orchestrator as orch

PARTIES = {"alice": {"external_ip": "10.0.0.1", "fed_port": 20000, "spu_port": 20100},
           "bob": {"external_ip": "10.0.1.1", "fed_port": 21000, "spu_port": 21100}}


@pytest.fixture(name="view")
def view_fixture(tmp_path):
    """What the node role renders for an alice host, password in a file (as on a server)."""
    pw = tmp_path / "redis.pw"
    pw.write_text("p@ss/word\n")
    cfg = {"party": "alice", "node_id": "alice-head", "redis_url": "redis://sfworker@10.0.0.1:16379/0",
           "redis_password_file": str(pw), "parties": PARTIES, "job_slots": 4, "data_dir": "/app/data",
           "spu_runtime_config": {"protocol": "SEMI2K", "field": "FM64"}, "queue": "secretflow_queue"}
    path = tmp_path / "worker.yml"
    path.write_text(json.dumps(cfg))
    return orch.PartyView.from_worker_config(str(path))


def test_view_from_the_worker_config(view):
    assert view.party == "alice" and view.job_slots == 4 and view.parties == PARTIES
    assert view.broker_url == "redis://sfworker:p%40ss%2Fword@10.0.0.1:16379/0"
    assert view.redacted_broker() == "redis://sfworker@10.0.0.1:16379/0"


def test_client_is_configured_like_the_originals():
    app = orch.make_app("redis://127.0.0.1:1/0")
    for name in (orch.EXECUTE_TASK, orch.HELLO_TASK, orch.PING_TASK, orch.ECHO_TASK, orch.HEALTH_TASK):
        queue = app.amqp.router.route({}, name)["queue"]
        assert (queue.name, queue.exchange.name, queue.exchange.type, queue.routing_key) == \
            ("secretflow_queue", "secretflow", "direct", "secretflow"), name
    assert app.conf.task_serializer == app.conf.result_serializer == "json"
    assert app.conf.accept_content == ["json"]


def psi(view, slot=2):
    ids = {"task_id": "t-a", "subtask_id": "s-a", "execution_id": "e-a"}
    return orch.psi_task_params(view, ids, ["alice", "bob"], slot, {"alice": ["uid"], "bob": ["id"]},
                                {"alice": "/app/data/a.csv", "bob": "/app/data/b.csv"},
                                {"alice": "/app/data/a-out.csv", "bob": "/app/data/b-out.csv"}, "alice")


def test_psi_message_is_the_originals_cluster_mode(view):
    params = psi(view)
    assert set(params) == {"task_id", "subtask_id", "execution_id", "sf_init_config", "spu_config", "task_config"}
    assert params["sf_init_config"] == {
        "parties": {"alice": {"address": "127.0.0.1:20002", "listen_addr": "0.0.0.0:20002"},
                    "bob": {"address": "10.0.1.1:21002", "listen_addr": "0.0.0.0:21002"}},
        "self_party": "alice", "address": orch.MESSAGE_RAY_ADDRESS}
    assert params["spu_config"] == {"cluster_def": {
        "nodes": [{"party": "alice", "address": "127.0.0.1:20102"}, {"party": "bob", "address": "10.0.1.1:21102"}],
        "runtime_config": {"protocol": "SEMI2K", "field": "FM64"}}}
    assert params["task_config"] == {
        "task_type": "psi", "keys": {"alice": ["uid"], "bob": ["id"]},
        "input_paths": {"alice": "/app/data/a.csv", "bob": "/app/data/b.csv"},
        "output_paths": {"alice": "/app/data/a-out.csv", "bob": "/app/data/b-out.csv"},
        "receiver": "alice", "protocol": "KKRT_PSI_2PC", "sort": True, "broadcast_result": True}
    json.dumps(params)  # JSON only


@pytest.mark.parametrize("slot", [-1, 4])
def test_psi_message_slot_outside_the_plan(view, slot):
    with pytest.raises(ValueError, match=r"slot %d is outside the deployment's job slots 0\.\.3" % slot):
        psi(view, slot)


def test_ids_differ_per_party():
    a, b = orch.job_ids("r1", "alice"), orch.job_ids("r1", "bob")
    assert all(a[k] != b[k] for k in a) and all("r1" in v for v in list(a.values()) + list(b.values()))


IDS = {"task_id": "t-a", "subtask_id": "s-a", "execution_id": "e-a"}


def event(status, stage, progress=None, **over):
    data = {"stage": stage}
    if progress is not None:
        data["progress"] = progress
    ev = dict(IDS, status=status, timestamp="2026-01-06T16:27:02.146496", data=data, worker_container="alice-head",
              task_name=orch.EXECUTE_TASK)
    ev.update(over)
    return ev


GOOD_EVENTS = [event("RUNNING", "celery_task_started"), event("RUNNING", "task_started", 0.0),
               event("RUNNING", "cluster_init", 0.1), event("RUNNING", "task_execution", 0.5),
               event("SUCCESS", "task_completed", 1.0)]


def test_events_good():
    assert orch.check_events(GOOD_EVENTS, IDS) == []


@pytest.mark.parametrize("events,problem", [
    ([], "task_status_events: no event with execution_id 'e-a'"),
    (GOOD_EVENTS[:-1], "expected one SUCCESS, last, and no FAILURE"),
    (GOOD_EVENTS[1:] + [event("FAILURE", "task_failed", 1.0)], "expected one SUCCESS, last, and no FAILURE"),
    ([GOOD_EVENTS[-1]] + GOOD_EVENTS, "expected RUNNING first"),
    (GOOD_EVENTS[:2] + [event("RUNNING", "x", 0.05)] + GOOD_EVENTS[2:], None),   # still up: fine
    (GOOD_EVENTS[:3] + [event("RUNNING", "x", 0.05)] + GOOD_EVENTS[3:], "expected data.progress never to go down"),
    (GOOD_EVENTS[:-1] + [event("SUCCESS", "task_completed")], "to 1.0 at SUCCESS"),
    (GOOD_EVENTS[:-1] + [event("SUCCESS", "task_completed", 1.5)], "to be a number in 0..1"),
    ([GOOD_EVENTS[0], GOOD_EVENTS[-1]], "through at least three stages"),
    (GOOD_EVENTS[:-1] + [event("SUCCESS", "task_completed", 1.0, subtask_id="s-b")],
     "[4].subtask_id: expected 's-a', got 's-b'"),
    (GOOD_EVENTS[:-1] + [event("SUCCESS", "task_completed", 1.0, task_name="execute_task")],
     "[4].task_name: expected 'tasks.secretflow.execute_task'"),
    (GOOD_EVENTS[:-1] + [event("DONE", "task_completed", 1.0)], "[4].status: expected one of"),
    (GOOD_EVENTS[:-1] + [event("SUCCESS", "", 1.0)], "[4].data.stage: expected a stage name"),
    (GOOD_EVENTS[:-1] + [event("SUCCESS", "task_completed", 1.0, timestamp=1767716822)], "[4].timestamp"),
    # this project's own pre-#13 event: {task_request_id, state, ...} - nothing the original's listener reads
    ([{"task_request_id": "e-a", "execution_id": "e-a", "state": "SUCCESS", "party": "alice"}], "missing"),
])
def test_events_bad(events, problem):
    problems = orch.check_events(events, IDS)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def original_result(count=100):
    return {"status": "success",
            "result": {"intersection_count": count, "output_paths": {"alice": "/app/data/a-out.csv"},
                       "psi_protocol": "KKRT_PSI_2PC", "reports": [], "receiver": "alice", "parties": ["alice", "bob"]},
            "performance_metrics": {"total_execution_time": 1.0},
            "task_metadata": dict(IDS, task_type="psi", started_at="2026-01-06T16:27:02", completed_at="2026-01-06T16:27:15",
                                  devices_used=["alice", "bob", "spu"]),
            "celery_metadata": {"celery_task_id": "c"}}


def test_result_good(view):
    assert orch.check_psi_result(original_result(), dict(psi(view), **IDS), 100) == []


@pytest.mark.parametrize("mutate,problem", [
    (lambda r: r.update(status="SUCCESS"), "status: expected 'success', got 'SUCCESS'"),
    (lambda r: r["result"].update(intersection_count=99), "result.intersection_count: expected 100, got 99"),
    (lambda r: r["result"].pop("reports"), "result.reports: missing"),
    (lambda r: r["result"].update(receiver="bob"), "result.receiver: expected 'alice', got 'bob'"),
    (lambda r: r["task_metadata"].update(execution_id="e-b"), "task_metadata.execution_id: expected 'e-a', got 'e-b'"),
    (lambda r: r.pop("celery_metadata"), "celery_metadata: expected a dict"),
    (lambda r: r["result"].update(output_paths={"alice": "/app/data/other.csv"}), "result.output_paths.alice"),
])
def test_result_bad(view, mutate, problem):
    result = original_result()
    mutate(result)
    problems = orch.check_psi_result(result, dict(psi(view), **IDS), 100)
    assert any(problem in p for p in problems), problems


def test_result_of_this_workers_own_pre_13_shape_is_refused(view):
    """The flat result this worker returned before #13: the original's result parsing would raise KeyError."""
    flat = {"task_request_id": "e-a", "party": "alice", "task_type": "psi", "intersection_count": 100,
            "output_path": "/app/data/a-out.csv"}
    problems = orch.check_psi_result(flat, dict(psi(view), **IDS), 100)
    assert "status: expected 'success', got None" in problems


ORIGINAL_HELLOS = {"hello": {"status": "success", "message": "Hello, SecretFlow!"},
                   "hello_name": {"status": "success", "message": "Hello, orchestrator!"},
                   "ping": {"status": "healthy", "message": "Pong!"},
                   "echo": {"status": "success", "echoed_data": copy.deepcopy(orch.ECHO_DATA)},
                   "health": {"status": "success", "overall_status": "healthy"}}


def test_hellos_good():
    assert orch.check_hello_tasks(ORIGINAL_HELLOS, "orchestrator") == []


@pytest.mark.parametrize("key,answer,problem", [
    # this worker's pre-#13 hello: no status
    ("hello", {"message": "hello from alice-head (alice)", "node_id": "alice-head"}, "hello: expected status 'success'"),
    ("hello_name", {"status": "success", "message": "Hello, SecretFlow!"}, "'orchestrator' in message"),
    ("ping", "NotRegistered: 'tasks.secretflow.hello.ping_task'", "ping: expected a dict"),
    ("echo", {"status": "success", "echoed_data": {"text": "snow"}}, "echo: expected status 'success' and echoed_data"),
    ("health", {"status": "success", "overall_status": "error"}, "health: expected status 'success' and overall"),
])
def test_hellos_bad(key, answer, problem):
    answers = dict(ORIGINAL_HELLOS, **{key: answer})
    problems = orch.check_hello_tasks(answers, "orchestrator")
    assert any(p.startswith(problem) or problem in p for p in problems), problems


def test_output_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("uid,x\nu1,1\nu2,2\n")
    assert orch.check_output_file(str(path), "uid", {"u1", "u2"}) == []
    assert "1 missing" in orch.check_output_file(str(path), "uid", {"u1", "u2", "u3"})[0]
    path.write_text("uid,x\nu1,1\nu1,1\nu2,2\n")
    assert orch.check_output_file(str(path), "uid", {"u1", "u2"}) == [f"output {path}: 1 duplicate row(s)"]
    assert orch.check_output_file(str(path), "id", {"u1"})[0].startswith(f"output {path}: no column 'id'")
    assert orch.check_output_file(str(tmp_path / "none.csv"), "uid", set()) == [
        f"output {os.path.join(str(tmp_path), 'none.csv')}: does not exist"]


def test_parse_ids():
    assert orch.parse_ids("41-43,7, 100-100") == {"41", "42", "43", "7", "100"}
    assert orch.parse_ids("") == set()


def test_cli_check_file(tmp_path, capsys):
    path = tmp_path / "alice-original.csv"
    assert orch.main(["--check-file", str(path), "--key", "id", "--expect-ids", "2-3"]) == 3
    assert json.loads(capsys.readouterr().out) == {"path": str(path), "exists": False, "ok": False, "problems": []}
    path.write_text('id,value\n2,2\n3,3\n')
    assert orch.main(["--check-file", str(path), "--key", "id", "--expect-ids", "2-3"]) == 0
    capsys.readouterr()
    assert orch.main(["--check-file", str(path), "--key", "id", "--expect-ids", "2-4"]) == 1
    assert "1 missing" in json.loads(capsys.readouterr().out)["problems"][0]


def test_cli_needs_the_run_arguments():
    with pytest.raises(SystemExit) as exc:
        orch.main(["--expect-ids", "1-2", "--parties", "alice,bob"])
    assert exc.value.code == 2


def test_status_listener_hears_the_channel_and_reads_the_list(redis_server, redis_client):
    """Against a real Redis: subscribed once start() returns, every JSON event kept, the list read oldest first,
    a message that is not JSON reported."""
    listener = orch.StatusListener(redis_server).start()
    try:
        first, second = dict(IDS, status="RUNNING"), dict(IDS, status="SUCCESS")
        for ev in (first, second):
            redis_client.publish(orch.STATUS_CHANNEL, json.dumps(ev))
            redis_client.lpush(orch.STATUS_QUEUE, json.dumps(ev))
        redis_client.publish(orch.STATUS_CHANNEL, json.dumps(dict(IDS, execution_id="other", status="SUCCESS")))
        redis_client.publish(orch.STATUS_CHANNEL, "not json")
        assert listener.wait_for("e-a", timeout_s=10) == [first, second]
        assert listener.listed("e-a") == [first, second]
        deadline = time.monotonic() + 10
        while not listener.bad and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listener.bad and listener.bad[0].startswith("not JSON: b'not json'")
    finally:
        listener.stop()
