"""Mutual TLS between parties, the job's side (docs/worker.md, "TLS between parties").

The worker takes every TLS path and option from its config file (``tls: {dir, verify_depth}``), never from task
parameters. At job start (in the job process, before sf.init) :func:`prepare_job_tls`:

- resolves ``<dir>/current`` with realpath ONCE, so a certificate rotation during the job (the node role switches
  the symlink) cannot give this job a new certificate with the old key;
- checks that this party's certificate and key and the CA file of every peer party of the job load, and that the
  certificate is valid now, each failure naming the file;
- writes the job's CA bundle: the CA certificates of THIS job's peer parties only (a CA trusted by RayFed's
  receiver may sign a certificate that posts data as any party, so a job trusts no CA it does not need).

RayFed gets ``tls_config`` (:meth:`JobTls.tls_config`), this party's SPU node ``tls_opts``
(:meth:`JobTls.spu_tls_opts`, the plan's ``_topology.spu_tls_opts``). The probe of the peers' ports is in
:mod:`sfworker.tlsprobe`; :func:`describe_failure` turns its verdict into the job's error message.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import _topology
from .tlsprobe import write_if_changed

# RayFed's unpickling allow-list (cross_silo_comm_options["serializing_allowed_list"]): the only globals the
# receiver proxy may resolve when it unpickles what another party sent. Without it RayFed runs plain
# cloudpickle.loads on whatever arrives: code execution in this party's Ray cluster for anyone who can send.
# Exactly what SecretFlow 1.11's secure_sum and PSI move between parties (traced in the sources and confirmed by
# a logging allow-list in a real two-party run; the integration test runs every task type with this list):
SERIALIZING_ALLOWED_LIST: Dict[str, List[str]] = {
    # pyu -> spu: the io_info every SPU runtime gets with the shares; the result's meta on reveal
    # SPU call: the meta of the inputs, sent to the party that compiles (the first SPU node)
    "secretflow.device.device.spu": ["SPUIOInfo", "SPUValueMeta"],
    # SPU call: the compiled executable, sent by the compiling party to every runtime
    "libspu.spu_pb2": ["ExecutableProto"],
    # SPU call: the output shape tree sent with the executable
    "jax._src.api": ["ShapeDtypeStruct"],
    # dtypes inside SPUValueMeta / ShapeDtypeStruct, and the numpy scalar TYPE of a run's output meta
    "numpy": ["dtype", "bool_", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
              "float32", "float64"],
    # how a party's failure reaches the others (with expose_error_trace off: no Ray exception inside)
    "fed.exceptions": ["FedRemoteError"],
}

# cross_silo_comm_options a task may not set, and why (the config file may set the last two).
TASK_REFUSED_COMM_OPTIONS = {
    "serializing_allowed_list": "the worker sets RayFed's unpickling allow-list itself "
                                "(sfworker.tls.SERIALIZING_ALLOWED_LIST)",
    "cross_silo_comm_backend": "the worker always uses RayFed's gRPC backend (brpc_link never encrypts)",
    "grpc_channel_options": "channel options can switch off TLS checks (grpc.ssl_target_name_override)",
    "expose_error_trace": "error traces carry objects the unpickling allow-list does not admit",
}
# names that would carry TLS paths or switches, wherever a task might put them
TLS_OPTION_NAMES = ("tls_config", "tls", "tls_opts", "ca_cert", "cert", "key", "server_ssl_opts",
                    "client_ssl_opts", "enable_ssl", "ssl")
TLS_REFUSED_WHY = "TLS files and options come from the worker's config file only (tls.dir), never from a task"

BUNDLE_PREFIX = "ca-"
BUNDLE_MAX_AGE_S = 3 * 24 * 3600
# After a TLS verdict, keep this job's RayFed receiver up this long (bounded by peer_timeout_s) before failing,
# so that the peer's own probe reaches it and reports its side of the failure instead of a timeout.
LINGER_AFTER_FAILURE_S = 5.0


class TlsSetupError(RuntimeError):
    """This party's own TLS files are missing or unusable (nothing was sent to any peer)."""


class PeerTlsError(ConnectionError):
    """A peer's port answered, but TLS failed (names the peer, its address and the reason)."""


