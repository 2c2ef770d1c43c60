"""The worker's single configuration file (YAML or JSON, rendered by Ansible).

Path: `--config FILE`, else $SFWORKER_CONFIG, else /etc/sfworker/config.yml.
Every key is validated on load; errors name the key (e.g. ``parties.bob.fed_port``).
See docs/worker.md for the schema.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import yaml

from ._topology import (
    SPU_DEFAULT_PROTOCOLS, SPU_INSECURE_PROTOCOLS, check_spu_protocols, hostport, is_dns_name, is_ip,
)
from .errors import ConfigError

DEFAULT_CONFIG_PATH = "/etc/sfworker/config.yml"
CONFIG_ENV_VAR = "SFWORKER_CONFIG"

DEFAULT_SPU_RUNTIME_CONFIG = {"protocol": "SEMI2K", "field": "FM128"}

_TOP_KEYS = {
    "party", "node_id", "node_ip", "ray_address", "ray_node_ip", "redis_url", "redis_password_file",
    "queue", "data_dir", "work_dir", "job_slots", "peer_timeout_s", "job_timeout_s",
    "slot_wait_timeout_s", "slot_lock_ttl_s", "concurrency", "parties", "spu_runtime_config",
    "spu_link_desc", "cross_silo_comm_options", "status_list_max", "log_level", "gateway_resource", "tls",
    "spu_protocols", "job_memory_limit_mb", "status_channel", "status_queue", "status_queue_max", "result_expires_s",
    "job_max_retries", "job_retry_countdown_s",
}
_PARTY_KEYS = {"external_ip", "fed_port", "spu_port"}
_TLS_KEYS = {"dir", "verify_depth"}
# sfworker.tls sets RayFed's unpickling allow-list and the cross-silo backend itself (one place):
# the config file may not either.
_COMM_OPTIONS_REFUSED = {
    "serializing_allowed_list": "the worker sets RayFed's unpickling allow-list itself (sfworker.tls.SERIALIZING_ALLOWED_LIST)",
    "cross_silo_comm_backend": "the worker always uses RayFed's gRPC backend (brpc_link never encrypts)",
    "sending_failure_handler": "the worker installs its own",
}
_LOG_LEVELS = {"debug", "info", "warning", "error", "critical"}

# Custom Ray resource that only the party's Ray HEAD has (`ray start --head --resources=
# '{"sf_gateway": 1000}'`, rendered by the deployment plan). The job pins the actors that must sit
# behind the party's external address (RayFed proxies, SPU runtime) to it. See sfworker/pinning.py.
DEFAULT_GATEWAY_RESOURCE = "sf_gateway"
_GATEWAY_RESOURCE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
# Ray's predefined resources (and the node:<ip> family) are on every node: pinning to them is meaningless.
_RAY_BUILTIN_RESOURCES = {"CPU", "GPU", "memory", "object_store_memory", "accelerator_type"}


@dataclass(frozen=True)
class PartyEndpoint:
    """One party as the deployment plan ships it: what other parties dial (``external_ip``) and the first port
    of its fed and SPU ranges (``job_slots`` ports each). Addresses are formatted only by ``sfworker._topology``
    (the plan's own code), from :meth:`as_plan_entry`."""

    name: str
    external_ip: str
    fed_port: int
    spu_port: int

    def as_plan_entry(self) -> Dict[str, Any]:
        """The party's entry exactly as in the worker config (and the plan): external_ip, fed_port, spu_port."""
        return {"external_ip": self.external_ip, "fed_port": self.fed_port, "spu_port": self.spu_port}


@dataclass(frozen=True)
class TlsSettings:
    """Mutual TLS between parties (RayFed and SPU links). The node role installs, under ``dir``:
    ``current`` -> a version directory with ``cert.pem`` + ``key.pem`` (this party's certificate and key), and
    ``peers/<party>.pem`` (the CA certificate of every other party). ``verify_depth``: the SPU link's maximum
    certificate chain depth (>= 1; RayFed/gRPC has no such knob)."""

    dir: str
    verify_depth: int = 2

    @property
    def current(self) -> str:
        return os.path.join(self.dir, "current")

    def peer_ca(self, party: str) -> str:
        return os.path.join(self.dir, "peers", f"{party}.pem")

    def as_dict(self) -> Dict[str, Any]:
        return {"dir": self.dir, "verify_depth": self.verify_depth}


@dataclass(frozen=True)
class WorkerConfig:
    party: str
    node_id: str
    node_ip: str
    ray_address: str
    redis_url: str
    data_dir: str
    parties: Dict[str, PartyEndpoint]
    ray_node_ip: Optional[str] = None
    queue: str = "secretflow_queue"
    work_dir: str = "/tmp/sfworker"
    job_slots: int = 10
    peer_timeout_s: float = 120.0
    job_timeout_s: float = 3600.0
    slot_wait_timeout_s: float = 600.0
    slot_lock_ttl_s: float = 60.0
    concurrency: int = 2
    spu_runtime_config: Dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SPU_RUNTIME_CONFIG))
    # the SPU protocols a task may choose (the deployment's sf_spu_protocols)
    spu_protocols: List[str] = field(default_factory=lambda: list(SPU_DEFAULT_PROTOCOLS))
    # RLIMIT_DATA of each job process in MiB (0: none); absent from the file: derived (job_memory_default_mb)
    job_memory_limit_mb: int = 0
    spu_link_desc: Dict[str, Any] = field(default_factory=dict)
    cross_silo_comm_options: Dict[str, Any] = field(default_factory=dict)
    status_list_max: int = 100
    # the original SecretFlow Worker's status events (#13): pub/sub channel, list (LPUSH) and the list's cap
    status_channel: str = "task_status_events"
    status_queue: str = "task_status_queue"
    status_queue_max: int = 10000
    # how long Celery keeps a task's result (and the worker its run-once record), seconds
    result_expires_s: int = 86400
    # retries of a job that failed creating its cluster or devices (sf.init, PYU/SPU), and the delay before one
    job_max_retries: int = 1
    job_retry_countdown_s: float = 60.0
    log_level: str = "info"
    # None = do not pin (see DEFAULT_GATEWAY_RESOURCE)
    gateway_resource: Optional[str] = DEFAULT_GATEWAY_RESOURCE
    # None = plaintext between parties (the deployment's sf_tls_enabled: false)
    tls: Optional[TlsSettings] = None
    source_path: Optional[str] = None

    @property
    def me(self) -> PartyEndpoint:
        return self.parties[self.party]

    @property
    def worker_name(self) -> str:
        """Celery node name; `sfworker healthcheck` pings exactly this name."""
        return f"sfworker@{self.node_id}"

    def redacted_redis_url(self) -> str:
        return redact_url(self.redis_url)

    def to_dict(self) -> Dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("parties", "tls")}
        d["parties"] = {n: p.as_plan_entry() for n, p in self.parties.items()}
        d["tls"] = self.tls.as_dict() if self.tls else None
        return d


