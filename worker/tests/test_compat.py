"""sfworker.compat: the original SecretFlow Worker's execute_task calls, checked against the deployment's plan and
turned into this project's own task_params (issue #13)."""

import copy
import os

import pytest

from sfworker import compat
from sfworker.compat import ORIGINAL, OWN, meeting_job_name, parse_call, plan_addresses, salvage_ids
from sfworker.config import parse_config
from sfworker.errors import ParamsError
from sfworker.params import JOB_NAME_RE, build_job_spec, job_name_for

from helpers import base_config

# Distinct external addresses (none of them loopback) and distinct port ranges per party, so that a check that
# looked at the wrong party's range or host would fail.
PLAN = {
    "alice": {"external_ip": "192.0.2.1", "fed_port": 19000, "spu_port": 19500},
    "bob": {"external_ip": "192.0.2.2", "fed_port": 29000, "spu_port": 29500},
    "carol": {"external_ip": "192.0.2.3", "fed_port": 39000, "spu_port": 39500},
}
SLOT = 3


def party_cfg(base_dir, party):
    d = os.path.join(base_dir, party)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{party}.csv"), "w", encoding="utf-8") as f:
        f.write("uid,x\n1,10\n2,20\n")
    return parse_config(base_config(d, party=party, node_id=f"{party}-head", node_ip=PLAN[party]["external_ip"],
                                    parties=copy.deepcopy(PLAN)))


@pytest.fixture
def alice(tmp_path):
    return party_cfg(str(tmp_path), "alice")


@pytest.fixture
def bob(tmp_path):
    return party_cfg(str(tmp_path), "bob")


def addr(party, kind, slot=SLOT, host=None):
    e = PLAN[party]
    return f"{host or e['external_ip']}:{e['fed_port' if kind == 'fed' else 'spu_port'] + slot}"


def message(base_dir, me, slot=SLOT, self_host="127.0.0.1"):
    """The original worker's cluster-mode PSI message for party ``me``, as its docs/worker-api show it: its own
    ids, loopback for itself, the peer's planned address, a Ray address (ignored)."""
    def host(p):
        return self_host if p == me else None

    return {
        "task_id": f"dag-{me}-001",
        "subtask_id": f"psi-node-{me}",
        "execution_id": f"exec-{me}-001-001",
        "sf_init_config": {
            "parties": {p: {"address": addr(p, "fed", slot, host(p)), "listen_addr": f"0.0.0.0:{PLAN[p]['fed_port'] + slot}"}
                        for p in ("alice", "bob")},
            "self_party": me,
            "address": "127.0.0.1:7701",
        },
        "spu_config": {
            "cluster_def": {
                "nodes": [{"party": p, "address": addr(p, "spu", slot, host(p))} for p in ("alice", "bob")],
                "runtime_config": {"protocol": "SEMI2K", "field": "FM128"},
            },
        },
        "task_config": {
            "task_type": "psi",
            "keys": {"alice": ["uid"], "bob": ["uid"]},
            "input_paths": {p: os.path.join(base_dir, p, f"{p}.csv") for p in ("alice", "bob")},
            "output_paths": {p: os.path.join(base_dir, p, f"{p}_psi_out.csv") for p in ("alice", "bob")},
            "receiver": "alice",
            "protocol": "KKRT_PSI_2PC",
            "sort": True,
        },
    }


def refused(cfg, params, args=None):
    with pytest.raises(ParamsError) as e:
        parse_call(cfg, tuple(args) if args is not None else (params,), {})
    return str(e.value)


# --------------------------------------------------------------------------- positive


