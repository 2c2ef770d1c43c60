"""sfworker.tlsprobe: the probe's verdicts against a real TLS server (tlsprobe.listen, mutual, ALPN h2), the
listener's report, probe_until's retry/fail-fast rules. Every certificate is made here (tests/pki.py)."""

import ast
import os
import socket
import sys
import threading
import time

import pytest

from sfworker import tlsprobe

from helpers import free_port
from pki import make_ca, make_leaf, write

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    alice_ca, bob_ca, mallory_ca = make_ca("alice"), make_ca("bob"), make_ca("mallory")
    files = {"alice_ca": write(str(d / "alice-ca.pem"), alice_ca.pem),
             "bob_ca": write(str(d / "bob-ca.pem"), bob_ca.pem)}

    def leaf(stem, ca, sans, **kw):
        lf = make_leaf(ca, stem, sans, **kw)
        files[stem] = (write(str(d / f"{stem}.crt"), lf.cert_pem), write(str(d / f"{stem}.key"), lf.key_pem(), 0o600))

    leaf("alice", alice_ca, [HOST])                        # the client, alice
    leaf("bob", bob_ca, [HOST])                            # the server, bob
    leaf("bob_mallory", mallory_ca, [HOST])                # bob's name, signed by a CA alice does not trust
    leaf("bob_san", bob_ca, ["127.0.0.77"])                # bob's CA, wrong SAN
    leaf("bob_dns", bob_ca, ["bob.example.org"])           # a DNS SAN only
    leaf("bob_expired", bob_ca, [HOST], valid_days=(-10, -1))
    leaf("bob_future", bob_ca, [HOST], valid_days=(2, 30))
    leaf("bob_clientonly", bob_ca, [HOST], eku=("client",))
    leaf("alice_mallory", mallory_ca, [HOST])
    leaf("alice_serveronly", alice_ca, [HOST], eku=("server",))
    return files


class Server:
    """tlsprobe.listen in a thread: bob's certificate, trusting alice's CA."""

    def __init__(self, pki, stem="bob", seconds=10.0, count=None, alpn=("h2",)):
        self.port = free_port(HOST)
        self.ready = threading.Event()
        cert, key = pki[stem]
        self.result = None

        def run():
            self.result = tlsprobe.listen(HOST, self.port, cert, key, pki["alice_ca"], seconds, count=count,
                                          alpn=alpn, ready=self.ready)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def join(self):
        self.thread.join(15)
        return self.result


def alice_probe(pki, port, client="alice", ca="bob_ca", **kw):
    cert, key = pki[client] if client else (None, None)
    return tlsprobe.probe(HOST, port, pki[ca], cert, key, **kw)


@pytest.mark.parametrize("server,client,kind,detail", [
    ("bob", "alice", "ok", "alpn=h2"),
    ("bob_mallory", "alice", "unknown_ca", "verify_code=20"),
    ("bob_san", "alice", "name_mismatch", "verify_code=64"),
    ("bob_dns", "alice", "name_mismatch", "verify_code=64"),
    ("bob_expired", "alice", "expired", "verify_code=10"),
    ("bob_future", "alice", "not_yet_valid", "verify_code=9"),
    ("bob_clientonly", "alice", "bad_purpose", "verify_code=26"),
    # our certificate refused: with the HTTP/2 preface in flight the server's alert is often lost (a gRPC server
    # sends none anyway): "closed right after the handshake"; see the SPU-mode test below for the alerts
    ("bob", None, "peer_rejected_us", ""),
    ("bob", "alice_mallory", "peer_rejected_us", ""),
    ("bob", "alice_serveronly", "peer_rejected_us", ""),
])
def test_verdicts(pki, server, client, kind, detail):
    srv = Server(pki, server, count=1)
    got = alice_probe(pki, srv.port, client)
    assert got[0] == kind and detail in got[1], got
    report = srv.join()
    assert len(report["connections"]) == 1
    # the listener refuses exactly what the probe calls a failure on its side; a client-side verdict
    # (the client gave up on the server's certificate) shows as refused too
    assert report["connections"][0]["result"] == ("accepted" if kind == "ok" else "refused"), report


def test_the_listener_names_whom_it_accepted(pki):
    srv = Server(pki, count=1)
    assert alice_probe(pki, srv.port)[0] == "ok"
    conn = srv.join()["connections"][0]
    assert conn["client_subject"] == "commonName=alice" and "alice party CA" in conn["client_issuer"]


