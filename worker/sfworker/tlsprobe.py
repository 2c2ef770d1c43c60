"""TLS handshakes with another party's RayFed (gRPC) or SPU (brpc) port, and a temporary TLS listener.

Standard library only, and no import of the rest of sfworker: the job ships these functions BY VALUE into a Ray
task on the party's Ray head (where RayFed's sender proxy and the SPU runtime run), so a Ray worker process
needs nothing but Python. The same code answers `sfworker tls-probe` / `sfworker tls-listen` (verify.yml).

probe() returns ``(kind, detail)``; ``kind`` is one of KINDS:

    ok                the handshake completed both ways (our certificate was accepted too)
    unreachable       nothing answers at that address (not up yet, refused, no route): worth retrying
    preflight_listener  a reachability listener of this collection answers there (``port_listener``: the party's
                      site.yml/verify.yml is probing its ports right now; it writes a banner line and closes within
                      minutes): not a verdict about TLS, worth retrying
    unknown_ca        the peer's certificate is not signed by a CA in our CA file
    name_mismatch     the peer's certificate does not name the host we dialled (SAN; CN is never used)
    expired / not_yet_valid / bad_purpose (EKU lacks serverAuth) / name_constraint
    peer_rejected_us  the peer refused OUR certificate (or that we sent none)
    tls_error         anything else (a plaintext peer, a middlebox, ...)

It checks what the runtimes check: the chain against ``ca_file`` only (never the system CAs), the host name
against the SAN when ``check_hostname`` (gRPC does; brpc does not), validity and purpose; it presents our
certificate; and because TLS 1.3 servers judge the client's certificate AFTER the handshake, it reads once
after the handshake to see that verdict. gRPC servers hang up on a client without ALPN "h2", hence the ALPN.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

KINDS = ("ok", "unreachable", "preflight_listener", "unknown_ca", "name_mismatch", "expired", "not_yet_valid",
         "bad_purpose", "name_constraint", "peer_rejected_us", "tls_error")

# OpenSSL X509 verify codes (x509_vfy.h) -> kind
_UNKNOWN_CA_CODES = {2, 18, 19, 20, 21, 27}  # unable to get issuer / self-signed / untrusted
_VERIFY_KIND = {9: "not_yet_valid", 10: "expired", 26: "bad_purpose", 47: "name_constraint",
                62: "name_mismatch", 64: "name_mismatch"}
# alerts a server sends about OUR certificate (reason codes as Python's ssl reports them) -> what they mean
_REJECT_ALERTS = {
    "TLSV1_ALERT_UNKNOWN_CA": "it does not trust our CA",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "it says our certificate is expired",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it rejected our certificate",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "it rejected our certificate's purpose (extended key usage)",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "it rejected our certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "it requires a client certificate",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "it requires a client certificate",
}
# kinds that say nothing about the peer's TLS yet: probe_until retries them
RETRY_KINDS = ("unreachable", "preflight_listener")
# the first word of the line the collection's reachability listeners write (plugins/modules/port_listener.py,
# option banner; its default, which the reachability role uses): "sfops-listener <hostname> <port>"
LISTENER_BANNER = "sfops-listener"
# HTTP/2 connection preface + an empty SETTINGS frame: a gRPC server answers it with its SETTINGS
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + H2_SETTINGS


def split_hostport(address: str) -> Tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port)."""
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def client_context(ca_file: str, cert_file: Optional[str] = None, key_file: Optional[str] = None,
                   check_hostname: bool = True, alpn: Optional[Sequence[str]] = ("h2",)) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=ca_file)
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file, password=_no_password)
    ctx.check_hostname = check_hostname
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def _no_password() -> bytes:
    # never prompt on a terminal for an encrypted key (RayFed could not use one anyway)
    return b""