def test_original_message_becomes_the_own_form(alice, tmp_path):
    base = str(tmp_path)
    req = parse_call(alice, (message(base, "alice"),), {})
    assert req.form == ORIGINAL
    assert req.task_request_id == "exec-alice-001-001"
    assert req.ids == {"task_id": "dag-alice-001", "subtask_id": "psi-node-alice", "execution_id": "exec-alice-001-001"}
    name = meeting_job_name("psi", ["alice", "bob"], SLOT)
    assert req.task_params["sf_init_config"] == {"job_slot": SLOT, "job_name": name}
    assert req.task_params["spu_config"] == {"runtime_config": {"protocol": "SEMI2K", "field": "FM128"}}
    tc = req.task_params["task_config"]
    assert tc["receiver"] == "alice" and tc["keys"] == {"alice": ["uid"], "bob": ["uid"]}
    # the original's PSI defaults and meaning of intersection_count
    assert tc["precheck_input"] is False and tc["broadcast_result"] is False and tc["sort"] is True
    assert tc["intersection_count_of"] == "receiver"
    # the Ray address is ignored, and said so
    assert ("task_params.sf_init_config.address '127.0.0.1:7701' ignored: the job's driver connects to this party's "
            "own Ray head, 127.0.0.1:16380 (the worker config's ray_address)") in req.notes

    spec = build_job_spec(alice, req.task_request_id, req.task_params)
    assert spec["job_slot"] == SLOT and spec["job_name"] == name and JOB_NAME_RE.match(name)
    # the job runs with the plan's addresses of that slot, not the message's loopback
    assert spec["cluster_config"]["parties"] == {
        "alice": {"address": f"192.0.2.1:{19000 + SLOT}", "listen_addr": f"0.0.0.0:{19000 + SLOT}"},
        "bob": {"address": f"192.0.2.2:{29000 + SLOT}", "listen_addr": f"0.0.0.0:{29000 + SLOT}"},
    }
    spu_addresses = [n["address"] for n in spec["spu_cluster_def"]["nodes"]]
    assert spu_addresses == [f"192.0.2.1:{19500 + SLOT}", f"192.0.2.2:{29500 + SLOT}"]
    assert spec["task_config"]["receiver_party"] == "alice"
    assert spec["task_config"]["input_paths"]["alice"] == os.path.join(str(tmp_path), "alice", "alice.csv")


def test_alice_and_bob_meet_although_their_ids_differ(alice, bob, tmp_path):
    base = str(tmp_path)
    ra = parse_call(alice, (message(base, "alice"),), {})
    rb = parse_call(bob, (message(base, "bob"),), {})
    assert ra.ids != rb.ids and ra.task_request_id != rb.task_request_id
    sa = build_job_spec(alice, ra.task_request_id, ra.task_params)
    sb = build_job_spec(bob, rb.task_request_id, rb.task_params)
    for key in ("job_name", "job_slot", "parties"):
        assert sa[key] == sb[key]
    assert sa["cluster_config"]["parties"] == sb["cluster_config"]["parties"]
    assert sa["spu_cluster_def"] == sb["spu_cluster_def"]
    # own-form job names come from the task_request_id: these would NOT have met
    assert job_name_for(ra.task_request_id) != job_name_for(rb.task_request_id)


def test_job_name_depends_on_slot_parties_and_type():
    names = {meeting_job_name("psi", ["alice", "bob"], 3), meeting_job_name("psi", ["alice", "bob"], 4),
             meeting_job_name("psi", ["alice", "carol"], 3), meeting_job_name("secure_sum", ["alice", "bob"], 3)}
    assert len(names) == 4
    assert meeting_job_name("psi", ["bob", "alice"], 3) == meeting_job_name("psi", ["alice", "bob"], 3)
    assert all(JOB_NAME_RE.match(n) for n in names)


@pytest.mark.parametrize("self_host", ["127.0.0.1", "127.9.9.9", "localhost", "192.0.2.1"])
def test_self_address_loopback_or_planned(alice, tmp_path, self_host):
    req = parse_call(alice, (message(str(tmp_path), "alice", self_host=self_host),), {})
    assert req.task_params["sf_init_config"]["job_slot"] == SLOT


def test_ipv6_loopback_for_the_self_party(alice, tmp_path):
    m = message(str(tmp_path), "alice")
    m["sf_init_config"]["parties"]["alice"]["address"] = f"[::1]:{19000 + SLOT}"
    m["sf_init_config"]["parties"]["alice"]["listen_addr"] = f"[::]:{19000 + SLOT}"
    assert parse_call(alice, (m,), {}).task_params["sf_init_config"]["job_slot"] == SLOT


