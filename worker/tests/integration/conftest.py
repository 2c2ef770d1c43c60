"""Two real parties on one machine: per party a redis-server, a Ray head (`ray start --head --block`)
and an `sfworker worker` process; a third party "carol" is declared but has nothing running.

alice: 127.0.0.1, bob: 127.0.0.2, carol: 127.0.0.3 (Linux routes all of 127/8 to lo).

alice has TWO Ray nodes, like a multi-node party: its head (127.0.0.1, the party's external
address, `--num-cpus=1 --resources='{"sf_gateway": 1000}'`) and a worker node `alice-w1`
(127.0.0.11, `ray start --address=<alice head>`, `--num-cpus=4`, no sf_gateway), and alice's
sfworker runs on the worker node (node_id alice-w1, Ray driver on that node). Without pinning Ray
would put the fed proxies and the SPU runtime next to the driver on alice-w1; the tests assert
they run on alice-head. bob has one Ray node without sf_gateway (unpinned, with a warning).
RayFed's gRPC server binds [::]:<port> whatever listen_addr says, so on ONE machine the
parties need distinct fed/SPU ports (on real servers they can all use the same ones).

TLS between the parties is on (the deployment's default): the fixture makes a small PKI per run (a CA per party,
party certificates with IP SAN = the party's external address and EKU serverAuth+clientAuth) and lays the files
out exactly as the node role does: <party>/tls/<version>/{cert.pem,key.pem}, <party>/tls/current -> <version>,
<party>/tls/peers/<other party>.pem. Spare versions (a certificate from a CA nobody trusts, one with a wrong SAN)
sit next to the good one; tests switch `current` like a certificate rotation does, between jobs.
The `plaintext_workers` fixture adds, on demand, a second sfworker per party rendered from the same inventory with
sf_tls_enabled: false, on its own queue (the control job of the packet capture).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List

import contextlib

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from helpers import plan_defaults, plan_lib, start_redis  # noqa: E402
import pki  # noqa: E402

BIN = os.path.dirname(sys.executable)
PEER_TIMEOUT_S = 10
PARTIES = {
    # name: (ip, ray base port, fed port, spu port)
    "alice": ("127.0.0.1", 31000, 33100, 33200),
    "bob": ("127.0.0.2", 32000, 34100, 34200),
    "carol": ("127.0.0.3", 36000, 35100, 35200),  # declared, never started
}
JOB_SLOTS = 4
RUNNING = ["alice", "bob"]
GATEWAY_RESOURCE = "sf_gateway"
# party -> Ray node options of its head
HEAD_OPTS = {
    "alice": ["--num-cpus=1", f"--resources={json.dumps({GATEWAY_RESOURCE: 1000})}"],
    "bob": ["--num-cpus=4"],
}
# party -> (node name, node ip, ray base port) of an extra Ray worker node; the party's sfworker runs there
WORKER_NODES = {"alice": ("alice-w1", "127.0.0.11", 31500)}


def _node_port_vars(base: int) -> Dict[str, int]:
    """The inventory's port variables of one Ray node, as the Ray commands below use them."""
    return {
        "sf_ray_node_manager_port": base + 1, "sf_ray_object_manager_port": base + 2,
        "sf_ray_dashboard_agent_grpc_port": base + 4, "sf_ray_dashboard_agent_listen_port": base + 5,
        "sf_ray_metrics_export_port": base + 6, "sf_ray_runtime_env_agent_port": base + 7,
        "sf_ray_min_worker_port": base + 100, "sf_ray_max_worker_port": base + 199,
    }


PLAINTEXT_QUEUE = "plaintext_queue"


