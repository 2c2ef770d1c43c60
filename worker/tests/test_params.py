import copy
import os

import pytest

from sfworker.config import parse_config
from sfworker.errors import ParamsError
from sfworker.params import (
    build_job_spec, job_name_for, peer_addresses, ports_of, slot_for, spu_connect_retry_times,
)

from helpers import base_config


def psi_params(data_dir):
    return {
        "task_config": {
            "task_type": "psi",
            "keys": ["id"],
            "input_paths": {"alice": "alice.csv", "bob": "/data/bob.csv"},
            "output_paths": {"alice": "out/alice_psi.csv", "bob": "/data/out/bob_psi.csv"},
            "receiver_party": "alice",
            "protocol": "ECDH_PSI_2PC",
            "sort": True,
        },
        "sf_init_config": {},
        "spu_config": {"runtime_config": {"field": "FM64"}},
    }


def sum_params():
    return {"task_config": {"task_type": "secure_sum", "input_paths": {"alice": "alice.csv", "bob": "b.csv"}, "column": "x"}}


def test_psi_spec(cfg, data_dir):
    spec = build_job_spec(cfg, "req-1", psi_params(data_dir))
    slot = slot_for("req-1", 10)
    assert spec["job_slot"] == slot and spec["job_slot_source"].startswith("sha256")
    assert spec["job_name"] == job_name_for("req-1")
    assert spec["parties"] == ["alice", "bob"]
    assert spec["ray_address"] == "127.0.0.1:16380"
    assert spec["ray_node_ip"] is None
    cc = spec["cluster_config"]
    assert cc["self_party"] == "alice"
    assert cc["parties"] == {
        "alice": {"address": f"127.0.0.1:{19000 + slot}", "listen_addr": f"0.0.0.0:{19000 + slot}"},
        "bob": {"address": f"127.0.0.2:{19000 + slot}", "listen_addr": f"0.0.0.0:{19000 + slot}"},
    }
    nodes = spec["spu_cluster_def"]["nodes"]
    assert nodes == [
        {"party": "alice", "address": f"127.0.0.1:{19500 + slot}", "listen_address": f"0.0.0.0:{19500 + slot}"},
        {"party": "bob", "address": f"127.0.0.2:{19500 + slot}", "listen_address": f"0.0.0.0:{19500 + slot}"},
    ]
    assert all("listen_addr" not in n for n in nodes)
    assert spec["spu_cluster_def"]["runtime_config"] == {"protocol": "SEMI2K", "field": "FM64"}
    assert spec["spu_link_desc"]["connect_retry_times"] == 12  # ceil(peer_timeout_s 120 / 10)
    tc = spec["task_config"]
    assert tc["input_paths"]["alice"] == os.path.join(os.path.realpath(data_dir), "alice.csv")
    assert tc["input_paths"]["bob"] == "/data/bob.csv"  # the peer's path is the peer's business
    assert tc["output_paths"]["alice"].endswith("/out/alice_psi.csv")
    assert tc["protocol"] == "ECDH_PSI_2PC" and tc["sort"] is True and tc["receiver_party"] == "alice"
    assert ports_of(spec) == {"fed_port": 19000 + slot, "spu_port": 19500 + slot}
    assert peer_addresses(spec) == {"bob": f"127.0.0.2:{19000 + slot}"}


def test_same_spec_fields_in_every_party(data_dir):
    a = build_job_spec(parse_config(base_config(data_dir)), "req-42", sum_params())
    bob_dir = os.path.join(data_dir, "bobdir")
    os.mkdir(bob_dir)
    open(os.path.join(bob_dir, "b.csv"), "w").write("x\n1\n")
    b = build_job_spec(parse_config(base_config(bob_dir, party="bob", node_id="bob-head", node_ip="127.0.0.2")),
                       "req-42", sum_params())
    for k in ("job_name", "job_slot", "parties"):
        assert a[k] == b[k]
    assert a["cluster_config"]["parties"] == b["cluster_config"]["parties"]
    assert a["spu_cluster_def"] == b["spu_cluster_def"]
    assert b["cluster_config"]["self_party"] == "bob" and b["ray_node_ip"] == "127.0.0.2"


def test_explicit_slot(cfg, data_dir):
    p = sum_params()
    p["task_config"]["job_slot"] = 7
    spec = build_job_spec(cfg, "r", p)
    assert spec["job_slot"] == 7 and spec["cluster_config"]["parties"]["bob"]["address"] == "127.0.0.2:19007"
    p = sum_params()
    p["sf_init_config"] = {"job_slot": 2}
    assert build_job_spec(cfg, "r", p)["job_slot"] == 2