@pytest.mark.parametrize("slot", [0, 9])
def test_slot_is_the_offset_in_the_range(alice, tmp_path, slot):
    req = parse_call(alice, (message(str(tmp_path), "alice", slot=slot),), {})
    assert req.task_params["sf_init_config"]["job_slot"] == slot
    assert req.task_params["sf_init_config"]["job_name"] == meeting_job_name("psi", ["alice", "bob"], slot)


def test_call_forms(alice, tmp_path):
    m = message(str(tmp_path), "alice")
    one = parse_call(alice, (m,), {})
    assert parse_call(alice, (), {"task_params": m}) == one
    # the older two-argument form: the first argument is the execution id; the three ids are optional
    old = copy.deepcopy(m)
    for key in ("task_id", "subtask_id", "execution_id"):
        del old[key]
    two = parse_call(alice, ("exec-7", old), {})
    assert two.form == ORIGINAL and two.task_request_id == "exec-7"
    assert two.ids == {"task_id": None, "subtask_id": None, "execution_id": "exec-7"}
    assert two.task_params == one.task_params
    kw = parse_call(alice, (), {"task_request_id": "exec-alice-001-001", "task_params": m})
    assert kw.ids == one.ids and kw.task_params == one.task_params


def test_integer_ids_become_strings(alice, tmp_path):
    m = message(str(tmp_path), "alice")
    m.update(task_id=12, subtask_id=34, execution_id=56)
    req = parse_call(alice, (m,), {})
    assert req.ids == {"task_id": "12", "subtask_id": "34", "execution_id": "56"} and req.task_request_id == "56"


def test_own_form_unchanged(alice):
    own = {"task_config": {"task_type": "secure_sum", "input_paths": {"alice": "alice.csv", "bob": "b.csv"},
                           "column": "x"}, "sf_init_config": {"job_slot": 2}}
    req = parse_call(alice, ("req-1", own), {})
    assert req.form == OWN and req.task_request_id == "req-1" and req.task_params is own
    assert req.ids == {"task_id": None, "subtask_id": None, "execution_id": "req-1"} and req.notes == []
    req = parse_call(alice, (), {"task_request_id": "req-1", "task_params": own})
    assert req.form == OWN and req.task_params is own


def test_cluster_config_spelling(alice, tmp_path):
    """sf.init's own production form, cluster_config {parties, self_party}: the original passes sf_init_config to
    sf.init unchanged, so it works there too."""
    m = message(str(tmp_path), "alice")
    sf = m["sf_init_config"]
    m["sf_init_config"] = {"cluster_config": {"parties": sf["parties"], "self_party": "alice"}}
    assert parse_call(alice, (m,), {}).task_params["sf_init_config"]["job_slot"] == SLOT


def test_mapped_and_ignored_sf_init_keys(alice, tmp_path):
    m = message(str(tmp_path), "alice")
    m["sf_init_config"].update(logging_level="INFO", num_cpus=8, log_to_driver=True, ray_mode=True,
                               cross_silo_comm_options={"timeout_in_ms": 1000}, job_name="my-job-1")
    req = parse_call(alice, (m,), {})
    assert req.task_params["sf_init_config"] == {"logging_level": "info", "cross_silo_comm_options": {"timeout_in_ms": 1000},
                                                 "job_name": "my-job-1", "job_slot": SLOT}
    assert ("task_params.sf_init_config.num_cpus=8 ignored: the job's driver joins this party's running Ray cluster, "
            "sized by the deployment") in req.notes
    assert build_job_spec(alice, req.task_request_id, req.task_params)["job_name"] == "my-job-1"


@pytest.mark.parametrize("heu", [None, {}])
def test_empty_heu_config_accepted(alice, tmp_path, heu):
    m = message(str(tmp_path), "alice")
    m["heu_config"] = heu
    assert parse_call(alice, (m,), {}).form == ORIGINAL