@pytest.mark.parametrize("client,detail", [(None, "requires a client certificate"),
                                           ("alice_mallory", "does not trust our CA"),
                                           ("alice_serveronly", "purpose (extended key usage)")])
def test_without_alpn_the_servers_alert_says_why_it_refused_us(pki, client, detail):
    """An OpenSSL server (SPU's brpc, this listener) sends a readable alert when it refuses the client."""
    srv = Server(pki, count=1, alpn=None)
    kind, got = alice_probe(pki, srv.port, client, alpn=None)
    assert kind == "peer_rejected_us" and detail in got, got
    assert srv.join()["connections"][0]["result"] == "refused"


def test_spu_mode_checks_no_name_and_sends_no_alpn(pki):
    """brpc (SPU) does not check host names and speaks no ALPN: check_hostname=False, alpn=None."""
    srv = Server(pki, "bob_san", count=1, alpn=None)
    kind, detail = alice_probe(pki, srv.port, check_hostname=False, alpn=None)
    assert kind == "ok" and "alpn=None" in detail
    srv.join()


def test_unreachable(pki):
    port = free_port(HOST)  # nobody listens
    kind, detail = alice_probe(pki, port)
    assert kind == "unreachable" and "ConnectionRefusedError" in detail


def test_plaintext_server_is_a_tls_error(pki):
    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def answer():   # every connection, as a real server does (the probe takes a second look)
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(2)
            try:
                c.recv(1024)
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            c.close()

    threading.Thread(target=answer, daemon=True).start()
    kind, detail = alice_probe(pki, port)
    srv.close()
    assert kind == "tls_error" and "WRONG_VERSION_NUMBER" in detail, detail


