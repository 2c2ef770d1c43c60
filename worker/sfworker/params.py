"""Validation of execute_task's (task_request_id, task_params) into a JobSpec.

Runs in the Celery worker process, before anything is started; must not import secretflow.
Everything that must be identical in every party (job parties, job_name, slot) is derived only
from task_request_id and task_params, never from local state.

A task chooses only job-level options, each from an allow-list (issue #12): its slot and name, timeouts, message
sizes, log level, the SPU protocol among the deployment's ``spu_protocols``, SPU field and link timeouts. Addresses,
TLS, the serialization allow-list, the communication backend and the proxies' placement are the deployment's
(the worker config); any other key is refused with an error naming it by its dotted path in task_params.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from typing import Any, Dict, List, Optional

from . import _topology, paths
from .config import WorkerConfig, ray_driver_node_ip
from .errors import ParamsError
from .tasks.registry import ValidationContext, get_task_type
from .tls import TASK_REFUSED_COMM_OPTIONS, TLS_OPTION_NAMES, TLS_REFUSED_WHY

INT32_MAX = 2 ** 31 - 1

TASK_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
JOB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")

TOP_LEVEL_KEYS = {"task_config", "sf_init_config", "spu_config"}
SF_INIT_KEYS = {
    "address",            # only the config's ray_address itself (the deployment decides it); may be left out
    "job_name",           # default: derived from task_request_id
    "job_slot",           # default: sha256(task_request_id) % job_slots
    "logging_level",
    "cross_silo_comm_options",
    "peer_timeout_s",     # may only shorten/extend within 1..job_timeout_s
}
SPU_CONFIG_KEYS = {"runtime_config", "link_desc"}
SPU_LINK_DESC_KEYS = {
    "connect_retry_times", "connect_retry_interval_ms", "recv_timeout_ms", "http_max_payload_size",
    "http_timeout_ms", "throttle_window_size", "brpc_channel_protocol", "brpc_channel_connection_type",
}
# What a task may put into cross_silo_comm_options: RayFed's timeout and message size, nothing else (placement
# labels, the allow-list, retries, headers and channel options are the deployment's: the config file).
TASK_COMM_OPTION_KEYS = {"timeout_in_ms", "messages_max_size_in_bytes"}
# What a task may put into spu_config.runtime_config: the protocol (one of the config's spu_protocols), the field and
# the fixed-point precision. Everything else (beaver_type and its TTP server address, traces, snapshots, experimental
# switches) stays the deployment's (the config's spu_runtime_config).
TASK_SPU_RUNTIME_KEYS = {"protocol", "field", "fxp_fraction_bits"}
SPU_FIELDS = ("FM32", "FM64", "FM128")
SPU_BRPC_PROTOCOLS = ("http", "baidu_std", "h2", "h2:grpc")
SPU_BRPC_CONNECTION_TYPES = ("single", "pooled", "short")


# At least this many SPU link attempts (~28 s): both parties create their SPU runtime actor only after the RayFed
# ping, and a fresh actor (a new Ray worker process importing SPU) starts 10+ s later on one side than on the other
# on a busy machine (measured: one attempt made two-party jobs fail under load).
SPU_MIN_CONNECT_ATTEMPTS = 3


def spu_connect_retry_times(peer_timeout_s: float) -> int:
    """SPU link setup attempts within about peer_timeout_s: each failed attempt costs ~9.4 s inside yacl (its
    TestSend retries 3 times, sleeping 1+3+5 s; not settable through SecretFlow) plus the 1 s interval."""
    return max(SPU_MIN_CONNECT_ATTEMPTS, int(math.ceil(peer_timeout_s / 10.0)))


def refuse_security_keys(where: str, given: Any, extra: Optional[Dict[str, str]] = None) -> None:
    """ParamsError for a key a task may not set: RayFed's allow-list/backend/channel options (``extra``) and any
    TLS path or switch. ``where``: the mapping's place in task_params, e.g. ``sf_init_config``."""
    if not isinstance(given, dict):
        return
    refused = dict((k, TLS_REFUSED_WHY) for k in TLS_OPTION_NAMES)
    refused.update(extra or {})
    for key in sorted(given):
        if key in refused:
            raise ParamsError(f"task_params.{where}.{key} cannot be set by a task: {refused[key]}")