def test_no_receiver_broadcasts_like_the_original(alice, tmp_path):
    m = message(str(tmp_path), "alice")
    del m["task_config"]["receiver"]
    req = parse_call(alice, (m,), {})
    tc = req.task_params["task_config"]
    assert tc["receiver_party"] == "alice" and tc["broadcast_result"] is True
    assert any("receiver not given" in n for n in req.notes)


def test_plan_addresses(alice):
    assert plan_addresses(alice, ["bob", "alice"], 2) == {
        "alice": {"fed": "192.0.2.1:19002", "spu": "192.0.2.1:19502"},
        "bob": {"fed": "192.0.2.2:29002", "spu": "192.0.2.2:29502"},
    }


def test_salvage_ids():
    assert salvage_ids(({"task_id": "t", "subtask_id": 5, "execution_id": "e"},), {}) == {
        "task_id": "t", "subtask_id": "5", "execution_id": "e"}
    assert salvage_ids(("rid", {}), {}) == {"task_id": None, "subtask_id": None, "execution_id": "rid"}
    assert salvage_ids((1, 2, 3), {}) == {"task_id": None, "subtask_id": None, "execution_id": None}


# --------------------------------------------------------------------------- refusals, with their exact text

HOWTO = compat.PRODUCTION_FORM_HOWTO


def _mut(fn):
    def apply(m):
        fn(m)
        return m
    return apply


def sfp(m, party):
    return m["sf_init_config"]["parties"][party]


def nodes(m):
    return m["spu_config"]["cluster_def"]["nodes"]


