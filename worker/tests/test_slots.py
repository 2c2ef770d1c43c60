import collections
import threading
import time

import pytest

from sfworker.params import job_name_for, slot_for
from sfworker.slots import SlotBusyTimeout, SlotLock, slot_key


def test_slot_deterministic_and_in_range():
    for n in (1, 2, 10, 37):
        for i in range(200):
            s = slot_for(f"req-{i}", n)
            assert 0 <= s < n
            assert s == slot_for(f"req-{i}", n)
    assert slot_for("anything", 1) == 0
    # known value: pins the algorithm (changing it breaks mixed-version deployments)
    assert slot_for("req-1", 10) == int(__import__("hashlib").sha256(b"req-1").hexdigest(), 16) % 10


def test_slot_spread():
    c = collections.Counter(slot_for(f"job-{i}", 10) for i in range(2000))
    assert len(c) == 10 and min(c.values()) > 120


def test_job_name_deterministic():
    assert job_name_for("a") == job_name_for("a") != job_name_for("b")
    assert job_name_for("a").startswith("sfjob-") and len(job_name_for("a")) == 30


def test_slot_bad_job_slots():
    with pytest.raises(ValueError):
        slot_for("x", 0)


def test_lock_acquire_release(redis_client):
    lk = SlotLock(redis_client, "alice", 3, owner="req-1", ttl_s=5, wait_timeout_s=1)
    assert lk.acquire() < 0.5
    key = slot_key("alice", 3)
    assert key == "secretflow:job_slot:alice:3"
    assert redis_client.get(key).decode().startswith("req-1|")
    assert 0 < redis_client.pttl(key) <= 5000
    assert lk.holder() == "req-1"
    assert lk.release() is True
    assert redis_client.get(key) is None


def test_busy_slot_waits_then_gets_it(redis_client):
    a = SlotLock(redis_client, "alice", 1, owner="req-a", ttl_s=10, wait_timeout_s=5, poll_s=0.05)
    b = SlotLock(redis_client, "alice", 1, owner="req-b", ttl_s=10, wait_timeout_s=5, poll_s=0.05)
    a.acquire()
    waits = []
    threading.Timer(0.8, a.release).start()
    t = time.monotonic()
    b.acquire(on_wait=waits.append)
    assert 0.7 < time.monotonic() - t < 3
    assert waits and "busy" in waits[0] and "req-a" in waits[0]
    assert b.holder() == "req-b"
    b.release()


def test_busy_slot_times_out(redis_client):
    a = SlotLock(redis_client, "alice", 2, owner="req-a", ttl_s=10, wait_timeout_s=5)
    b = SlotLock(redis_client, "alice", 2, owner="req-b", ttl_s=10, wait_timeout_s=0.5, poll_s=0.05)
    a.acquire()
    try:
        with pytest.raises(SlotBusyTimeout, match=r"slot 2.*held by 'req-a'"):
            b.acquire()
    finally:
        a.release()


def test_other_slots_and_parties_independent(redis_client):
    a = SlotLock(redis_client, "alice", 0, owner="x", ttl_s=10, wait_timeout_s=0.2)
    b = SlotLock(redis_client, "alice", 1, owner="y", ttl_s=10, wait_timeout_s=0.2)
    c = SlotLock(redis_client, "bob", 0, owner="z", ttl_s=10, wait_timeout_s=0.2)
    for lk in (a, b, c):
        lk.acquire()
    for lk in (a, b, c):
        assert lk.release()


def test_renewal_keeps_lock_past_ttl(redis_client):
    lk = SlotLock(redis_client, "alice", 4, owner="long", ttl_s=3, wait_timeout_s=1)
    lk.acquire()
    time.sleep(4.5)  # > ttl: only renewal keeps it
    assert lk.holder() == "long" and not lk.lost.is_set()
    lk.release()
    assert lk.holder() is None


def test_release_does_not_steal(redis_client):
    lk = SlotLock(redis_client, "alice", 5, owner="old", ttl_s=3, wait_timeout_s=1)
    lk.acquire()
    lk._stop.set()
    redis_client.set(slot_key("alice", 5), "new|tok", px=10000)  # e.g. expired and re-taken
    assert lk.release() is False
    assert redis_client.get(slot_key("alice", 5)) == b"new|tok"


def test_lost_lock_detected(redis_client):
    lk = SlotLock(redis_client, "alice", 6, owner="o", ttl_s=3, wait_timeout_s=1)
    lk.acquire()
    redis_client.delete(slot_key("alice", 6))
    assert lk.lost.wait(3)
    lk.release()


def test_context_manager(redis_client):
    with SlotLock(redis_client, "alice", 7, owner="cm", ttl_s=5, wait_timeout_s=1) as lk:
        assert lk.holder() == "cm"
    assert redis_client.get(slot_key("alice", 7)) is None
