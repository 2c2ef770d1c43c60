import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import base_config

SFWORKER = [sys.executable, "-m", "sfworker.cli"]


def run(args, **kw):
    env = dict(os.environ)
    env.pop("SFWORKER_CONFIG", None)
    env.update(kw.pop("env", {}))
    return subprocess.run(SFWORKER + args, capture_output=True, text=True, timeout=120, env=env, **kw)


def test_check_config_redacts(tmp_path, data_dir):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir)))
    cp = run(["--config", str(p), "check-config"])
    assert cp.returncode == 0, cp.stderr
    d = json.loads(cp.stdout)
    assert d["party"] == "alice" and d["redis_url"] == "redis://:***@127.0.0.1:16379/0"


def test_config_from_env_var(tmp_path, data_dir):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir, node_id="from-env")))
    cp = run(["check-config"], env={"SFWORKER_CONFIG": str(p)})
    assert cp.returncode == 0 and json.loads(cp.stdout)["node_id"] == "from-env"


def test_bad_config_exit_2_names_key(tmp_path, data_dir):
    raw = base_config(data_dir)
    del raw["parties"]["bob"]["fed_port"]
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(raw))
    cp = run(["--config", str(p), "worker"])
    assert cp.returncode == 2 and "'parties.bob.fed_port'" in cp.stderr


def test_submit_arg_errors():
    cp = run(["submit", "--party", "alice"])
    assert cp.returncode != 0 and "NAME=redis://" in cp.stderr
    cp = run(["submit", "--party", "alice=redis://127.0.0.1:1/0"])
    assert cp.returncode != 0 and "--params" in cp.stderr


def test_submit_refuses_a_password_in_argv():
    """issue #12: `--party x=redis://:PW@...` put the password where every user of the machine reads it."""
    cp = run(["submit", "--party", "alice=redis://:s3cret-pw@127.0.0.1:1/0", "--params-json", "{}"])
    assert cp.returncode != 0
    assert ("--party alice: the URL carries a password, and a command line is visible to every user of this machine "
            "(ps, /proc). Give the URL without it (redis://:***@127.0.0.1:1/0 -> redis://127.0.0.1:1/0) and the "
            "password with --password-file alice=FILE or $REDISCLI_AUTH") in cp.stderr
    assert "s3cret-pw" not in cp.stderr + cp.stdout
    cp = run(["submit", "--party", "redis://:s3cret-pw@127.0.0.1:1/0"])
    assert cp.returncode != 0 and "NAME=redis://" in cp.stderr and "s3cret-pw" not in cp.stderr


def test_submit_passwords_from_files_and_env(tmp_path):
    from sfworker.submit import brokers_from_args

    (tmp_path / "a.pw").write_text("p@ss:w/rd\n")
    brokers = brokers_from_args(["alice=redis://10.0.0.1:16379/0", "bob=rediss://[fd00::2]:6380/1"],
                                [f"alice={tmp_path / 'a.pw'}"], environ={"REDISCLI_AUTH": "env-pw"})
    assert brokers == {"alice": "redis://:p%40ss%3Aw%2Frd@10.0.0.1:16379/0", "bob": "rediss://:env-pw@[fd00::2]:6380/1"}
    assert brokers_from_args(["a=redis://user@h:1/0"], None, environ={}) == {"a": "redis://user@h:1/0"}
    assert brokers_from_args(["a=redis://user@h:1/0"], None, environ={"REDISCLI_AUTH": "x"}) == {"a": "redis://user:x@h:1/0"}
    with pytest.raises(SystemExit, match=r"--password-file carol: .*cannot read"):
        brokers_from_args(["carol=redis://h:1/0"], [f"carol={tmp_path / 'none'}"], environ={})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SystemExit, match=r"--password-file carol: .* is empty"):
        brokers_from_args(["carol=redis://h:1/0"], [f"carol={tmp_path / 'empty'}"], environ={})
    with pytest.raises(SystemExit, match=r"--password-file for dave, which has no --party"):
        brokers_from_args(["carol=redis://h:1/0"], ["dave=/x"], environ={})