REFUSED = [
    ("unknown-party",
     lambda m: m["sf_init_config"]["parties"].update(mallory={"address": "192.0.2.66:19003"}),
     "task_params.sf_init_config.parties.mallory: unknown party 'mallory' (parties in this deployment: alice, bob, "
     "carol)"),
    ("self-party-is-another",
     lambda m: m["sf_init_config"].update(self_party="bob"),
     "task_params.sf_init_config.self_party: got 'bob', expected 'alice' (this worker's party, the worker config's "
     "party): each party's message goes to that party's own worker"),
    ("self-party-not-in-parties",
     lambda m: (m["sf_init_config"]["parties"].pop("alice"),
                m["sf_init_config"]["parties"].update(carol={"address": addr("carol", "fed")}),
                m["task_config"].update(input_paths={"bob": "b.csv", "carol": "c.csv"})),
     "task_params.sf_init_config.self_party 'alice' is not one of task_params.sf_init_config.parties (bob, carol)"),
    ("task-parties-differ",
     lambda m: m["task_config"].update(input_paths={"alice": "alice/alice.csv", "carol": "c.csv"}),
     "task_params.task_config.input_paths: parties alice, carol differ from task_params.sf_init_config.parties: "
     "alice, bob (a job's parties are the same in both)"),
    ("wrong-peer-host",
     lambda m: sfp(m, "bob").update(address="10.9.9.9:29003"),
     "task_params.sf_init_config.parties.bob.address: host '10.9.9.9' (in '10.9.9.9:29003') is not bob's address in "
     "the deployment plan: expected '192.0.2.2' (its external_ip)"),
    ("peer-loopback",
     lambda m: sfp(m, "bob").update(address="127.0.0.1:29003"),
     "task_params.sf_init_config.parties.bob.address: host '127.0.0.1' (in '127.0.0.1:29003') is not bob's address "
     "in the deployment plan: expected '192.0.2.2' (its external_ip)"),
    ("wrong-self-host",
     lambda m: sfp(m, "alice").update(address="10.1.1.1:19003"),
     "task_params.sf_init_config.parties.alice.address: host '10.1.1.1' (in '10.1.1.1:19003') is not an address of "
     "this party (alice): expected a loopback address (127.0.0.1, ::1, localhost) or '192.0.2.1' (its external_ip "
     "in the deployment plan)"),
    ("wrong-listen-host",
     lambda m: sfp(m, "alice").update(listen_addr="10.1.1.1:19003"),
     "task_params.sf_init_config.parties.alice.listen_addr: host '10.1.1.1' (in '10.1.1.1:19003') is not an address "
     "alice listens on: expected 0.0.0.0, ::, a loopback address or '192.0.2.1' (its external_ip in the deployment "
     "plan)"),
    ("not-hostport",
     lambda m: sfp(m, "bob").update(address="192.0.2.2"),
     "task_params.sf_init_config.parties.bob.address must be HOST:PORT (an IPv6 address in brackets), got "
     "'192.0.2.2'"),
    ("port-outside-fed-range",
     lambda m: sfp(m, "bob").update(address="192.0.2.2:29010"),
     "task_params.sf_init_config.parties.bob.address: port 29010 (in '192.0.2.2:29010') is outside bob's RayFed port "
     "range 29000-29009 in the deployment plan (fed_port 29000, job_slots 10)"),
    ("port-of-another-party",
     lambda m: sfp(m, "bob").update(address="192.0.2.2:19003"),
     "task_params.sf_init_config.parties.bob.address: port 19003 (in '192.0.2.2:19003') is outside bob's RayFed port "
     "range 29000-29009 in the deployment plan (fed_port 29000, job_slots 10)"),
    ("port-outside-spu-range",
     lambda m: nodes(m)[1].update(address="192.0.2.2:29003"),
     "task_params.spu_config.cluster_def.nodes[1].address: port 29003 (in '192.0.2.2:29003') is outside bob's SPU "
     "port range 29500-29509 in the deployment plan (spu_port 29500, job_slots 10)"),
    ("two-parties-slots-disagree",
     lambda m: sfp(m, "bob").update(address="192.0.2.2:29004", listen_addr="0.0.0.0:29004"),
     "task_params.sf_init_config.parties.bob.address: port 29004 (in '192.0.2.2:29004') is job slot 4 of bob's "
     "RayFed port range 29000-29009, but task_params.sf_init_config.parties.alice.address gives job slot 3: expected "
     "port 29003 (every address of one job uses the same job slot)"),
    ("fed-and-spu-slots-disagree",
     lambda m: nodes(m)[0].update(address="127.0.0.1:19502"),
     "task_params.spu_config.cluster_def.nodes[0].address: port 19502 (in '127.0.0.1:19502') is job slot 2 of "
     "alice's SPU port range 19500-19509, but task_params.sf_init_config.parties.alice.address gives job slot 3: "
     "expected port 19503 (every address of one job uses the same job slot)"),
    ("listen-port-other-slot",
     lambda m: sfp(m, "alice").update(listen_addr="0.0.0.0:19004"),
     "task_params.sf_init_config.parties.alice.listen_addr: port 19004 (in '0.0.0.0:19004') is job slot 4 of alice's "
     "RayFed port range 19000-19009, but task_params.sf_init_config.parties.alice.address gives job slot 3: expected "
     "port 19003 (every address of one job uses the same job slot)"),
    ("spu-parties-differ",
     lambda m: nodes(m).pop(),
     "task_params.spu_config.cluster_def.nodes: parties alice differ from the job's parties alice, bob "
     "(task_params.sf_init_config.parties)"),
    ("spu-unknown-party",
     lambda m: nodes(m)[1].update(party="mallory"),
     "task_params.spu_config.cluster_def.nodes[1].party: unknown party 'mallory' (parties in this deployment: alice, "
     "bob, carol)"),
    ("spu-missing",
     lambda m: m.update(spu_config={}),
     "task_params.spu_config.cluster_def is required: task_type psi uses an SPU device (nodes [{party, address}] "
     "with each party's SPU port of the job slot)"),
    ("spu-protocol-not-allowed",
     lambda m: m["spu_config"]["cluster_def"]["runtime_config"].update(protocol="REF2K"),
     "task_params.spu_config.cluster_def.runtime_config.protocol 'REF2K' is not allowed in this deployment (allowed: "
     "SEMI2K, ABY3, CHEETAH; the worker config's spu_protocols)"),
    ("spu-runtime-key",
     lambda m: m["spu_config"]["cluster_def"]["runtime_config"].update(beaver_type="TTP"),
     "task_params.spu_config.cluster_def.runtime_config.beaver_type: not an option a task may set (allowed in "
     "task_params.spu_config.cluster_def.runtime_config: field, fxp_fraction_bits, protocol; everything else is the "
     "deployment's)"),
    ("spu-tls",
     lambda m: nodes(m)[0].update(tls_opts={}),
     "task_params.spu_config.cluster_def.nodes[0].tls_opts cannot be set by a task: TLS files and options come from "
     "the worker's config file only (tls.dir), never from a task"),
    ("simulation-list",
     lambda m: m.update(sf_init_config={"parties": ["alice", "bob"], "address": "local"}),
     "task_params.sf_init_config.parties is a list (['alice', 'bob']): that is SecretFlow's simulation mode, one "
     "worker playing every party, which this worker does not run; " + HOWTO),
    ("simulation-local",
     lambda m: m["sf_init_config"].update(address="local"),
     "task_params.sf_init_config.address 'local' is SecretFlow's simulation mode, one worker playing every party, "
     "which this worker does not run; " + HOWTO),
    ("no-parties",
     lambda m: m.update(sf_init_config={"address": "127.0.0.1:7701"}),
     "task_params.sf_init_config.parties and task_params.sf_init_config.self_party are required: " + HOWTO),
    ("heu-config",
     lambda m: m.update(heu_config={"sk_keeper": {"party": "alice"}}),
     "task_params.heu_config must be absent, null or {}, got {'sk_keeper': {'party': 'alice'}}: no task type of this "
     "worker uses an HEU device (the original worker created one from it, but none of its tasks used it)"),
    ("tls-config",
     lambda m: m["sf_init_config"].update(tls_config={"cert": "x"}),
     "task_params.sf_init_config.tls_config cannot be set by a task: TLS files and options come from the worker's "
     "config file only (tls.dir), never from a task"),
    ("comm-backend",
     lambda m: m["sf_init_config"].update(cross_silo_comm_backend="brpc_link"),
     "task_params.sf_init_config.cross_silo_comm_backend cannot be set by a task: the worker always uses RayFed's "
     "gRPC backend (brpc_link never encrypts)"),
    ("ray-mode-off",
     lambda m: m["sf_init_config"].update(ray_mode=False),
     "task_params.sf_init_config.ray_mode=False cannot be set: this worker always runs SecretFlow on the party's Ray "
     "cluster (RAY_PRODUCTION) (leave it out or send True)"),
    ("runtime-env",
     lambda m: m["sf_init_config"].update(runtime_env={"env_vars": {"PYTHONPATH": "/app/src"}}),
     "task_params.sf_init_config.runtime_env cannot be set: a task cannot change the Ray runtime environment; the job "
     "process brings what it needs"),
    ("sf-unknown",
     lambda m: m["sf_init_config"].update(namespace="x"),
     "task_params.sf_init_config.namespace: not accepted (accepted in task_params.sf_init_config: address, "
     "auth_manager_config, cluster_config, cross_silo_comm_options, debug_mode, "
     "enable_waiting_for_other_parties_ready, job_name, job_slot, log_to_driver, logging_level, num_cpus, num_gpus, "
     "omp_num_threads, parties, party_key_pair, peer_timeout_s, ray_mode, runtime_env, self_party, tee_simulation)"),
    ("party-entry-key",
     lambda m: sfp(m, "bob").update(transport="grpc"),
     "task_params.sf_init_config.parties.bob.transport: not accepted (accepted in "
     "task_params.sf_init_config.parties.bob: address, listen_addr)"),
    ("job-slot-disagrees",
     lambda m: m["task_config"].update(job_slot=4),
     "task_params.task_config.job_slot 4 disagrees with the message's addresses: their ports are job slot 3"),
    ("top-unknown",
     lambda m: m.update(priority=5),
     "task_params.priority: unknown key(s) in the original worker's task_params (accepted: task_id, subtask_id, "
     "execution_id, sf_init_config, spu_config, heu_config, task_config)"),
    ("task-id-missing",
     lambda m: m.pop("task_id"),
     "task_params.task_id is required: the original worker's execute_task(task_params) carries task_id, subtask_id "
     "and execution_id"),
    ("subtask-id-invalid",
     lambda m: m.update(subtask_id="a b"),
     "task_params.subtask_id must be a string (or an integer) of 1-200 characters [A-Za-z0-9._:@-] starting with a "
     "letter or digit, got 'a b'"),
    ("execution-id-too-long",
     lambda m: m.update(execution_id="x" * 201),
     "task_params.execution_id must be a string (or an integer) of 1-200 characters [A-Za-z0-9._:@-] starting with "
     "a letter or digit, got '" + "x" * 201 + "'"),
    ("task-id-bool",
     lambda m: m.update(task_id=True),
     "task_params.task_id must be a string (or an integer) of 1-200 characters [A-Za-z0-9._:@-] starting with a "
     "letter or digit, got True"),
]