def test_overrides(cfg):
    p = sum_params()
    # the address only as the deployment's own (an orchestrator that was told it may keep sending it)
    p["sf_init_config"] = {"address": "127.0.0.1:16380", "job_name": "custom_job", "peer_timeout_s": 5,
                           "cross_silo_comm_options": {"timeout_in_ms": 1000}}
    p["spu_config"] = {"link_desc": {"recv_timeout_ms": 1000}}
    spec = build_job_spec(cfg, "r", p)
    assert spec["ray_address"] == "127.0.0.1:16380" and spec["job_name"] == "custom_job"
    assert spec["peer_timeout_s"] == 5 and spec["spu_link_desc"]["connect_retry_times"] == 3
    assert spec["cross_silo_comm_options"] == {"timeout_in_ms": 1000}
    assert spec["spu_link_desc"]["recv_timeout_ms"] == 1000
    assert spec["gateway_resource"] == "sf_gateway"


def test_gateway_resource_in_spec(data_dir):
    assert build_job_spec(parse_config(base_config(data_dir, gateway_resource=None)), "r", sum_params())[
        "gateway_resource"] is None
    assert build_job_spec(parse_config(base_config(data_dir, gateway_resource="gw")), "r", sum_params())[
        "gateway_resource"] == "gw"


def _with(base, fn):
    p = copy.deepcopy(base)
    fn(p)
    return p


def tc(p):
    return p["task_config"]


BAD_PSI = [
    ("missing-keys", lambda p: tc(p).pop("keys"), r"task_config.keys is required"),
    ("empty-keys", lambda p: tc(p).update(keys=[]), r"task_config.keys must be a non-empty list"),
    ("keys-type", lambda p: tc(p).update(keys=5), r"task_config.keys must be"),
    ("missing-input", lambda p: tc(p).pop("input_paths"), r"task_config.input_paths is required"),
    ("missing-output", lambda p: tc(p).pop("output_paths"), r"task_config.output_paths is required"),
    ("missing-receiver", lambda p: tc(p).pop("receiver_party"), r"task_config.receiver_party is required"),
    ("receiver-not-in-job", lambda p: tc(p).update(receiver_party="carol"), r"receiver_party 'carol' is not one of"),
    ("unknown-party", lambda p: tc(p)["input_paths"].update(dave="d.csv"), r"unknown party 'dave'"),
    ("self-not-in-job", lambda p: tc(p).update(input_paths={"bob": "b", "carol": "c"}, output_paths={"bob": "b", "carol": "c"}, receiver_party="bob"),
     r"this party 'alice' is not part of the job"),
    ("one-party", lambda p: tc(p).update(input_paths={"alice": "alice.csv"}, output_paths={"alice": "o.csv"}), r"at least 2 parties"),
    ("party-mismatch", lambda p: tc(p)["output_paths"].pop("bob"), r"at least 2 parties|differ from input_paths"),
    ("protocol", lambda p: tc(p).update(protocol="MAGIC_PSI"), r"unsupported protocol 'MAGIC_PSI'"),
    ("2pc-with-3", lambda p: (tc(p)["input_paths"].update(carol="c.csv"), tc(p)["output_paths"].update(carol="c.csv")), r"needs 2 parties, got 3"),
    ("sort-type", lambda p: tc(p).update(sort="yes"), r"task_config.sort must be"),
    ("path-outside", lambda p: tc(p)["input_paths"].update(alice="../../etc/passwd"), r"input_paths.alice.*outside the data directory"),
    ("abs-outside", lambda p: tc(p)["output_paths"].update(alice="/tmp/evil.csv"), r"output_paths.alice.*outside the data directory"),
    ("input-missing", lambda p: tc(p)["input_paths"].update(alice="nope.csv"), r"input_paths.alice.*does not exist"),
    ("peer-path-empty", lambda p: tc(p)["input_paths"].update(bob=""), r"input_paths.bob: must be a non-empty string"),
    ("unknown-task-key", lambda p: tc(p).update(colum="x"), r"unknown key\(s\) colum"),
    ("slot-range", lambda p: tc(p).update(job_slot=10), r"job_slot must be in 0..9"),
    ("slot-type", lambda p: tc(p).update(job_slot="1"), r"job_slot must be an integer"),
    ("slot-disagree", lambda p: (tc(p).update(job_slot=1), p.update(sf_init_config={"job_slot": 2})), r"disagree"),
    ("sf-parties", lambda p: p.update(sf_init_config={"parties": ["alice", "bob"]}), r"simulation mode"),
    ("sf-unknown", lambda p: p.update(sf_init_config={"num_cpus": 4}),
     r"^task_params\.sf_init_config\.num_cpus: not an option a task may set"),
    ("sf-address-local", lambda p: p.update(sf_init_config={"address": "local"}),
     r"sf_init_config.address 'local' is not allowed.*own Ray head, 127.0.0.1:16380"),
    ("sf-job-name", lambda p: p.update(sf_init_config={"job_name": "bad name!"}), r"job_name must match"),
    ("sf-peer-timeout", lambda p: p.update(sf_init_config={"peer_timeout_s": 0}), r"peer_timeout_s must be"),
    ("comm-recv-label", lambda p: p.update(sf_init_config={"cross_silo_comm_options": {"recv_resource_label": "sf_gateway"}}),
     r"^task_params\.sf_init_config\.cross_silo_comm_options\.recv_resource_label: not an option a task may set"),
    ("spu-unknown", lambda p: p.update(spu_config={"runtime": {}}), r"^task_params\.spu_config\.runtime: not an option"),
    ("spu-link-unknown", lambda p: p.update(spu_config={"link_desc": {"retry": 1}}),
     r"^task_params\.spu_config\.link_desc\.retry: not an option"),
    ("top-unknown", lambda p: p.update(task_cfg={}), r"^task_params\.task_cfg: unknown key\(s\)"),
    ("no-task-config", lambda p: p.pop("task_config"), r"task_config is required"),
    ("no-task-type", lambda p: tc(p).pop("task_type"), r"task_type is required"),
    ("unknown-task-type", lambda p: tc(p).update(task_type="train_nn"), r"unknown task type 'train_nn'"),
]


