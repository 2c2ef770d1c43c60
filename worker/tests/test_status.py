import json
import time

from sfworker import status


def test_publish_list_and_channel(redis_client):
    ps = redis_client.pubsub()
    ps.subscribe(status.CHANNEL)
    ps.get_message(timeout=1)  # subscribe confirmation
    ev = status.make_event("req-9", "alice", "alice-head", status.RUNNING, job_slot=3)
    status.publish(redis_client, ev, list_max=5)
    msg = ps.get_message(timeout=2)
    assert msg and msg["type"] == "message"
    got = json.loads(msg["data"])
    assert got["task_request_id"] == "req-9" and got["status"] == "RUNNING" and got["party"] == "alice"
    assert got["node_id"] == "alice-head" and got["error"] is None and got["job_slot"] == 3 and got["time"].endswith("Z")
    assert status.history(redis_client, "req-9")[0]["status"] == "RUNNING"
    assert 0 < redis_client.ttl(status.list_key("req-9")) <= status.LIST_TTL_S
    ps.close()


def test_list_is_capped(redis_client):
    for i in range(12):
        status.publish(redis_client, status.make_event("req-c", "alice", "n", status.RUNNING, i=i), list_max=5)
    h = status.history(redis_client, "req-c")
    assert [e["i"] for e in h] == [7, 8, 9, 10, 11]


def test_publish_never_raises():
    class Broken:
        def pipeline(self):
            raise ConnectionError("down")

    status.publish(Broken(), status.make_event("r", "p", "n", status.FAILURE, error="x"))


def test_original_event_on_the_originals_channel_and_capped_list(redis_client):
    ps = redis_client.pubsub()
    ps.subscribe("task_status_events")
    ps.get_message(timeout=1)
    ids = {"task_id": "dag-1", "subtask_id": "node-1", "execution_id": "exec-a"}
    channels = status.OriginalChannel(queue_max=4)
    for i in range(6):
        ev = status.make_original_event(status.WAITING, ids, "alice-head", "waiting_for_slot", 0.1, {"i": i})
        status.publish(redis_client, None, original=ev, channels=channels)
    got = json.loads(ps.get_message(timeout=2)["data"])
    assert got["status"] == "RUNNING" and got["data"]["stage"] == "waiting_for_slot"  # WAITING is the original's RUNNING
    assert got["execution_id"] == got["data"]["execution_id"] == "exec-a" and got["task_id"] == "dag-1"
    assert got["subtask_id"] == "node-1" and got["worker_container"] == "alice-head"
    assert got["task_name"] == "tasks.secretflow.execute_task" and got["data"]["progress"] == 0.1
    assert redis_client.llen("task_status_queue") == 4  # LTRIM: Redis cannot fill up
    assert [e["data"]["i"] for e in status.original_history(redis_client, "exec-a")] == [2, 3, 4, 5]
    assert not redis_client.exists(status.list_key("exec-a"))  # no own event was given
    ps.close()


def test_stages_are_ordered_by_progress():
    values = list(status.STAGES.values())
    assert values == sorted(values) and values[-1] == 1.0
    assert set(status.CHILD_STAGES) < set(status.STAGES)