@pytest.mark.parametrize("name,mutate,expected", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_the_exact_error(alice, tmp_path, name, mutate, expected):
    m = message(str(tmp_path), "alice")
    mutate(m)
    assert refused(alice, m) == expected


def test_two_argument_form_execution_id_disagrees(alice, tmp_path):
    assert refused(alice, None, ("exec-1", message(str(tmp_path), "alice"))) == (
        "task_params.execution_id 'exec-alice-001-001' differs from the task_request_id argument 'exec-1': in "
        "execute_task(task_request_id, task_params) the first argument is the execution id (send one of them, or "
        "the same value)")


def test_one_argument_own_layout(alice):
    own = {"task_config": {"task_type": "secure_sum", "input_paths": {"alice": "alice.csv", "bob": "b.csv"},
                           "column": "x"}}
    assert refused(alice, own).startswith("execute_task(task_params) with one argument is the original worker's form")


def test_bob_refuses_alices_message(bob, tmp_path):
    """A message sent to the wrong party's worker: its self_party is not this worker's party."""
    assert refused(bob, message(str(tmp_path), "alice")) == (
        "task_params.sf_init_config.self_party: got 'alice', expected 'bob' (this worker's party, the worker config's "
        "party): each party's message goes to that party's own worker")


def test_path_outside_data_dir_names_it(alice, tmp_path):
    m = message(str(tmp_path), "alice")
    m["task_config"]["input_paths"]["alice"] = "/app/data/alice.csv"
    req = parse_call(alice, (m,), {})
    with pytest.raises(ParamsError) as e:
        build_job_spec(alice, req.task_request_id, req.task_params)
    assert str(e.value) == (f"task_config.input_paths.alice: path '/app/data/alice.csv' resolves to /app/data/alice.csv, "
                            f"which is outside the data directory {alice.data_dir} (the worker config's data_dir)")


def test_the_test_orchestrators_messages_meet(alice, bob, tmp_path):
    """sfworker.orchestrator (the original orchestrator of the integration test and the smoke run) and this parser
    agree: its per-party messages (different ids, loopback for the self party) are accepted and meet."""
    from sfworker import orchestrator as orch

    base = str(tmp_path)
    specs = {}
    for cfg in (alice, bob):
        view = orch.PartyView(party=cfg.party, broker_url="redis://127.0.0.1:1/0", parties=copy.deepcopy(PLAN),
                              job_slots=cfg.job_slots, spu_runtime_config={"protocol": "SEMI2K", "field": "FM128"})
        params = orch.psi_task_params(
            view, orch.job_ids("run1", cfg.party), ["alice", "bob"], SLOT, {"alice": ["uid"], "bob": ["uid"]},
            {p: os.path.join(base, p, f"{p}.csv") for p in ("alice", "bob")},
            {p: os.path.join(base, p, f"{p}-psi.csv") for p in ("alice", "bob")}, "alice")
        req = parse_call(cfg, (params,), {})
        assert req.form == ORIGINAL and req.ids == {k: params[k] for k in ("task_id", "subtask_id", "execution_id")}
        specs[cfg.party] = build_job_spec(cfg, req.task_request_id, req.task_params)
    assert specs["alice"]["job_name"] == specs["bob"]["job_name"]
    assert specs["alice"]["job_slot"] == specs["bob"]["job_slot"] == SLOT
