"""Per-job child process: `python -m sfworker.job SPEC.json RESULT.json`.

One process per job, because sf.init/RayFed keep process-global state, install signal
handlers and may kill their own process when a peer fails. The Celery worker (sfworker.runner)
starts this process with a hard timeout and reads RESULT.json:

    {"ok": true,  "output": {...}, "timings": {...}}
    {"ok": false, "error": "...", "error_type": "...", "traceback": "...", "timings": {...},
     "phase": "<where it failed>", "retryable": <a cluster/device creation error: the worker may retry the job>}

Stages (#13): each stage the job reaches is one JSON line appended to the spec's ``stage_path`` (the runner reads
them and publishes the status events): job_started, cluster_initialized, devices_initialized, task_execution,
outputs_published.

Production mode only: sf.init(address=<own Ray head>, cluster_config=..., job_name=...), never
`parties=`. RAY_ADDRESS-like variables are removed before ray is imported.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
from typing import Any, Dict, List, Optional

from . import _topology, paths, tlsprobe
from .envhygiene import scrub_ray_env
from .pinning import (
    collect_placement, decide_pinning, fed_proxies_without_cpu, merge_comm_options, pin_spu_runtimes,
)
from .tls import (
    LINGER_AFTER_FAILURE_S, SERIALIZING_ALLOWED_LIST, JobTls, PeerTlsError, TlsSetupError, describe_failure,
    prepare_job_tls,
)


class PeerTimeoutError(TimeoutError):
    pass


# The phases in which a failure is a cluster or device creation error (the original worker's ClusterInitError and
# DeviceConfigError, which it retries once): sf.init itself and the PYU/SPU creation. Not retried: TLS problems
# (a retry meets the same certificate) and a peer that never joined (it would not join a lone retry either).
RETRYABLE_PHASES = ("init", "devices")


def report_stage(spec: Dict[str, Any], stage: str, **info: Any) -> None:
    """One line on the stage file the runner reads (best effort: a stage report never fails the job)."""
    path = spec.get("stage_path")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(info, stage=stage, t=time.time()), default=_json_default) + "\n")
    except OSError:
        pass


def is_retryable(phase: str, e: BaseException) -> bool:
    return phase in RETRYABLE_PHASES and not isinstance(e, (PeerTlsError, TlsSetupError, PeerTimeoutError))


# How long a probe started before sf.init may keep retrying beyond peer_timeout_s: our own sf.init runs meanwhile
# (the peer wait, and with it peer_timeout_s, starts after it). The job stops waiting for the probe at its deadline.
PROBE_SF_INIT_ALLOWANCE_S = 120.0


class JobRuntime:
    """What a task type's run() gets."""

    def __init__(self, sf, spec: Dict[str, Any], spu_cluster_def: Optional[Dict[str, Any]] = None):
        self.sf = sf
        self.spec = spec
        # the job's SPU cluster_def, with this party's tls_opts when TLS is on (spu_cluster_def_of)
        self.spu_cluster_def = spu_cluster_def or spec["spu_cluster_def"]
        self.self_party: str = spec["self_party"]
        self.parties: List[str] = list(spec["parties"])
        self.task_request_id: str = spec["task_request_id"]
        self._pyus: Dict[str, Any] = {}
        self._spu = None

    def pyu(self, party: str):
        if party not in self._pyus:
            self._pyus[party] = self.sf.PYU(party)
        return self._pyus[party]

    def output_path(self, path: str) -> str:
        """Where the task writes this party's output ``path`` (one of the spec's outputs): its staging name. The
        job renames it to ``path`` once the task succeeded (publish_outputs)."""
        for entry in self.spec.get("outputs") or ():
            if entry["path"] == path:
                return entry["staging"]
        raise ValueError(f"{path} is not an output file of this job (validate() resolves outputs with "
                         f"ctx.resolve_output)")

    @property
    def spu(self):
        if self._spu is None:
            cluster_def = json.loads(json.dumps(self.spu_cluster_def))  # SPU sorts nodes in place
            self._spu = self.sf.SPU(cluster_def, link_desc=dict(self.spec["spu_link_desc"]))
        return self._spu


class _ResultFile:
    def __init__(self, path: str):
        self.path = path
        self.written = False
        self._lock = threading.Lock()

    def write(self, obj: Dict[str, Any], overwrite: bool = False) -> None:
        with self._lock:
            if self.written and not overwrite:
                return
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(obj, f, default=_json_default)
            os.replace(tmp, self.path)
            self.written = True