@dataclass(frozen=True)
class JobTls:
    version_dir: str        # realpath of <dir>/current, resolved once at job start
    cert: str
    key: str
    ca_bundle: str          # this job's peers' CA certificates
    peer_ca_files: Dict[str, str]
    verify_depth: int
    not_after: Optional[str] = None
    bundle_text: str = field(default="", repr=False)

    def tls_config(self) -> Dict[str, str]:
        """sf.init(tls_config=...): exactly the three keys SecretFlow accepts (paths; RayFed opens them again in
        its proxies on the Ray head)."""
        return {"ca_cert": self.ca_bundle, "cert": self.cert, "key": self.key}

    def spu_tls_opts(self) -> Dict[str, Dict[str, Any]]:
        return _topology.spu_tls_opts(self.cert, self.key, self.ca_bundle, self.verify_depth)


def _load_chain(cert: str, key: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(cert, key, password=lambda: b"")


def _cert_dates(cert: str) -> Optional[Dict[str, str]]:
    """notBefore/notAfter of the first certificate in the file (CPython's own decoder; None if unavailable)."""
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        return None
    try:
        d = decode(cert)
    except (ssl.SSLError, OSError, ValueError):
        return None
    return {"not_before": d.get("notBefore"), "not_after": d.get("notAfter")}


def _is_encrypted_key(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"ENCRYPTED" in head


def own_files(tls: Mapping[str, Any]) -> Dict[str, str]:
    """This party's certificate and key, with <dir>/current resolved ONCE. Raises TlsSetupError."""
    tls_dir = tls["dir"]
    current = os.path.join(tls_dir, "current")
    if not os.path.lexists(current):
        raise TlsSetupError(f"TLS is on (worker config tls.dir={tls_dir}) but {current} does not exist: this node "
                            f"has no certificate installed (the node role installs it when sf_tls_enabled)")
    version_dir = os.path.realpath(current)
    if not os.path.isdir(version_dir):
        raise TlsSetupError(f"{current} points to {version_dir}, which is not a directory")
    return {"version_dir": version_dir, "cert": os.path.join(version_dir, "cert.pem"),
            "key": os.path.join(version_dir, "key.pem")}


def check_own_files(cert: str, key: str, now: Optional[float] = None) -> Optional[str]:
    """Raise TlsSetupError naming the file unless cert and key load, match and the certificate is valid now.
    Returns the certificate's notAfter (or None when it cannot be read)."""
    for what, path in (("certificate", cert), ("private key", key)):
        if not os.path.isfile(path):
            raise TlsSetupError(f"this party's TLS {what} {path} does not exist")
        if not os.access(path, os.R_OK):
            raise TlsSetupError(f"this party's TLS {what} {path} is not readable by this user (uid {os.getuid()})")
    if _is_encrypted_key(key):
        raise TlsSetupError(f"this party's TLS private key {key} is encrypted; RayFed has no passphrase option")
    try:
        _load_chain(cert, key)
    except ssl.SSLError as e:
        reason = e.reason or ""
        if reason == "KEY_VALUES_MISMATCH":
            raise TlsSetupError(f"this party's TLS private key {key} does not belong to the certificate {cert}") \
                from None
        if "PEM" in (reason or str(e)) or reason in ("NO_START_LINE", "NO_CERTIFICATE_OR_CRL_FOUND"):
            raise TlsSetupError(f"this party's TLS certificate {cert} or key {key} is not a PEM certificate/key "
                                f"({reason})") from None
        raise TlsSetupError(f"cannot load this party's TLS certificate {cert} with key {key}: {reason or e}") \
            from None
    dates = _cert_dates(cert) or {}
    now = time.time() if now is None else now
    if dates.get("not_before") and ssl.cert_time_to_seconds(dates["not_before"]) > now:
        raise TlsSetupError(f"this party's TLS certificate {cert} is not valid yet (notBefore {dates['not_before']})")
    if dates.get("not_after") and ssl.cert_time_to_seconds(dates["not_after"]) < now:
        raise TlsSetupError(f"this party's TLS certificate {cert} expired on {dates['not_after']}; renew it "
                            f"(playbooks/rotate-certs.yml)")
    return dates.get("not_after")


def peer_ca_file(tls: Mapping[str, Any], party: str) -> str:
    return os.path.join(tls["dir"], "peers", f"{party}.pem")


def read_peer_cas(tls: Mapping[str, Any], peers: Sequence[str]) -> Dict[str, str]:
    """party -> CA certificate text, each checked to load as a CA file. Raises TlsSetupError naming the party."""
    out: Dict[str, str] = {}
    for p in sorted(peers):
        path = peer_ca_file(tls, p)
        try:
            with open(path, "r", encoding="ascii") as f:
                text = f.read()
        except FileNotFoundError:
            raise TlsSetupError(
                f"no CA certificate of peer party {p!r} on this node ({path}): the deployment needs "
                f"sf_peer_parties.{p}.ca_cert (or import it with playbooks/tls-import.yml)") from None
        except (OSError, UnicodeDecodeError) as e:
            raise TlsSetupError(f"cannot read the CA certificate of peer party {p!r} ({path}): {e}") from None
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=text)
        except (ssl.SSLError, ValueError) as e:
            raise TlsSetupError(f"the CA certificate of peer party {p!r} ({path}) is not a PEM certificate: "
                                f"{getattr(e, 'reason', None) or e}") from None
        out[p] = text if text.endswith("\n") else text + "\n"
    return out


def bundle_path(bundle_dir: str, text: str) -> str:
    """Content-addressed: the same peers' CAs give the same file on every node (the job writes it on the driver's
    node and on the Ray head, where RayFed's proxies and the SPU runtime open it)."""
    return os.path.join(bundle_dir, BUNDLE_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] + ".pem")


