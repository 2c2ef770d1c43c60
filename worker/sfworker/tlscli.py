"""`sfworker tls-probe` and `sfworker tls-listen`: the job's TLS probe and a temporary TLS listener, for checking
another party's ports by hand or from verify.yml (docs/worker.md, "TLS between parties"). Both print JSON on stdout.

    sfworker [--config F] tls-probe --party bob [--link fed|spu] [--slot K | --port N]
                                    [--no-cert | --stranger | --cert X --key Y] [--ca FILE] [--wait S]
    sfworker [--config F] tls-listen --port N [--seconds S] [--count N] [--bind ADDR]
    sfworker [--config F] tls-info

Exit codes - tls-probe: 0 the handshake completed both ways, 1 a TLS verdict (refused, unknown CA, name mismatch,
...; "kind" says which), 3 nothing answered, 4 only a reachability listener of the party's running site.yml or
verify.yml answered (no verdict; retried until --wait ran out), 2 bad arguments/config/own files. tls-listen: 0 it
listened for the whole time (whatever the clients did; see "connections"), 1 it could not listen (port in use), 2
bad arguments/config/own files. tls-info (this node's installed certificate: version, serial, not_after, days_left;
for the status table): 0 read (or TLS off: "enabled": false), 1 no certificate installed or unreadable ("error").

--stranger presents a certificate nobody trusts: a throwaway CA and a client certificate it signed (EC P-256,
EKU clientAuth + serverAuth, SAN = this party's external address, valid for one day), generated in-process with the
Python package ``cryptography`` (in the worker image: a SecretFlow dependency) into a private temporary directory
that is removed afterwards. Another party's port must refuse it exactly like a certificate from an unknown
organisation (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
from typing import Iterator, Optional, Tuple

from . import _topology, tlsprobe

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_PREFLIGHT = 0, 1, 2, 3, 4


def _fail(msg: str) -> int:
    print(f"sfworker: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _own_files(cfg) -> Optional[dict]:
    from .tls import check_own_files, own_files

    if cfg.tls is None:
        return None
    own = own_files(cfg.tls.as_dict())
    own["not_after"] = check_own_files(own["cert"], own["key"])
    return own


STRANGER_DAYS = 1


@contextlib.contextmanager
def stranger_files(address: str) -> Iterator[Tuple[str, str]]:
    """(cert, key) of a certificate from a CA that exists nowhere else: the CA and its key are generated here and
    thrown away, the certificate (EC P-256, EKU clientAuth + serverAuth, SAN ``address`` - an IP SAN for an IP, a
    DNS SAN for a name - valid STRANGER_DAYS) and its key live in a private temporary directory (0700, key 0600)
    that is removed on exit. Raises TlsSetupError when the package cryptography is missing."""
    from .tls import TlsSetupError

    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as e:
        raise TlsSetupError(f"--stranger needs the Python package cryptography to make its certificate ({e}); it is "
                            f"in the worker image (a SecretFlow dependency) - or pip install cryptography") from e
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sfworker tls-probe stranger"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "stranger CA (trusted by nobody)")])
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(address))
    except ValueError:
        san = x509.DNSName(address)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"stranger {address}")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=STRANGER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory = tempfile.mkdtemp(prefix="sfworker-stranger-")  # 0700
    try:
        cert_file, key_file = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        with open(cert_file, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        yield cert_file, key_file
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def cmd_tls_probe(args) -> int:
    from .cli import _load
    from .tls import TlsSetupError

    cfg = _load(args)
    if args.party not in cfg.parties:
        return _fail(f"unknown party {args.party!r} (the config's parties: {', '.join(sorted(cfg.parties))})")
    if args.party == cfg.party:
        return _fail(f"{args.party!r} is this worker's own party; probe another party's port")
    peer = cfg.parties[args.party]
    first = peer.fed_port if args.link == "fed" else peer.spu_port
    if args.port is None and not 0 <= args.slot < cfg.job_slots:
        return _fail(f"--slot must be in 0..{cfg.job_slots - 1}")
    port = args.port if args.port is not None else first + args.slot
    ca = args.ca or (cfg.tls.peer_ca(args.party) if cfg.tls else None)
    if not ca:
        return _fail("TLS is off in this worker's config (tls: null); give --ca FILE to probe anyway")
    if bool(args.cert) != bool(args.key):
        return _fail("--cert and --key go together")
    with contextlib.ExitStack() as stack:
        cert = key = None
        not_after = None
        client = "none" if args.no_cert else "stranger" if args.stranger else "given" if args.cert else "own"
        try:
            if args.cert:
                cert, key = args.cert, args.key
            elif args.stranger:
                cert, key = stack.enter_context(stranger_files(cfg.me.external_ip))
            elif not args.no_cert:
                own = _own_files(cfg)
                if own is None:
                    return _fail("TLS is off in this worker's config (tls: null); give --cert and --key, --stranger "
                                 "or --no-cert")
                cert, key, not_after = own["cert"], own["key"], own["not_after"]
            tlsprobe.client_context(ca, cert, key)  # our own files: a clear error here, not a verdict about the peer
        except TlsSetupError as e:
            return _fail(str(e))
        except (ssl.SSLError, OSError) as e:
            return _fail(f"cannot use the TLS files (ca {ca}, cert {cert}, key {key}): {e}")
        return _probe_and_report(args, peer, port, ca, cert, key, not_after, client)


def _probe_and_report(args, peer, port: int, ca: str, cert: Optional[str], key: Optional[str],
                      not_after: Optional[str], client: str) -> int:
    from .tls import describe_failure

    address = _topology.hostport(peer.external_ip, port)
    fed = args.link == "fed"
    verdict = tlsprobe.probe_until(
        {args.party: (peer.external_ip, port)}, max(args.wait, 0.1), {args.party: ca}, cert, key,
        check_hostname=fed, alpn=("h2",) if fed else None)[args.party]
    kind = verdict["kind"]
    out = {
        "party": args.party, "link": args.link, "address": address, "ok": kind == "ok", "kind": kind,
        "detail": verdict["detail"], "attempts": verdict["attempts"], "seconds": verdict["seconds"],
        "client": client, "client_certificate": None if client == "stranger" else cert, "ca_file": ca,
        "message": "ok" if kind == "ok" else describe_failure(
            args.party, address, "RayFed" if fed else "SPU", kind, verdict["detail"], ca, not_after),
    }
    print(json.dumps(out, indent=2))
    exits = {"ok": EXIT_OK, "unreachable": EXIT_UNREACHABLE, "preflight_listener": EXIT_PREFLIGHT}
    return exits.get(kind, EXIT_REFUSED)


def cmd_tls_listen(args) -> int:
    from .cli import _load
    from .tls import TlsSetupError, bundle_path, read_peer_cas
    import threading

    cfg = _load(args)
    if cfg.tls is None:
        return _fail("TLS is off in this worker's config (tls: null): nothing to listen with")
    peers = [p for p in sorted(cfg.parties) if p != cfg.party]
    try:
        own = _own_files(cfg)
        cas = read_peer_cas(cfg.tls.as_dict(), [p for p in peers if os.path.exists(cfg.tls.peer_ca(p))])
    except TlsSetupError as e:
        return _fail(str(e))
    if not cas:
        return _fail(f"no peer CA certificate under {os.path.join(cfg.tls.dir, 'peers')}: nobody could connect")
    text = "".join(cas[p] for p in sorted(cas))
    bundle = bundle_path(os.path.join(cfg.work_dir, "tls-ca"), text)
    tlsprobe.write_if_changed(bundle, text)
    bind = args.bind or _topology.listen_any(cfg.me.external_ip)
    print(json.dumps({"listening": _topology.hostport(bind, args.port), "trusting": sorted(cas),
                      "seconds": args.seconds}), file=sys.stderr, flush=True)
    try:
        res = tlsprobe.listen(bind, args.port, own["cert"], own["key"], bundle, args.seconds, count=args.count,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    except OSError as e:
        print(json.dumps({"address": _topology.hostport(bind, args.port), "error": f"{type(e).__name__}: {e}"}))
        return EXIT_REFUSED
    res.update(party=cfg.party, trusting=sorted(cas), certificate=own["cert"])
    print(json.dumps(res, indent=2))
    return EXIT_OK


def certificate_summary(cert_file: str, now: Optional[float] = None) -> dict:
    """serial (lowercase hex), subject, SAN, not_before/not_after (ISO 8601 UTC, like the tls role's sf_tls) and
    whole days left (negative once expired) of the first certificate in ``cert_file`` - read with CPython's own
    decoder (no third-party package). Raises ValueError when it cannot be read."""
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        raise ValueError("this Python cannot decode certificates (ssl._ssl._test_decode_cert is missing)")
    try:
        d = decode(cert_file)
    except (ssl.SSLError, OSError, ValueError) as e:
        raise ValueError(f"cannot read the certificate {cert_file}: {e}") from None
    now = time.time() if now is None else now

    def iso(stamp: str) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ssl.cert_time_to_seconds(stamp)))

    after = ssl.cert_time_to_seconds(d["notAfter"])
    return {
        "serial": (d.get("serialNumber") or "").lower().lstrip("0") or "0",
        "subject": ",".join(f"{k}={v}" for rdn in d.get("subject", ()) for k, v in rdn),
        "san": [f"{k}:{v}" for k, v in d.get("subjectAltName", ())],
        "not_before": iso(d["notBefore"]), "not_after": iso(d["notAfter"]),
        "days_left": int((after - now) // 86400),
    }


def cmd_tls_info(args) -> int:
    from .cli import _load
    from .tls import TlsSetupError, own_files

    cfg = _load(args)
    out = {"party": cfg.party, "node_id": cfg.node_id, "enabled": cfg.tls is not None}
    rc = EXIT_OK
    if cfg.tls is not None:
        try:
            own = own_files(cfg.tls.as_dict())
            out.update(version=os.path.basename(own["version_dir"]), certificate=own["cert"])
            out.update(certificate_summary(own["cert"]))
        except (TlsSetupError, ValueError) as e:
            out["error"] = str(e)
            rc = EXIT_REFUSED
    print(json.dumps(out, indent=2))
    return rc


def add_tls_parsers(sub) -> None:
    p = sub.add_parser("tls-probe", help="TLS handshake with another party's fed or SPU port (JSON verdict)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--party", required=True, help="the party to probe (its external_ip from the config)")
    p.add_argument("--link", choices=("fed", "spu"), default="fed",
                   help="fed: RayFed/gRPC (checks the name, ALPN h2); spu: SPU/brpc (no name check)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--slot", type=int, default=0, help="job slot: port = the party's first port + slot (default 0)")
    g.add_argument("--port", type=int, help="explicit port")
    c = p.add_mutually_exclusive_group()
    c.add_argument("--no-cert", action="store_true", help="present no client certificate (must be refused)")
    c.add_argument("--stranger", action="store_true",
                   help="present a fresh certificate from a throwaway CA nobody trusts (must be refused; needs the "
                        "Python package cryptography)")
    c.add_argument("--cert", help="client certificate to present instead of this node's")
    p.add_argument("--key", help="key of --cert")
    p.add_argument("--ca", help="CA file to verify the peer with (default: tls.dir/peers/<party>.pem)")
    p.add_argument("--wait", type=float, default=0.0, help="retry while nothing answers, up to S seconds")
    p.set_defaults(func=cmd_tls_probe)

    ln = sub.add_parser("tls-listen", help="temporary mutual-TLS listener with this node's certificate (JSON report)",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ln.add_argument("--port", type=int, required=True)
    ln.add_argument("--seconds", type=float, default=30.0, help="listen this long (default 30)")
    ln.add_argument("--count", type=int, help="stop after this many connections")
    ln.add_argument("--bind", help="address to bind (default: the wildcard of the party's external_ip family)")
    ln.set_defaults(func=cmd_tls_listen)

    info = sub.add_parser("tls-info", help="this node's installed party certificate: version, serial, expiry (JSON)",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    info.set_defaults(func=cmd_tls_info)