@pytest.mark.parametrize("name,mutate,pattern", BAD_PSI, ids=[b[0] for b in BAD_PSI])
def test_bad_psi_params(cfg, data_dir, name, mutate, pattern):
    with pytest.raises(ParamsError, match=pattern):
        build_job_spec(cfg, "req-1", _with(psi_params(data_dir), mutate))


BAD_SUM = [
    ("no-column", lambda p: tc(p).pop("column"), r"task_config.column is required"),
    ("column-type", lambda p: tc(p).update(column=3), r"task_config.column must be"),
    ("no-inputs", lambda p: tc(p).pop("input_paths"), r"input_paths is required"),
    ("inputs-type", lambda p: tc(p).update(input_paths=["a"]), r"input_paths must be"),
    ("unknown-party", lambda p: tc(p).update(input_paths={"alice": "alice.csv", "zed": "z"}), r"unknown party 'zed'.*alice, bob, carol"),
]


@pytest.mark.parametrize("name,mutate,pattern", BAD_SUM, ids=[b[0] for b in BAD_SUM])
def test_bad_sum_params(cfg, name, mutate, pattern):
    with pytest.raises(ParamsError, match=pattern):
        build_job_spec(cfg, "req-1", _with(sum_params(), mutate))


@pytest.mark.parametrize("tid", [None, "", 5, "a b", "x" * 201, "../x", "-lead"])
def test_bad_task_request_id(cfg, tid):
    with pytest.raises(ParamsError, match="task_request_id"):
        build_job_spec(cfg, tid, sum_params())


@pytest.mark.parametrize("params", [None, [], "x"])
def test_task_params_not_mapping(cfg, params):
    with pytest.raises(ParamsError, match="task_params must be a mapping"):
        build_job_spec(cfg, "r", params)


@pytest.mark.parametrize("peer_timeout_s,attempts", [(1, 3), (10, 3), (30, 3), (30.5, 4), (60, 6), (120, 12),
                                                     (3600, 360)])
def test_spu_link_attempts_fit_peer_timeout(peer_timeout_s, attempts):
    """Each failed SPU link attempt costs ~9.4 s inside yacl: ceil(peer_timeout_s / 10) attempts (at least 3, for
    the skew between the parties' SPU runtime start-ups), not one per second (which made a dead SPU peer fail
    after ~20 minutes for peer_timeout_s=120)."""
    assert spu_connect_retry_times(peer_timeout_s) == attempts