def redact_url(url: str) -> str:
    try:
        u = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if u.password is None:
        return url
    netloc = _url_host(u.hostname or "", u.port)
    user = u.username or ""
    netloc = f"{user}:***@{netloc}"
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


def url_with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (and its user, if any) in it, both percent-quoted."""
    u = urllib.parse.urlsplit(url)
    netloc = (f"{urllib.parse.quote(u.username or '', safe='')}:{urllib.parse.quote(password, safe='')}@"
              f"{_url_host(u.hostname or '127.0.0.1', u.port)}")
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


def _url_host(host: str, port: Optional[int]) -> str:
    """The host[:port] of a URL; urlsplit's hostname drops an IPv6 address's brackets, this puts them back."""
    if port:
        return hostport(host, port)
    return f"[{host}]" if ":" in host else host


def resolve_config_path(cli_path: Optional[str] = None) -> str:
    return cli_path or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH


def load_config(path: Optional[str] = None) -> WorkerConfig:
    path = resolve_config_path(path)
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        if path.endswith(".json"):
            raw = json.loads(text)
        else:
            raw = yaml.safe_load(text)  # YAML is a superset of JSON
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {e}") from None
    return parse_config(raw, source=path)


# --------------------------------------------------------------------------- validation helpers

def _err(key: str, msg: str, source: Optional[str]) -> ConfigError:
    where = f" in {source}" if source else ""
    return ConfigError(f"config key '{key}'{where}: {msg}")


def _req_str(raw: Mapping, key: str, source, prefix: str = "") -> str:
    full = prefix + key
    if key not in raw or raw[key] is None:
        raise _err(full, "is required", source)
    v = raw[key]
    if not isinstance(v, str) or not v.strip():
        raise _err(full, f"must be a non-empty string, got {v!r}", source)
    return v.strip()


def _opt_str(raw: Mapping, key: str, default, source) -> Optional[str]:
    if raw.get(key) is None:
        return default
    v = raw[key]
    if not isinstance(v, str) or not v.strip():
        raise _err(key, f"must be a non-empty string, got {v!r}", source)
    return v.strip()


def _int(raw: Mapping, key: str, default, source, lo=None, hi=None, prefix: str = "") -> int:
    full = prefix + key
    if raw.get(key) is None:
        if default is None:
            raise _err(full, "is required", source)
        return default
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise _err(full, f"must be an integer, got {v!r}", source)
    if lo is not None and v < lo:
        raise _err(full, f"must be >= {lo}, got {v}", source)
    if hi is not None and v > hi:
        raise _err(full, f"must be <= {hi}, got {v}", source)
    return v


def _pos_float(raw: Mapping, key: str, default, source) -> float:
    if raw.get(key) is None:
        return float(default)
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise _err(key, f"must be a positive number of seconds, got {v!r}", source)
    return float(v)


def _dict(raw: Mapping, key: str, source) -> Dict[str, Any]:
    if raw.get(key) is None:
        return {}
    v = raw[key]
    if not isinstance(v, dict):
        raise _err(key, f"must be a mapping, got {type(v).__name__}", source)
    return dict(v)


def _ip(v: str, key: str, source) -> str:
    # the plan's own rule (sfworker._topology): an IP address (v4 or v6) or an RFC 1123 host name
    if not (is_ip(v) or is_dns_name(v)):
        raise _err(key, f"must be an IP address or host name, got {v!r}", source)
    return v


def _hostport(v: str, key: str, source) -> str:
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not (1 <= int(port) <= 65535):
        raise _err(key, f"must be HOST:PORT, got {v!r}", source)
    return v


_REDIS_NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def _redis_name(raw: Mapping, key: str, default: str, source) -> str:
    """A Redis channel or key name: letters, digits, _ . : - (no spaces or glob characters)."""
    v = _opt_str(raw, key, default, source)
    if not _REDIS_NAME_RE.match(v):
        raise _err(key, f"must be 1-200 characters of [A-Za-z0-9_.:-] (a Redis key/channel name), got {v!r}", source)
    return v


def _gateway_resource(raw: Mapping, source) -> Optional[str]:
    """Absent -> "sf_gateway"; null or "" -> None (no pinning); else a Ray custom resource name."""
    if "gateway_resource" not in raw:
        return DEFAULT_GATEWAY_RESOURCE
    v = raw["gateway_resource"]
    if v is None:
        return None
    if not isinstance(v, str):
        raise _err("gateway_resource", f"must be a string (a Ray custom resource name) or null, got {v!r}", source)
    v = v.strip()
    if not v:
        return None
    if not _GATEWAY_RESOURCE_RE.match(v):
        raise _err("gateway_resource",
                   f"must be a Ray custom resource name ([A-Za-z_][A-Za-z0-9_.-]*, at most 64 characters), got {v!r}",
                   source)
    if v in _RAY_BUILTIN_RESOURCES:
        raise _err("gateway_resource", f"must be a custom resource only the Ray head has, not Ray's built-in {v!r}",
                   source)
    return v


def _tls(raw: Mapping, source) -> Optional[TlsSettings]:
    """Required: null (plaintext, must be said explicitly) or {dir, verify_depth}."""
    if "tls" not in raw:
        raise _err("tls", "is required: {dir: <directory of the TLS files>, verify_depth: N} for mutual TLS between "
                          "parties, or null for plaintext (the deployment plan renders it from sf_tls_enabled)", source)
    v = raw["tls"]
    if v is None:
        return None
    if not isinstance(v, dict):
        raise _err("tls", f"must be a mapping {{dir, verify_depth}} or null, got {v!r}", source)
    unknown = sorted(set(v) - _TLS_KEYS)
    if unknown:
        raise _err("tls." + unknown[0], f"unknown key (known: {', '.join(sorted(_TLS_KEYS))}); TLS paths and "
                                        f"options are derived from tls.dir only", source)
    d = _req_str(v, "dir", source, "tls.")
    if not os.path.isabs(d):
        raise _err("tls.dir", f"must be an absolute path, got {d!r}", source)
    depth = _int(v, "verify_depth", 2, source, lo=1, hi=10, prefix="tls.")
    return TlsSettings(dir=os.path.normpath(d), verify_depth=depth)


def _comm_options(raw: Mapping, source) -> Dict[str, Any]:
    comm = _dict(raw, "cross_silo_comm_options", source)
    for key, why in _COMM_OPTIONS_REFUSED.items():
        if key in comm:
            raise _err(f"cross_silo_comm_options.{key}", f"cannot be set: {why}", source)
    return comm


# Per-job memory limit (RLIMIT_DATA of the job's process, see sfworker/job.py): without job_memory_limit_mb in the
# file, (the container's memory - its /dev/shm, where Ray's object store lives - a reserve) / concurrency, at least
# JOB_MEMORY_MIN_MB. The node role sizes both (the container's memory limit and shm_size).
JOB_MEMORY_MIN_MB = 2048
JOB_MEMORY_RESERVE_MB = 1024
_MIB = 1024 * 1024


def job_memory_default_mb(concurrency: int, memory_mb: Optional[int], shm_mb: int) -> int:
    if not memory_mb:
        return JOB_MEMORY_MIN_MB
    return max(JOB_MEMORY_MIN_MB, (memory_mb - shm_mb - JOB_MEMORY_RESERVE_MB) // max(1, concurrency))


def container_memory_mb() -> Optional[int]:
    """The memory this process may use: its cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes), else the
    machine's MemTotal; None when neither can be read."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, "r", encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):
            return int(text) // _MIB
    try:
        with open("/proc/meminfo", "r", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def shm_size_mb(path: str = "/dev/shm") -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_blocks * st.f_frsize // _MIB


def _job_memory_limit_mb(raw: Mapping, concurrency: int, source) -> int:
    if raw.get("job_memory_limit_mb") is None:
        return job_memory_default_mb(concurrency, container_memory_mb(), shm_size_mb())
    v = _int(raw, "job_memory_limit_mb", 0, source, lo=0)
    if 0 < v < 512:
        raise _err("job_memory_limit_mb", f"must be 0 (no limit) or at least 512 MiB (the job process alone imports "
                                          f"SecretFlow, ~450 MiB), got {v}", source)
    return v


def _spu_protocols(raw: Mapping, source) -> List[str]:
    """The SPU protocols a task may choose: absent -> SEMI2K, ABY3, CHEETAH; REF2K only when listed (it has "no
    security guarantee"; the plan warns about it in every run)."""
    if raw.get("spu_protocols") is None:
        return list(SPU_DEFAULT_PROTOCOLS)
    protocols, problems = check_spu_protocols(raw["spu_protocols"])
    if problems:
        raise _err("spu_protocols", problems[0].lstrip("="), source)
    return protocols


def insecure_protocols(cfg: "WorkerConfig") -> List[str]:
    """The allowed protocols that protect nothing (REF2K), with why: the worker logs them at start."""
    return [f"{p}: {SPU_INSECURE_PROTOCOLS[p]}" for p in cfg.spu_protocols if p in SPU_INSECURE_PROTOCOLS]


def parse_config(raw: Any, source: Optional[str] = None) -> WorkerConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"config{' ' + source if source else ''}: top level must be a mapping")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _err(unknown[0], f"unknown key (known keys: {', '.join(sorted(_TOP_KEYS))})", source)

    party = _req_str(raw, "party", source)
    node_id = _opt_str(raw, "node_id", f"{party}-head", source)
    node_ip = _ip(_req_str(raw, "node_ip", source), "node_ip", source)
    ray_node_ip = _opt_str(raw, "ray_node_ip", None, source)
    if ray_node_ip:
        _ip(ray_node_ip, "ray_node_ip", source)
    ray_address = _hostport(_req_str(raw, "ray_address", source), "ray_address", source)

    redis_url = _req_str(raw, "redis_url", source)
    u = urllib.parse.urlsplit(redis_url)
    if u.scheme not in ("redis", "rediss"):
        raise _err("redis_url", f"must be a redis:// or rediss:// URL, got scheme {u.scheme!r}", source)
    pw_file = _opt_str(raw, "redis_password_file", None, source)
    if pw_file:
        try:
            with open(pw_file, "r", encoding="utf-8") as f:
                pw = f.read().strip()
        except OSError as e:
            raise _err("redis_password_file", f"cannot read {pw_file}: {e.strerror}", source) from None
        if not pw:
            raise _err("redis_password_file", f"{pw_file} is empty", source)
        redis_url = url_with_password(redis_url, pw)

    queue = _opt_str(raw, "queue", "secretflow_queue", source)
    data_dir = _req_str(raw, "data_dir", source)
    if not os.path.isabs(data_dir):
        raise _err("data_dir", f"must be an absolute path, got {data_dir!r}", source)
    if not os.path.isdir(data_dir):
        raise _err("data_dir", f"directory {data_dir} does not exist", source)
    data_dir = os.path.realpath(data_dir)
    work_dir = _opt_str(raw, "work_dir", "/tmp/sfworker", source)
    if not os.path.isabs(work_dir):
        raise _err("work_dir", f"must be an absolute path, got {work_dir!r}", source)

    job_slots = _int(raw, "job_slots", 10, source, lo=1, hi=1000)
    concurrency = _int(raw, "concurrency", 2, source, lo=1, hi=256)
    status_list_max = _int(raw, "status_list_max", 100, source, lo=1)
    status_channel = _redis_name(raw, "status_channel", "task_status_events", source)
    status_queue = _redis_name(raw, "status_queue", "task_status_queue", source)
    status_queue_max = _int(raw, "status_queue_max", 10000, source, lo=1, hi=10_000_000)
    result_expires_s = _int(raw, "result_expires_s", 86400, source, lo=60)
    job_max_retries = _int(raw, "job_max_retries", 1, source, lo=0, hi=10)
    job_retry_countdown_s = float(_int(raw, "job_retry_countdown_s", 60, source, lo=0, hi=86400))
    peer_timeout_s = _pos_float(raw, "peer_timeout_s", 120, source)
    job_timeout_s = _pos_float(raw, "job_timeout_s", 3600, source)
    slot_wait_timeout_s = _pos_float(raw, "slot_wait_timeout_s", 600, source)
    slot_lock_ttl_s = _pos_float(raw, "slot_lock_ttl_s", 60, source)
    if slot_lock_ttl_s < 3:
        raise _err("slot_lock_ttl_s", f"must be >= 3 (it is renewed every ttl/3), got {slot_lock_ttl_s}", source)
    log_level = (_opt_str(raw, "log_level", "info", source) or "info").lower()
    if log_level not in _LOG_LEVELS:
        raise _err("log_level", f"must be one of {sorted(_LOG_LEVELS)}, got {log_level!r}", source)

    parties_raw = raw.get("parties")
    if not isinstance(parties_raw, dict) or not parties_raw:
        raise _err("parties", "is required and must be a non-empty mapping party -> {external_ip, fed_port, spu_port}", source)
    parties: Dict[str, PartyEndpoint] = {}
    for name, ep in parties_raw.items():
        prefix = f"parties.{name}."
        if not isinstance(name, str) or not name:
            raise _err("parties", f"party names must be non-empty strings, got {name!r}", source)
        if not isinstance(ep, dict):
            raise _err(f"parties.{name}", "must be a mapping {external_ip, fed_port, spu_port}", source)
        unknown = sorted(set(ep) - _PARTY_KEYS)
        if unknown:
            raise _err(prefix + unknown[0], f"unknown key (known: {', '.join(sorted(_PARTY_KEYS))})", source)
        ext = _ip(_req_str(ep, "external_ip", source, prefix), prefix + "external_ip", source)
        fed = _int(ep, "fed_port", None, source, lo=1, hi=65535 - job_slots + 1, prefix=prefix)
        spu = _int(ep, "spu_port", None, source, lo=1, hi=65535 - job_slots + 1, prefix=prefix)
        if abs(fed - spu) < job_slots:
            raise _err(prefix + "spu_port",
                       f"port ranges overlap: fed {fed}-{fed + job_slots - 1} and spu {spu}-{spu + job_slots - 1} "
                       f"(job_slots={job_slots})", source)
        parties[name] = PartyEndpoint(name, ext, fed, spu)
    if party not in parties:
        raise _err("parties", f"must contain this worker's own party {party!r} (has: {', '.join(sorted(parties))})", source)

    spu_rc = dict(DEFAULT_SPU_RUNTIME_CONFIG)
    spu_rc.update(_dict(raw, "spu_runtime_config", source))
    for k in ("protocol", "field"):
        if not isinstance(spu_rc.get(k), str):
            raise _err(f"spu_runtime_config.{k}", f"must be a string, got {spu_rc.get(k)!r}", source)
    spu_protocols = _spu_protocols(raw, source)
    if spu_rc["protocol"] not in spu_protocols:
        raise _err("spu_runtime_config.protocol", f"{spu_rc['protocol']!r} is not one of spu_protocols "
                                                  f"({', '.join(spu_protocols)})", source)

    return WorkerConfig(
        party=party,
        node_id=node_id,
        node_ip=node_ip,
        ray_node_ip=ray_node_ip,
        ray_address=ray_address,
        redis_url=redis_url,
        queue=queue,
        data_dir=data_dir,
        work_dir=work_dir,
        job_slots=job_slots,
        peer_timeout_s=peer_timeout_s,
        job_timeout_s=job_timeout_s,
        slot_wait_timeout_s=slot_wait_timeout_s,
        slot_lock_ttl_s=slot_lock_ttl_s,
        concurrency=concurrency,
        parties=parties,
        spu_runtime_config=spu_rc,
        spu_protocols=spu_protocols,
        job_memory_limit_mb=_job_memory_limit_mb(raw, concurrency, source),
        spu_link_desc=_dict(raw, "spu_link_desc", source),
        cross_silo_comm_options=_comm_options(raw, source),
        status_list_max=status_list_max,
        status_channel=status_channel,
        status_queue=status_queue,
        status_queue_max=status_queue_max,
        result_expires_s=result_expires_s,
        job_max_retries=job_max_retries,
        job_retry_countdown_s=job_retry_countdown_s,
        log_level=log_level,
        gateway_resource=_gateway_resource(raw, source),
        tls=_tls(raw, source),
        source_path=source,
    )


def ray_driver_node_ip(cfg: WorkerConfig) -> Optional[str]:
    """IP the job driver announces to its own Ray cluster (`ray.init(_node_ip_address=...)`).

    `ray start --node-ip-address=127.0.0.1` (or localhost) is rewritten by Ray to the host's
    primary IP, so for those the driver must not pin an address either (Ray picks the same).
    """
    ip = cfg.ray_node_ip or cfg.node_ip
    if ip in ("127.0.0.1", "localhost", "::1"):
        return None
    return ip


def party_names(cfg: WorkerConfig) -> List[str]:
    return sorted(cfg.parties)
