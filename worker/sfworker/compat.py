"""How an orchestrator calls ``tasks.secretflow.execute_task``: the argument forms, turned into one JobRequest.

Issue #13 makes this worker a drop-in for the original SecretFlow Worker's orchestrator contract. This module is the
single place that reads the raw Celery arguments:

* this project's own form: ``execute_task(task_request_id, task_params)`` with ``task_params`` as in docs/worker.md;
* the original's form: ``execute_task(task_params)`` (one dict, with ``task_id``, ``subtask_id``, ``execution_id``,
  ``sf_init_config.parties``/``self_party``, ``spu_config.cluster_def``, optional ``heu_config``) and its older
  two-argument form ``execute_task(task_request_id, task_params)`` (the same layout without the three ids).

The form follows from the layout of ``task_params`` (:func:`is_original_layout`), never from the number of
arguments. ``parse_call`` returns a :class:`JobRequest` whose ``task_params`` is always this project's own form, ready
for :func:`sfworker.params.build_job_spec`; everything that depends on the form (ids for status events and results,
what was ignored) travels in the JobRequest. Must not import secretflow.

The original's cluster mode sends every party its own message, with its own ids. Every address and port in it is
checked against the deployment's plan (the worker config's ``parties``): known parties only, ``self_party`` is this
worker's party, each peer's host is its planned ``external_ip`` (loopback is accepted for the self party), every
port lies inside that party's RayFed/SPU range, and all of them name the SAME job slot (port - first port of the
range). What the parties' messages share - that slot, the job's parties and its task type - makes the RayFed job
name, so the parties meet although their ids differ. The job itself then runs with the plan's addresses
(sfworker._topology), exactly like an own-form job in that slot.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ._topology import hostport, is_dns_name, is_ip
from .config import WorkerConfig
from .errors import ParamsError

OWN, ORIGINAL = "own", "original"

ID_KEYS = ("task_id", "subtask_id", "execution_id")
# task_params of the original form (its celery_tasks.py reads exactly these)
ORIGINAL_TOP_KEYS = ID_KEYS + ("sf_init_config", "spu_config", "heu_config", "task_config")

# How to send the production form: the tail of every refusal of the original's simulation ("local") mode.
PRODUCTION_FORM_HOWTO = (
    "send one message per party, to that party's own worker, with sf_init_config.parties as a mapping "
    "{party: {address: 'host:port', listen_addr: '0.0.0.0:port'}} holding each party's RayFed port of one job slot "
    "(the deployment plan's fed_port + slot), sf_init_config.self_party = the party the message is for, and "
    "spu_config.cluster_def.nodes [{party, address}] with each party's SPU port of the same slot (spu_port + slot); "
    "see docs/worker.md, \"Original worker's task_params\"")

# sf_init_config: the original hands it to sf.init(**sf_init_config) unchanged, so it takes sf.init's keywords
# (and ray.init's, through **kwargs). What this worker does with each of them:
_SF_TOPOLOGY_KEYS = ("parties", "self_party", "cluster_config")
_SF_MAPPED_KEYS = ("logging_level", "cross_silo_comm_options", "job_name", "peer_timeout_s", "job_slot")
_SF_IGNORED = {
    "address": None,  # the note names the deployment's Ray head (cfg.ray_address)
    "num_cpus": "the job's driver joins this party's running Ray cluster, sized by the deployment",
    "num_gpus": "the job's driver joins this party's running Ray cluster, sized by the deployment",
    "omp_num_threads": "the job's driver joins this party's running Ray cluster, sized by the deployment",
    "log_to_driver": "the job's Ray workers' output goes to the job log",
}
# key -> (the value that is harmless and ignored, why any other value is refused)
_SF_SWITCHES = {
    "ray_mode": (True, "this worker always runs SecretFlow on the party's Ray cluster (RAY_PRODUCTION)"),
    "enable_waiting_for_other_parties_ready": (True, "the job always waits for its peers, up to peer_timeout_s"),
    "debug_mode": (False, "debug mode is single-process simulation; this worker runs production mode only"),
    "tee_simulation": (False, "TEE devices (TEEU) are not supported by this worker"),
}
_SF_REFUSED = {
    "auth_manager_config": "TEE devices (TEEU) are not supported by this worker",
    "party_key_pair": "TEE devices (TEEU) are not supported by this worker",
    "runtime_env": "a task cannot change the Ray runtime environment; the job process brings what it needs",
}
_PARTY_ENTRY_KEYS = ("address", "listen_addr")
_SPU_CONFIG_KEYS = ("cluster_def", "link_desc")
_CLUSTER_DEF_KEYS = ("nodes", "runtime_config")
_SPU_NODE_KEYS = ("party", "address", "listen_address", "listen_addr")

_HOSTPORT_RE = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]\s]+)):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class JobRequest:
    """One execute_task call, validated as far as the call's shape goes.

    form:            OWN or ORIGINAL
    task_request_id: this party's id of the job: logs, the slot lock's owner, this project's status list key.
                     Own form: as sent. Original form: the party's execution_id.
    task_params:     this project's own task_params (for params.build_job_spec).
    ids:             {"task_id", "subtask_id", "execution_id"} for the original's status events and result;
                     own form: task_id = subtask_id = None, execution_id = task_request_id. The original's older
                     two-argument form: execution_id = task_request_id, the others as sent (None when absent).
    notes:           what was accepted but ignored or mapped (logged once per job), e.g. the message's Ray address.
    """

    form: str
    task_request_id: str
    task_params: Dict[str, Any]
    ids: Dict[str, Optional[str]]
    notes: List[str] = field(default_factory=list)


def _split_args(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Any, Any]:
    """(task_request_id or None, task_params) from the Celery call, or ParamsError."""
    unknown = sorted(set(kwargs) - {"task_request_id", "task_params"})
    if unknown:
        raise ParamsError(f"execute_task got unexpected keyword argument(s) {', '.join(unknown)} "
                          f"(it takes task_params, or task_request_id and task_params)")
    given = list(args)
    if "task_request_id" in kwargs:
        given.insert(0, kwargs["task_request_id"])
    if "task_params" in kwargs:
        given.append(kwargs["task_params"])
    if len(given) == 1:
        return None, given[0]
    if len(given) == 2:
        return given[0], given[1]
    raise ParamsError(f"execute_task takes task_params, or task_request_id and task_params; got {len(given)} "
                      f"argument(s)")


def is_original_layout(task_params: Any) -> bool:
    """True when ``task_params`` is laid out as the original worker's: one of its three ids or heu_config at the
    top, sf_init_config with parties/self_party/cluster_config (sf.init's topology), or spu_config.cluster_def."""
    if not isinstance(task_params, dict):
        return False
    if any(k in task_params for k in ID_KEYS + ("heu_config",)):
        return True
    sf_init = task_params.get("sf_init_config")
    if isinstance(sf_init, dict) and any(k in sf_init for k in _SF_TOPOLOGY_KEYS):
        return True
    spu = task_params.get("spu_config")
    return isinstance(spu, dict) and "cluster_def" in spu


def parse_call(cfg: WorkerConfig, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> JobRequest:
    """The JobRequest of one execute_task call (ParamsError on a malformed call or a message that does not fit the
    deployment's plan)."""
    task_request_id, task_params = _split_args(tuple(args), dict(kwargs or {}))
    if is_original_layout(task_params):
        return _parse_original(cfg, task_request_id, task_params)
    if task_request_id is None:
        raise ParamsError(
            "execute_task(task_params) with one argument is the original worker's form: its task_params carry "
            "task_id, subtask_id, execution_id and sf_init_config.parties/self_party (docs/worker.md, \"Original "
            "worker's task_params\"); this project's own form is execute_task(task_request_id, task_params)")
    from .params import check_task_request_id

    tid = check_task_request_id(task_request_id)
    return JobRequest(form=OWN, task_request_id=tid, task_params=task_params,
                      ids={"task_id": None, "subtask_id": None, "execution_id": tid})


def salvage_ids(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """Best-effort ids of a call that parse_call refused, for its FAILURE event: never raises."""
    ids: Dict[str, Optional[str]] = {"task_id": None, "subtask_id": None, "execution_id": None}
    try:
        rid, params = _split_args(tuple(args), dict(kwargs or {}))
    except Exception:  # noqa: BLE001 - salvage only
        return ids
    if isinstance(params, dict):
        for k in ids:
            v = params.get(k)
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                ids[k] = str(v)[:200]
    if ids["execution_id"] is None and isinstance(rid, (str, int)) and not isinstance(rid, bool):
        ids["execution_id"] = str(rid)[:200]
    return ids


# --------------------------------------------------------------------------- the original form

def meeting_job_name(task_type: str, parties: List[str], slot: int) -> str:
    """The RayFed job name of an original-form job: from what every party's message shares (the job slot its ports
    give, the job's parties, the task type), never from the per-party ids. Matches params.JOB_NAME_RE."""
    digest = hashlib.sha256(json.dumps([str(task_type), sorted(parties), int(slot)]).encode("utf-8")).hexdigest()
    return f"sforig-s{int(slot)}-{digest[:20]}"


def _check_id(value: Any, where: str) -> str:
    from .params import TASK_REQUEST_ID_RE

    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not TASK_REQUEST_ID_RE.match(value):
        raise ParamsError(f"{where} must be a string (or an integer) of 1-200 characters [A-Za-z0-9._:@-] starting "
                          f"with a letter or digit, got {value!r}")
    return value


def _ids(task_request_id: Any, params: Dict[str, Any]) -> Dict[str, Optional[str]]:
    from .params import check_task_request_id

    ids: Dict[str, Optional[str]] = {}
    if task_request_id is None:  # execute_task(task_params): the three ids are required
        for key in ID_KEYS:
            if params.get(key) is None:
                raise ParamsError(f"task_params.{key} is required: the original worker's execute_task(task_params) "
                                  f"carries task_id, subtask_id and execution_id")
            ids[key] = _check_id(params[key], f"task_params.{key}")
        return ids
    # the older execute_task(task_request_id, task_params): the first argument is the execution's id
    rid = check_task_request_id(task_request_id)
    for key in ID_KEYS:
        ids[key] = None if params.get(key) is None else _check_id(params[key], f"task_params.{key}")
    if ids["execution_id"] is not None and ids["execution_id"] != rid:
        raise ParamsError(f"task_params.execution_id {ids['execution_id']!r} differs from the task_request_id "
                          f"argument {rid!r}: in execute_task(task_request_id, task_params) the first argument is "
                          f"the execution id (send one of them, or the same value)")
    ids["execution_id"] = rid
    return ids


def _split_hostport(value: Any, where: str) -> Tuple[str, int]:
    m = _HOSTPORT_RE.match(value) if isinstance(value, str) else None
    if m:
        host, port = m.group("v6") or m.group("host"), int(m.group("port"))
        v6 = m.group("v6") is not None
        if 1 <= port <= 65535 and (is_ip(host) and (":" in host) == v6 or not v6 and is_dns_name(host)):
            return host, port
    raise ParamsError(f"{where} must be HOST:PORT (an IPv6 address in brackets), got {value!r}")


def _same_host(a: str, b: str) -> bool:
    if is_ip(a) and is_ip(b):
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    return a.rstrip(".").lower() == b.rstrip(".").lower()


def _is_loopback(host: str) -> bool:
    if is_ip(host):
        return ipaddress.ip_address(host).is_loopback
    return host.rstrip(".").lower() == "localhost"


def _is_wildcard(host: str) -> bool:
    return is_ip(host) and ipaddress.ip_address(host).is_unspecified


class _Slots:
    """Every address of the message, checked against the plan; all must name the same job slot."""

    def __init__(self, cfg: WorkerConfig):
        self.cfg = cfg
        self.slot: Optional[int] = None
        self.first_where = ""

    def check(self, value: Any, where: str, party: str, kind: str, listen: bool) -> None:
        """kind: "fed" or "spu"; listen: a listen address (wildcard or the party's own) or a dial address."""
        cfg = self.cfg
        me = party == cfg.party
        plan = cfg.parties[party]
        host, port = _split_hostport(value, where)
        external = plan.external_ip
        if listen:
            if not (_is_wildcard(host) or _same_host(host, external) or me and _is_loopback(host)):
                also = ", a loopback address" if me else ""
                raise ParamsError(f"{where}: host {host!r} (in {value!r}) is not an address {party} listens on: "
                                  f"expected 0.0.0.0, ::{also} or {external!r} (its external_ip in the deployment "
                                  f"plan)")
        elif me:
            if not (_is_loopback(host) or _same_host(host, external)):
                raise ParamsError(f"{where}: host {host!r} (in {value!r}) is not an address of this party ({party}): "
                                  f"expected a loopback address (127.0.0.1, ::1, localhost) or {external!r} (its "
                                  f"external_ip in the deployment plan)")
        elif not _same_host(host, external):
            raise ParamsError(f"{where}: host {host!r} (in {value!r}) is not {party}'s address in the deployment "
                              f"plan: expected {external!r} (its external_ip)")
        first = plan.fed_port if kind == "fed" else plan.spu_port
        label, var = ("RayFed", "fed_port") if kind == "fed" else ("SPU", "spu_port")
        last = first + cfg.job_slots - 1
        if not first <= port <= last:
            raise ParamsError(f"{where}: port {port} (in {value!r}) is outside {party}'s {label} port range "
                              f"{first}-{last} in the deployment plan ({var} {first}, job_slots {cfg.job_slots})")
        slot = port - first
        if self.slot is None:
            self.slot, self.first_where = slot, where
        elif slot != self.slot:
            raise ParamsError(f"{where}: port {port} (in {value!r}) is job slot {slot} of {party}'s {label} port "
                              f"range {first}-{last}, but {self.first_where} gives job slot {self.slot}: expected "
                              f"port {first + self.slot} (every address of one job uses the same job slot)")


def _refuse_unlisted(where: str, given: Dict[str, Any], allowed) -> None:
    """The original's form: keys it does not have are not accepted (``where`` is the full dotted path)."""
    from .params import refuse_keys_outside

    refuse_keys_outside(where, given, allowed, "not accepted", "accepted in")


def _mapping(value: Any, where: str, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ParamsError(f"{where} must be {what}, got {type(value).__name__} {value!r}")
    return value


def _topology(sf_init: Dict[str, Any]) -> Tuple[str, Dict[str, Any], Any]:
    """(where the parties mapping is, parties, self_party) from sf_init_config: the original's documented
    parties + self_party, or sf.init's own cluster_config {parties, self_party}; simulation mode refused."""
    base = "task_params.sf_init_config"
    if isinstance(sf_init.get("parties"), (list, tuple, str)):
        raise ParamsError(f"{base}.parties is a list ({sf_init['parties']!r}): that is SecretFlow's simulation "
                          f"mode, one worker playing every party, which this worker does not run; "
                          f"{PRODUCTION_FORM_HOWTO}")
    if sf_init.get("address") == "local":
        raise ParamsError(f"{base}.address 'local' is SecretFlow's simulation mode, one worker playing every party, "
                          f"which this worker does not run; {PRODUCTION_FORM_HOWTO}")
    if sf_init.get("cluster_config") is not None:
        if sf_init.get("parties") is not None or sf_init.get("self_party") is not None:
            raise ParamsError(f"{base}: give either parties and self_party or cluster_config {{parties, self_party}}, "
                              f"not both")
        where = f"{base}.cluster_config"
        cc = _mapping(sf_init["cluster_config"], where, "a mapping {parties, self_party}")
        _refuse_unlisted(where, cc, ("parties", "self_party"))
    else:
        where, cc = base, sf_init
    if cc.get("parties") is None or cc.get("self_party") is None:
        raise ParamsError(f"{where}.parties and {where}.self_party are required: {PRODUCTION_FORM_HOWTO}")
    parties = _mapping(cc["parties"], f"{where}.parties", "a mapping party -> {address, listen_addr}")
    if not isinstance(cc["self_party"], str):
        raise ParamsError(f"{where}.self_party must be a party name, got {cc['self_party']!r}")
    return where, parties, cc["self_party"]


def _sf_init_options(cfg: WorkerConfig, sf_init: Dict[str, Any], notes: List[str]) -> Dict[str, Any]:
    """The own form's sf_init_config options from the original's sf_init_config (every key mapped, ignored with a
    note or refused with the reason)."""
    from .params import refuse_security_keys
    from .tls import TASK_REFUSED_COMM_OPTIONS

    base = "task_params.sf_init_config"
    refuse_security_keys("sf_init_config", sf_init,
                         {"cross_silo_comm_backend": TASK_REFUSED_COMM_OPTIONS["cross_silo_comm_backend"]})
    own: Dict[str, Any] = {}
    known = set(_SF_TOPOLOGY_KEYS) | set(_SF_MAPPED_KEYS) | set(_SF_IGNORED) | set(_SF_SWITCHES) | set(_SF_REFUSED)
    _refuse_unlisted(base, sf_init, known)
    for key in sorted(sf_init):
        value = sf_init[key]
        if value is None or key in _SF_TOPOLOGY_KEYS:
            continue
        if key in _SF_REFUSED:
            raise ParamsError(f"{base}.{key} cannot be set: {_SF_REFUSED[key]}")
        if key in _SF_SWITCHES:
            harmless, why = _SF_SWITCHES[key]
            if value is not harmless:
                raise ParamsError(f"{base}.{key}={value!r} cannot be set: {why} (leave it out or send {harmless!r})")
        elif key == "address":
            notes.append(f"{base}.address {value!r} ignored: the job's driver connects to this party's own Ray head, "
                         f"{cfg.ray_address} (the worker config's ray_address)")
        elif key in _SF_IGNORED:
            notes.append(f"{base}.{key}={value!r} ignored: {_SF_IGNORED[key]}")
        elif key == "logging_level":
            own[key] = value.lower() if isinstance(value, str) else value  # sf.init takes any case
        else:
            own[key] = value
    return own


def _heu_config(params: Dict[str, Any]) -> None:
    heu = params.get("heu_config")
    if heu is None or heu == {}:
        return
    raise ParamsError(f"task_params.heu_config must be absent, null or {{}}, got {heu!r}: no task type of this worker "
                      f"uses an HEU device (the original worker created one from it, but none of its tasks used it)")


def _spu_nodes(cfg: WorkerConfig, spu_config: Any, parties: List[str], needs_spu: bool, task_type: str,
               slots: _Slots) -> Dict[str, Any]:
    """Check spu_config.cluster_def against the plan (same parties, SPU ports of the same slot); -> the own form's
    spu_config (runtime_config, link_desc)."""
    from .params import _task_runtime_config, refuse_security_keys

    base = "task_params.spu_config"
    if spu_config is None:
        spu_config = {}
    _mapping(spu_config, base, "a mapping {cluster_def}")
    refuse_security_keys("spu_config", spu_config)
    _refuse_unlisted(base, spu_config, _SPU_CONFIG_KEYS)
    own: Dict[str, Any] = {}
    if spu_config.get("link_desc") is not None:
        own["link_desc"] = spu_config["link_desc"]
    cd = spu_config.get("cluster_def")
    if cd is None:
        if needs_spu:
            raise ParamsError(f"{base}.cluster_def is required: task_type {task_type} uses an SPU device "
                              f"(nodes [{{party, address}}] with each party's SPU port of the job slot)")
        return own
    where = f"{base}.cluster_def"
    _mapping(cd, where, "a mapping {nodes, runtime_config}")
    refuse_security_keys("spu_config.cluster_def", cd)
    _refuse_unlisted(where, cd, _CLUSTER_DEF_KEYS)
    nodes = cd.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise ParamsError(f"{where}.nodes must be a non-empty list of {{party, address}}, got {nodes!r}")
    seen: List[str] = []
    checks = []
    for i, node in enumerate(nodes):
        nw = f"{where}.nodes[{i}]"
        _mapping(node, nw, "a mapping {party, address}")
        refuse_security_keys(f"spu_config.cluster_def.nodes[{i}]", node)
        _refuse_unlisted(nw, node, _SPU_NODE_KEYS)
        party = node.get("party")
        if not isinstance(party, str) or party not in cfg.parties:
            raise ParamsError(f"{nw}.party: unknown party {party!r} (parties in this deployment: "
                              f"{', '.join(sorted(cfg.parties))})")
        if party in seen:
            raise ParamsError(f"{nw}.party: {party!r} appears twice in {where}.nodes")
        seen.append(party)
        if node.get("address") is None:
            raise ParamsError(f"{nw}.address is required (HOST:PORT of {party}'s SPU port of the job slot)")
        checks.append((node["address"], f"{nw}.address", party, False))
        for key in ("listen_address", "listen_addr"):
            if node.get(key) is not None:
                checks.append((node[key], f"{nw}.{key}", party, True))
    if sorted(seen) != parties:
        raise ParamsError(f"{where}.nodes: parties {', '.join(sorted(seen))} differ from the job's parties "
                          f"{', '.join(parties)} (task_params.sf_init_config.parties)")
    for value, w, party, listen in checks:
        slots.check(value, w, party, "spu", listen)
    if cd.get("runtime_config") is not None:
        own["runtime_config"] = _task_runtime_config(cd["runtime_config"], cfg.spu_protocols,
                                                     "spu_config.cluster_def.runtime_config")
    return own


def _psi_task_config(tc: Dict[str, Any], notes: List[str]) -> Dict[str, Any]:
    """The original PSI's behaviour in the psi task's terms: its defaults (sort, precheck_input, broadcast_result
    false), its result's intersection_count (the receiver's), and without a receiver every party gets the
    intersection, the nominal receiver being the first party of keys."""
    tc = dict(tc)
    if tc.get("receiver") is None and tc.get("receiver_party") is None:
        source = tc.get("keys") if isinstance(tc.get("keys"), dict) else tc.get("input_paths")
        if isinstance(source, dict) and source:
            first = next(iter(source))
            tc["receiver_party"] = first
            tc["broadcast_result"] = True
            notes.append(f"task_params.task_config.receiver not given: every party gets the intersection "
                         f"(broadcast_result true), the nominal receiver is {first!r}, the first party of "
                         f"task_config.keys, as in the original worker")
    for key in ("sort", "precheck_input", "broadcast_result"):
        if tc.get(key) is None:
            tc[key] = False
    if tc.get("intersection_count_of") is None:
        tc["intersection_count_of"] = "receiver"
    return tc


def _parse_original(cfg: WorkerConfig, task_request_id: Any, params: Dict[str, Any]) -> JobRequest:
    from .params import JOB_NAME_RE
    from .tasks.registry import get_task_type

    notes: List[str] = []
    unknown = sorted(set(params) - set(ORIGINAL_TOP_KEYS), key=str)
    if unknown:
        raise ParamsError(f"{', '.join(f'task_params.{k}' for k in unknown)}: unknown key(s) in the original "
                          f"worker's task_params (accepted: {', '.join(ORIGINAL_TOP_KEYS)})")
    ids = _ids(task_request_id, params)
    _heu_config(params)

    tc = params.get("task_config")
    if not isinstance(tc, dict) or tc.get("task_type") is None:
        raise ParamsError("task_params.task_config is required and must be a mapping with at least task_type")
    task_type = get_task_type(tc["task_type"])

    sf_init = _mapping(params.get("sf_init_config"), "task_params.sf_init_config",
                       "a mapping {parties, self_party}")
    where, parties_map, self_party = _topology(sf_init)
    own_sf = _sf_init_options(cfg, sf_init, notes)

    # ---- the job's parties: known, this party among them, the same as the task's
    for p in parties_map:
        if p not in cfg.parties:
            raise ParamsError(f"{where}.parties.{p}: unknown party {p!r} (parties in this deployment: "
                              f"{', '.join(sorted(cfg.parties))})")
    if self_party != cfg.party:
        raise ParamsError(f"{where}.self_party: got {self_party!r}, expected {cfg.party!r} (this worker's party, the "
                          f"worker config's party): each party's message goes to that party's own worker")
    parties = sorted(parties_map)
    if self_party not in parties:
        raise ParamsError(f"{where}.self_party {self_party!r} is not one of {where}.parties ({', '.join(parties)})")
    inputs = tc.get("input_paths")
    if isinstance(inputs, dict) and sorted(inputs, key=str) != parties:
        raise ParamsError(f"task_params.task_config.input_paths: parties {', '.join(sorted(map(str, inputs)))} "
                          f"differ from {where}.parties: {', '.join(parties)} (a job's parties are the same in both)")

    # ---- every address against the plan; all of them name one job slot
    slots = _Slots(cfg)
    for p in parties:
        entry = _mapping(parties_map[p], f"{where}.parties.{p}", "a mapping {address, listen_addr}")
        _refuse_unlisted(f"{where}.parties.{p}", entry, _PARTY_ENTRY_KEYS)
        if entry.get("address") is None:
            raise ParamsError(f"{where}.parties.{p}.address is required (HOST:PORT of {p}'s RayFed port of the job "
                              f"slot)")
        slots.check(entry["address"], f"{where}.parties.{p}.address", p, "fed", False)
        if entry.get("listen_addr") is not None:
            slots.check(entry["listen_addr"], f"{where}.parties.{p}.listen_addr", p, "fed", True)
    own_spu = _spu_nodes(cfg, params.get("spu_config"), parties, task_type.needs_spu, task_type.name, slots)
    slot = slots.slot
    for key, value in (("task_config.job_slot", tc.get("job_slot")), ("sf_init_config.job_slot", own_sf.get("job_slot"))):
        if value is not None and value != slot:
            raise ParamsError(f"task_params.{key} {value!r} disagrees with the message's addresses: their ports are "
                              f"job slot {slot}")

    # ---- the meeting key: the slot, the parties, the task type (the ids differ per party)
    job_name = own_sf.get("job_name")
    if job_name is None:
        job_name = meeting_job_name(task_type.name, parties, slot)
    elif not isinstance(job_name, str) or not JOB_NAME_RE.match(job_name):
        raise ParamsError(f"task_params.sf_init_config.job_name must match {JOB_NAME_RE.pattern} and be the same in "
                          f"every party's message, got {job_name!r}")
    own_sf.update(job_slot=slot, job_name=job_name)
    notes.append(f"job slot {slot} (from the message's ports), RayFed job name {job_name}: the job runs with the "
                 f"deployment plan's addresses of that slot")

    if task_type.name == "psi":
        tc = _psi_task_config(tc, notes)
    own = {"task_config": dict(tc), "sf_init_config": own_sf}
    if own_spu:
        own["spu_config"] = own_spu
    return JobRequest(form=ORIGINAL, task_request_id=ids["execution_id"], task_params=own, ids=ids, notes=notes)


def plan_addresses(cfg: WorkerConfig, parties: List[str], slot: int) -> Dict[str, Dict[str, str]]:
    """party -> {"fed": host:port, "spu": host:port} of one job slot, as the plan gives them (for messages and
    docs: what an orchestrator sends in the original form)."""
    out = {}
    for p in sorted(parties):
        e = cfg.parties[p]
        out[p] = {"fed": hostport(e.external_ip, e.fed_port + slot), "spu": hostport(e.external_ip, e.spu_port + slot)}
    return out
