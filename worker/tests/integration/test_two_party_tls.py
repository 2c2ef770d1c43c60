"""Mutual TLS on the SPU port, and the plaintext control of the packet capture.

- the SPU port: a real brpc link server built from the worker's own tls_opts refuses a TLS client without a
  certificate (and, documented, still answers plaintext);
- the control capture: a plaintext job (sf_tls_enabled: false) shows its job name in the same kind of capture
  in which the TLS job showed nothing.
The jobs over TLS (secure_sum, PSI and its capture, an untrusted CA, a wrong SAN, refusals on the fed port, back
to good certificates) are in test_two_party.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid

import pytest

import capture
from conftest import PARTIES, PLAINTEXT_QUEUE
from test_two_party import _write_csv, job_ports, psi_keys

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("dump_logs_on_failure")]

SPU_LINK_SERVER = r"""
import json, sys
from secretflow.device.device.spu import _fill_link_desc_attrs   # what SPURuntime.__init__ uses
import spu.libspu.link as link

cluster_def, rank = json.loads(sys.argv[1]), int(sys.argv[2])
desc = link.Desc()
for i, node in enumerate(cluster_def["nodes"]):
    desc.add_party(node["party"], node["listen_address"] if i == rank else node["address"])
_fill_link_desc_attrs({"connect_retry_times": 10, "connect_retry_interval_ms": 1000},
                      cluster_def["nodes"][rank].get("tls_opts"), desc)
print("serving", flush=True)
link.create_brpc(desc, rank)   # listens, then keeps trying to reach the other rank (nobody) until killed
"""


def test_the_spu_port_refuses_a_tls_client_without_certificate(two_parties):
    """alice's SPU link server, built by SPU's own code (SecretFlow's _fill_link_desc_attrs, libspu create_brpc) from
    the tls_opts alice's job puts into its SPU node: bob (his certificate, no name check, no ALPN: like brpc) is
    accepted; a TLS client without a certificate and one from an unknown CA are refused. A PLAINTEXT client is
    still served (yacl never sets brpc's force_ssl): documented in docs/worker.md; the firewall must keep the
    SPU ports to the peers."""
    from sfworker import tlsprobe
    from sfworker.config import load_config
    from sfworker.job import spu_cluster_def_of
    from sfworker.params import build_job_spec
    from sfworker.tls import prepare_job_tls

    a, b = two_parties["alice"], two_parties["bob"]
    _write_csv(os.path.join(a.data_dir, "t.csv"), ["v"], [[1]])
    spec = build_job_spec(load_config(a.config_path), f"spu-{uuid.uuid4().hex[:6]}", {
        "task_config": {"task_type": "secure_sum", "column": "v", "job_slot": 3,
                        "input_paths": {"alice": "t.csv", "bob": "t.csv"}}})
    cluster_def = spu_cluster_def_of(spec, prepare_job_tls(spec["tls"], ["bob"], spec["tls_bundle_dir"]))
    assert "tls_opts" in cluster_def["nodes"][0] and "tls_opts" not in cluster_def["nodes"][1]
    port = PARTIES["alice"][3] + 3
    host = PARTIES["alice"][0]
    srv = subprocess.Popen([sys.executable, "-c", SPU_LINK_SERVER, json.dumps(cluster_def), "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                           cwd=os.path.dirname(a.config_path))
    try:
        alice_ca = os.path.join(b.tls_dir, "peers", "alice.pem")
        cur, rogue = os.path.join(b.tls_dir, "current"), os.path.join(b.tls_dir, b.versions["untrusted"])
        spu = {"check_hostname": False, "alpn": None}
        ok = tlsprobe.probe_until({"alice": (host, port)}, 90, {"alice": alice_ca}, f"{cur}/cert.pem",
                                  f"{cur}/key.pem", **spu)["alice"]
        no_cert = tlsprobe.probe(host, port, alice_ca, **spu)
        unknown = tlsprobe.probe(host, port, alice_ca, f"{rogue}/cert.pem", f"{rogue}/key.pem", **spu)
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"POST /ReceiverService/Push HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
            s.settimeout(5)
            plain = s.recv(200)
    finally:
        os.killpg(srv.pid, 9)
        log = srv.communicate(timeout=30)[0].decode("utf-8", "replace")
    print(f"\n[integration] alice's SPU port: bob {ok}, no cert {no_cert}, unknown CA {unknown}, "
          f"plaintext {plain[:60]!r}", file=sys.stderr)
    assert ok["kind"] == "ok", (ok, log[-3000:])
    assert no_cert == ("peer_rejected_us", "it requires a client certificate"), no_cert
    assert unknown == ("peer_rejected_us", "it does not trust our CA"), unknown
    assert plain.startswith(b"HTTP/1.1 "), plain  # if this fails, SPU refuses plaintext now: update the docs


def test_plaintext_control_capture(request, tmp_path):
    """The same capture (loopback, the job's fed and SPU ports) of a PSI job between workers rendered with
    sf_tls_enabled: false: the job name is there in clear, and no connection starts with a TLS handshake. This is
    what makes test_psi_traffic_was_encrypted's "nothing in clear" mean something."""
    reason = capture.skip_reason()
    if reason:
        pytest.skip(reason)
    from sfworker.submit import submit_job

    parties = request.getfixturevalue("plaintext_workers")
    token = uuid.uuid4().hex
    keys = psi_keys(token, range(60))
    for name, ids in (("alice", range(0, 60, 2)), ("bob", range(0, 60, 3))):
        _write_csv(os.path.join(parties[name].data_dir, "plain.csv"), ["uid"], [[keys[i]] for i in ids])
    params = {"task_config": {"task_type": "psi", "keys": ["uid"], "protocol": "KKRT_PSI_2PC", "receiver_party": "alice",
                              "input_paths": {"alice": "plain.csv", "bob": "plain.csv"},
                              "output_paths": {"alice": "out/plain.csv", "bob": "out/plain.csv"}, "job_slot": 3}}
    cap = capture.Capture(str(tmp_path / "psi-plain.pcap"), job_ports(3).values())
    with cap:
        out = submit_job({n: p.redis_url for n, p in parties.items()}, params, f"plain-{token[:8]}",
                         queue=PLAINTEXT_QUEUE, timeout_s=300)
    assert out["ok"], json.dumps(out, indent=1)
    res = {n: r["result"] for n, r in out["results"].items()}
    assert all(r["task_metadata"]["tls"] == {"enabled": False} and r["result"]["intersection_count"] == 10
               for r in res.values()), res
    pk = cap.packets()
    job_name = res["alice"]["task_metadata"]["job_name"].encode()
    assert job_name in pk.raw, "the plaintext job's name is not in the capture: the capture sees nothing useful"
    for name, port in job_ports(3).items():
        for flow, chunks in pk.flows_to(port).items():
            assert not capture.is_tls_record(chunks[0], 22), (name, flow, chunks[0][:24])
    fed_flows = [c for port in (job_ports(3)["alice-fed"], job_ports(3)["bob-fed"]) for c in pk.flows_to(port).values()]
    assert fed_flows and all(chunks[0].startswith(b"PRI * HTTP/2.0") for chunks in fed_flows)  # gRPC in clear
    leaked = sum(k.encode() in pk.raw for k in keys.values())
    print(f"\n[integration] plaintext control: job name visible, {leaked}/{len(keys)} input keys visible in clear",
          file=sys.stderr)
