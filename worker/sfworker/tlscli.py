"""`sfworker tls-probe` and `sfworker tls-listen`: the job's TLS probe and a temporary TLS listener, for checking
another party's ports by hand or from verify.yml (docs/worker.md, "TLS between parties"). Both print JSON on stdout.

    sfworker [--config F] tls-probe --party bob [--link fed|spu] [--slot K | --port N]
                                    [--no-cert | --cert X --key Y] [--ca FILE] [--wait S]
    sfworker [--config F] tls-listen --port N [--seconds S] [--count N] [--bind ADDR]

Exit codes - tls-probe: 0 the handshake completed both ways, 1 a TLS verdict (refused, unknown CA, name mismatch,
...; "kind" says which), 3 nothing answered, 2 bad arguments/config/own files. tls-listen: 0 it listened for the
whole time (whatever the clients did; see "connections"), 1 it could not listen (port in use), 2 bad
arguments/config/own files.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from typing import Optional

from . import _topology, tlsprobe

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


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


def cmd_tls_probe(args) -> int:
    from .cli import _load
    from .tls import TlsSetupError, describe_failure

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
    cert = key = None
    not_after = None
    try:
        if args.cert:
            cert, key = args.cert, args.key
        elif not args.no_cert:
            own = _own_files(cfg)
            if own is None:
                return _fail("TLS is off in this worker's config (tls: null); give --cert and --key, or --no-cert")
            cert, key, not_after = own["cert"], own["key"], own["not_after"]
        tlsprobe.client_context(ca, cert, key)  # our own files: a clear error here, not a verdict about the peer
    except TlsSetupError as e:
        return _fail(str(e))
    except (ssl.SSLError, OSError) as e:
        return _fail(f"cannot use the TLS files (ca {ca}, cert {cert}, key {key}): {e}")
    address = _topology.hostport(peer.external_ip, port)
    fed = args.link == "fed"
    verdict = tlsprobe.probe_until(
        {args.party: (peer.external_ip, port)}, max(args.wait, 0.1), {args.party: ca}, cert, key,
        check_hostname=fed, alpn=("h2",) if fed else None)[args.party]
    kind = verdict["kind"]
    out = {
        "party": args.party, "link": args.link, "address": address, "ok": kind == "ok", "kind": kind,
        "detail": verdict["detail"], "attempts": verdict["attempts"], "seconds": verdict["seconds"],
        "client_certificate": cert, "ca_file": ca,
        "message": "ok" if kind == "ok" else describe_failure(
            args.party, address, "RayFed" if fed else "SPU", kind, verdict["detail"], ca, not_after),
    }
    print(json.dumps(out, indent=2))
    return EXIT_OK if kind == "ok" else EXIT_UNREACHABLE if kind == "unreachable" else EXIT_REFUSED


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
