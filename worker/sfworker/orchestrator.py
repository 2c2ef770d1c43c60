"""The original SecretFlow Worker's orchestrator, played: a reference client of that contract and its check (#13).

An orchestrator written against the original worker (beng003/secretflow-worker) talks to each party's Redis with a
Celery client configured like the original's (JSON; queue ``secretflow_queue`` on the direct exchange
``secretflow``, routing key ``secretflow``), calls ``tasks.secretflow.execute_task(task_params)`` with ONE dict in
the original layout (its own ``task_id``/``subtask_id``/``execution_id`` per party, ``sf_init_config`` in cluster
mode with the self party on loopback, ``spu_config.cluster_def``, ``task_config``), listens on the status channel
``task_status_events`` and reads the nested result (``status == "success"``, ``result``, ``task_metadata``...).

This module does exactly that and checks every answer against the contract, so that the same code runs

* in the worker's integration test (tests/integration/test_original_orchestrator.py: two real parties on one
  machine), and
* inside a party's node container against a deployment (``playbooks/smoke.yml -e smoke_original_contract=true``):

      python -m sfworker.orchestrator --config /etc/sfops/worker.yml --run-id RUN --parties alice,bob \\
          --receiver alice --input alice=/app/data/smoke/alice.csv --input bob=/app/data/smoke/bob.csv \\
          --output alice=/app/data/smoke/alice-orig.csv --output bob=/app/data/smoke/bob-orig.csv \\
          --key id --expect-ids 41-120

  It prints one JSON report and exits 0 only if every check passed.

What an orchestrator knows comes from the deployment's plan, as a real one would be configured: the worker
configuration the node role renders from it (``party``, ``parties`` with each party's external address and first
fed/SPU port, ``job_slots``, ``spu_runtime_config``, the broker). The worker config is read as a plain file here,
never through the worker's own loader: this is the other side of the contract. Never imports secretflow or ray.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set

# The original's names (src/config/celery_config.py, src/secretflow_task/, src/utils/status_notifier.py).
QUEUE = "secretflow_queue"
EXCHANGE = "secretflow"
ROUTING_KEY = "secretflow"
EXECUTE_TASK = "tasks.secretflow.execute_task"
HELLO_TASK = "tasks.secretflow.hello.hello_task"
PING_TASK = "tasks.secretflow.hello.ping_task"
ECHO_TASK = "tasks.secretflow.hello.echo_task"
HEALTH_TASK = "tasks.secretflow.health_check.health_check_task"
STATUS_CHANNEL = "task_status_events"
STATUS_QUEUE = "task_status_queue"
STATUSES = ("RUNNING", "SUCCESS", "FAILURE", "RETRY")
# The Ray address the original's cluster-mode examples carry: the worker must ignore it (it uses its deployment's
# head). Deliberately not any deployment's address.
MESSAGE_RAY_ADDRESS = "127.0.0.1:7701"
LOOPBACK = "127.0.0.1"
ECHO_DATA = {"text": "snow \u2603", "n": [1, 2.5, None, True], "nested": {"k": "v"}}


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class PartyView:
    """What the orchestrator of ``party`` is configured with, from the deployment's plan.

    parties: name -> {external_ip, fed_port, spu_port} (each party's FIRST fed/SPU port; job slot k adds k).
    """

    party: str
    broker_url: str
    parties: Dict[str, Dict[str, Any]]
    job_slots: int
    spu_runtime_config: Dict[str, Any] = field(default_factory=dict)
    data_dir: str = ""

    @classmethod
    def from_worker_config(cls, path: str) -> "PartyView":
        """From the worker configuration file the node role renders (YAML or JSON), its password file included."""
        import yaml

        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
        url = raw["redis_url"]
        pw_file = raw.get("redis_password_file")
        if pw_file:
            with open(pw_file, encoding="utf-8") as f:
                password = f.read().strip()
            u = urllib.parse.urlsplit(url)
            netloc = (f"{urllib.parse.quote(u.username or '', safe='')}:{urllib.parse.quote(password, safe='')}@"
                      f"{u.netloc.rsplit('@', 1)[-1]}")
            url = urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
        return cls(party=raw["party"], broker_url=url,
                   parties={n: dict(p) for n, p in raw["parties"].items()}, job_slots=int(raw["job_slots"]),
                   spu_runtime_config=dict(raw.get("spu_runtime_config") or {}), data_dir=raw.get("data_dir", ""))

    def redacted_broker(self) -> str:
        u = urllib.parse.urlsplit(self.broker_url)
        host = u.netloc.rsplit("@", 1)[-1]
        user = f"{u.username}@" if u.username else ""
        return urllib.parse.urlunsplit((u.scheme, user + host, u.path, "", ""))


def make_app(broker_url: str):
    """A Celery client configured like the original's (celery_config.py): JSON, the secretflow queue on its direct
    exchange, tasks.secretflow.* routed to it; the party's Redis is broker and result backend."""
    from celery import Celery
    from kombu import Exchange, Queue

    app = Celery("secretflow_orchestrator", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_queues=(Queue(QUEUE, Exchange(EXCHANGE, type="direct"), routing_key=ROUTING_KEY),),
        task_routes={"tasks.secretflow.*": {"queue": QUEUE}},
        task_default_queue=QUEUE, task_default_exchange=EXCHANGE, task_default_routing_key=ROUTING_KEY,
        broker_connection_retry_on_startup=True,
    )
    return app


def job_ids(run_id: str, party: str) -> Dict[str, str]:
    """The three ids the orchestrator gives one party's part of a job: different in every party (its database's)."""
    return {"task_id": f"dag-{run_id}-{party}", "subtask_id": f"psi-node-{run_id}-{party}",
            "execution_id": f"exec-{run_id}-{party}-{uuid.uuid4().hex[:8]}"}


def psi_task_params(view: PartyView, ids: Dict[str, str], parties: List[str], slot: int, keys: Dict[str, List[str]],
                    input_paths: Dict[str, str], output_paths: Dict[str, str], receiver: str,
                    protocol: str = "KKRT_PSI_2PC", sort: bool = True, broadcast_result: bool = True,
                    loopback_self: bool = True) -> Dict[str, Any]:
    """The original's cluster-mode task_params of a PSI, as party ``view.party``'s orchestrator sends it: every
    party's fed and SPU address for job slot ``slot`` from the plan, the self party's on loopback."""
    if not 0 <= slot < view.job_slots:
        raise ValueError(f"slot {slot} is outside the deployment's job slots 0..{view.job_slots - 1}")

    def host(name):
        return LOOPBACK if (loopback_self and name == view.party) else view.parties[name]["external_ip"]

    fed = {name: view.parties[name]["fed_port"] + slot for name in parties}
    spu = {name: view.parties[name]["spu_port"] + slot for name in parties}
    rc = view.spu_runtime_config
    return dict(ids, **{
        "sf_init_config": {
            "parties": {name: {"address": _hostport(host(name), fed[name]), "listen_addr": f"0.0.0.0:{fed[name]}"}
                        for name in parties},
            "self_party": view.party,
            "address": MESSAGE_RAY_ADDRESS,
        },
        "spu_config": {"cluster_def": {
            "nodes": [{"party": name, "address": _hostport(host(name), spu[name])} for name in parties],
            "runtime_config": {"protocol": rc.get("protocol", "SEMI2K"), "field": rc.get("field", "FM128")},
        }},
        "task_config": {
            "task_type": "psi", "keys": {name: list(keys[name]) for name in parties},
            "input_paths": {name: input_paths[name] for name in parties},
            "output_paths": {name: output_paths[name] for name in parties},
            "receiver": receiver, "protocol": protocol, "sort": sort, "broadcast_result": broadcast_result,
        },
    })


class StatusListener:
    """Subscribes to one party's status channel (call start() BEFORE sending) and keeps every event it hears."""

    def __init__(self, broker_url: str, channel: str = STATUS_CHANNEL):
        import redis

        self.redis = redis.Redis.from_url(broker_url, socket_timeout=10, socket_connect_timeout=5)
        self.channel = channel
        self.events: List[Dict[str, Any]] = []
        self.bad: List[str] = []
        self._pubsub = self.redis.pubsub()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "StatusListener":
        self._pubsub.subscribe(self.channel)
        # the subscription is in place once Redis confirmed it
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = self._pubsub.get_message(timeout=1)
            if msg and msg.get("type") == "subscribe":
                break
        else:
            raise RuntimeError(f"no subscription confirmation for channel {self.channel}")
        self._thread = threading.Thread(target=self._run, name=f"status-{self.channel}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._pubsub.get_message(timeout=0.5)
            except Exception as e:  # noqa: BLE001 - keep listening; the checks report what is missing
                self.bad.append(f"{type(e).__name__}: {e}")
                time.sleep(0.5)
                continue
            if not msg or msg.get("type") != "message":
                continue
            try:
                self.events.append(json.loads(msg["data"]))
            except (TypeError, ValueError) as e:
                self.bad.append(f"not JSON: {msg['data']!r:.200} ({e})")

    def events_of(self, execution_id: str) -> List[Dict[str, Any]]:
        return [e for e in list(self.events) if isinstance(e, dict) and e.get("execution_id") == execution_id]

    def wait_for(self, execution_id: str, statuses: Iterable[str] = ("SUCCESS", "FAILURE"),
                 timeout_s: float = 30) -> List[Dict[str, Any]]:
        """The events of ``execution_id`` once one with a status in ``statuses`` arrived (or the timeout)."""
        wanted = set(statuses)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            evs = self.events_of(execution_id)
            if any(e.get("status") in wanted for e in evs):
                return evs
            time.sleep(0.2)
        return self.events_of(execution_id)

    def listed(self, execution_id: str, queue: str = STATUS_QUEUE) -> List[Dict[str, Any]]:
        """The events of ``execution_id`` in the status list (LPUSHed: newest first), oldest first."""
        out = []
        for raw in self.redis.lrange(queue, 0, -1):
            try:
                ev = json.loads(raw)
            except (TypeError, ValueError):
                continue
            if isinstance(ev, dict) and ev.get("execution_id") == execution_id:
                out.append(ev)
        return list(reversed(out))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self._pubsub.close()
        finally:
            self.redis.close()


# ------------------------------------------------------------------------------------------------ checks
# Each returns a list of problems (empty = the contract holds), every one naming what was expected and given.

def check_hello_tasks(answers: Dict[str, Any], name: str) -> List[str]:
    """The answers of hello_task() / hello_task(name) / ping_task() / echo_task(ECHO_DATA) / health_check_task()."""
    problems = []

    def need(key, cond, what):
        if not cond:
            problems.append(f"{key}: expected {what}, got {answers.get(key)!r:.500}")

    for key in ("hello", "hello_name", "ping", "echo", "health"):
        if not isinstance(answers.get(key), dict):
            problems.append(f"{key}: expected a dict, got {answers.get(key)!r:.300}")
    if problems:
        return problems
    need("hello", answers["hello"].get("status") == "success", "status 'success'")
    need("hello_name", answers["hello_name"].get("status") == "success"
         and name in str(answers["hello_name"].get("message", "")), f"status 'success' and {name!r} in message")
    need("ping", answers["ping"].get("status") == "healthy", "status 'healthy'")
    need("echo", answers["echo"].get("status") == "success" and answers["echo"].get("echoed_data") == ECHO_DATA,
         f"status 'success' and echoed_data {ECHO_DATA!r}")
    need("health", answers["health"].get("status") == "success"
         and answers["health"].get("overall_status") in ("healthy", "warning"),
         "status 'success' and overall_status healthy or warning")
    return problems


def send_hello_tasks(app, timeout_s: float = 60, name: str = "orchestrator") -> Dict[str, Any]:
    """hello/ping/echo/health as the original's orchestrator and scripts/send_task.py send them."""
    handles = {
        "hello": app.send_task(HELLO_TASK, args=[]),
        "hello_name": app.send_task(HELLO_TASK, args=[name]),
        "ping": app.send_task(PING_TASK, args=[]),
        "echo": app.send_task(ECHO_TASK, args=[ECHO_DATA]),
        "health": app.send_task(HEALTH_TASK, args=[]),
    }
    out = {}
    for key, h in handles.items():
        try:
            out[key] = h.get(timeout=timeout_s)
        except Exception as e:  # noqa: BLE001 - reported as a problem by check_hello_tasks
            out[key] = f"{type(e).__name__}: {e}"
    return out


def check_psi_result(result: Any, params: Dict[str, Any], expected_count: int) -> List[str]:
    """The nested result the original returns for one party's PSI."""
    if not isinstance(result, dict):
        return [f"result: expected a dict, got {result!r:.500}"]
    problems = []
    tc = params["task_config"]
    ids = {k: params[k] for k in ("task_id", "subtask_id", "execution_id")}
    if result.get("status") != "success":
        problems.append(f"status: expected 'success', got {result.get('status')!r}")
    for key in ("result", "performance_metrics", "task_metadata", "celery_metadata"):
        if not isinstance(result.get(key), dict):
            problems.append(f"{key}: expected a dict, got {result.get(key)!r:.300}")
    if problems:
        return problems
    out = result["result"]
    if out.get("intersection_count") != expected_count:
        problems.append(f"result.intersection_count: expected {expected_count}, got {out.get('intersection_count')!r}")
    for key in ("output_paths", "psi_protocol", "reports", "receiver", "parties"):
        if key not in out:
            problems.append(f"result.{key}: missing (keys: {sorted(out)})")
    if out.get("psi_protocol") not in (None, tc["protocol"]) and "psi_protocol" in out:
        problems.append(f"result.psi_protocol: expected {tc['protocol']!r}, got {out.get('psi_protocol')!r}")
    if "receiver" in out and out["receiver"] != tc["receiver"]:
        problems.append(f"result.receiver: expected {tc['receiver']!r}, got {out['receiver']!r}")
    if "parties" in out and sorted(out["parties"] or []) != sorted(tc["keys"]):
        problems.append(f"result.parties: expected {sorted(tc['keys'])}, got {out['parties']!r}")
    self_party = params["sf_init_config"]["self_party"]
    paths = out.get("output_paths") or {}
    if "output_paths" in out and (not isinstance(paths, dict) or not paths.get(self_party)
                                  or os.path.basename(str(paths[self_party]))
                                  != os.path.basename(tc["output_paths"][self_party])):
        problems.append(f"result.output_paths.{self_party}: expected the file sent, "
                        f"{tc['output_paths'][self_party]!r}, got {paths!r:.300}")
    meta = result["task_metadata"]
    for key, value in ids.items():
        if meta.get(key) != value:
            problems.append(f"task_metadata.{key}: expected {value!r}, got {meta.get(key)!r}")
    if meta.get("task_type") != "psi":
        problems.append(f"task_metadata.task_type: expected 'psi', got {meta.get('task_type')!r}")
    for key in ("started_at", "completed_at"):
        if not _is_iso(meta.get(key)):
            problems.append(f"task_metadata.{key}: expected an ISO timestamp, got {meta.get(key)!r}")
    if not isinstance(meta.get("devices_used"), list):
        problems.append(f"task_metadata.devices_used: expected a list, got {meta.get('devices_used')!r}")
    return problems


def _is_iso(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def check_events(events: List[Dict[str, Any]], ids: Dict[str, str], where: str = "task_status_events") -> List[str]:
    """One party's events of one job: the original's fields, exactly the ids this party was sent, RUNNING first,
    SUCCESS last (nothing after it, no FAILURE), data.stage on each, data.progress in 0..1, never going down,
    1.0 at SUCCESS."""
    if not events:
        return [f"{where}: no event with execution_id {ids['execution_id']!r}"]
    problems = []
    fields = ("execution_id", "task_id", "subtask_id", "status", "timestamp", "data", "worker_container", "task_name")
    for i, ev in enumerate(events):
        missing = [k for k in fields if k not in ev]
        if missing:
            problems.append(f"{where}[{i}]: missing {missing} in {ev!r:.300}")
            continue
        for key, value in ids.items():
            if ev[key] != value:
                problems.append(f"{where}[{i}].{key}: expected {value!r}, got {ev[key]!r}")
        if ev["status"] not in STATUSES:
            problems.append(f"{where}[{i}].status: expected one of {STATUSES}, got {ev['status']!r}")
        if not _is_iso(ev["timestamp"]):
            problems.append(f"{where}[{i}].timestamp: expected ISO, got {ev['timestamp']!r}")
        if ev["task_name"] != EXECUTE_TASK:
            problems.append(f"{where}[{i}].task_name: expected {EXECUTE_TASK!r}, got {ev['task_name']!r}")
        if not (isinstance(ev["worker_container"], str) and ev["worker_container"]):
            problems.append(f"{where}[{i}].worker_container: expected the worker's node id, got {ev['worker_container']!r}")
        data = ev["data"]
        if not isinstance(data, dict) or not isinstance(data.get("stage"), str) or not data.get("stage"):
            problems.append(f"{where}[{i}].data.stage: expected a stage name, got {data!r:.300}")
    if problems:
        return problems
    statuses = [e["status"] for e in events]
    if statuses[0] != "RUNNING":
        problems.append(f"{where}: expected RUNNING first, got {statuses}")
    if statuses[-1] != "SUCCESS" or statuses.count("SUCCESS") != 1 or "FAILURE" in statuses:
        problems.append(f"{where}: expected one SUCCESS, last, and no FAILURE; got {statuses}")
    # the original leaves progress out of some events (its Celery-level "celery_task_started"): where it is given
    progress = [e["data"].get("progress") for e in events if "progress" in e["data"]]
    numbers = [p for p in progress if isinstance(p, (int, float)) and not isinstance(p, bool)]
    if len(numbers) != len(progress) or any(not 0 <= p <= 1 for p in numbers):
        problems.append(f"{where}: expected data.progress to be a number in 0..1, got {progress}")
    elif any(b < a for a, b in zip(numbers, numbers[1:])):
        problems.append(f"{where}: expected data.progress never to go down, got {progress}")
    elif "progress" not in events[-1]["data"] or numbers[-1] != 1.0 or len(set(numbers)) < 3:
        problems.append(f"{where}: expected data.progress to move up through at least three stages to 1.0 at "
                        f"SUCCESS, got {progress}")
    return problems


def read_ids(path: str, key: str) -> List[str]:
    """The ``key`` column of a CSV file, one value per data row."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or key not in rows[0]:
        raise ValueError(f"no column {key!r} in header {rows[0] if rows else None}")
    i = rows[0].index(key)
    return [r[i] for r in rows[1:] if r]


def check_output_file(path: str, key: str, expected: Set[str]) -> List[str]:
    """The PSI output holds exactly the intersection: every expected key once, nothing else."""
    if not os.path.isfile(path):
        return [f"output {path}: does not exist"]
    try:
        got = read_ids(path, key)
    except (OSError, ValueError) as e:
        return [f"output {path}: {e}"]
    problems = []
    if len(got) != len(set(got)):
        problems.append(f"output {path}: {len(got) - len(set(got))} duplicate row(s)")
    if set(got) != set(expected):
        problems.append(f"output {path}: {len(set(got) - expected)} key(s) not in the intersection "
                        f"(e.g. {sorted(set(got) - expected)[:3]}), {len(expected - set(got))} missing "
                        f"(e.g. {sorted(expected - set(got))[:3]})")
    return problems


# ------------------------------------------------------------------------------------------------ one party's run

def run_hello_tasks(view: PartyView, timeout_s: float = 60) -> Dict[str, Any]:
    """One party's hello/ping/echo/health, checked. -> {"party", "answers", "ok", "problems"}."""
    app = make_app(view.broker_url)
    try:
        answers = send_hello_tasks(app, timeout_s=timeout_s)
    finally:
        app.close()
    problems = check_hello_tasks(answers, "orchestrator")
    return {"party": view.party, "answers": answers, "ok": not problems, "problems": problems}


def run_psi(view: PartyView, run_id: str, parties: List[str], slot: int, keys: Dict[str, List[str]],
            input_paths: Dict[str, str], output_paths: Dict[str, str], receiver: str, expected_ids: Set[str],
            timeout_s: float = 600, check_output: bool = True, ready: Optional[threading.Barrier] = None
            ) -> Dict[str, Any]:
    """One party's part of a PSI as its orchestrator does it: listen, send, wait; then check the result, the
    events on the channel and in the list, and this party's output file (check_output).
    ``ready``: a barrier passed just before sending (several parties' orchestrators in one process).
    -> {"party", "broker", "slot", "ids", "task_params", "result", "events", "ok", "problems"}."""
    app = make_app(view.broker_url)
    listener = StatusListener(view.broker_url).start()
    report: Dict[str, Any] = {"party": view.party, "broker": view.redacted_broker(), "slot": slot, "problems": []}
    handle = None
    try:
        ids = job_ids(run_id, view.party)
        params = psi_task_params(view, ids, parties, slot, keys, input_paths, output_paths, receiver)
        report["ids"], report["task_params"] = ids, params
        if ready is not None:
            ready.wait(timeout=60)
        handle = app.send_task(EXECUTE_TASK, args=[params])
        try:
            result = handle.get(timeout=timeout_s)
        except Exception as e:  # noqa: BLE001 - the report says what failed
            result = f"{type(e).__name__}: {e}"
        report["result"] = result
        report["problems"] += check_psi_result(result, params, len(expected_ids))
        events = listener.wait_for(ids["execution_id"], timeout_s=30)
        report["events"] = events
        report["problems"] += check_events(events, ids)
        report["problems"] += check_events(listener.listed(ids["execution_id"]), ids, where=STATUS_QUEUE)
        report["problems"] += [f"{STATUS_CHANNEL}: {b}" for b in listener.bad]
        if check_output:
            report["problems"] += check_output_file(output_paths[view.party], keys[view.party][0], expected_ids)
    finally:
        listener.stop()
        if handle is not None:  # before the client closes: an AsyncResult left over unsubscribes when collected
            try:
                handle.backend.remove_pending_result(handle)
            except Exception:  # noqa: BLE001 - cleanup only
                pass
        app.close()
    report["ok"] = not report["problems"]
    return report


def parse_ids(spec: str) -> Set[str]:
    """'41-120,200,300-302' -> the keys as strings."""
    out: Set[str] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if "-" in part.lstrip("-"):
            lo, hi = part.split("-", 1)
            out.update(str(i) for i in range(int(lo), int(hi) + 1))
        else:
            out.add(part)
    return out


def _pairs(values: List[str], what: str) -> Dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise SystemExit(f"--{what} {v!r}: expected PARTY=PATH")
        k, path = v.split("=", 1)
        out[k] = path
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """Exit 0: every check passed; 1: a check failed; 2: bad arguments; 3 (--check-file): no such file."""
    ap = argparse.ArgumentParser(prog="python -m sfworker.orchestrator", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=os.environ.get("SFWORKER_CONFIG", "/etc/sfops/worker.yml"),
                    help="this party's worker configuration (the node role's worker.yml; default $SFWORKER_CONFIG)")
    ap.add_argument("--run-id", help="the same in every party; each party's ids are derived from it")
    ap.add_argument("--parties", help="comma-separated, e.g. alice,bob")
    ap.add_argument("--receiver")
    ap.add_argument("--input", action="append", default=[], help="PARTY=PATH (container path), every party")
    ap.add_argument("--output", action="append", default=[], help="PARTY=PATH (container path), every party")
    ap.add_argument("--key", default="id", help="the key column (the same name in every party)")
    ap.add_argument("--expect-ids", required=True, help="the plaintext intersection, e.g. 41-120")
    ap.add_argument("--slot", type=int, default=None, help="job slot (default: the last one)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--no-check-output", action="store_true",
                    help="leave the output file to --check-file on every node (a party without shared storage)")
    ap.add_argument("--check-file", metavar="PATH",
                    help="only check that PATH, if it exists on this node, holds exactly the intersection")
    args = ap.parse_args(argv)
    if args.check_file:
        exists = os.path.isfile(args.check_file)
        problems = check_output_file(args.check_file, args.key, parse_ids(args.expect_ids)) if exists else []
        print(json.dumps({"path": args.check_file, "exists": exists, "ok": exists and not problems,
                          "problems": problems}))
        return 3 if not exists else (1 if problems else 0)
    missing = [f"--{k.replace('_', '-')}" for k in ("run_id", "parties", "receiver") if not getattr(args, k)]
    if missing:
        ap.error(f"{', '.join(missing)} required (or --check-file)")
    view = PartyView.from_worker_config(args.config)
    parties = [p for p in args.parties.split(",") if p]
    slot = view.job_slots - 1 if args.slot is None else args.slot
    hello = run_hello_tasks(view)
    report = run_psi(view, args.run_id, parties, slot, {p: [args.key] for p in parties}, _pairs(args.input, "input"),
                     _pairs(args.output, "output"), args.receiver, parse_ids(args.expect_ids), timeout_s=args.timeout,
                     check_output=not args.no_check_output)
    report["problems"] = hello["problems"] + report["problems"]
    report["ok"] = not report["problems"]
    summary = {k: report.get(k) for k in ("party", "broker", "slot", "ids", "ok", "problems", "result")}
    summary["hello"] = hello["answers"]
    summary["events"] = [(e.get("status"), (e.get("data") or {}).get("stage"), (e.get("data") or {}).get("progress"))
                         for e in report.get("events") or []]
    print(json.dumps(summary, indent=2, default=str))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