def test_the_spec_carries_tls_from_the_config_only(data_dir):
    plain = build_job_spec(parse_config(base_config(data_dir)), "r", sum_params())
    assert plain["tls"] is None
    cfg = parse_config(base_config(data_dir, tls={"dir": "/etc/sfops/tls", "verify_depth": 3}))
    spec = build_job_spec(cfg, "r", sum_params())
    assert spec["tls"] == {"dir": "/etc/sfops/tls", "verify_depth": 3}
    assert spec["tls_bundle_dir"] == os.path.join(cfg.work_dir, "tls-ca")
    assert spec["job_parties"] == {p: cfg.parties[p].as_plan_entry() for p in ("alice", "bob")}


WHY_TLS = "TLS files and options come from the worker's config file only (tls.dir), never from a task"
WHY_LIST = "the worker sets RayFed's unpickling allow-list itself (sfworker.tls.SERIALIZING_ALLOWED_LIST)"
WHY_BACKEND = "the worker always uses RayFed's gRPC backend (brpc_link never encrypts)"
WHY_CHANNEL = "channel options can switch off TLS checks (grpc.ssl_target_name_override)"
WHY_TRACE = "error traces carry objects the unpickling allow-list does not admit"
REFUSED = [
    ({"sf_init_config": {"cross_silo_comm_options": {"serializing_allowed_list": {"*": None}}}},
     f"task_params.sf_init_config.cross_silo_comm_options.serializing_allowed_list cannot be set by a task: {WHY_LIST}"),
    ({"sf_init_config": {"cross_silo_comm_options": {"grpc_channel_options": [["grpc.ssl_target_name_override", "x"]]}}},
     f"task_params.sf_init_config.cross_silo_comm_options.grpc_channel_options cannot be set by a task: {WHY_CHANNEL}"),
    ({"sf_init_config": {"cross_silo_comm_options": {"expose_error_trace": True}}},
     f"task_params.sf_init_config.cross_silo_comm_options.expose_error_trace cannot be set by a task: {WHY_TRACE}"),
    ({"sf_init_config": {"cross_silo_comm_options": {"cross_silo_comm_backend": "brpc_link"}}},
     f"task_params.sf_init_config.cross_silo_comm_options.cross_silo_comm_backend cannot be set by a task: {WHY_BACKEND}"),
    ({"sf_init_config": {"cross_silo_comm_backend": "brpc_link"}},
     f"task_params.sf_init_config.cross_silo_comm_backend cannot be set by a task: {WHY_BACKEND}"),
    ({"sf_init_config": {"tls_config": {"ca_cert": "/tmp/ca.pem", "cert": "/tmp/c.pem", "key": "/tmp/k.pem"}}},
     f"task_params.sf_init_config.tls_config cannot be set by a task: {WHY_TLS}"),
    ({"sf_init_config": {"cross_silo_comm_options": {"ca_cert": "/tmp/ca.pem"}}},
     f"task_params.sf_init_config.cross_silo_comm_options.ca_cert cannot be set by a task: {WHY_TLS}"),
    ({"spu_config": {"tls_opts": {"server_ssl_opts": {}}}},
     f"task_params.spu_config.tls_opts cannot be set by a task: {WHY_TLS}"),
    ({"spu_config": {"link_desc": {"enable_ssl": False}}},
     f"task_params.spu_config.link_desc.enable_ssl cannot be set by a task: {WHY_TLS}"),
    ({"spu_config": {"link_desc": {"client_ssl_opts": {"verify_depth": 0}}}},
     f"task_params.spu_config.link_desc.client_ssl_opts cannot be set by a task: {WHY_TLS}"),
]


@pytest.mark.parametrize("extra,message", REFUSED, ids=[m.split(" cannot")[0].split(".", 1)[1] for _, m in REFUSED])
def test_a_task_cannot_touch_tls_or_the_allow_list(cfg, extra, message):
    params = sum_params()
    params.update(extra)
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", params)
    assert str(ei.value) == message


def test_harmless_comm_options_still_pass(cfg):
    p = sum_params()
    p["sf_init_config"] = {"cross_silo_comm_options": {"timeout_in_ms": 120000, "messages_max_size_in_bytes": 1 << 20}}
    assert build_job_spec(cfg, "r", p)["cross_silo_comm_options"] == {"timeout_in_ms": 120000,
                                                                      "messages_max_size_in_bytes": 1 << 20}


# ---------------------------------------------------------------- issue #12: a task chooses from allow-lists only