def test_submit_with_a_password_file_reaches_the_broker(tmp_path, redis_server):
    """End to end against a real Redis with requirepass: the password only in a file, never in argv."""
    from helpers import REDIS_PASSWORD

    pw = tmp_path / "alice.pw"
    pw.write_text(REDIS_PASSWORD + "\n")
    url = redis_server.replace(f":{REDIS_PASSWORD}@", "")
    assert REDIS_PASSWORD not in url
    cp = run(["submit", "--party", f"alice={url}", "--password-file", f"alice={pw}",
              "--task", "tasks.secretflow.hello.hello_task", "--timeout", "1"])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    out = json.loads(cp.stdout)  # queued and waited for (nobody consumes it), not an authentication error
    assert out["results"]["alice"]["state"] == "TIMEOUT", out


def test_healthcheck_fails_without_ray_and_worker(tmp_path, data_dir, redis_server):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir, redis_url=redis_server, ray_address="127.0.0.1:1")))
    cp = run(["--config", str(p), "healthcheck", "--timeout", "1", "--json"])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    rep = json.loads(cp.stdout)
    assert rep["ok"] is False and rep["ray"]["reachable"] is False and rep["worker_ping"] == {}


def test_health_report_without_ray(cfg, redis_client):
    from sfworker.health import health_report

    rep = health_report(cfg, redis_client, worker="w@x")
    assert rep["overall_status"] == "error"
    assert rep["components"]["redis"]["status"] == "healthy"
    assert rep["components"]["ray"]["reachable"] is False and rep["components"]["ray"]["status"] == "error"
    assert rep["components"]["node_info"] == {"node_id": "alice-head", "node_ip": "127.0.0.1", "party": "alice"}
    # the original worker's keys as well (#13)
    assert rep["status"] == "success" and rep["task_name"] == "health_check_task" and "error" in rep["message"]
    assert rep["start_time"] <= rep["end_time"] and isinstance(rep["execution_time"], float)
    assert rep["components"]["redis"]["details"]["latency_ms"] >= 0
    assert rep["components"]["celery"]["details"] == {"worker": "w@x", "queue": "secretflow_queue",
                                                      "pid": os.getpid()}
    assert rep["node_info"] == {"node_id": "alice-head", "node_ip": "127.0.0.1", "party": "alice",
                                "app_env": "production"}


def test_celery_settings_json_only(cfg):
    from sfworker.celery_app import EXECUTE_TASK, HEALTH_TASK, HELLO_TASK, create_app

    app = create_app(cfg)
    c = app.conf
    assert c.accept_content == ["json"] and c.result_accept_content == ["json"]
    assert c.task_serializer == c.result_serializer == "json"
    assert c.broker_url == c.result_backend == cfg.redis_url
    assert c.task_default_queue == "secretflow_queue" and c.worker_prefetch_multiplier == 1
    assert {EXECUTE_TASK, HEALTH_TASK, HELLO_TASK} <= set(app.tasks)
    assert EXECUTE_TASK == "tasks.secretflow.execute_task"


def test_submit_defaults_to_own_party_from_config(tmp_path, data_dir, redis_server):
    """Without --party, submit sends to this node's own party and broker (no password on the command line)."""
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(base_config(data_dir, redis_url=redis_server)))
    cp = run(["--config", str(p), "submit", "--task", "tasks.secretflow.hello.hello_task", "--timeout", "1"])
    assert cp.returncode == 1, cp.stdout + cp.stderr  # nobody consumes the queue: a timeout, reported per party
    out = json.loads(cp.stdout)
    assert list(out["results"]) == ["alice"] and out["results"]["alice"]["state"] == "TIMEOUT"


def test_submit_without_party_or_config_says_why(tmp_path):
    cp = run(["--config", str(tmp_path / "missing.yml"), "submit", "--params-json", "{}"])
    assert cp.returncode != 0 and "no --party given" in cp.stderr


# ------------------------------------------------------------------ tls-probe / tls-listen


@pytest.fixture
def tls_pair(tmp_path, data_dir):
    """alice and bob configs with TLS files laid out like the node role does (bob's node also has a certificate
    from an unknown CA at hand, to present as a client)."""
    from pki import install_party, make_ca, make_leaf, write

    from helpers import free_port

    cas = {p: make_ca(p) for p in ("alice", "bob", "mallory")}
    paths = {}
    for me, ip, peer in (("alice", "127.0.0.1", "bob"), ("bob", "127.0.0.2", "alice")):
        d = str(tmp_path / me / "tls")
        install_party(d, make_leaf(cas[me], me, [ip]), {peer: cas[peer]})
        cfg = base_config(data_dir, party=me, node_id=f"{me}-head", node_ip=ip,
                          work_dir=str(tmp_path / me / "work"), tls={"dir": d, "verify_depth": 2})
        p = tmp_path / f"{me}.yml"
        p.write_text(yaml.safe_dump(cfg))
        paths[me] = str(p)
    rogue = make_leaf(cas["mallory"], "alice", ["127.0.0.1"])
    paths["rogue"] = (write(str(tmp_path / "rogue.crt"), rogue.cert_pem),
                      write(str(tmp_path / "rogue.key"), rogue.key_pem(), 0o600))
    paths["port"] = free_port("127.0.0.2")
    return paths