def probe(host: str, port: int, ca_file: str, cert_file: Optional[str] = None, key_file: Optional[str] = None,
          check_hostname: bool = True, alpn: Optional[Sequence[str]] = ("h2",),
          timeout: float = 5.0, _second_look: bool = True) -> Tuple[str, str]:
    """One mutual-TLS handshake with host:port; see the module docstring. Never raises for network or TLS
    problems; a bad local file (our own cert/key/CA) raises ssl.SSLError/OSError from building the context."""
    ctx = client_context(ca_file, cert_file, key_file, check_hostname, alpn)
    again = (lambda: probe(host, port, ca_file, cert_file, key_file, check_hostname, alpn, timeout, False)) \
        if _second_look else None
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        return "unreachable", f"{type(e).__name__}: {e}"
    try:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.settimeout(1.0)
            try:
                if alpn and "h2" in alpn:
                    s.sendall(H2_PREFACE)
                if not s.recv(16):
                    return "peer_rejected_us", "it closed the connection right after the handshake"
            except socket.timeout:
                pass  # nothing to read and the connection is kept: accepted (a brpc server waits for a request)
            except ssl.SSLEOFError:
                return "peer_rejected_us", "it closed the connection right after the handshake"
            except ssl.SSLError as e:
                return "peer_rejected_us", _REJECT_ALERTS.get(e.reason or "", f"{e.reason or type(e).__name__}: {e}")
            except (ConnectionResetError, BrokenPipeError) as e:
                return "peer_rejected_us", f"{type(e).__name__} right after the handshake"
            return "ok", f"{s.version()} alpn={s.selected_alpn_protocol()}"
    except ssl.SSLCertVerificationError as e:
        code = e.verify_code
        kind = "unknown_ca" if code in _UNKNOWN_CA_CODES else _VERIFY_KIND.get(code, "tls_error")
        return kind, f"verify_code={code} {e.verify_message}"
    except ssl.SSLError as e:
        if e.reason in _REJECT_ALERTS:
            return "peer_rejected_us", _REJECT_ALERTS[e.reason]
        return _plaintext_verdict(host, port, timeout, f"{e.reason or type(e).__name__}: {e}", again)
    except (ConnectionResetError, BrokenPipeError, socket.timeout, OSError) as e:
        return _plaintext_verdict(host, port, timeout,
                                  f"{type(e).__name__} during the handshake (a plaintext server? a middlebox?)", again)