def publish_outputs(spec: Dict[str, Any]) -> List[str]:
    """After the task succeeded: each staged output to its final name (sfworker.paths.publish_output). Returns the
    files published. Raises paths.OutputExistsError when a file appeared meanwhile (its staging file is kept).

    An output whose staging file is not on this node (the driver's) is not published: the party's PYU actor may
    run on another node of the party, which is why its data directory must be the same on every node (shared
    storage). Such an output is named in a warning, with the staging name to look for, never passed over silently."""
    done = []
    for entry in spec.get("outputs") or ():
        if paths.publish_output(entry["staging"], entry["path"], bool(entry.get("overwrite"))):
            done.append(entry["path"])
        else:
            print(f"sfworker.job: WARNING: output {entry['path']} was not written on this node (staged as "
                  f"{os.path.basename(entry['staging'])}): if the party's data directory is not the same on every "
                  f"node (shared storage, roles/node/README.md), it is under that name on the node that ran the "
                  f"party's PYU", file=sys.stderr, flush=True)
    return done


def discard_outputs(spec: Dict[str, Any]) -> None:
    """A failed job leaves no partial output: remove the staging files."""
    for entry in spec.get("outputs") or ():
        paths.discard_staging(entry["staging"])


def apply_memory_limit(limit_mb: Any) -> Optional[int]:
    """RLIMIT_DATA of this process (and what it forks) in bytes: heap and private anonymous memory, where numpy and
    pandas data live, not the shared mapping of Ray's object store (RLIMIT_AS would count that, which is 30 % of the
    server). Beyond it allocations fail with MemoryError. Ray's workers and actors (PYU tasks, the SPU runtime) are
    started by the raylet, not by this process: the limit does not reach them. None: no limit."""
    if not limit_mb:
        return None
    import resource

    limit = int(limit_mb) * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY and hard < limit:
        limit = hard
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard if hard != resource.RLIM_INFINITY else limit))
    return limit


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _short(e: BaseException, limit: int = 300) -> str:
    s = f"{type(e).__name__}: {e}".replace("\n", " ")
    return s if len(s) <= limit else s[:limit] + "..."


def spu_cluster_def_of(spec: Dict[str, Any], job_tls: Optional[JobTls]) -> Dict[str, Any]:
    """The job's SPU cluster_def: the plan's _topology.spu_cluster_def for the job's parties and slot, with this
    party's node carrying ``tls_opts`` (both halves: our certificate and key, the job's CA bundle, verify_depth)."""
    return _topology.spu_cluster_def(
        spec["job_parties"], spec["spu_cluster_def"]["runtime_config"], spec["job_slot"],
        self_party=spec["self_party"], tls_opts=job_tls.spu_tls_opts() if job_tls else None)


def _peer_addresses(spec: Dict[str, Any]) -> Dict[str, str]:
    return {p: v["address"] for p, v in spec["cluster_config"]["parties"].items() if p != spec["self_party"]}


class PeerProbe:
    """The TLS probe of the job's peers (tlsprobe.probe_until), started BEFORE sf.init and collected after it:
    it keeps retrying a peer that does not answer yet, so it sees each peer's receiver the moment it comes up -
    also a peer that is about to give up because of the same TLS problem (our side of the failure then still
    reaches us). ``result(timeout)``: the verdicts, or None when it has not concluded (``partial()``: what is known
    so far, when the probe runs in this process)."""

    def result(self, timeout: float) -> Optional[Dict[str, Dict[str, Any]]]:
        raise NotImplementedError

    def partial(self) -> Dict[str, Dict[str, Any]]:
        return {}


class LocalPeerProbe(PeerProbe):
    """In a thread of the driver: the party runs one Ray node (nothing pinned), the proxies run here too."""

    def __init__(self, job_tls: JobTls, targets: Dict[str, Any], seconds: float):
        self._state: Dict[str, Dict[str, Any]] = {}
        self._box: Dict[str, Any] = {}
        self._done = threading.Event()

        def run():
            try:
                self._box["verdicts"] = tlsprobe.probe_until(targets, seconds, dict(job_tls.peer_ca_files),
                                                            job_tls.cert, job_tls.key, state=self._state)
            except BaseException as e:  # noqa: BLE001
                self._box["error"] = e
            finally:
                self._done.set()

        threading.Thread(target=run, name="tls-probe", daemon=True).start()

    def result(self, timeout):
        if not self._done.wait(max(0.0, timeout)):
            return None
        if "error" in self._box:
            raise self._box["error"]
        return self._box["verdicts"]

    def partial(self):
        return {p: dict(v) for p, v in list(self._state.items())}


