"""Job slots: one RayFed port and one SPU port per concurrently running job.

A job always uses slot k = (explicit job_slot) or sha256(task_request_id) % job_slots, computed
identically in every party, so all parties agree on the ports without talking to each other.
Inside one party the slot is held with a Redis lock in that party's Redis:

    key   secretflow:job_slot:<party>:<k>      value  <task_request_id>|<random token>
    SET key value NX PX ttl    -> acquire; renewed every ttl/3 while the job runs;
    deleted (compare-and-delete) when the job ends.

If the slot is busy the job WAITS for it (bounded by slot_wait_timeout_s). It never moves to
another slot: the peers would pick the original slot and the job would never meet.

The same renewable lock makes a job run at most once per party (RunOnce, #13): late acknowledgement redelivers the
message of a job whose worker died, and Redis redelivers one whose visibility timeout passed.

    key   secretflow:job_run:<party>:<celery task id>    the run's lease (renewed like the slot lock)
    key   secretflow:job_done:<party>:<celery task id>   the finished run's outcome (JSON, result_expires_s)

A delivery first looks for the outcome (finished: return it, never run again), then takes the lease (nobody runs
it: run), else waits while the lease is alive (another process runs it: its outcome is the answer) - until the
lease expires because its owner died (run again).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any, Callable, Dict, Optional

log = logging.getLogger(__name__)

KEY_FMT = "secretflow:job_slot:{party}:{slot}"
RUN_LEASE_FMT = "secretflow:job_run:{party}:{task_id}"
RUN_DONE_FMT = "secretflow:job_done:{party}:{task_id}"

_RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_RENEW_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""


class SlotBusyTimeout(TimeoutError):
    pass


def slot_key(party: str, slot: int) -> str:
    return KEY_FMT.format(party=party, slot=slot)


class RenewableLock:
    """A Redis key ``key`` = ``<owner>|<random token>`` with a TTL, renewed every ttl/3 by a thread while held;
    ``lost`` is set when the renewal finds the key gone or someone else's."""

    def __init__(self, redis_client, key: str, owner: str, ttl_s: float = 60.0,
                 wait_timeout_s: float = 600.0, poll_s: float = 0.5, slot: Any = None):
        self.r = redis_client
        self.key = key
        self.slot = slot
        self.value = f"{owner}|{uuid.uuid4().hex}"
        self.ttl_ms = max(3000, int(ttl_s * 1000))
        self.wait_timeout_s = wait_timeout_s
        self.poll_s = poll_s
        self.waited_s = 0.0
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def holder(self) -> Optional[str]:
        v = self.r.get(self.key)
        if v is None:
            return None
        v = v.decode() if isinstance(v, bytes) else v
        return v.split("|", 1)[0]

    def try_acquire(self) -> bool:
        """Take the lock if it is free (no wait); True when it is ours."""
        if self.r.set(self.key, self.value, nx=True, px=self.ttl_ms):
            self._start_renewer()
            return True
        return False

    def acquire(self, on_wait: Optional[Callable[[str], None]] = None) -> float:
        """Block until the slot is ours; returns seconds waited. Raises SlotBusyTimeout."""
        t0 = time.monotonic()
        told = False
        while True:
            if self.r.set(self.key, self.value, nx=True, px=self.ttl_ms):
                self.waited_s = time.monotonic() - t0
                self._start_renewer()
                return self.waited_s
            waited = time.monotonic() - t0
            if waited >= self.wait_timeout_s:
                raise SlotBusyTimeout(
                    f"job slot {self.slot} ({self.key}) still held by {self.holder()!r} after waiting "
                    f"{waited:.0f}s (slot_wait_timeout_s={self.wait_timeout_s:g})"
                )
            if not told and on_wait is not None:
                told = True
                on_wait(f"job slot {self.slot} busy (held by {self.holder()!r}); waiting")
            time.sleep(min(self.poll_s, max(0.01, self.wait_timeout_s - waited)))

    def _start_renewer(self) -> None:
        self._stop.clear()
        interval = self.ttl_ms / 3000.0

        def renew():
            while not self._stop.wait(interval):
                try:
                    ok = self.r.eval(_RENEW_LUA, 1, self.key, self.value, self.ttl_ms)
                    if not ok:
                        log.error("lost lock %s", self.key)
                        self.lost.set()
                        return
                except Exception as e:  # transient Redis error: keep trying until the TTL runs out
                    log.warning("renewing lock %s failed: %s", self.key, e)

        self._thread = threading.Thread(target=renew, name=f"lock-renew-{self.key}", daemon=True)
        self._thread.start()

    def release(self) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            return bool(self.r.eval(_RELEASE_LUA, 1, self.key, self.value))
        except Exception as e:
            log.warning("releasing lock %s failed (it expires by itself): %s", self.key, e)
            return False

    def __enter__(self) -> "RenewableLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class SlotLock(RenewableLock):
    """A renewable Redis lock on one job slot (context manager)."""

    def __init__(self, redis_client, party: str, slot: int, owner: str, ttl_s: float = 60.0,
                 wait_timeout_s: float = 600.0, poll_s: float = 0.5):
        super().__init__(redis_client, slot_key(party, slot), owner, ttl_s, wait_timeout_s, poll_s, slot=slot)


