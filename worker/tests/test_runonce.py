"""RunOnce (sfworker.slots): one run of one Celery task per party, whatever the deliveries of its message (#13)."""

import threading
import time

import pytest

from sfworker.slots import RUN_LEASE_FMT, RunOnce


def test_first_delivery_runs_and_a_later_one_gets_the_outcome(redis_client):
    a = RunOnce(redis_client, "alice", "ct-1", ttl_s=3)
    assert a.claim(5) is None  # ours: run it
    a.finish("SUCCESS", result={"status": "success"})
    b = RunOnce(redis_client, "alice", "ct-1", ttl_s=3)
    assert b.claim(5) == {"state": "SUCCESS", "result": {"status": "success"}}
    assert 0 < redis_client.ttl(a.done_key) <= 86400
    # another party's record is its own
    assert RunOnce(redis_client, "bob", "ct-1", ttl_s=3).claim(5) is None


def test_a_delivery_waits_for_a_live_run_instead_of_starting_another(redis_client):
    a = RunOnce(redis_client, "alice", "ct-2", ttl_s=3)
    assert a.claim(5) is None
    seen = []
    threading.Timer(2.0, lambda: a.finish("FAILURE", exc_type="TimeoutError", message="peer gone")).start()
    t = time.monotonic()
    rec = RunOnce(redis_client, "alice", "ct-2", ttl_s=3, poll_s=0.1).claim(10, on_wait=seen.append)
    assert rec == {"state": "FAILURE", "exc_type": "TimeoutError", "message": "peer gone"}
    assert time.monotonic() - t >= 1.5 and "waiting for its outcome" in seen[0]  # the lease was renewed meanwhile


def test_a_dead_runs_lease_expires_and_the_job_runs_again(redis_client):
    # what a SIGKILLed pool process leaves: its lease, no longer renewed, no outcome
    redis_client.set(RUN_LEASE_FMT.format(party="alice", task_id="ct-3"), "ct-3|dead", px=1500)
    t = time.monotonic()
    again = RunOnce(redis_client, "alice", "ct-3", ttl_s=3, poll_s=0.1)
    assert again.claim(10) is None and time.monotonic() - t >= 1.0
    again.abandon()  # a retry: no outcome, the lease released for the next delivery
    assert RunOnce(redis_client, "alice", "ct-3", ttl_s=3).claim(1) is None


def test_a_live_run_that_never_ends_times_the_wait_out(redis_client):
    a = RunOnce(redis_client, "alice", "ct-4", ttl_s=3)
    assert a.claim(5) is None
    with pytest.raises(TimeoutError, match="another delivery of this job is still running"):
        RunOnce(redis_client, "alice", "ct-4", ttl_s=3, poll_s=0.1).claim(1)
    a.abandon()