def test_a_foreign_ray_address_is_refused(cfg):
    """The driver connects to this party's own Ray head only: a message may not point it at another GCS."""
    p = sum_params()
    p["sf_init_config"] = {"address": "203.0.113.9:6379"}
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", p)
    assert str(ei.value) == (
        "task_params.sf_init_config.address '203.0.113.9:6379' is not allowed: the job's driver connects to this "
        "party's own Ray head, 127.0.0.1:16380 (the worker config's ray_address); leave the key out")
    p["sf_init_config"] = {"address": "127.0.0.1:16380"}
    assert build_job_spec(cfg, "r", p)["ray_address"] == "127.0.0.1:16380"


@pytest.mark.parametrize("key,value", [
    ("proxy_max_restarts", 1), ("http_header", {"x": "y"}), ("continue_waiting_for_data_sending_on_error", True),
    ("exit_on_sending_failure", False), ("send_resource_label", {"CPU": 1}), ("use_global_proxy", False),
    ("max_concurrency", 1000), ("sending_failure_handler", "x"), ("grpc_retry_policy", {"maxAttempts": 1}),
])
def test_comm_options_outside_the_allow_list_are_refused(cfg, key, value):
    p = sum_params()
    p["sf_init_config"] = {"cross_silo_comm_options": {"timeout_in_ms": 1000, key: value}}
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", p)
    assert str(ei.value) == (
        f"task_params.sf_init_config.cross_silo_comm_options.{key}: not an option a task may set (allowed in "
        f"task_params.sf_init_config.cross_silo_comm_options: messages_max_size_in_bytes, timeout_in_ms; everything "
        f"else is the deployment's)")


@pytest.mark.parametrize("comm,pattern", [
    ({"timeout_in_ms": 0}, r"cross_silo_comm_options.timeout_in_ms must be an integer in 1..3600000, got 0"),
    ({"timeout_in_ms": "60000"}, r"timeout_in_ms must be an integer"),
    ({"messages_max_size_in_bytes": True}, r"messages_max_size_in_bytes must be an integer"),
    ([], r"task_params.sf_init_config.cross_silo_comm_options must be a mapping"),
])
def test_comm_option_values_are_checked(cfg, comm, pattern):
    p = sum_params()
    p["sf_init_config"] = {"cross_silo_comm_options": comm}
    with pytest.raises(ParamsError, match=pattern):
        build_job_spec(cfg, "r", p)


def test_the_config_keeps_its_own_comm_options(data_dir):
    """Placement labels, retries etc. remain settable - in the config file (the deployment), under the task's."""
    cfg = parse_config(base_config(data_dir, cross_silo_comm_options={"proxy_max_restarts": 3, "timeout_in_ms": 5}))
    p = sum_params()
    p["sf_init_config"] = {"cross_silo_comm_options": {"timeout_in_ms": 9000}}
    assert build_job_spec(cfg, "r", p)["cross_silo_comm_options"] == {"proxy_max_restarts": 3, "timeout_in_ms": 9000}


@pytest.mark.parametrize("protocol", ["SEMI2K", "CHEETAH"])
def test_a_task_picks_an_allowed_protocol(cfg, protocol):
    p = sum_params()
    p["spu_config"] = {"runtime_config": {"protocol": protocol, "field": "FM64", "fxp_fraction_bits": 18}}
    assert build_job_spec(cfg, "r", p)["spu_cluster_def"]["runtime_config"] == {
        "protocol": protocol, "field": "FM64", "fxp_fraction_bits": 18}


def test_ref2k_is_refused_by_default(cfg):
    p = sum_params()
    p["spu_config"] = {"runtime_config": {"protocol": "REF2K"}}
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", p)
    assert str(ei.value) == ("task_params.spu_config.runtime_config.protocol 'REF2K' is not allowed in this deployment "
                             "(allowed: SEMI2K, ABY3, CHEETAH; the worker config's spu_protocols)")


def test_ref2k_when_the_deployment_lists_it(data_dir):
    cfg = parse_config(base_config(data_dir, spu_protocols=["SEMI2K", "REF2K"]))
    p = sum_params()
    p["spu_config"] = {"runtime_config": {"protocol": "REF2K"}}
    assert build_job_spec(cfg, "r", p)["spu_cluster_def"]["runtime_config"]["protocol"] == "REF2K"
    p["spu_config"] = {"runtime_config": {"protocol": "CHEETAH"}}
    with pytest.raises(ParamsError, match=r"'CHEETAH' is not allowed in this deployment \(allowed: SEMI2K, REF2K;"):
        build_job_spec(cfg, "r", p)