def refuse_keys_outside(path: str, given: Dict[str, Any], allowed, verdict: str, allowed_in: str,
                       note: str = "") -> None:
    """The one rule for keys outside an allow-list (this project's form and the original's): a ParamsError naming,
    by dotted path under ``path``, every key of ``given`` outside ``allowed``; ``verdict`` says why."""
    unknown = sorted(set(given) - set(allowed), key=str)
    if unknown:
        keys = ", ".join(f"{path}.{k}" for k in unknown)
        raise ParamsError(f"{keys}: {verdict} ({allowed_in} {path}: {', '.join(sorted(allowed))}{note})")


def refuse_unlisted(where: str, given: Dict[str, Any], allowed) -> None:
    """This project's form: a key a task may not set is the deployment's."""
    refuse_keys_outside(f"task_params.{where}", given, allowed, "not an option a task may set", "allowed in",
                        "; everything else is the deployment's")


def _positive_int(v: Any, where: str, hi: int = INT32_MAX) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
        raise ParamsError(f"task_params.{where} must be an integer in 1..{hi}, got {v!r}")
    return v


def _task_comm_options(extra: Any, job_timeout_s: float) -> Dict[str, Any]:
    """A task's cross_silo_comm_options: only TASK_COMM_OPTION_KEYS, positive integers."""
    where = "sf_init_config.cross_silo_comm_options"
    if not isinstance(extra, dict):
        raise ParamsError(f"task_params.{where} must be a mapping")
    refuse_security_keys(where, extra, TASK_REFUSED_COMM_OPTIONS)
    refuse_unlisted(where, extra, TASK_COMM_OPTION_KEYS)
    out = {}
    if extra.get("timeout_in_ms") is not None:
        out["timeout_in_ms"] = _positive_int(extra["timeout_in_ms"], where + ".timeout_in_ms",
                                             min(INT32_MAX, int(job_timeout_s * 1000)))
    if extra.get("messages_max_size_in_bytes") is not None:
        out["messages_max_size_in_bytes"] = _positive_int(extra["messages_max_size_in_bytes"],
                                                          where + ".messages_max_size_in_bytes")
    return out


def _task_runtime_config(rc: Any, protocols: List[str], where: str = "spu_config.runtime_config") -> Dict[str, Any]:
    """A task's spu_config.runtime_config: the protocol among ``protocols``, the field, fxp_fraction_bits.
    ``where``: its place in task_params for the errors (sfworker.compat: spu_config.cluster_def.runtime_config)."""
    if not isinstance(rc, dict):
        raise ParamsError(f"task_params.{where} must be a mapping")
    refuse_security_keys(where, rc)
    refuse_unlisted(where, rc, TASK_SPU_RUNTIME_KEYS)
    out = {}
    if rc.get("protocol") is not None:
        if rc["protocol"] not in protocols:
            raise ParamsError(f"task_params.{where}.protocol {rc['protocol']!r} is not allowed in this deployment "
                              f"(allowed: {', '.join(protocols)}; the worker config's spu_protocols)")
        out["protocol"] = rc["protocol"]
    if rc.get("field") is not None:
        if rc["field"] not in SPU_FIELDS:
            raise ParamsError(f"task_params.{where}.field must be one of {', '.join(SPU_FIELDS)}, got {rc['field']!r}")
        out["field"] = rc["field"]
    if rc.get("fxp_fraction_bits") is not None:
        out["fxp_fraction_bits"] = _positive_int(rc["fxp_fraction_bits"], where + ".fxp_fraction_bits", 64)
    return out