class RemotePeerProbe(PeerProbe):
    """A Ray task placed with ``options`` (the gateway resource: the party's Ray head, where RayFed's sender proxy
    runs and dials out). tlsprobe is shipped by value: Ray workers need not import sfworker."""

    def __init__(self, job_tls: JobTls, targets: Dict[str, Any], seconds: float, options: Dict[str, Any]):
        import ray

        ray.cloudpickle.register_pickle_by_value(tlsprobe)

        def probe_task(targets, seconds, ca_files, cert, key):
            return tlsprobe.probe_until(targets, seconds, ca_files, cert, key)

        task = ray.remote(probe_task).options(num_cpus=0, max_retries=0, **options)
        self._ref = task.remote(targets, seconds, dict(job_tls.peer_ca_files), job_tls.cert, job_tls.key)

    def result(self, timeout):
        import ray

        ready, _ = ray.wait([self._ref], timeout=max(0.0, timeout))
        return ray.get(ready[0]) if ready else None


def start_peer_probe(spec: Dict[str, Any], job_tls: JobTls, options: Optional[Dict[str, Any]]) -> PeerProbe:
    targets = {p: tlsprobe.split_hostport(a) for p, a in _peer_addresses(spec).items()}
    seconds = float(spec["peer_timeout_s"]) + PROBE_SF_INIT_ALLOWANCE_S
    if options:
        return RemotePeerProbe(job_tls, targets, seconds, options)
    return LocalPeerProbe(job_tls, targets, seconds)


def install_on_proxy_node(job_tls: JobTls, options: Dict[str, Any], timeout_s: float = 60.0) -> None:
    """Before sf.init: write the job's CA bundle on the node the RayFed proxies and the SPU runtime are pinned to
    (they open the files there, at the same paths) and check that our certificate, key and the bundle load there
    too. Raises TlsSetupError naming that node."""
    import ray

    ray.cloudpickle.register_pickle_by_value(tlsprobe)

    def check_task(cert, key, bundle, text):
        return tlsprobe.check_files(cert, key, bundle, {bundle: text})

    task = ray.remote(check_task).options(num_cpus=0, max_retries=0, **options)
    res = ray.get(task.remote(job_tls.cert, job_tls.key, job_tls.ca_bundle, job_tls.bundle_text), timeout=timeout_s)
    if res["errors"]:
        raise TlsSetupError(f"TLS files unusable on the Ray head ({res['node']}, where the RayFed proxies and the SPU "
                            f"runtime run): {'; '.join(res['errors'])} (the node role installs the same files on "
                            f"every node of a party; is a certificate rotation half-way?)")


