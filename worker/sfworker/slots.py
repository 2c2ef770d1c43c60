"""Job slots: one RayFed port and one SPU port per concurrently running job.

A job always uses slot k = (explicit job_slot) or sha256(task_request_id) % job_slots, computed
identically in every party, so all parties agree on the ports without talking to each other.
Inside one party the slot is held with a Redis lock in that party's Redis:

    key   secretflow:job_slot:<party>:<k>      value  <task_request_id>|<random token>
    SET key value NX PX ttl    -> acquire; renewed every ttl/3 while the job runs;
    deleted (compare-and-delete) when the job ends.

If the slot is busy the job WAITS for it (bounded by slot_wait_timeout_s). It never moves to
another slot: the peers would pick the original slot and the job would never meet.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Callable, Optional

log = logging.getLogger(__name__)

KEY_FMT = "secretflow:job_slot:{party}:{slot}"

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


class SlotLock:
    """A renewable Redis lock on one job slot (context manager)."""

    def __init__(self, redis_client, party: str, slot: int, owner: str, ttl_s: float = 60.0,
                 wait_timeout_s: float = 600.0, poll_s: float = 0.5):
        self.r = redis_client
        self.key = slot_key(party, slot)
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
                        log.error("lost job slot lock %s", self.key)
                        self.lost.set()
                        return
                except Exception as e:  # transient Redis error: keep trying until the TTL runs out
                    log.warning("renewing job slot lock %s failed: %s", self.key, e)

        self._thread = threading.Thread(target=renew, name=f"slot-renew-{self.slot}", daemon=True)
        self._thread.start()

    def release(self) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            return bool(self.r.eval(_RELEASE_LUA, 1, self.key, self.value))
        except Exception as e:
            log.warning("releasing job slot lock %s failed (it expires by itself): %s", self.key, e)
            return False

    def __enter__(self) -> "SlotLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
