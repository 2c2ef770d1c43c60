import copy
import json
import os

import pytest
import yaml

from sfworker.config import (
    CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH, load_config, parse_config, ray_driver_node_ip, redact_url,
    resolve_config_path,
)
from sfworker.errors import ConfigError

from helpers import base_config


def test_good_yaml_and_defaults(tmp_path, data_dir):
    raw = base_config(data_dir)
    for k in ("queue", "work_dir", "job_slots", "peer_timeout_s", "job_timeout_s", "spu_runtime_config"):
        raw.pop(k)
    p = tmp_path / "config.yml"
    p.write_text(yaml.safe_dump(raw))
    cfg = load_config(str(p))
    assert cfg.party == "alice" and cfg.node_id == "alice-head"
    assert cfg.queue == "secretflow_queue"
    assert cfg.job_slots == 10 and cfg.peer_timeout_s == 120 and cfg.job_timeout_s == 3600
    assert cfg.spu_runtime_config == {"protocol": "SEMI2K", "field": "FM128"}
    assert cfg.me.as_plan_entry() == {"external_ip": "127.0.0.1", "fed_port": 19000, "spu_port": 19500}
    assert cfg.parties["bob"].as_plan_entry() == {"external_ip": "127.0.0.2", "fed_port": 19000, "spu_port": 19500}
    assert cfg.worker_name == "sfworker@alice-head"
    assert cfg.source_path == str(p)


def test_good_json(tmp_path, data_dir):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(base_config(data_dir, node_id="n1")))
    assert load_config(str(p)).node_id == "n1"


def test_node_id_defaults_to_party_head(data_dir):
    raw = base_config(data_dir)
    raw.pop("node_id")
    assert parse_config(raw).node_id == "alice-head"


