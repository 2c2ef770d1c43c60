"""sfworker.job's TLS steps without Ray clusters: the peer wait (probe verdicts, RayFed's ping result), the job's
SPU cluster_def with this party's tls_opts, the gRPC-backend check, the SPU rank hint."""

import time

import pytest

from sfworker import job
from sfworker.config import parse_config
from sfworker.job import PeerTimeoutError, spu_cluster_def_of, spu_link_hint, wait_for_peers
from sfworker.params import build_job_spec
from sfworker.tls import JobTls, PeerTlsError

from helpers import base_config

JT = JobTls("/t/v1", "/t/v1/cert.pem", "/t/v1/key.pem", "/w/tls-ca/ca-0123.pem",
            {"bob": "/t/peers/bob.pem", "carol": "/t/peers/carol.pem"}, 2, not_after="Jan  1 00:00:00 2030 GMT")


@pytest.fixture
def spec(data_dir):
    cfg = parse_config(base_config(data_dir, tls={"dir": "/t", "verify_depth": 2}))
    params = {"task_config": {"task_type": "secure_sum", "column": "x", "job_slot": 3,
                              "input_paths": {"alice": "alice.csv", "bob": "b.csv", "carol": "c.csv"}}}
    return build_job_spec(cfg, "req-1", params)


class FakeRef:
    def __init__(self, value):
        self.value = value


@pytest.fixture
def fake_fed(monkeypatch):
    """RayFed's ping (fed.proxy.barriers.send) and ray.wait/ray.get, answering from ``answers`` (party -> value or
    exception)."""
    import ray
    from fed.proxy import barriers

    answers = {}
    sent = []

    def send(party, data, up, down, check_sending=True):
        sent.append(party)
        return FakeRef(answers[party])

    def get(ref, timeout=None):
        if isinstance(ref.value, BaseException):
            raise ref.value
        return ref.value

    monkeypatch.setattr(barriers, "send", send)
    monkeypatch.setattr(ray, "wait", lambda refs, num_returns, timeout: (list(refs), []))
    monkeypatch.setattr(ray, "get", get)
    monkeypatch.setattr(job.time, "sleep", lambda s: None)
    monkeypatch.setattr(job, "LINGER_AFTER_FAILURE_S", 0.0)
    return answers, sent


def verdicts(**kinds):
    return {p: {"kind": k, "detail": d, "attempts": 1, "seconds": 0.1} for p, (k, d) in kinds.items()}


class FakeProbe(job.PeerProbe):
    """A probe that has concluded with ``done`` (or, with done=None, is still retrying and knows ``known``)."""

    def __init__(self, done=None, known=None):
        self.done, self.known, self.waited = done, known or {}, []

    def result(self, timeout):
        self.waited.append(timeout)
        return self.done

    def partial(self):
        return self.known


def test_a_tls_verdict_fails_at_once_naming_peer_address_and_cause(spec, fake_fed):
    answers, sent = fake_fed
    probe = FakeProbe(verdicts(bob=("unknown_ca", "verify_code=20 unable to get local issuer certificate"),
                               carol=("unreachable", "ConnectionRefusedError: [Errno 111] Connection refused")))
    with pytest.raises(PeerTlsError) as ei:
        wait_for_peers(spec, 30, JT, probe)
    assert str(ei.value) == (
        "peer party 'bob' at 127.0.0.2:19003 (RayFed): TLS failure: unknown CA (verify_code=20 unable to get local "
        "issuer certificate): the certificate bob presented is not signed by the CA we have for bob "
        "(/t/peers/bob.pem)")
    assert len(probe.waited) == 1 and 29 < probe.waited[0] <= 30  # waits for the verdicts at most peer_timeout_s
    assert sent == []  # no RayFed message to a peer that failed TLS


def test_a_refused_certificate_is_named_too(spec, fake_fed):
    probe = FakeProbe(verdicts(bob=("ok", "TLSv1.3 alpn=h2"),
                               carol=("peer_rejected_us", "it closed the connection right after the handshake")))
    with pytest.raises(PeerTlsError, match=r"^peer party 'carol' at 127.0.0.3:19003 \(RayFed\): TLS failure: carol "
                                           r"refused our certificate .*\(ours is valid until Jan  1 00:00:00 2030 GMT\)"):
        wait_for_peers(spec, 30, JT, probe)


def test_the_linger_keeps_our_receiver_up_for_the_peers_probe(spec, fake_fed, monkeypatch):
    slept = []
    monkeypatch.setattr(job, "LINGER_AFTER_FAILURE_S", 5.0)
    monkeypatch.setattr(job.time, "sleep", slept.append)
    with pytest.raises(PeerTlsError):
        wait_for_peers(spec, 30, JT, FakeProbe(verdicts(bob=("name_mismatch", "x"), carol=("ok", "y"))))
    assert len(slept) == 1 and 4.9 < slept[0] <= 5.0