def deployment_plan(tls_enabled: bool = True):
    """The deployment plan of this test's parties, built by the collection's own plan code from an inventory
    (alice and bob managed, carol a peer party that never shows up). The workers' configs are rendered from it
    with the plan's worker_config, the function behind the node role's worker.yml."""
    planlib = plan_lib()
    hosts, parties = {}, {}
    for name in RUNNING:
        ip, rbase, fed, spu = PARTIES[name]
        party_vars = {"sf_ray_port": rbase, "sf_ray_client_server_port": rbase + 3, "sf_redis_port": rbase + 8,
                      "sf_fed_port": fed, "sf_spu_port": spu, "sf_job_slots": JOB_SLOTS}
        nodes = [(f"{name}-head", ip, rbase, "head")]
        if name in WORKER_NODES:
            wnode, wip, wbase = WORKER_NODES[name]
            nodes.append((wnode, wip, wbase, "worker"))
        parties[name] = [node for node, _ip, _base, _role in nodes]
        for node, nip, base, role in nodes:
            hosts[node] = dict(party_vars, **_node_port_vars(base), inventory_hostname=node, ansible_host=nip,
                               sf_ray_role=role)
    peers = {name: {"external_ip": v[0], "fed_port": v[2], "spu_port": v[3]}
             for name, v in PARTIES.items() if name not in RUNNING}
    for hv in hosts.values():
        hv["sf_peer_parties"] = peers
        if not tls_enabled:
            hv["sf_tls_enabled"] = False
    return planlib.build_plan_or_raise(
        {"parties": parties, "stray_hosts": [], "hosts": hosts, "defaults": plan_defaults()})


@dataclass
class Party:
    name: str
    ip: str
    redis_url: str
    config_path: str
    data_dir: str
    ray_address: str
    node_id: str
    node_ip: str
    ray_nodes: List[str] = field(default_factory=list)
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: Dict[str, str] = field(default_factory=dict)
    app: object = None
    tls_dir: str = ""
    # installed certificate versions: "good" (current), "untrusted" (a CA no peer trusts), "bad_san" (wrong SAN)
    versions: Dict[str, str] = field(default_factory=dict)

    def send(self, name, args=None, queue="secretflow_queue"):
        return self.app.send_task(name, args=args or [], queue=queue)

    @contextlib.contextmanager
    def certificate(self, which: str):
        """Point tls/current at another installed version (as a rotation does) for the jobs started inside."""
        pki.switch_current(self.tls_dir, self.versions[which])
        try:
            yield self.versions[which]
        finally:
            pki.switch_current(self.tls_dir, self.versions["good"])


def make_pki(base: str) -> Dict[str, Dict[str, str]]:
    """A CA per party (carol's too: she is a declared peer) plus an outsider CA; per running party its tls dir in
    the node role's layout with three versions. -> party -> {tls_dir, good, untrusted, bad_san}."""
    cas = {name: pki.make_ca(name) for name in [*PARTIES, "mallory"]}
    out = {}
    for name in RUNNING:
        ip = PARTIES[name][0]
        tls_dir = os.path.join(base, name, "tls")
        good = pki.make_leaf(cas[name], f"{name} party", [ip])
        untrusted = pki.make_leaf(cas["mallory"], f"{name} party", [ip])        # nobody trusts mallory's CA
        bad_san = pki.make_leaf(cas[name], f"{name} party", ["127.0.0.99"])     # the right CA, the wrong address
        versions = {"untrusted": "untrusted-" + untrusted.serial_hex, "bad_san": "badsan-" + bad_san.serial_hex}
        pki.install_version(tls_dir, versions["untrusted"], untrusted)
        pki.install_version(tls_dir, versions["bad_san"], bad_san)
        versions["good"] = pki.install_party(tls_dir, good, {p: cas[p] for p in PARTIES if p != name})
        out[name] = dict(versions, tls_dir=tls_dir)
    # carol never runs, but tests act as her client: her certificate and key, and her copy of alice's CA
    carol = pki.make_leaf(cas["carol"], "carol party", [PARTIES["carol"][0]])
    cdir = os.path.join(base, "carol")
    CAROL_CLIENT.update(cert=pki.write(os.path.join(cdir, "cert.pem"), carol.cert_pem),
                        key=pki.write(os.path.join(cdir, "key.pem"), carol.key_pem(), 0o600),
                        alice_ca=pki.write(os.path.join(cdir, "alice-ca.pem"), cas["alice"].pem))
    return out