def wait_for_peers(spec: Dict[str, Any], timeout_s: float, job_tls: Optional[JobTls] = None,
                   probe: Optional[PeerProbe] = None) -> float:
    """Wait until every peer's RayFed receiver answers; bounded by timeout_s.

    With TLS, first the verdicts of the TLS probe (``probe``, started before sf.init, from where RayFed's sender
    proxy runs): a peer that does not answer is retried until timeout_s, any TLS verdict fails the job at once
    naming the peer, its address and the reason (RayFed itself would retry a TLS failure for 60 s per message and
    then report nothing but "send failed"). Then RayFed's own ping, which must return True (False = the send
    failed).

    Replaces RayFed's own `barrier_on_initializing` ping loop, which retries 3600 times
    (~3 hours) and cannot be configured.
    """
    import ray
    from fed.proxy.barriers import send

    addrs = _peer_addresses(spec)
    t0 = time.monotonic()
    end = t0 + timeout_s
    last_err: Dict[str, str] = {}

    def timeout_error(pending: List[str], what: str) -> PeerTimeoutError:
        who = ", ".join(f"{p!r} at {addrs[p]}" for p in pending)
        return PeerTimeoutError(
            f"peer{'s' if len(pending) > 1 else ''} {who} did not join job {spec['job_name']} within "
            f"{timeout_s:g}s ({what}: is that party's worker up and running the same task_request_id? "
            f"last error: {'; '.join(f'{p}: {last_err.get(p)}' for p in pending)})"
        )

    if job_tls is not None and addrs:
        assert probe is not None
        verdicts = probe.result(timeout=end - time.monotonic())
        if verdicts is None:  # still retrying: somebody never answered
            known = probe.partial()
            verdicts = {p: known.get(p) or {"kind": "unreachable", "detail": "nothing answered"} for p in addrs}
        bad = {p: v for p, v in verdicts.items() if v["kind"] not in ("ok",) + tlsprobe.RETRY_KINDS}
        if bad:
            # keep our receiver up a little: the peer's own probe then sees its side of this failure
            time.sleep(max(0.0, min(LINGER_AFTER_FAILURE_S, end - time.monotonic())))
            raise PeerTlsError("; ".join(
                describe_failure(p, addrs[p], "RayFed", v["kind"], v["detail"], job_tls.peer_ca_files.get(p),
                                 job_tls.not_after) for p, v in sorted(bad.items())))
        pending = sorted(p for p, v in verdicts.items() if v["kind"] != "ok")
        if pending:
            last_err.update({p: f"TLS probe: {verdicts[p]['kind']} ({verdicts[p]['detail']})" for p in pending})
            raise timeout_error(pending, "RayFed port not answering")

    pending = sorted(addrs)
    while pending:
        refs = {p: send(p, b"data", "ping", "ping", check_sending=False) for p in pending}
        remaining = end - time.monotonic()
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=max(0.2, min(5.0, remaining)))
        ready_set = set(ready)
        for p, ref in refs.items():
            if ref in ready_set:
                try:
                    answer = ray.get(ref)
                except Exception as e:  # connection refused / job name mismatch / ...
                    last_err[p] = _short(e, 200)
                    continue
                if answer is True:  # RayFed's send returns False when the message did not get through
                    pending.remove(p)
                else:
                    last_err[p] = f"ping not delivered (RayFed send returned {answer!r}; see the proxy log)"
            else:
                last_err.setdefault(p, "no answer")
        if not pending:
            break
        if time.monotonic() >= end:
            raise timeout_error(pending, "RayFed port not answering")
        time.sleep(1.0)
    return time.monotonic() - t0


def devices_used(spec: Dict[str, Any]) -> List[str]:
    """The devices of the job as the original worker names them: one PYU per party (its name), then "spu"."""
    return list(spec["parties"]) + (["spu"] if spec.get("needs_spu", True) else [])


def tls_report(job_tls: Optional[JobTls]) -> Dict[str, Any]:
    """The result's "tls": which certificate version the job used (the node role names version directories after
    the certificate's serial), until when it is valid, which peers' CAs it trusted."""
    if job_tls is None:
        return {"enabled": False}
    return {"enabled": True, "version": os.path.basename(job_tls.version_dir), "not_after": job_tls.not_after,
            "trusted_peers": sorted(job_tls.peer_ca_files)}


def assert_grpc_proxies() -> None:
    """RayFed's brpc_link backend never encrypts: make sure sf.init built the gRPC proxies (brpc_link uses one
    SenderReceiverProxyActor under both names)."""
    from fed.proxy.barriers import receiver_proxy_actor_name, sender_proxy_actor_name

    if sender_proxy_actor_name() == receiver_proxy_actor_name():
        raise RuntimeError(f"RayFed runs a combined sender/receiver proxy ({sender_proxy_actor_name()}): that is the "
                           f"brpc_link backend, which sends in plaintext; the worker requires the gRPC backend")


_SPU_RANK_RE = re.compile(r"connect to mesh failed.*?rank=(\d+)")


def spu_link_hint(message: str, spec: Dict[str, Any]) -> str:
    """SPU's "connect to mesh failed, failed to setup connection to rank=N" names a rank: say which party that is."""
    m = _SPU_RANK_RE.search(message)
    if not m:
        return ""
    nodes = spec["spu_cluster_def"]["nodes"]
    rank = int(m.group(1))
    if rank >= len(nodes):
        return ""
    n = nodes[rank]
    return (f" [SPU link to peer party {n['party']!r} at {n['address']} failed within connect_retry_times="
            f"{spec['spu_link_desc'].get('connect_retry_times')}: that party's SPU port did not answer or refused "
            f"the TLS handshake; the reason is in the SPU runtime's brpc log on this party's Ray head]")