def _unasked_line(host: str, port: int, timeout: float) -> Optional[bytes]:
    """What host:port sends before we say anything (up to a line; b"" for nothing), or None when nothing accepts
    the connection."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    data = b""
    with raw:
        raw.settimeout(timeout)
        try:
            while b"\n" not in data and len(data) < 512:
                chunk = raw.recv(512)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    return data


def _banner_of(data: Optional[bytes], port: int) -> Optional[str]:
    words = (data or b"").decode("utf-8", "replace").strip().split()
    if len(words) == 3 and words[0] == LISTENER_BANNER and words[2] == str(port):
        return " ".join(words)
    return None


def listener_banner(host: str, port: int, timeout: float = 2.0) -> Optional[str]:
    """The banner line a reachability listener (``LISTENER_BANNER <hostname> <port>``) writes on host:port, or None
    when whatever answers there is not one. A TLS server never speaks first, so a line that arrives unasked, names
    this port and starts with our banner word is one of ours."""
    return _banner_of(_unasked_line(host, port, timeout), port)


def _plaintext_verdict(host: str, port: int, timeout: float, detail: str,
                       again: Optional[Callable[[], Tuple[str, str]]] = None) -> Tuple[str, str]:
    """A handshake that failed without a TLS alert: one of our reachability listeners (retry later), else tls_error.

    What answered can change between the handshake and the look at its banner - a listener's lifetime ends and the
    real TLS server starts on the port (another organisation's site.yml finishing): nothing accepting the second
    connection any more is "unreachable" (retried), and a second connection that gets no banner is given one more
    handshake (``again``): its verdict unless that is a plaintext answer again (then tls_error, the first detail)."""
    data = _unasked_line(host, port, max(0.5, min(1.0, timeout)))
    banner = _banner_of(data, port)
    if banner:
        return "preflight_listener", (f"a reachability listener answers ({banner!r}): that party's site.yml or "
                                      f"verify.yml is probing its ports; they close when its probes end")
    if data is None:
        return "unreachable", f"{detail}; then nothing accepted a connection there any more (the server went away)"
    if again is not None:
        # the server now there: a handshake (ok), its TLS verdict, or nothing any more (unreachable, retried)
        second = again()
        if second[0] != "tls_error":
            return second
    return "tls_error", detail


def probe_until(targets: Dict[str, Tuple[str, int]], deadline_s: float, ca_files: Dict[str, str],
                cert_file: Optional[str], key_file: Optional[str], check_hostname: bool = True,
                alpn: Optional[Sequence[str]] = ("h2",), interval_s: float = 0.5,
                state: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Dict[str, Any]]:
    """Probe every target (name -> (host, port)) in parallel, retrying only RETRY_KINDS ("unreachable",
    "preflight_listener"), until each has a verdict or ``deadline_s`` seconds passed. Returns as soon as one target
    has a verdict other than ok and those (fail fast), or all are ok. name -> {kind, detail, attempts, seconds}; a
    target still without a verdict at the end keeps its last kind and detail. ``state``: a dict kept up to date
    while it runs (for a caller that stops waiting earlier)."""
    t0 = time.monotonic()
    end = t0 + deadline_s
    out: Dict[str, Dict[str, Any]] = state if state is not None else {}
    out.update({n: {"kind": "unreachable", "detail": "not tried", "attempts": 0, "seconds": 0.0} for n in targets})
    lock = threading.Lock()
    decided = threading.Event()

    def one(name: str) -> None:
        host, port = targets[name]
        while True:
            t = time.monotonic()
            try:
                kind, detail = probe(host, port, ca_files[name], cert_file, key_file, check_hostname, alpn,
                                     timeout=max(0.5, min(5.0, end - t)))
            except (ssl.SSLError, OSError) as e:  # our own files: no point in retrying
                kind, detail = "tls_error", f"cannot use our TLS files: {type(e).__name__}: {e}"
            with lock:
                r = out[name]
                r.update(kind=kind, detail=detail, attempts=r["attempts"] + 1,
                         seconds=round(time.monotonic() - t0, 3))
                if kind not in RETRY_KINDS and (kind != "ok" or all(v["kind"] == "ok" for v in out.values())):
                    decided.set()
            if kind not in RETRY_KINDS or decided.is_set() or time.monotonic() + interval_s >= end:
                return
            time.sleep(interval_s)

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in sorted(targets)]
    for th in threads:
        th.start()
    while not decided.is_set() and any(th.is_alive() for th in threads):
        decided.wait(0.05)
    with lock:
        return {n: dict(v) for n, v in out.items()}


def check_files(cert_file: str, key_file: str, ca_file: str,
                install: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """On the node this runs on: write ``install`` (path -> text; the job's CA bundle) unless already there with
    that content, then check that the certificate, key and CA file load. -> {node, errors: [..]}."""
    errors: List[str] = []
    for path, text in (install or {}).items():
        try:
            write_if_changed(path, text)
        except OSError as e:
            errors.append(f"cannot write {path}: {e.strerror or e}")
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_cert_chain(cert_file, key_file, password=_no_password)
        ctx.load_verify_locations(cafile=ca_file)
    except (ssl.SSLError, OSError) as e:
        errors.append(f"{type(e).__name__}: {e}")
    return {"node": socket.gethostname(), "errors": errors}


def write_if_changed(path: str, text: str, mode: int = 0o644) -> bool:
    """Atomically write ``text`` to ``path`` unless it already holds exactly that; touch it either way (the
    worker prunes files unused for days). True when written."""
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                os.utime(path)
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


# ----------------------------------------------------------------------------------------- listener

def listen(bind_host: str, port: int, cert_file: str, key_file: str, ca_file: str, seconds: float,
           count: Optional[int] = None, alpn: Optional[Sequence[str]] = ("h2",),
           ready: Optional[threading.Event] = None, log=None) -> Dict[str, Any]:
    """A temporary mutual-TLS server (our certificate and key; client certificates required and verified against
    ``ca_file``; ALPN h2 like gRPC) on bind_host:port for ``seconds`` or until ``count`` connections were judged.
    Returns {address, seconds, connections: [{client, result: "accepted"|"refused", detail}]}."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file, password=_no_password)
    ctx.load_verify_locations(cafile=ca_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    conns: List[Dict[str, Any]] = []
    t0 = time.monotonic()
    try:
        srv.bind((bind_host, port))
        srv.listen(16)
        if ready is not None:
            ready.set()
        end = t0 + seconds
        while time.monotonic() < end and (count is None or len(conns) < count):
            srv.settimeout(max(0.05, min(0.5, end - time.monotonic())))
            try:
                raw, peer = srv.accept()
            except socket.timeout:
                continue
            entry = {"client": f"{peer[0]}:{peer[1]}"}
            raw.settimeout(5.0)
            try:
                with ctx.wrap_socket(raw, server_side=True) as s:
                    cert = s.getpeercert() or {}
                    entry.update(result="accepted", detail=f"{s.version()} alpn={s.selected_alpn_protocol()}",
                                 client_subject=_name(cert.get("subject")), client_issuer=_name(cert.get("issuer")))
                    _serve_until_closed(s)
            except ssl.SSLError as e:
                entry.update(result="refused", detail=f"{e.reason or type(e).__name__}: {e.verify_message}"
                             if isinstance(e, ssl.SSLCertVerificationError) else f"{e.reason or type(e).__name__}")
            except OSError as e:
                entry.update(result="refused", detail=f"{type(e).__name__}: {e}")
            conns.append(entry)
            if log is not None:
                log(json.dumps(entry))
    finally:
        srv.close()
    return {"address": f"{bind_host}:{port}", "seconds": round(time.monotonic() - t0, 3), "connections": conns}


def _serve_until_closed(s: ssl.SSLSocket, limit_s: float = 2.0) -> None:
    """After an accepted handshake, behave like a server that accepted: an HTTP/2 server answers the client's
    preface with its SETTINGS frame; then wait (briefly) for the client to hang up."""
    end = time.monotonic() + limit_s
    try:
        if s.selected_alpn_protocol() == "h2":
            s.sendall(H2_SETTINGS)
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            if not s.recv(4096):
                return
    except (OSError, ssl.SSLError):
        return


def _name(rdns) -> Optional[str]:
    if not rdns:
        return None
    return ",".join(f"{k}={v}" for rdn in rdns for k, v in rdn)

