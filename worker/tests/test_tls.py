"""sfworker.tls: the job's own-file checks, the per-job CA bundle, what goes into sf.init and the SPU node, the
allow-list and the error messages. Certificates are made here (tests/pki.py), laid out like the node role does."""

import json
import os
import pickle
import time

import pytest

from sfworker import tls
from sfworker.tls import JobTls, TlsSetupError, prepare_job_tls

from pki import install_party, install_version, make_ca, make_leaf, switch_current, write


@pytest.fixture(scope="module")
def cas():
    return {p: make_ca(p) for p in ("alice", "bob", "carol", "mallory")}


@pytest.fixture
def tls_dir(tmp_path, cas):
    """alice's node: current -> v1 (alice's certificate), peers/bob.pem, peers/carol.pem."""
    d = str(tmp_path / "tls")
    install_party(d, make_leaf(cas["alice"], "alice", ["10.0.0.1"]), {"bob": cas["bob"], "carol": cas["carol"]},
                  version="v1")
    return d


def settings(d, depth=2):
    return {"dir": d, "verify_depth": depth}


def test_prepare_resolves_current_once_and_bundles_only_the_jobs_peers(tls_dir, tmp_path, cas):
    bdir = str(tmp_path / "work" / "tls-ca")
    jt = prepare_job_tls(settings(tls_dir), ["bob"], bdir)
    v1 = os.path.realpath(os.path.join(tls_dir, "v1"))
    assert jt.version_dir == v1 and jt.cert == os.path.join(v1, "cert.pem") and jt.key == os.path.join(v1, "key.pem")
    assert open(jt.ca_bundle, "rb").read() == cas["bob"].pem  # carol's CA is not trusted in a job with bob only
    assert jt.peer_ca_files == {"bob": os.path.join(tls_dir, "peers", "bob.pem")}
    assert os.path.dirname(jt.ca_bundle) == bdir and os.path.basename(jt.ca_bundle).startswith("ca-")
    # a rotation after the job started: the job keeps the files it resolved (cert and key from one version)
    install_version(tls_dir, "v2", make_leaf(cas["alice"], "alice", ["10.0.0.1"]))
    switch_current(tls_dir, "v2")
    assert jt.cert.startswith(v1 + os.sep) and os.path.exists(jt.cert)
    assert prepare_job_tls(settings(tls_dir), ["bob"], bdir).version_dir.endswith("v2")


def test_the_bundle_is_content_addressed(tls_dir, tmp_path, cas):
    bdir = str(tmp_path / "b")
    one = prepare_job_tls(settings(tls_dir), ["bob", "carol"], bdir)
    again = prepare_job_tls(settings(tls_dir), ["carol", "bob"], bdir)
    other = prepare_job_tls(settings(tls_dir), ["carol"], bdir)
    assert one.ca_bundle == again.ca_bundle != other.ca_bundle
    assert open(one.ca_bundle, "rb").read() == cas["bob"].pem + cas["carol"].pem
    assert one.bundle_text == open(one.ca_bundle).read()
    assert sorted(os.listdir(bdir)) == sorted(os.path.basename(p) for p in (one.ca_bundle, other.ca_bundle))


def test_old_bundles_are_pruned(tls_dir, tmp_path):
    bdir = str(tmp_path / "b")
    os.makedirs(bdir)
    old = write(os.path.join(bdir, "ca-0123456789abcdef.pem"), b"x")
    keep = write(os.path.join(bdir, "unrelated.txt"), b"x")
    os.utime(old, (time.time() - 4 * 86400,) * 2)
    os.utime(keep, (time.time() - 4 * 86400,) * 2)
    prepare_job_tls(settings(tls_dir), ["bob"], bdir)
    assert not os.path.exists(old) and os.path.exists(keep)


def test_what_sf_init_and_spu_get(tls_dir, tmp_path):
    jt = prepare_job_tls(settings(tls_dir, depth=3), ["bob"], str(tmp_path / "b"))
    assert jt.tls_config() == {"ca_cert": jt.ca_bundle, "cert": jt.cert, "key": jt.key}  # SecretFlow wants exactly these
    half = {"certificate_path": jt.cert, "private_key_path": jt.key, "ca_file_path": jt.ca_bundle, "verify_depth": 3}
    assert jt.spu_tls_opts() == {"server_ssl_opts": half, "client_ssl_opts": half}


def _broken(tls_dir, cas, what):
    v1 = os.path.join(tls_dir, "v1")
    if what == "no-current":
        os.remove(os.path.join(tls_dir, "current"))
    elif what == "current-dangling":
        switch_current(tls_dir, "v9")
    elif what == "no-cert":
        os.remove(os.path.join(v1, "cert.pem"))
    elif what == "no-key":
        os.remove(os.path.join(v1, "key.pem"))
    elif what == "key-mismatch":
        write(os.path.join(v1, "key.pem"), make_leaf(cas["alice"], "x", ["10.0.0.1"]).key_pem(), 0o600)
    elif what == "encrypted-key":
        install_version(tls_dir, "v1", make_leaf(cas["alice"], "alice", ["10.0.0.1"]), key_password=b"pw")
    elif what == "cert-not-pem":
        write(os.path.join(v1, "cert.pem"), b"not a certificate\n")
    elif what == "expired":
        install_version(tls_dir, "v1", make_leaf(cas["alice"], "alice", ["10.0.0.1"], valid_days=(-30, -2)))
    elif what == "not-yet-valid":
        install_version(tls_dir, "v1", make_leaf(cas["alice"], "alice", ["10.0.0.1"], valid_days=(3, 30)))
    elif what == "no-peer-ca":
        os.remove(os.path.join(tls_dir, "peers", "bob.pem"))
    elif what == "peer-ca-not-pem":
        write(os.path.join(tls_dir, "peers", "bob.pem"), b"-----BEGIN CERTIFICATE-----\nxx\n")