def test_unreachable_until_the_deadline_is_a_peer_timeout(spec, fake_fed):
    """The probe (started before sf.init, still retrying carol) has not concluded when peer_timeout_s is over."""
    still = FakeProbe(None, verdicts(bob=("ok", "TLSv1.3"), carol=("unreachable", "ConnectionRefusedError: refused")))
    with pytest.raises(PeerTimeoutError, match=r"^peer 'carol' at 127.0.0.3:19003 did not join job sfjob-\w+ within "
                                               r"30s .*last error: carol: TLS probe: unreachable \(ConnectionRefused"):
        wait_for_peers(spec, 30, JT, still)
    blind = FakeProbe(None)  # a probe in a Ray task: no partial results
    with pytest.raises(PeerTimeoutError, match=r"^peers 'bob' at 127.0.0.2:19003, 'carol' at 127.0.0.3:19003 did not "
                                               r"join .*bob: TLS probe: unreachable \(nothing answered\)"):
        wait_for_peers(spec, 30, JT, blind)


def test_all_ok_then_the_rayfed_ping(spec, fake_fed):
    answers, sent = fake_fed
    answers.update(bob=True, carol=True)
    assert wait_for_peers(spec, 30, JT, FakeProbe(verdicts(bob=("ok", ""), carol=("ok", "")))) >= 0
    assert sorted(sent) == ["bob", "carol"]


def test_a_ping_that_returns_false_is_not_a_joined_peer(spec, fake_fed, monkeypatch):
    """RayFed's send returns False when the message did not get through (TLS, refused, other job): the old wait
    took any answer as "joined"."""
    answers, sent = fake_fed
    answers.update(bob=True, carol=False)
    clock = iter(range(0, 1000, 4))
    monkeypatch.setattr(job.time, "monotonic", lambda: next(clock))
    with pytest.raises(PeerTimeoutError, match=r"peer 'carol' at 127.0.0.3:19003 did not join .*carol: ping not "
                                               r"delivered \(RayFed send returned False"):
        wait_for_peers(spec, 20)  # plaintext: no probe
    assert sent.count("bob") == 1 and sent.count("carol") > 1


def test_the_jobs_spu_cluster_def_has_tls_opts_on_our_node_only(spec):
    d = spu_cluster_def_of(spec, JT)
    nodes = {n["party"]: n for n in d["nodes"]}
    half = {"certificate_path": JT.cert, "private_key_path": JT.key, "ca_file_path": JT.ca_bundle, "verify_depth": 2}
    assert nodes["alice"]["tls_opts"] == {"server_ssl_opts": half, "client_ssl_opts": half}
    assert "tls_opts" not in nodes["bob"] and "tls_opts" not in nodes["carol"]
    # everything else is the spec's (the plan's) cluster_def
    for n in d["nodes"]:
        n.pop("tls_opts", None)
    assert d == spec["spu_cluster_def"]
    assert spu_cluster_def_of(spec, None) == spec["spu_cluster_def"]


def test_the_brpc_link_backend_is_refused(monkeypatch):
    from fed.proxy import barriers

    monkeypatch.setattr(barriers, "sender_proxy_actor_name", lambda: "SenderReceiverProxyActor_j")
    monkeypatch.setattr(barriers, "receiver_proxy_actor_name", lambda: "SenderReceiverProxyActor_j")
    with pytest.raises(RuntimeError, match="brpc_link backend, which sends in plaintext"):
        job.assert_grpc_proxies()
    monkeypatch.setattr(barriers, "receiver_proxy_actor_name", lambda: "ReceiverProxyActor_j")
    job.assert_grpc_proxies()


def test_spu_link_hint_names_the_party_of_the_rank(spec):
    msg = ("RayActorError: ... RuntimeError: what: [external/yacl/yacl/link/context.cc:194] connect to mesh failed, "
           "failed to setup connection to rank=2")
    assert spu_link_hint(msg, spec) == (
        " [SPU link to peer party 'carol' at 127.0.0.3:19503 failed within connect_retry_times=12: that party's SPU "
        "port did not answer or refused the TLS handshake; the reason is in the SPU runtime's brpc log on this "
        "party's Ray head]")
    assert spu_link_hint("something else", spec) == ""


def test_the_result_says_which_certificate_the_job_used():
    assert job.tls_report(JT) == {"enabled": True, "version": "v1", "not_after": "Jan  1 00:00:00 2030 GMT",
                                  "trusted_peers": ["bob", "carol"]}
    assert job.tls_report(None) == {"enabled": False}


def test_the_local_probe_runs_in_the_background_and_reports_partial_results(spec, monkeypatch):
    """Started before sf.init: result() does not block the job longer than asked; partial() shows the retries."""
    started = []

    def slow_probe_until(targets, seconds, ca_files, cert, key, state=None):
        started.append((targets, seconds, ca_files, cert, key))
        state.update({p: {"kind": "unreachable", "detail": "refused", "attempts": 3, "seconds": 1.0} for p in targets})
        time.sleep(0.5)
        return {p: {"kind": "ok", "detail": "", "attempts": 4, "seconds": 1.5} for p in targets}

    monkeypatch.setattr(job.tlsprobe, "probe_until", slow_probe_until)
    probe = job.start_peer_probe(spec, JT, None)
    assert isinstance(probe, job.LocalPeerProbe)
    assert probe.result(timeout=0.05) is None
    assert probe.partial()["carol"]["attempts"] == 3
    assert {p: v["kind"] for p, v in probe.result(timeout=5).items()} == {"bob": "ok", "carol": "ok"}
    targets, seconds, ca_files, cert, key = started[0]
    assert targets == {"bob": ("127.0.0.2", 19003), "carol": ("127.0.0.3", 19003)}
    assert seconds == 120 + job.PROBE_SF_INIT_ALLOWANCE_S and ca_files == JT.peer_ca_files and cert == JT.cert