@pytest.mark.parametrize("key,value", [
    ("beaver_type", "TrustedThirdParty"), ("ttp_beaver_config", {"server_host": "203.0.113.9:1"}),
    ("enable_action_trace", True), ("public_random_seed", 1), ("snapshot_dump_dir", "/tmp"),
    ("experimental_enable_inter_op_par", True),
])
def test_runtime_config_outside_the_allow_list_is_refused(cfg, key, value):
    p = sum_params()
    p["spu_config"] = {"runtime_config": {"field": "FM64", key: value}}
    with pytest.raises(ParamsError) as ei:
        build_job_spec(cfg, "r", p)
    assert str(ei.value).startswith(f"task_params.spu_config.runtime_config.{key}: not an option a task may set "
                                    f"(allowed in task_params.spu_config.runtime_config: field, fxp_fraction_bits, "
                                    f"protocol;")


@pytest.mark.parametrize("rc,pattern", [
    ({"field": "FM256"}, r"runtime_config.field must be one of FM32, FM64, FM128, got 'FM256'"),
    ({"fxp_fraction_bits": 0}, r"fxp_fraction_bits must be an integer in 1..64"),
    ({"protocol": "SPDZ2K"}, r"protocol 'SPDZ2K' is not allowed"),
    ("SEMI2K", r"task_params.spu_config.runtime_config must be a mapping"),
])
def test_runtime_config_values_are_checked(cfg, rc, pattern):
    p = sum_params()
    p["spu_config"] = {"runtime_config": rc}
    with pytest.raises(ParamsError, match=pattern):
        build_job_spec(cfg, "r", p)


@pytest.mark.parametrize("protocol,need", [("ABY3", 3)])
def test_a_protocol_for_another_number_of_parties_fails_early(cfg, protocol, need):
    p = sum_params()
    p["spu_config"] = {"runtime_config": {"protocol": protocol}}
    with pytest.raises(ParamsError, match=rf"SPU protocol {protocol} runs with exactly {need} parties, this job has 2 "
                                          rf"\(alice, bob\)"):
        build_job_spec(cfg, "r", p)


def test_cheetah_with_three_parties_fails_early(cfg, data_dir):
    p = sum_params()
    p["task_config"]["input_paths"]["carol"] = "c.csv"
    p["spu_config"] = {"runtime_config": {"protocol": "CHEETAH"}}
    with pytest.raises(ParamsError, match=r"SPU protocol CHEETAH runs with exactly 2 parties, this job has 3"):
        build_job_spec(cfg, "r", p)
    p["spu_config"] = {"runtime_config": {"protocol": "ABY3"}}
    assert build_job_spec(cfg, "r", p)["spu_cluster_def"]["runtime_config"]["protocol"] == "ABY3"


@pytest.mark.parametrize("ld,pattern", [
    ({"recv_timeout_ms": -1}, r"link_desc.recv_timeout_ms must be an integer in 0..2147483647, got -1"),
    ({"connect_retry_times": "3"}, r"link_desc.connect_retry_times must be an integer"),
    ({"brpc_channel_protocol": "thrift"}, r"link_desc.brpc_channel_protocol must be one of http, baidu_std"),
    ({"brpc_channel_connection_type": "multi"}, r"link_desc.brpc_channel_connection_type must be one of single"),
])
def test_link_desc_values_are_checked(cfg, ld, pattern):
    p = sum_params()
    p["spu_config"] = {"link_desc": ld}
    with pytest.raises(ParamsError, match=pattern):
        build_job_spec(cfg, "r", p)


def test_the_orchestrators_legitimate_options_still_pass(cfg):
    """What beng003/secretflow-worker's documented task_params (docs/param.yaml) send and this worker supports."""
    p = sum_params()
    p["sf_init_config"] = {"job_slot": 3, "logging_level": "info", "peer_timeout_s": 60,
                           "cross_silo_comm_options": {"timeout_in_ms": 120000, "messages_max_size_in_bytes": 1 << 30}}
    p["spu_config"] = {"runtime_config": {"protocol": "SEMI2K", "field": "FM128"},
                       "link_desc": {"connect_retry_times": 60, "connect_retry_interval_ms": 1000,
                                     "brpc_channel_protocol": "http", "brpc_channel_connection_type": "pooled",
                                     "recv_timeout_ms": 1200000, "http_timeout_ms": 1200000}}
    spec = build_job_spec(cfg, "r", p)
    assert spec["job_slot"] == 3 and spec["peer_timeout_s"] == 60
    assert spec["spu_link_desc"]["connect_retry_times"] == 60
    assert spec["spu_cluster_def"]["runtime_config"] == {"protocol": "SEMI2K", "field": "FM128"}