# filled by make_pki: carol's client certificate/key and alice's CA as carol has it
CAROL_CLIENT: Dict[str, str] = {}


def _port_free(ip: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def _kill_group(p: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process group of a child started with start_new_session=True, then SIGKILL."""
    try:
        own_group = os.getpgid(p.pid) == p.pid
    except ProcessLookupError:  # leader already gone: its group may still have members
        own_group = True

    def sig(s):
        try:
            if own_group:
                os.killpg(p.pid, s)
            else:
                p.send_signal(s)
        except ProcessLookupError:
            pass

    if p.poll() is None:
        sig(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    sig(signal.SIGKILL)  # leftovers of the group even if the leader exited
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _kill_by_cmdline(marker: str) -> List[int]:
    """Kill leftover processes whose command line mentions our temp dir (Ray daemons)."""
    killed = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd:
            try:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
            except ProcessLookupError:
                pass
    return killed


def ray_start_cmd(name: str, ip: str, base: int, temp_dir: str) -> List[str]:
    return [
        os.path.join(BIN, "ray"), "start", "--head", "--block",
        f"--node-ip-address={ip}",
        f"--port={base}",
        f"--ray-client-server-port={base + 3}",
        "--include-dashboard=false",
        f"--node-name={name}-head",
        *HEAD_OPTS[name],
        *_ray_node_flags(base, temp_dir),
    ]


def ray_worker_node_cmd(node_name: str, ip: str, base: int, head_address: str, temp_dir: str) -> List[str]:
    """A second Ray node of the same party (`ray start --address=<head>`), its own fixed ports."""
    return [
        os.path.join(BIN, "ray"), "start", "--block",
        f"--address={head_address}",
        f"--node-ip-address={ip}",
        f"--node-name={node_name}",
        "--num-cpus=4",  # more CPUs than the head: Ray would rather use this node
        *_ray_node_flags(base, temp_dir),
    ]


def _ray_node_flags(base: int, temp_dir: str) -> List[str]:
    return [
        f"--node-manager-port={base + 1}",
        f"--object-manager-port={base + 2}",
        f"--dashboard-agent-grpc-port={base + 4}",
        f"--dashboard-agent-listen-port={base + 5}",
        f"--metrics-export-port={base + 6}",
        f"--runtime-env-agent-port={base + 7}",
        f"--min-worker-port={base + 100}",
        f"--max-worker-port={base + 199}",
        "--disable-usage-stats",
        "--object-store-memory=200000000",
        f"--temp-dir={temp_dir}",
    ]


def _wait_gcs(address: str, timeout: float = 90, nodes: int = 1) -> None:
    from sfworker.raycheck import probe_ray

    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = probe_ray(address, timeout_s=3)
        if last.get("alive_nodes", 0) >= nodes:
            return
        time.sleep(1)
    raise RuntimeError(f"Ray at {address} did not come up: {last}")


@pytest.fixture(scope="session")
def two_parties():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server binary not found (Debian: apt-get install -y redis-server); CI installs it")
    try:
        import secretflow  # noqa: F401
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"secretflow is not importable in {sys.executable}: {e}; build the venv with scripts/worker-venv.sh")

    from sfworker.submit import make_client

    planlib = plan_lib()
    plan = deployment_plan()
    # short path: Ray's unix socket paths must stay < 108 bytes
    base = tempfile.mkdtemp(prefix="sfwit-", dir="/tmp")
    parties: Dict[str, Party] = {}
    started: List[subprocess.Popen] = []
    t0 = time.monotonic()
    try:
        tls_files = make_pki(base)
        for name in RUNNING:
            ip, rbase, _, _ = PARTIES[name]
            ports = [rbase + i for i in range(8)] + [PARTIES[name][2], PARTIES[name][3]]
            if name in WORKER_NODES:
                ports += [WORKER_NODES[name][2] + i for i in (1, 2, 4, 5, 6, 7)]
            for port in ports:
                if not _port_free("0.0.0.0", port):
                    pytest.fail(f"port {port} needed by {name} is in use on this machine")

        for name in RUNNING:
            ip, rbase, _, _ = PARTIES[name]
            pdir = os.path.join(base, name)
            data_dir = os.path.join(pdir, "data")
            os.makedirs(data_dir)
            tls = tls_files[name]
            rproc, redis_url, _ = start_redis(pdir, password=f"pw-{name}-x1")
            started.append(rproc)
            log = os.path.join(pdir, "ray.log")
            rp = subprocess.Popen(
                ray_start_cmd(name, ip, rbase, os.path.join(base, f"r{name[0]}")),
                stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True, cwd=pdir,
                env={k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")},
            )
            started.append(rp)
            procs, logs = {"redis": rproc, "ray": rp}, {"ray": log}
            node_id, node_ip, ray_nodes = f"{name}-head", ip, [f"{name}-head"]
            if name in WORKER_NODES:  # started below, once the head's GCS answers
                node_id, node_ip, _ = WORKER_NODES[name]
                ray_nodes.append(node_id)
            # What the node role renders for the host the party's sfworker runs on (alice: the worker node -> the
            # job driver runs there): the plan's worker_config, plus two settings the role leaves at their defaults.
            cfgd = planlib.worker_config(plan, node_id, {
                "queue": "secretflow_queue", "data_dir": data_dir, "concurrency": 2, "peer_timeout_s": PEER_TIMEOUT_S,
                "job_timeout_s": 300, "log_level": "info", "redis_url": redis_url, "tls_dir": tls["tls_dir"]})
            cfgd.update(work_dir=os.path.join(pdir, "work"), slot_wait_timeout_s=120)
            assert cfgd["tls"] == {"dir": tls["tls_dir"], "verify_depth": 2}, cfgd  # TLS on by default
            # the plan's values are the ones the Ray commands above use
            assert (cfgd["party"], cfgd["node_id"], cfgd["node_ip"]) == (name, node_id, node_ip), cfgd
            assert cfgd["ray_address"] == f"{ip}:{rbase}" and cfgd["job_slots"] == JOB_SLOTS, cfgd
            assert cfgd["parties"] == {p: {"external_ip": v[0], "fed_port": v[2], "spu_port": v[3]}
                                       for p, v in PARTIES.items()}, cfgd
            # bob's Ray has no such resource (-> unpinned + warning)
            assert cfgd["gateway_resource"] == GATEWAY_RESOURCE
            config_path = os.path.join(pdir, "config.yml")
            with open(config_path, "w") as f:
                json.dump(cfgd, f)  # JSON is valid YAML
            parties[name] = Party(name, ip, redis_url, config_path, data_dir, f"{ip}:{rbase}", node_id, node_ip,
                                  ray_nodes=ray_nodes, procs=procs, logs=logs, tls_dir=tls["tls_dir"],
                                  versions={k: v for k, v in tls.items() if k != "tls_dir"})

        for name, (wnode, wip, wbase) in WORKER_NODES.items():
            p = parties[name]
            _wait_gcs(p.ray_address)  # a worker node needs the head's GCS
            wlog = os.path.join(os.path.dirname(p.config_path), "ray-worker-node.log")
            wn = subprocess.Popen(
                ray_worker_node_cmd(wnode, wip, wbase, p.ray_address, os.path.join(base, f"r{name[0]}")),
                stdout=open(wlog, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
                cwd=os.path.dirname(p.config_path),
                env={k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")},
            )
            started.append(wn)
            p.procs["ray_worker_node"], p.logs["ray_worker_node"] = wn, wlog

        for p in parties.values():
            _wait_gcs(p.ray_address, nodes=len(p.ray_nodes))
        ray_ready = time.monotonic() - t0

        for p in parties.values():
            log = os.path.join(os.path.dirname(p.config_path), "worker.log")
            wp = start_worker(p.config_path, log)
            started.append(wp)
            p.procs["worker"] = wp
            p.logs["worker"] = log
            p.app = make_client(p.redis_url)

        for p in parties.values():
            r = p.send("tasks.secretflow.hello.hello_task")
            r.get(timeout=60)
        workers_ready = time.monotonic() - t0
        print(f"\n[integration] Ray nodes up after {ray_ready:.1f}s, workers answering after {workers_ready:.1f}s "
              f"(base dir {base})", file=sys.stderr)
        yield parties
    finally:
        t = time.monotonic()
        # drop AsyncResults and close the clients while Redis is still up (their __del__ talks to Redis)
        import gc

        from celery.result import AsyncResult

        gc.collect()
        for o in gc.get_objects():
            if isinstance(o, AsyncResult) and o.backend is not None:
                try:
                    o.backend.remove_pending_result(o)
                except Exception:  # noqa: BLE001
                    pass
                o.backend = None
        for p in parties.values():
            if p.app is not None:
                p.app.close()
                p.app = None
        for p in reversed(started):
            _kill_group(p)
        leftovers = _kill_by_cmdline(base)
        print(f"\n[integration] teardown {time.monotonic() - t:.1f}s; leftover processes killed: {leftovers}",
              file=sys.stderr)
        if os.environ.get("SFW_KEEP_TMP") != "1":
            shutil.rmtree(base, ignore_errors=True)


def start_worker(config_path: str, log: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["RAY_ADDRESS"] = "10.255.255.1:6379"  # hygiene check: the worker must ignore this
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [os.path.join(BIN, "sfworker"), "--config", config_path, "worker"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True, env=env,
        cwd=os.path.dirname(config_path),  # Ray/SPU write spu.log etc. into the cwd
    )


@pytest.fixture(scope="session")
def plaintext_workers(two_parties):
    """A second sfworker per party on queue plaintext_queue, its config rendered by the plan's worker_config from
    the same inventory with sf_tls_enabled: false (tls: null). Same Redis, same Ray clusters, same job slots."""
    planlib = plan_lib()
    plan = deployment_plan(tls_enabled=False)
    assert plan["tls"]["enabled"] is False
    procs = []
    try:
        for p in two_parties.values():
            pdir = os.path.dirname(p.config_path)
            cfgd = planlib.worker_config(plan, p.node_id, {
                "queue": PLAINTEXT_QUEUE, "data_dir": p.data_dir, "concurrency": 1, "peer_timeout_s": PEER_TIMEOUT_S,
                "job_timeout_s": 300, "log_level": "info", "redis_url": p.redis_url, "tls_dir": p.tls_dir})
            assert cfgd["tls"] is None, cfgd
            cfgd.update(work_dir=os.path.join(pdir, "work-plain"), slot_wait_timeout_s=120)
            path = os.path.join(pdir, "config-plain.yml")
            with open(path, "w") as f:
                json.dump(cfgd, f)
            log = os.path.join(pdir, "worker-plain.log")
            procs.append(start_worker(path, log))
            p.logs["worker-plain"] = log
        for p in two_parties.values():
            p.send("tasks.secretflow.hello.hello_task", queue=PLAINTEXT_QUEUE).get(timeout=60)
        yield two_parties
    finally:
        for proc in procs:
            _kill_group(proc)


@pytest.fixture
def dump_logs_on_failure(two_parties, request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for p in two_parties.values():
            for kind, path in p.logs.items():
                try:
                    tail = open(path, "rb").read()[-6000:].decode("utf-8", "replace")
                except OSError:
                    continue
                print(f"\n===== {p.name} {kind} log tail ({path}) =====\n{tail}", file=sys.stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