def run(spec: Dict[str, Any], result_path: str) -> int:
    removed = scrub_ray_env()
    out = _ResultFile(result_path)
    timings: Dict[str, float] = {}
    on_error = False
    sf = None
    pin_label: Optional[Dict[str, float]] = None
    pin_note: Optional[str] = None
    t_start = time.monotonic()
    t_peer: Optional[float] = None
    phase = "tls"
    report_stage(spec, "job_started")
    if removed:
        print(f"sfworker.job: removed {sorted(removed)} from the environment", file=sys.stderr, flush=True)

    def sending_failure_handler(err):
        # Called by RayFed's cleanup thread when a cross-silo send failed; RayFed then
        # signals this process to exit. Record the reason first.
        peers = {p: v["address"] for p, v in spec["cluster_config"]["parties"].items() if p != spec["self_party"]}
        out.write({
            "ok": False,
            "error": f"cross-silo send failed (peers: {peers}): {_short(err if isinstance(err, BaseException) else Exception(str(err)), 500)}",
            "error_type": "PeerSendError",
            "timings": timings,
        })

    try:
        # Own TLS files first: a missing or bad certificate fails the job before anything starts or is sent.
        t = time.monotonic()
        job_tls: Optional[JobTls] = None
        peers = sorted(_peer_addresses(spec))
        if spec.get("tls"):
            job_tls = prepare_job_tls(spec["tls"], peers, spec["tls_bundle_dir"])
            print(f"sfworker.job: mutual TLS with {', '.join(peers) or 'no peer'}: certificate {job_tls.cert} "
                  f"(valid until {job_tls.not_after}), CA bundle {job_tls.ca_bundle}", file=sys.stderr, flush=True)
        else:
            print("sfworker.job: WARNING: TLS between parties is OFF (worker config tls: null): this job's RayFed "
                  "and SPU traffic is plaintext and unauthenticated", file=sys.stderr, flush=True)
        timings["tls"] = round(time.monotonic() - t, 3)

        phase = "import"
        t = time.monotonic()
        import secretflow as sf  # noqa: F811  (heavy import; only in this process)
        from .tasks.registry import get_task_type

        task = get_task_type(spec["task_type"])
        timings["import"] = round(time.monotonic() - t, 3)

        phase = "init"
        t = time.monotonic()
        comm = dict(spec.get("cross_silo_comm_options") or {})
        comm.setdefault("exit_on_sending_failure", True)
        comm["sending_failure_handler"] = sending_failure_handler
        # what RayFed's receiver may unpickle (params refuses it from tasks, the config refuses it too)
        comm["serializing_allowed_list"] = json.loads(json.dumps(SERIALIZING_ALLOWED_LIST))
        kwargs: Dict[str, Any] = {}
        if spec.get("ray_node_ip"):
            kwargs["_node_ip_address"] = spec["ray_node_ip"]
        gateway = spec.get("gateway_resource")
        if gateway:
            # Connect to the own Ray cluster first (same arguments secretflow's ray.init gets) to
            # learn whether the gateway resource exists: the RayFed proxies are created inside
            # sf.init, so the decision must be made before it. sf.init's own ray.init then just
            # reuses this connection (ignore_reinit_error).
            import ray

            ray.init(address=spec["ray_address"], log_to_driver=True, include_dashboard=False, **kwargs)
            kwargs["ignore_reinit_error"] = True
            pin_label, pin_note = decide_pinning(gateway, ray.cluster_resources())
            if pin_note:
                print(f"sfworker.job: WARNING: {pin_note}", file=sys.stderr, flush=True)
            if pin_label:
                comm = merge_comm_options(comm, pin_label)
                pin_spu_runtimes(pin_label)  # for the rest of this (one-job) process
                fed_proxies_without_cpu()
                print(f"sfworker.job: pinning RayFed proxies and SPU runtime to Ray resource {pin_label}",
                      file=sys.stderr, flush=True)
        probe: Optional[PeerProbe] = None
        if job_tls is not None:
            if pin_label:
                # the proxies and the SPU runtime run on the Ray head: the bundle must be there, and the probe
                # must dial from there
                install_on_proxy_node(job_tls, {"resources": pin_label})
            probe = start_peer_probe(spec, job_tls, {"resources": pin_label} if pin_label else None)
        sf.init(
            address=spec["ray_address"],
            cluster_config=spec["cluster_config"],
            job_name=spec["job_name"],
            logging_level=spec.get("logging_level", "warning"),
            enable_waiting_for_other_parties_ready=False,  # bounded wait below instead
            cross_silo_comm_options=comm,
            cross_silo_comm_backend="grpc",  # never brpc_link: it ignores tls_config
            tls_config=job_tls.tls_config() if job_tls else None,
            log_to_driver=True,
            **kwargs,
        )
        assert_grpc_proxies()
        phase = "peers"
        t_peer = time.monotonic()
        timings["peer_wait"] = round(wait_for_peers(spec, float(spec["peer_timeout_s"]), job_tls, probe), 3)
        t_peer = None
        timings["init"] = round(time.monotonic() - t, 3)
        report_stage(spec, "cluster_initialized", cluster_init_time=timings["init"])

        phase = "devices"
        t = time.monotonic()
        rt = JobRuntime(sf, spec, spu_cluster_def_of(spec, job_tls))
        for p in rt.parties:
            rt.pyu(p)
        if spec.get("needs_spu", True):
            rt.spu  # noqa: B018  create the SPU runtime actors
        timings["devices"] = round(time.monotonic() - t, 3)
        report_stage(spec, "devices_initialized", device_init_time=timings["devices"],
                     initialized_devices=devices_used(spec))

        phase = "task"
        t = time.monotonic()
        report_stage(spec, "task_execution", task_type=spec["task_type"])
        output = task.run(spec["task_config"], rt)
        phase = "publish"
        published = publish_outputs(spec)
        timings["algorithm"] = round(time.monotonic() - t, 3)
        report_stage(spec, "outputs_published", published=published)
        t = time.monotonic()
        output = dict(output or {})
        output["placement"] = collect_placement(rt, pin_label is not None, spec.get("gateway_resource"), pin_note)
        output["tls"] = tls_report(job_tls)
        output["published"] = published
        output["devices_used"] = devices_used(spec)
        output["unpublished"] = [e["path"] for e in spec.get("outputs") or () if e["path"] not in published]
        timings["placement"] = round(time.monotonic() - t, 3)
        timings["job_total"] = round(time.monotonic() - t_start, 3)
        out.write({"ok": True, "output": output, "timings": timings})
    except BaseException as e:  # noqa: BLE001  includes SystemExit/KeyboardInterrupt from RayFed
        on_error = True
        if not isinstance(e, paths.OutputExistsError):  # a clash at publishing keeps the staged file for the operator
            discard_outputs(spec)
        if isinstance(e, MemoryError) and spec.get("memory_limit_mb"):
            e = MemoryError(f"{e} (the job process is limited to job_memory_limit_mb={spec['memory_limit_mb']} MiB "
                            f"of heap, RLIMIT_DATA)")
        if t_peer is not None:  # how long the peer wait ran before it failed (a TLS failure: well below the timeout)
            timings["peer_wait"] = round(time.monotonic() - t_peer, 3)
        timings["job_total"] = round(time.monotonic() - t_start, 3)
        out.write({
            "ok": False,
            "error": _short(e, 2000) + spu_link_hint(str(e), spec),
            "error_type": type(e).__name__,
            "traceback": traceback.format_exc(limit=20),
            "timings": timings,
            "phase": phase,
            "retryable": is_retryable(phase, e),
        })
    finally:
        if sf is not None:
            try:
                t = time.monotonic()
                # no barrier on error: a missing peer would never answer it
                sf.shutdown(barrier_on_shutdown=not on_error, on_error=on_error)
                print(f"sfworker.job: sf.shutdown done in {time.monotonic() - t:.1f}s", file=sys.stderr, flush=True)
            except BaseException as e:  # noqa: BLE001
                print(f"sfworker.job: sf.shutdown failed: {_short(e)}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
    return 1 if on_error else 0


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m sfworker.job SPEC.json RESULT.json", file=sys.stderr)
        os._exit(2)
    scrub_ray_env()
    with open(argv[0], "r", encoding="utf-8") as f:
        spec = json.load(f)
    limit = apply_memory_limit(spec.get("memory_limit_mb"))  # before SecretFlow is imported
    if limit:
        print(f"sfworker.job: memory limit {limit // (1024 * 1024)} MiB (RLIMIT_DATA)", file=sys.stderr, flush=True)
    rc = run(spec, argv[1])
    # os._exit: do not let atexit hooks of ray/fed block or override the exit status
    os._exit(rc)


if __name__ == "__main__":
    main()