def _task_link_desc(ld: Any) -> Dict[str, Any]:
    """A task's spu_config.link_desc: SPU_LINK_DESC_KEYS, integers >= 0 and the two brpc choices."""
    where = "spu_config.link_desc"
    if not isinstance(ld, dict):
        raise ParamsError(f"task_params.{where} must be a mapping")
    refuse_security_keys(where, ld)
    refuse_unlisted(where, ld, SPU_LINK_DESC_KEYS)
    for key, v in ld.items():
        if key == "brpc_channel_protocol":
            if v not in SPU_BRPC_PROTOCOLS:
                raise ParamsError(f"task_params.{where}.{key} must be one of {', '.join(SPU_BRPC_PROTOCOLS)}, got {v!r}")
        elif key == "brpc_channel_connection_type":
            if v not in SPU_BRPC_CONNECTION_TYPES:
                raise ParamsError(f"task_params.{where}.{key} must be one of {', '.join(SPU_BRPC_CONNECTION_TYPES)}, "
                                  f"got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= INT32_MAX:
            raise ParamsError(f"task_params.{where}.{key} must be an integer in 0..{INT32_MAX}, got {v!r}")
    return dict(ld)


def job_name_for(task_request_id: str) -> str:
    """Deterministic RayFed job name: identical in every party for the same task_request_id."""
    return "sfjob-" + hashlib.sha256(task_request_id.encode("utf-8")).hexdigest()[:24]


def slot_for(task_request_id: str, job_slots: int) -> int:
    """Deterministic job slot: identical in every party (job_slots must be equal everywhere)."""
    if job_slots < 1:
        raise ValueError("job_slots must be >= 1")
    return int(hashlib.sha256(task_request_id.encode("utf-8")).hexdigest(), 16) % job_slots


def check_task_request_id(task_request_id: Any) -> str:
    if not isinstance(task_request_id, str) or not TASK_REQUEST_ID_RE.match(task_request_id):
        raise ParamsError(
            f"task_request_id must be a string of 1-200 characters [A-Za-z0-9._:@-] starting with a letter or digit, "
            f"got {task_request_id!r}"
        )
    return task_request_id


def _slot_value(v: Any, where: str, job_slots: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParamsError(f"{where} must be an integer, got {v!r}")
    if not 0 <= v < job_slots:
        raise ParamsError(f"{where} must be in 0..{job_slots - 1} (job_slots={job_slots}), got {v}")
    return v


def build_job_spec(cfg: WorkerConfig, task_request_id: Any, task_params: Any) -> Dict[str, Any]:
    task_request_id = check_task_request_id(task_request_id)
    if not isinstance(task_params, dict):
        raise ParamsError(f"task_params must be a mapping, got {type(task_params).__name__}")
    unknown = sorted(set(task_params) - TOP_LEVEL_KEYS, key=str)
    if unknown:
        raise ParamsError(f"{', '.join(f'task_params.{k}' for k in unknown)}: unknown key(s) "
                          f"(allowed: {', '.join(sorted(TOP_LEVEL_KEYS))})")

    task_config = task_params.get("task_config")
    if not isinstance(task_config, dict):
        raise ParamsError("task_params.task_config is required and must be a mapping with at least task_type")
    if "task_type" not in task_config:
        raise ParamsError("task_params.task_config.task_type is required")
    task_type = get_task_type(task_config["task_type"])

    sf_init = task_params.get("sf_init_config") or {}
    if not isinstance(sf_init, dict):
        raise ParamsError(f"task_params.sf_init_config must be a mapping, got {type(sf_init).__name__}")
    refuse_security_keys("sf_init_config", sf_init,
                         {"cross_silo_comm_backend": TASK_REFUSED_COMM_OPTIONS["cross_silo_comm_backend"]})
    if "parties" in sf_init:
        raise ParamsError(
            "task_params.sf_init_config.parties is not supported: it selects SecretFlow simulation mode; "
            "this worker runs production mode only (parties come from task_config)"
        )
    refuse_unlisted("sf_init_config", sf_init, SF_INIT_KEYS)

    spu_config = task_params.get("spu_config") or {}
    if not isinstance(spu_config, dict):
        raise ParamsError(f"task_params.spu_config must be a mapping, got {type(spu_config).__name__}")
    refuse_security_keys("spu_config", spu_config)
    refuse_unlisted("spu_config", spu_config, SPU_CONFIG_KEYS)

    ctx = ValidationContext(cfg)
    norm_cfg, parties = task_type.validate(dict(task_config), ctx)
    parties = sorted(parties)
    needs_spu = task_type.job_needs_spu(norm_cfg)

    # ---- slot
    slot_src = "sha256(task_request_id) % job_slots"
    if task_config.get("job_slot") is not None and sf_init.get("job_slot") is not None \
            and task_config["job_slot"] != sf_init["job_slot"]:
        raise ParamsError("task_config.job_slot and sf_init_config.job_slot disagree")
    if task_config.get("job_slot") is not None:
        slot = _slot_value(task_config["job_slot"], "task_config.job_slot", cfg.job_slots)
        slot_src = "task_config.job_slot"
    elif sf_init.get("job_slot") is not None:
        slot = _slot_value(sf_init["job_slot"], "sf_init_config.job_slot", cfg.job_slots)
        slot_src = "sf_init_config.job_slot"
    else:
        slot = slot_for(task_request_id, cfg.job_slots)

    # ---- job name
    job_name = sf_init.get("job_name") or job_name_for(task_request_id)
    if not isinstance(job_name, str) or not JOB_NAME_RE.match(job_name):
        raise ParamsError(f"sf_init_config.job_name must match {JOB_NAME_RE.pattern}, got {job_name!r}")

    # ---- Ray address: the deployment's (config ray_address), never RAY_ADDRESS, never a task's. A task that sends
    # it anyway (orchestrators that were told it) must send exactly that address.
    address = cfg.ray_address
    if sf_init.get("address") is not None and sf_init["address"] != address:
        raise ParamsError(f"task_params.sf_init_config.address {sf_init['address']!r} is not allowed: the job's driver "
                          f"connects to this party's own Ray head, {address} (the worker config's ray_address); "
                          f"leave the key out")

    logging_level = sf_init.get("logging_level", "warning")
    if logging_level not in ("debug", "info", "warning", "error", "critical"):
        raise ParamsError(f"sf_init_config.logging_level must be debug|info|warning|error|critical, got {logging_level!r}")

    peer_timeout_s = sf_init.get("peer_timeout_s", cfg.peer_timeout_s)
    if isinstance(peer_timeout_s, bool) or not isinstance(peer_timeout_s, (int, float)) \
            or not 1 <= peer_timeout_s <= cfg.job_timeout_s:
        raise ParamsError(f"sf_init_config.peer_timeout_s must be a number in 1..{cfg.job_timeout_s:g}, got {peer_timeout_s!r}")
    peer_timeout_s = float(peer_timeout_s)

    comm = dict(cfg.cross_silo_comm_options)
    extra_comm = sf_init.get("cross_silo_comm_options")
    comm.update(_task_comm_options({} if extra_comm is None else extra_comm, cfg.job_timeout_s))
    if "sending_failure_handler" in comm:
        raise ParamsError("cross_silo_comm_options.sending_failure_handler cannot be given (the worker installs its own)")
    for key in ("recv_resource_label", "send_resource_label"):
        # the job adds the gateway resource (config gateway_resource) to these; must stay mappings
        if comm.get(key) is not None and not isinstance(comm[key], dict):
            raise ParamsError(f"cross_silo_comm_options.{key} must be a mapping resource -> amount, got {comm[key]!r}")

    # ---- SPU
    runtime_config = dict(cfg.spu_runtime_config)
    rc_over = spu_config.get("runtime_config")
    runtime_config.update(_task_runtime_config({} if rc_over is None else rc_over, cfg.spu_protocols))
    need = _topology.SPU_PROTOCOL_PARTIES.get(runtime_config["protocol"])
    if needs_spu and need is not None and len(parties) != need:
        raise ParamsError(f"SPU protocol {runtime_config['protocol']} runs with exactly {need} parties, this job has "
                          f"{len(parties)} ({', '.join(parties)}): choose another one in "
                          f"task_params.spu_config.runtime_config.protocol (allowed: {', '.join(cfg.spu_protocols)})")
    link_desc = {
        # bound SPU's link setup by peer_timeout_s (see spu_connect_retry_times)
        "connect_retry_times": spu_connect_retry_times(peer_timeout_s),
        "connect_retry_interval_ms": 1000,
    }
    link_desc.update(cfg.spu_link_desc)
    unknown = sorted(set(link_desc) - SPU_LINK_DESC_KEYS)
    if unknown:
        raise ParamsError(f"config spu_link_desc: unknown key(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(SPU_LINK_DESC_KEYS))})")
    ld_over = spu_config.get("link_desc")
    link_desc.update(_task_link_desc({} if ld_over is None else ld_over))

    # The deployment plan's own functions (sfworker/_topology.py is the collection's module_utils/_topology.py),
    # given the job's parties as the plan shipped them: identical to the plan's cluster_config for this slot.
    job_parties = {p: cfg.parties[p].as_plan_entry() for p in parties}
    cluster_config = _topology.cluster_config(job_parties, cfg.party, slot)
    spu_cluster_def = _topology.spu_cluster_def(job_parties, runtime_config, slot)

    return {
        "task_request_id": task_request_id,
        "task_type": task_type.name,
        "task_config": norm_cfg,
        "needs_spu": needs_spu,
        "self_party": cfg.party,
        "node_id": cfg.node_id,
        "parties": parties,
        "job_name": job_name,
        "job_slot": slot,
        "job_slot_source": slot_src,
        "ray_address": address,
        "ray_node_ip": ray_driver_node_ip(cfg),
        "cluster_config": cluster_config,
        "spu_cluster_def": spu_cluster_def,
        "spu_link_desc": link_desc,
        "cross_silo_comm_options": comm,
        "gateway_resource": cfg.gateway_resource,
        "logging_level": logging_level,
        "peer_timeout_s": peer_timeout_s,
        "job_timeout_s": cfg.job_timeout_s,
        # the job's parties as the plan shipped them: the job adds its own node's tls_opts to the SPU cluster_def
        # with the same _topology.spu_cluster_def (sfworker.job.spu_cluster_def_of)
        "job_parties": job_parties,
        # mutual TLS between parties: the config's {dir, verify_depth} (None = plaintext); the job's CA bundle
        # goes to tls_bundle_dir on the driver's node and on the Ray head
        "tls": cfg.tls.as_dict() if cfg.tls else None,
        "tls_bundle_dir": os.path.join(cfg.work_dir, "tls-ca"),
        # this party's output files: written under ``staging``, published to ``path`` when the job succeeded
        "outputs": [{"path": path, "staging": paths.staging_path(path, job_name), "overwrite": ow}
                    for path, ow in sorted(ctx.outputs.items())],
        # RLIMIT_DATA of the job process in MiB (0: none); the config's job_memory_limit_mb
        "memory_limit_mb": cfg.job_memory_limit_mb,
    }


def ports_of(spec: Dict[str, Any]) -> Dict[str, Optional[int]]:
    me = spec["self_party"]
    fed = spec["cluster_config"]["parties"][me]["address"].rsplit(":", 1)[1]
    spu = next(n["address"] for n in spec["spu_cluster_def"]["nodes"] if n["party"] == me).rsplit(":", 1)[1]
    return {"fed_port": int(fed), "spu_port": int(spu)}


def peer_addresses(spec: Dict[str, Any]) -> Dict[str, str]:
    return {p: v["address"] for p, v in spec["cluster_config"]["parties"].items() if p != spec["self_party"]}


def parties_of(spec: Dict[str, Any]) -> List[str]:
    return list(spec["parties"])