BROKEN = [
    ("no-current", r"^TLS is on \(worker config tls.dir=.*\) but .*/tls/current does not exist: this node has no "
                   r"certificate installed"),
    ("current-dangling", r"/tls/current points to .*/tls/v9, which is not a directory$"),
    ("no-cert", r"^this party's TLS certificate .*/v1/cert.pem does not exist$"),
    ("no-key", r"^this party's TLS private key .*/v1/key.pem does not exist$"),
    ("key-mismatch", r"^this party's TLS private key .*/v1/key.pem does not belong to the certificate .*/v1/cert.pem$"),
    ("encrypted-key", r"^this party's TLS private key .*/v1/key.pem is encrypted; RayFed has no passphrase option$"),
    ("cert-not-pem", r"^this party's TLS certificate .*/v1/cert.pem or key .*/v1/key.pem is not a PEM certificate/key"),
    ("expired", r"^this party's TLS certificate .*/v1/cert.pem expired on .* GMT; renew it \(playbooks/rotate-certs"),
    ("not-yet-valid", r"^this party's TLS certificate .*/v1/cert.pem is not valid yet \(notBefore .* GMT\)$"),
    ("no-peer-ca", r"^no CA certificate of peer party 'bob' on this node \(.*/tls/peers/bob.pem\): the deployment needs "
                   r"sf_peer_parties.bob.ca_cert \(or import it with playbooks/tls-import.yml\)$"),
    ("peer-ca-not-pem", r"^the CA certificate of peer party 'bob' \(.*/tls/peers/bob.pem\) is not a PEM certificate"),
]


@pytest.mark.parametrize("what,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_own_files_fail_with_a_clear_error_naming_the_file(tls_dir, tmp_path, cas, what, message):
    _broken(tls_dir, cas, what)
    with pytest.raises(TlsSetupError, match=message):
        prepare_job_tls(settings(tls_dir), ["bob", "carol"], str(tmp_path / "b"))


def test_the_allowed_list_is_exactly_what_secretflow_jobs_send():
    """RayFed's format: {module: [names]}; never a wildcard (a "*" module or name switches the restriction off)."""
    lst = tls.SERIALIZING_ALLOWED_LIST
    assert lst == {
        "secretflow.device.device.spu": ["SPUIOInfo", "SPUValueMeta"],
        "libspu.spu_pb2": ["ExecutableProto"],
        "jax._src.api": ["ShapeDtypeStruct"],
        "numpy": ["dtype", "bool_", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                  "float32", "float64"],
        "fed.exceptions": ["FedRemoteError"],
    }
    assert "*" not in lst and all(v and "*" not in v for v in lst.values())
    assert json.loads(json.dumps(lst)) == lst


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def test_rayfeds_unpickler_with_the_list_refuses_code_and_admits_the_listed(monkeypatch):
    """The list in RayFed's own restricted unpickler (what the receiver proxy runs): a reduce to os.system is
    refused, a listed class passes."""
    from fed._private import serialization_utils as fed_ser
    import numpy as np

    monkeypatch.setattr(fed_ser, "_pickle_whitelist", json.loads(json.dumps(tls.SERIALIZING_ALLOWED_LIST)))
    with pytest.raises(pickle.UnpicklingError, match="global 'posix.system' is forbidden"):
        fed_ser._restricted_loads(pickle.dumps(_Evil()))
    assert fed_ser._restricted_loads(pickle.dumps(np.dtype("int64"))) == np.dtype("int64")
    monkeypatch.setattr(fed_ser, "_pickle_whitelist", None)  # without the list (RayFed's default): anything goes
    assert fed_ser._restricted_loads(pickle.dumps(np.arange(3))).tolist() == [0, 1, 2]


@pytest.mark.parametrize("kind,detail,expected", [
    ("unknown_ca", "verify_code=20 unable to get local issuer certificate",
     "peer party 'bob' at 10.0.0.2:19003 (RayFed): TLS failure: unknown CA (verify_code=20 unable to get local "
     "issuer certificate): the certificate bob presented is not signed by the CA we have for bob "
     "(/etc/sfops/tls/peers/bob.pem)"),
    ("name_mismatch", "verify_code=64 IP address mismatch",
     "peer party 'bob' at 10.0.0.2:19003 (RayFed): TLS failure: name mismatch (verify_code=64 IP address mismatch): "
     "bob's certificate does not name 10.0.0.2 in its subjectAltName, the address we dial"),
    ("peer_rejected_us", "it closed the connection right after the handshake",
     "peer party 'bob' at 10.0.0.2:19003 (RayFed): TLS failure: bob refused our certificate (it closed the "
     "connection right after the handshake): bob does not trust our CA, or our certificate lacks clientAuth "
     "(ours is valid until Jan  1 00:00:00 2030 GMT); bob needs our CA certificate (playbooks/tls-export.yml)"),
    ("expired", "verify_code=10 certificate has expired",
     "peer party 'bob' at 10.0.0.2:19003 (RayFed): TLS failure: bob's certificate is expired (verify_code=10 "
     "certificate has expired)"),
])
def test_failure_messages(kind, detail, expected):
    assert tls.describe_failure("bob", "10.0.0.2:19003", "RayFed", kind, detail, "/etc/sfops/tls/peers/bob.pem",
                                "Jan  1 00:00:00 2030 GMT") == expected


def test_job_tls_is_a_plain_value():
    jt = JobTls("/v", "/v/cert.pem", "/v/key.pem", "/w/ca-x.pem", {"bob": "/p/bob.pem"}, 2)
    assert jt.tls_config()["ca_cert"] == "/w/ca-x.pem" and "bundle_text" not in repr(jt)