class RunOnce:
    """At most one run of one Celery task (``task_id``) in one party, whatever the deliveries of its message."""

    def __init__(self, redis_client, party: str, task_id: str, ttl_s: float = 60.0, expires_s: int = 86400,
                 poll_s: float = 0.5):
        self.r = redis_client
        self.done_key = RUN_DONE_FMT.format(party=party, task_id=task_id)
        self.lease = RenewableLock(redis_client, RUN_LEASE_FMT.format(party=party, task_id=task_id), task_id,
                                   ttl_s=ttl_s, poll_s=poll_s)
        self.expires_s = int(expires_s)
        self.poll_s = poll_s

    @property
    def lost(self) -> threading.Event:
        return self.lease.lost

    def outcome(self) -> Optional[Dict[str, Any]]:
        raw = self.r.get(self.done_key)
        if raw is None:
            return None
        try:
            rec = json.loads(raw)
        except ValueError:
            return None
        return rec if isinstance(rec, dict) and rec.get("state") in ("SUCCESS", "FAILURE") else None

    def claim(self, wait_timeout_s: float, on_wait: Optional[Callable[[str], None]] = None) -> Optional[Dict[str, Any]]:
        """None: the lease is ours, run the job. Else the outcome of the run that finished it (maybe after waiting
        for a live run to end). TimeoutError when a live run did not end within ``wait_timeout_s``."""
        t0 = time.monotonic()
        told = False
        while True:
            rec = self.outcome()
            if rec is not None:
                return rec
            if self.lease.try_acquire():
                rec = self.outcome()  # it finished between our look and our SET NX
                if rec is not None:
                    self.lease.release()
                    return rec
                return None
            waited = time.monotonic() - t0
            if waited >= wait_timeout_s:
                raise TimeoutError(f"another delivery of this job is still running ({self.lease.key} held by "
                                   f"{self.lease.holder()!r}) after waiting {waited:.0f}s")
            if not told and on_wait is not None:
                told = True
                on_wait(f"another delivery of this job runs it ({self.lease.key} is alive); waiting for its outcome")
            time.sleep(self.poll_s)

    def finish(self, state: str, **record: Any) -> None:
        """Record the outcome (SUCCESS with ``result``, FAILURE with ``exc_type`` and ``message``), then release
        the lease: a waiting or later delivery returns it instead of running the job again."""
        try:
            self.r.set(self.done_key, json.dumps(dict(record, state=state), default=str), ex=self.expires_s)
        except Exception as e:  # noqa: BLE001  the result is still returned; a redelivery would run it again
            log.warning("recording the outcome %s failed: %s", self.done_key, e)
        self.lease.release()

    def abandon(self) -> None:
        """Release the lease without an outcome (the job will be retried: its next delivery runs it)."""
        self.lease.release()