class BannerServer:
    """A reachability listener as plugins/module_utils/_daemon.py runs it: every connection gets one line
    ``<banner> <hostname> <port>`` unasked, then the connection is closed."""

    def __init__(self, line=None, port=None):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((HOST, port or 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.line = line if line is not None else f"sfops-listener alice-1 {self.port}\n".encode()
        self.srv.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            try:
                c.sendall(self.line)
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.srv.close()


def test_a_reachability_listener_is_no_tls_verdict_but_worth_retrying(pki):
    srv = BannerServer()
    try:
        kind, detail = alice_probe(pki, srv.port)
    finally:
        srv.close()
    assert kind == "preflight_listener" and f"'sfops-listener alice-1 {srv.port}'" in detail, (kind, detail)
    assert "preflight_listener" in tlsprobe.KINDS and "preflight_listener" in tlsprobe.RETRY_KINDS


@pytest.mark.parametrize("line", [
    b"sfops-listener alice-1 1\n",                 # names another port
    b"something-else alice-1 {port}\n",            # not our banner word
    b"SSH-2.0-OpenSSH_9.6\r\n",
])
def test_a_plaintext_server_that_is_not_our_listener_stays_a_tls_error(pki, line):
    port = free_port(HOST)
    srv = BannerServer(line.replace(b"{port}", str(port).encode()), port=port)
    try:
        kind, detail = alice_probe(pki, srv.port)
    finally:
        srv.close()
    assert kind == "tls_error", (kind, detail)


def test_probe_until_retries_while_a_reachability_listener_holds_the_port(pki):
    """Another organisation's site.yml preflight holds the port for a while, then the real (TLS) server is
    there: the probe reports the TLS verdict, not the listener."""
    port = free_port(HOST)
    srv = BannerServer(port=port)

    def swap():
        time.sleep(1.0)
        srv.close()
        tlsprobe.listen(HOST, port, *pki["bob"], pki["alice_ca"], 5, count=1)

    threading.Thread(target=swap, daemon=True).start()
    v = tlsprobe.probe_until({"bob": (HOST, port)}, 10, {"bob": pki["bob_ca"]}, *pki["alice"], interval_s=0.2)
    assert v["bob"]["kind"] == "ok" and v["bob"]["attempts"] >= 2, v


def test_probe_until_ends_on_the_listener_when_it_stays(pki):
    srv = BannerServer()
    t0 = time.monotonic()
    try:
        v = tlsprobe.probe_until({"bob": (HOST, srv.port)}, 1.0, {"bob": pki["bob_ca"]}, *pki["alice"],
                                 interval_s=0.2)
    finally:
        srv.close()
    assert v["bob"]["kind"] == "preflight_listener" and v["bob"]["attempts"] >= 2, v
    assert time.monotonic() - t0 < 4


def test_our_own_bad_files_raise_instead_of_blaming_the_peer(pki):
    import ssl

    with pytest.raises(ssl.SSLError):
        tlsprobe.probe(HOST, 1, pki["bob_ca"], pki["alice"][0], pki["bob"][1])  # alice's cert, bob's key


def test_probe_until_retries_unreachable_until_the_peer_is_up(pki):
    port = free_port(HOST)
    started = {}

    def late_server():
        time.sleep(1.2)
        started["t"] = time.monotonic()
        tlsprobe.listen(HOST, port, *pki["bob"], pki["alice_ca"], 5, count=1)

    threading.Thread(target=late_server, daemon=True).start()
    t0 = time.monotonic()
    v = tlsprobe.probe_until({"bob": (HOST, port)}, 10, {"bob": pki["bob_ca"]}, *pki["alice"], interval_s=0.2)
    assert v["bob"]["kind"] == "ok" and v["bob"]["attempts"] >= 3, v
    assert time.monotonic() - t0 < 5


def test_probe_until_gives_up_at_the_deadline_with_the_last_detail(pki):
    port = free_port(HOST)
    t0 = time.monotonic()
    v = tlsprobe.probe_until({"carol": (HOST, port)}, 1.0, {"carol": pki["bob_ca"]}, *pki["alice"], interval_s=0.2)
    took = time.monotonic() - t0
    assert v["carol"]["kind"] == "unreachable" and "ConnectionRefusedError" in v["carol"]["detail"]
    assert 0.7 < took < 2.5 and v["carol"]["attempts"] >= 3


def test_probe_until_fails_fast_on_a_tls_verdict_while_another_peer_is_still_unreachable(pki):
    srv = Server(pki, "bob_mallory", count=1)
    dead = free_port(HOST)
    t0 = time.monotonic()
    v = tlsprobe.probe_until({"bob": (HOST, srv.port), "carol": (HOST, dead)}, 20,
                             {"bob": pki["bob_ca"], "carol": pki["bob_ca"]}, *pki["alice"], interval_s=0.2)
    assert time.monotonic() - t0 < 3
    assert v["bob"]["kind"] == "unknown_ca" and v["carol"]["kind"] == "unreachable"
    srv.join()


def test_probe_until_waits_for_all_when_some_are_ok(pki):
    srv = Server(pki, count=1)
    port = free_port(HOST)
    late = threading.Thread(target=lambda: (time.sleep(1.0), tlsprobe.listen(HOST, port, *pki["bob"],
                                                                              pki["alice_ca"], 5, count=1)),
                            daemon=True)
    late.start()
    v = tlsprobe.probe_until({"bob": (HOST, srv.port), "dave": (HOST, port)}, 10,
                             {"bob": pki["bob_ca"], "dave": pki["bob_ca"]}, *pki["alice"], interval_s=0.2)
    assert v["bob"]["kind"] == v["dave"]["kind"] == "ok", v


def test_check_files_installs_the_bundle_and_checks_the_pair(pki, tmp_path):
    bundle = str(tmp_path / "b" / "ca-x.pem")
    text = open(pki["bob_ca"]).read()
    ok = tlsprobe.check_files(*pki["alice"], bundle, {bundle: text})
    assert ok["errors"] == [] and open(bundle).read() == text
    assert oct(os.stat(bundle).st_mode & 0o777) == "0o644"
    bad = tlsprobe.check_files(pki["alice"][0], pki["bob"][1], bundle)
    assert len(bad["errors"]) == 1 and "KEY_VALUES_MISMATCH" in bad["errors"][0]


def test_write_if_changed(tmp_path):
    p = str(tmp_path / "x" / "f.pem")
    assert tlsprobe.write_if_changed(p, "a\n") is True
    assert tlsprobe.write_if_changed(p, "a\n") is False
    assert tlsprobe.write_if_changed(p, "b\n") is True and open(p).read() == "b\n"


@pytest.mark.parametrize("address,expected", [("10.0.0.1:19000", ("10.0.0.1", 19000)),
                                              ("[2001:db8::1]:19003", ("2001:db8::1", 19003)),
                                              ("bob.example.org:1", ("bob.example.org", 1))])
def test_split_hostport(address, expected):
    assert tlsprobe.split_hostport(address) == expected


def test_the_module_needs_only_the_standard_library():
    """It is shipped by value into Ray tasks on the Ray head: no sfworker (or other third-party) import."""
    tree = ast.parse(open(tlsprobe.__file__).read())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
    assert mods <= set(sys.stdlib_module_names), mods - set(sys.stdlib_module_names)