def prune_bundles(bundle_dir: str, max_age_s: float = BUNDLE_MAX_AGE_S) -> None:
    try:
        names = os.listdir(bundle_dir)
    except OSError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(bundle_dir, name)
        try:
            if name.startswith(BUNDLE_PREFIX) and now - os.path.getmtime(path) > max_age_s:
                os.remove(path)
        except OSError:
            pass


def prepare_job_tls(tls: Mapping[str, Any], peers: Sequence[str], bundle_dir: str,
                    now: Optional[float] = None) -> JobTls:
    """See the module docstring. ``tls``: the config's {dir, verify_depth}; ``peers``: the job's other parties."""
    own = own_files(tls)
    not_after = check_own_files(own["cert"], own["key"], now=now)
    cas = read_peer_cas(tls, peers)
    text = "".join(cas[p] for p in sorted(cas))
    if not text:
        # A job of one party (no peer: an evaluation on the receiver's own predictions, #14) trusts no other
        # party. The bundle must still load (RayFed's receiver and the check on the Ray head read it): it holds
        # this party's own certificate, which no other party's certificate chains to.
        with open(own["cert"], "r", encoding="ascii") as f:
            text = f.read()
    path = bundle_path(bundle_dir, text)
    prune_bundles(bundle_dir)
    try:
        write_if_changed(path, text)
    except OSError as e:
        raise TlsSetupError(f"cannot write the job's CA bundle {path}: {e.strerror or e}") from None
    return JobTls(version_dir=own["version_dir"], cert=own["cert"], key=own["key"], ca_bundle=path,
                  peer_ca_files={p: peer_ca_file(tls, p) for p in sorted(cas)},
                  verify_depth=int(tls["verify_depth"]), not_after=not_after, bundle_text=text)


# ------------------------------------------------------------------------------------ verdicts -> words

def describe_failure(party: str, address: str, link: str, kind: str, detail: str,
                     ca_file: Optional[str] = None, own_not_after: Optional[str] = None) -> str:
    """``peer party 'bob' at 10.0.0.2:19003 (RayFed): TLS failure: unknown CA (...) - <what it means>``."""
    ca = f" ({ca_file})" if ca_file else ""
    means = {
        "unknown_ca": f"unknown CA ({detail}): the certificate {party} presented is not signed by the CA we have "
                      f"for {party}{ca}",
        "name_mismatch": f"name mismatch ({detail}): {party}'s certificate does not name {address.rpartition(':')[0]}"
                         f" in its subjectAltName, the address we dial",
        "expired": f"{party}'s certificate is expired ({detail})",
        "not_yet_valid": f"{party}'s certificate is not valid yet ({detail}; clocks?)",
        "bad_purpose": f"{party}'s certificate may not be used by a TLS server ({detail}; extended key usage needs "
                       f"serverAuth and clientAuth)",
        "name_constraint": f"{party}'s certificate violates its CA's name constraints ({detail})",
        "peer_rejected_us": f"{party} refused our certificate ({detail}): {party} does not trust our CA, or our "
                            f"certificate lacks clientAuth"
                            + (f" (ours is valid until {own_not_after})" if own_not_after else "")
                            + f"; {party} needs our CA certificate (playbooks/tls-export.yml)",
        "tls_error": f"{detail} (is {party} running without TLS? sf_tls_enabled must be the same in every party)",
    }.get(kind, f"{kind}: {detail}")
    if kind == "unreachable":
        return f"peer party {party!r} at {address} ({link}): nothing answers ({detail})"
    if kind == "preflight_listener":
        return f"peer party {party!r} at {address} ({link}): not checked: {detail}"
    return f"peer party {party!r} at {address} ({link}): TLS failure: {means}"
