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