def test_path_resolution(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    assert resolve_config_path(None) == DEFAULT_CONFIG_PATH
    monkeypatch.setenv(CONFIG_ENV_VAR, "/x/env.yml")
    assert resolve_config_path(None) == "/x/env.yml"
    assert resolve_config_path("/x/cli.yml") == "/x/cli.yml"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(str(tmp_path / "nope.yml"))


def test_invalid_yaml(tmp_path):
    p = tmp_path / "c.yml"
    p.write_text("party: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(p))


def test_redis_password_file(tmp_path, data_dir):
    pw = tmp_path / "pw"
    pw.write_text("p@ss:word\n")
    cfg = parse_config(base_config(data_dir, redis_url="redis://127.0.0.1:16379/0", redis_password_file=str(pw)))
    assert cfg.redis_url == "redis://:p%40ss%3Aword@127.0.0.1:16379/0"
    assert "p%40ss" not in cfg.redacted_redis_url() and "***" in cfg.redacted_redis_url()


def test_redis_password_file_keeps_ipv6_brackets(tmp_path, data_dir):
    """The plan renders the party head's Redis as redis://[v6]:port/0; urlsplit's hostname drops the brackets."""
    pw = tmp_path / "pw"
    pw.write_text("pw\n")
    cfg = parse_config(base_config(data_dir, redis_url="redis://[fd00::11]:16379/0", redis_password_file=str(pw)))
    assert cfg.redis_url == "redis://:pw@[fd00::11]:16379/0"
    assert cfg.redacted_redis_url() == "redis://:***@[fd00::11]:16379/0"
    cfg = parse_config(base_config(data_dir, redis_url="redis://[fd00::11]/0", redis_password_file=str(pw)))
    assert cfg.redis_url == "redis://:pw@[fd00::11]/0"


@pytest.mark.parametrize("external_ip", ["2001:db8::21", "bob.example.org", "bob", "bob.example.org."])
def test_external_address_follows_the_plans_rule(data_dir, external_ip):
    raw = base_config(data_dir)
    raw["parties"]["bob"]["external_ip"] = external_ip
    assert parse_config(raw).parties["bob"].external_ip == external_ip


def test_redact_url():
    assert redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_ray_driver_node_ip(data_dir):
    assert ray_driver_node_ip(parse_config(base_config(data_dir))) is None  # 127.0.0.1: Ray rewrites it
    assert ray_driver_node_ip(parse_config(base_config(data_dir, node_ip="127.0.0.2"))) == "127.0.0.2"
    assert ray_driver_node_ip(parse_config(base_config(data_dir, ray_node_ip="10.1.1.1"))) == "10.1.1.1"


def test_gateway_resource(data_dir):
    raw = base_config(data_dir)
    raw.pop("gateway_resource", None)
    assert parse_config(raw).gateway_resource == "sf_gateway"  # absent -> default
    assert parse_config(base_config(data_dir, gateway_resource="edge_gw")).gateway_resource == "edge_gw"
    assert parse_config(base_config(data_dir, gateway_resource=" gw.1-a ")).gateway_resource == "gw.1-a"
    assert parse_config(base_config(data_dir, gateway_resource=None)).gateway_resource is None  # off
    assert parse_config(base_config(data_dir, gateway_resource="")).gateway_resource is None   # off
    assert parse_config(base_config(data_dir)).to_dict()["gateway_resource"] == "sf_gateway"


def test_tls(data_dir):
    assert parse_config(base_config(data_dir)).tls is None  # tls: null -> plaintext
    cfg = parse_config(base_config(data_dir, tls={"dir": "/etc/sfops/tls/", "verify_depth": 3}))
    assert cfg.tls.dir == "/etc/sfops/tls" and cfg.tls.verify_depth == 3
    assert cfg.tls.current == "/etc/sfops/tls/current" and cfg.tls.peer_ca("bob") == "/etc/sfops/tls/peers/bob.pem"
    assert cfg.to_dict()["tls"] == {"dir": "/etc/sfops/tls", "verify_depth": 3}
    assert parse_config(base_config(data_dir, tls={"dir": "/t"})).tls.verify_depth == 2  # default
    assert parse_config(base_config(data_dir)).to_dict()["tls"] is None


def test_tls_must_be_said(data_dir):
    """Absent is not "off": plaintext between parties has to be written as tls: null."""
    raw = base_config(data_dir)
    raw.pop("tls")
    with pytest.raises(ConfigError, match=r"^config key 'tls': is required: \{dir: <directory of the TLS files>, "
                                          r"verify_depth: N\} for mutual TLS between parties, or null for plaintext"):
        parse_config(raw)


def _mut(data_dir, fn):
    raw = copy.deepcopy(base_config(data_dir))
    fn(raw)
    return raw


BAD = [
    ("party", lambda r: r.pop("party"), "'party'.*required"),
    ("party-type", lambda r: r.update(party=5), "'party'.*non-empty string"),
    ("node_ip", lambda r: r.pop("node_ip"), "'node_ip'.*required"),
    ("node_ip-garbage", lambda r: r.update(node_ip="not an ip"), "'node_ip'"),
    ("party-ip-garbage", lambda r: r["parties"]["bob"].update(external_ip="bob_1.example.org"),
     "'parties.bob.external_ip'.*IP address or host name"),
    ("party-ip-numeric", lambda r: r["parties"]["bob"].update(external_ip="10.0.0.256"),
     "'parties.bob.external_ip'.*IP address or host name"),
    ("ray_address", lambda r: r.pop("ray_address"), "'ray_address'.*required"),
    ("ray_address-port", lambda r: r.update(ray_address="127.0.0.1"), "'ray_address'.*HOST:PORT"),
    ("redis_url", lambda r: r.pop("redis_url"), "'redis_url'.*required"),
    ("redis_url-scheme", lambda r: r.update(redis_url="http://x:1"), "'redis_url'.*redis://"),
    ("redis_password_file", lambda r: r.update(redis_password_file="/nonexistent/pw"), "'redis_password_file'"),
    ("data_dir-missing", lambda r: r.pop("data_dir"), "'data_dir'.*required"),
    ("data_dir-relative", lambda r: r.update(data_dir="data"), "'data_dir'.*absolute"),
    ("data_dir-absent", lambda r: r.update(data_dir="/nonexistent/dir"), "'data_dir'.*does not exist"),
    ("work_dir", lambda r: r.update(work_dir="rel"), "'work_dir'.*absolute"),
    ("job_slots-zero", lambda r: r.update(job_slots=0), "'job_slots'.*>= 1"),
    ("job_slots-str", lambda r: r.update(job_slots="10"), "'job_slots'.*integer"),
    ("job_slots-bool", lambda r: r.update(job_slots=True), "'job_slots'.*integer"),
    ("peer_timeout_s", lambda r: r.update(peer_timeout_s=-1), "'peer_timeout_s'.*positive"),
    ("job_timeout_s", lambda r: r.update(job_timeout_s="long"), "'job_timeout_s'.*positive"),
    ("slot_lock_ttl_s", lambda r: r.update(slot_lock_ttl_s=1), "'slot_lock_ttl_s'"),
    ("concurrency", lambda r: r.update(concurrency=0), "'concurrency'"),
    ("log_level", lambda r: r.update(log_level="loud"), "'log_level'"),
    ("unknown-top", lambda r: r.update(ray_adress="x:1"), "'ray_adress'.*unknown key"),
    ("parties-missing", lambda r: r.pop("parties"), "'parties'.*required"),
    ("parties-empty", lambda r: r.update(parties={}), "'parties'.*required"),
    ("parties-self", lambda r: r["parties"].pop("alice"), "'parties'.*own party 'alice'"),
    ("party-not-map", lambda r: r["parties"].update(bob="127.0.0.2"), "'parties.bob'.*mapping"),
    ("party-ip", lambda r: r["parties"]["bob"].pop("external_ip"), "'parties.bob.external_ip'.*required"),
    ("party-fed_port", lambda r: r["parties"]["bob"].pop("fed_port"), "'parties.bob.fed_port'.*required"),
    ("party-fed_port-range", lambda r: r["parties"]["bob"].update(fed_port=65530), "'parties.bob.fed_port'.*<="),
    ("party-spu_port-type", lambda r: r["parties"]["bob"].update(spu_port="19500"), "'parties.bob.spu_port'.*integer"),
    ("party-overlap", lambda r: r["parties"]["bob"].update(spu_port=19005), "'parties.bob.spu_port'.*overlap"),
    ("party-unknown-key", lambda r: r["parties"]["bob"].update(port=1), "'parties.bob.port'.*unknown key"),
    ("spu_runtime_config", lambda r: r.update(spu_runtime_config=[1]), "'spu_runtime_config'.*mapping"),
    ("gateway_resource-type", lambda r: r.update(gateway_resource=1), "'gateway_resource'.*string"),
    ("gateway_resource-dict", lambda r: r.update(gateway_resource={"sf_gateway": 1}), "'gateway_resource'.*string"),
    ("gateway_resource-chars", lambda r: r.update(gateway_resource="sf gateway"), "'gateway_resource'.*custom resource name"),
    ("gateway_resource-json", lambda r: r.update(gateway_resource='{"sf_gateway":1000}'), "'gateway_resource'.*custom resource name"),
    ("gateway_resource-builtin", lambda r: r.update(gateway_resource="CPU"), "'gateway_resource'.*built-in 'CPU'"),
    ("gateway_resource-node", lambda r: r.update(gateway_resource="node:10.0.0.1"), "'gateway_resource'"),
    ("spu_runtime_config-protocol", lambda r: r.update(spu_runtime_config={"protocol": 1}), "'spu_runtime_config.protocol'"),
    ("tls-type", lambda r: r.update(tls="/etc/sfops/tls"), r"'tls'.*mapping \{dir, verify_depth\} or null"),
    ("tls-dir-missing", lambda r: r.update(tls={"verify_depth": 2}), "'tls.dir'.*required"),
    ("tls-dir-relative", lambda r: r.update(tls={"dir": "tls"}), "'tls.dir'.*absolute path"),
    ("tls-depth-zero", lambda r: r.update(tls={"dir": "/t", "verify_depth": 0}), "'tls.verify_depth'.*>= 1"),
    ("tls-depth-big", lambda r: r.update(tls={"dir": "/t", "verify_depth": 11}), "'tls.verify_depth'.*<= 10"),
    ("tls-depth-str", lambda r: r.update(tls={"dir": "/t", "verify_depth": "2"}), "'tls.verify_depth'.*integer"),
    ("tls-unknown-key", lambda r: r.update(tls={"dir": "/t", "ca_cert": "/x.pem"}),
     "'tls.ca_cert'.*unknown key.*derived from tls.dir only"),
    ("comm-allowed-list", lambda r: r.update(cross_silo_comm_options={"serializing_allowed_list": {"*": None}}),
     r"'cross_silo_comm_options.serializing_allowed_list'.*cannot be set: the worker sets RayFed's unpickling "
     r"allow-list itself"),
    ("comm-backend", lambda r: r.update(cross_silo_comm_options={"cross_silo_comm_backend": "brpc_link"}),
     "'cross_silo_comm_options.cross_silo_comm_backend'.*gRPC backend"),
    ("spu_protocols-unknown", lambda r: r.update(spu_protocols=["SEMI2K", "SPDZ2K"]),
     r"'spu_protocols'.*unknown SPU protocol 'SPDZ2K'"),
    ("spu_protocols-type", lambda r: r.update(spu_protocols="SEMI2K"), r"'spu_protocols'.*non-empty list"),
    ("spu_protocols-empty", lambda r: r.update(spu_protocols=[]), r"'spu_protocols'.*non-empty list"),
    ("spu_protocols-default-not-listed", lambda r: r.update(spu_protocols=["ABY3"]),
     r"'spu_runtime_config.protocol'.*'SEMI2K' is not one of spu_protocols \(ABY3\)"),
    ("spu_runtime_config-ref2k", lambda r: r.update(spu_runtime_config={"protocol": "REF2K", "field": "FM64"}),
     r"'spu_runtime_config.protocol'.*'REF2K' is not one of spu_protocols \(SEMI2K, ABY3, CHEETAH\)"),
    ("job_memory_limit_mb", lambda r: r.update(job_memory_limit_mb=-1), r"'job_memory_limit_mb'.*>= 0"),
]


@pytest.mark.parametrize("name,mutate,pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_config(data_dir, name, mutate, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(_mut(data_dir, mutate))


def test_top_level_not_mapping():
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config(["a"])


def test_spu_protocols_default_is_the_plans(data_dir):
    """The worker's default (no spu_protocols key) is the plan's default of sf_spu_protocols: one list, REF2K not in."""
    from helpers import plan_defaults

    cfg = parse_config(base_config(data_dir))
    assert cfg.spu_protocols == plan_defaults()["sf_spu_protocols"] == ["SEMI2K", "ABY3", "CHEETAH"]
    from sfworker.config import JOB_MEMORY_MIN_MB

    assert cfg.job_memory_limit_mb >= JOB_MEMORY_MIN_MB  # derived from this machine's memory


def test_ref2k_only_when_listed(data_dir):
    from sfworker.config import insecure_protocols

    assert insecure_protocols(parse_config(base_config(data_dir))) == []
    cfg = parse_config(base_config(data_dir, spu_protocols=["SEMI2K", "REF2K"]))
    assert cfg.spu_protocols == ["SEMI2K", "REF2K"]
    assert [w.split(":")[0] for w in insecure_protocols(cfg)] == ["REF2K"]


def test_original_worker_settings_default_to_the_originals(data_dir):
    cfg = parse_config(base_config(data_dir))
    assert cfg.status_channel == "task_status_events" and cfg.status_queue == "task_status_queue"
    assert cfg.status_queue_max == 10000
    assert cfg.result_expires_s == 86400 and cfg.job_max_retries == 1 and cfg.job_retry_countdown_s == 60.0
    cfg = parse_config(base_config(data_dir, status_channel="orch:ev", status_queue="orch:q", status_queue_max=50,
                                   result_expires_s=3600, job_max_retries=0, job_retry_countdown_s=5))
    assert (cfg.status_channel, cfg.status_queue, cfg.status_queue_max, cfg.result_expires_s) == (
        "orch:ev", "orch:q", 50, 3600)
    assert cfg.job_max_retries == 0 and cfg.job_retry_countdown_s == 5.0


@pytest.mark.parametrize("key,value,message", [
    ("status_channel", "task events", "config key 'status_channel': must be 1-200 characters of [A-Za-z0-9_.:-] (a "
                                      "Redis key/channel name), got 'task events'"),
    ("status_queue", "q*", "config key 'status_queue': must be 1-200 characters"),
    ("status_queue_max", 0, "config key 'status_queue_max': must be >= 1, got 0"),
    ("result_expires_s", 10, "config key 'result_expires_s': must be >= 60, got 10"),
    ("job_max_retries", 11, "config key 'job_max_retries': must be <= 10, got 11"),
    ("job_retry_countdown_s", -1, "config key 'job_retry_countdown_s': must be >= 0, got -1"),
])
def test_original_worker_settings_are_checked(data_dir, key, value, message):
    with pytest.raises(ConfigError) as ei:
        parse_config(base_config(data_dir, **{key: value}))
    assert message in str(ei.value)