def _listen(paths, count):
    env = dict(os.environ)
    env.pop("SFWORKER_CONFIG", None)
    p = subprocess.Popen(SFWORKER + ["--config", paths["bob"], "tls-listen", "--port", str(paths["port"]),
                                     "--bind", "127.0.0.2", "--seconds", "30", "--count", str(count)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = json.loads(p.stderr.readline())  # printed once the certificate and CA files are checked
    assert first == {"listening": f"127.0.0.2:{paths['port']}", "trusting": ["alice"], "seconds": 30.0}
    return p


def _probe(paths, *extra):
    cp = run(["--config", paths["alice"], "tls-probe", "--party", "bob", "--port", str(paths["port"]), *extra])
    return cp.returncode, (json.loads(cp.stdout) if cp.stdout.strip() else None), cp.stderr


def test_tls_probe_against_tls_listen(tls_pair):
    lst = _listen(tls_pair, count=4)
    rc, ok, err = _probe(tls_pair, "--wait", "5")
    assert rc == 0 and ok["ok"] is True and ok["kind"] == "ok" and ok["message"] == "ok", (ok, err)
    assert ok["address"] == f"127.0.0.2:{tls_pair['port']}" and ok["link"] == "fed" and ok["client"] == "own"
    rc, nocert, _ = _probe(tls_pair, "--no-cert")
    assert rc == 1 and nocert["kind"] == "peer_rejected_us" and nocert["client_certificate"] is None
    assert nocert["client"] == "none"
    assert nocert["message"].startswith(f"peer party 'bob' at 127.0.0.2:{tls_pair['port']} (RayFed): TLS failure: "
                                        f"bob refused our certificate")
    rc, rogue, _ = _probe(tls_pair, "--cert", tls_pair["rogue"][0], "--key", tls_pair["rogue"][1])
    assert rc == 1 and rogue["kind"] == "peer_rejected_us" and rogue["client"] == "given"
    rc, stranger, err = _probe(tls_pair, "--stranger")
    assert rc == 1 and stranger["kind"] == "peer_rejected_us" and stranger["client"] == "stranger", (stranger, err)
    assert stranger["client_certificate"] is None   # its files are gone by now
    out, err = lst.communicate(timeout=30)
    assert lst.returncode == 0, err
    report = json.loads(out)
    assert [c["result"] for c in report["connections"]] == ["accepted", "refused", "refused", "refused"], report
    assert report["party"] == "bob" and report["trusting"] == ["alice"]
    assert "commonName=alice" == report["connections"][0]["client_subject"]
    # the listener saw the stranger's certificate and refused it for its CA (not for a missing certificate)
    assert report["connections"][3]["detail"] == "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate", \
        report["connections"]


def test_tls_probe_stranger_is_exclusive_with_other_client_certificates(tls_pair):
    for other in (["--no-cert"], ["--cert", tls_pair["rogue"][0], "--key", tls_pair["rogue"][1]]):
        cp = run(["--config", tls_pair["alice"], "tls-probe", "--party", "bob", "--stranger", *other])
        assert cp.returncode == 2 and "not allowed with argument" in cp.stderr, cp.stderr


def test_stranger_files(tmp_path, monkeypatch):
    """A certificate from a throwaway CA: EC P-256, clientAuth + serverAuth, the given address as SAN, one day,
    in a private directory that is gone afterwards."""
    import datetime as dt
    import ipaddress
    import stat
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from sfworker.tlscli import stranger_files

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for address, san in (("10.0.0.7", x509.IPAddress(ipaddress.ip_address("10.0.0.7"))),
                         ("alice.example.org", x509.DNSName("alice.example.org"))):
        with stranger_files(address) as (cert_file, key_file):
            directory = os.path.dirname(cert_file)
            assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
            assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
            cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
            assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
            assert cert.public_key().curve.name == "secp256r1"
            assert cert.issuer != cert.subject   # issued by the throwaway CA
            assert list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value) == [san]
            eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
            assert eku == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
            life = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
            assert dt.timedelta(hours=23) < life <= dt.timedelta(days=1)
        assert not os.path.exists(directory)
    assert os.listdir(tmp_path) == []


def test_tls_info(tls_pair, data_dir, tmp_path):
    from pki import install_party, make_ca, make_leaf

    cp = run(["--config", tls_pair["bob"], "tls-info"])
    assert cp.returncode == 0, cp.stderr
    info = json.loads(cp.stdout)
    assert info["party"] == "bob" and info["enabled"] is True
    assert info["version"] == info["serial"]   # the node role names the version directory by the serial
    assert info["certificate"].endswith(f"/{info['version']}/cert.pem")
    assert info["san"] == ["IP Address:127.0.0.2"] and info["days_left"] in (29, 30)
    assert info["not_after"].endswith("Z") and info["not_before"] < info["not_after"]
    # a certificate that expired yesterday: negative days
    d = str(tmp_path / "old" / "tls")
    install_party(d, make_leaf(make_ca("carol"), "carol", ["127.0.0.3"], valid_days=(-10, -1)), {})
    old = tmp_path / "old.yml"
    old.write_text(yaml.safe_dump(base_config(data_dir, tls={"dir": d, "verify_depth": 2})))
    cp = run(["--config", str(old), "tls-info"])
    assert cp.returncode == 0 and json.loads(cp.stdout)["days_left"] in (-1, -2), cp.stdout
    # nothing installed: exit 1 and the reason; TLS off: enabled false
    missing = tmp_path / "missing.yml"
    missing.write_text(yaml.safe_dump(base_config(data_dir, tls={"dir": str(tmp_path / "none"), "verify_depth": 2})))
    cp = run(["--config", str(missing), "tls-info"])
    assert cp.returncode == 1 and "does not exist" in json.loads(cp.stdout)["error"]
    plain = tmp_path / "plain.yml"
    plain.write_text(yaml.safe_dump(base_config(data_dir)))
    cp = run(["--config", str(plain), "tls-info"])
    assert cp.returncode == 0 and json.loads(cp.stdout)["enabled"] is False


def test_tls_probe_exit_codes_without_a_listener(tls_pair, data_dir, tmp_path):
    rc, out, _ = _probe(tls_pair)
    assert rc == 3 and out["kind"] == "unreachable" and out["ok"] is False
    assert out["message"].startswith(f"peer party 'bob' at 127.0.0.2:{tls_pair['port']} (RayFed): nothing answers (")
    cp = run(["--config", tls_pair["alice"], "tls-probe", "--party", "alice"])
    assert cp.returncode == 2 and "own party" in cp.stderr
    cp = run(["--config", tls_pair["alice"], "tls-probe", "--party", "zed"])
    assert cp.returncode == 2 and "unknown party 'zed'" in cp.stderr
    plain = tmp_path / "plain.yml"
    plain.write_text(yaml.safe_dump(base_config(data_dir)))
    cp = run(["--config", str(plain), "tls-probe", "--party", "bob"])
    assert cp.returncode == 2 and "TLS is off in this worker's config (tls: null)" in cp.stderr
    cp = run(["--config", str(plain), "tls-listen", "--port", "1"])
    assert cp.returncode == 2 and "TLS is off" in cp.stderr


def test_tls_listen_port_in_use(tls_pair):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.2", tls_pair["port"]))
        s.listen(1)
        cp = run(["--config", tls_pair["bob"], "tls-listen", "--port", str(tls_pair["port"]), "--bind", "127.0.0.2",
                  "--seconds", "1"])
    assert cp.returncode == 1 and "Address already in use" in json.loads(cp.stdout)["error"]


def test_tls_probe_refuses_a_broken_own_key(tls_pair, tmp_path):
    """Our own bad files are exit 2 with the file named, never a verdict about the peer."""
    cfg = yaml.safe_load(open(tls_pair["alice"]))
    key = os.path.join(cfg["tls"]["dir"], "current", "key.pem")
    os.chmod(key, 0o600)
    with open(tls_pair["rogue"][1], "rb") as src, open(key, "wb") as dst:
        dst.write(src.read())
    rc, out, err = _probe(tls_pair)
    assert rc == 2 and out is None and "does not belong to the certificate" in err and "key.pem" in err
