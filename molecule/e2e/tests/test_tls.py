"""Mutual TLS between the parties on the deployed scenario (after test_node.py, on the same servers): the files on
every node, certificate rotation between two jobs without restarting a container, and the two-organisation
topology - each party deployed from its own inventory, the other one a peer with an exchanged CA - with the smoke
job between them."""

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import NODE, REDIS, heads, parties, run_playbook, sudo  # pylint: disable=import-error
from orgs import split  # pylint: disable=import-error

SMOKE_TLS = re.compile(r"party '+(\w+)'+: (sum|psi) correct \(TLS between parties: certificate ([0-9a-f]+)\)")


def current_version(server):
    out = sudo(server, "readlink /etc/sfops/tls/current")
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def started_at(server, container):
    out = sudo(server, f"docker inspect -f '{{{{.State.StartedAt}}}}' {container}")
    return out.stdout.strip() if out.rc == 0 else None


def containers_started(servers, server_vars):
    return {(name, c): started_at(server, c) for name, server in servers.items()
            for c in ([NODE, REDIS] if name in heads(server_vars) else [NODE])}


def smoke_versions(output):
    """{party: {certificate versions the jobs used}} from smoke.yml's success messages."""
    found = {}
    for party, _job, version in SMOKE_TLS.findall(output):
        found.setdefault(party, set()).add(version)
    return found


def failed_tasks(stdout, context=40):
    """The task headers and result lines of every failed task in an ansible-playbook output (what a failure
    message must show first: the tail of a long run is mostly its recap)."""
    lines = stdout.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("fatal:", "failed:")) or "FAILED!" in line:
            head = next((lines[j] for j in range(i, -1, -1) if lines[j].startswith("TASK [")), "")
            out += [head] + lines[i:i + context] + ["..."]
    return "\n".join(out)


def passed(proc):
    return proc.returncode == 0, (failed_tasks(proc.stdout) + "\n--- tail ---\n" + proc.stdout[-3000:]
                                  + proc.stderr[-2000:])


def test_every_node_has_its_party_certificate_and_the_peers_cas(servers, server_vars):
    members = parties(server_vars)
    for party, hosts in members.items():
        versions = set()
        for name in hosts:
            server = servers[name]
            version = current_version(server)
            versions.add(version)
            with server.sudo():
                key = server.file(f"/etc/sfops/tls/{version}/key.pem")
                # the container user's (node_tls_owner = node_container_uid, #12): the unprivileged worker reads it
                assert key.is_file and key.mode == 0o600 and key.uid == 10001, name
                assert server.file(f"/etc/sfops/tls/{version}/cert.pem").is_file, name
                for other in members:
                    peer_ca = server.file(f"/etc/sfops/tls/peers/{other}.pem")
                    assert peer_ca.is_file == (other != party), (name, other)
            # what the worker in the container sees (the directory is mounted read-only)
            assert sudo(server, f"docker exec {NODE} test -r /etc/sfops/tls/current/key.pem").rc == 0, name
        assert len(versions) == 1, f"party {party}: its nodes hold different certificates {versions}"


def test_rotate_certs_between_two_jobs(servers, server_vars):
    """rotate-certs.yml renews one party's certificate between two jobs: new serial on every node of the party, the
    previous version kept, no container restarted, the next job uses the new certificate."""
    members = parties(server_vars)
    party = sorted(members, key=lambda p: -len(members[p]))[0]   # the party with several nodes
    before = {name: current_version(servers[name]) for hosts in members.values() for name in hosts}
    started = containers_started(servers, server_vars)

    # the first job: test_node.py's last smoke job ran with the certificates read here
    rotate = run_playbook("rotate-certs.yml", "-e", f"parties={party}")
    assert passed(rotate)[0], passed(rotate)[1]
    after = {name: current_version(servers[name]) for hosts in members.values() for name in hosts}
    for name in members[party]:
        assert after[name] != before[name], f"{name}: certificate not renewed ({before[name]})"
        assert re.search(r"%s: serial %s -> %s" % (party, before[name], after[name]), rotate.stdout), rotate.stdout
        with servers[name].sudo():   # the previous version stays for a job that started just before the switch
            assert servers[name].file(f"/etc/sfops/tls/{before[name]}/cert.pem").is_file, name
    for other in set(members) - {party}:
        for name in members[other]:
            assert after[name] == before[name], f"{name} (party {other}) was renewed too"
    assert containers_started(servers, server_vars) == started, "rotate-certs.yml restarted a container"

    second = run_playbook("smoke.yml")
    assert passed(second)[0], passed(second)[1]
    assert smoke_versions(second.stdout).get(party) == {after[sorted(members[party])[0]]}, second.stdout[-4000:]


@pytest.fixture(scope="module", name="organisations")
def organisations_fixture(tmp_path_factory):
    """{party: its organisation's inventory}, with its own PKI and the other party's CA imported."""
    base = tmp_path_factory.mktemp("orgs")
    proc = run_playbook("plan.yml", "-e", f"sf_plan_file={base / 'plan.json'}")
    assert passed(proc)[0], passed(proc)[1]
    with open(base / "plan.json", encoding="utf-8") as handle:
        plan = json.load(handle)
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    return split(inventory, plan, str(base))


def org_playbook(org, playbook, *extra, timeout=1800):
    return run_playbook(playbook, *extra, inventory=org, timeout=timeout)


def test_two_organisations_each_deploying_its_own_servers(organisations, servers, server_vars):
    names = sorted(organisations)
    assert len(names) == 2, names
    exported = {}
    for party, org in organisations.items():
        dest = os.path.join(os.path.dirname(org), f"{party}-ca.pem")   # the file they send (not in an inventory)
        proc = org_playbook(org, "tls-export.yml", "-e", f"party={party}", "-e", f"dest={dest}")
        assert passed(proc)[0], passed(proc)[1]
        fingerprint = re.search(r"CN=%s SecretFlow CA,O=%s\s+SHA-256 ([0-9A-F:]{95})" % (party, party), proc.stdout)
        assert fingerprint, proc.stdout[-3000:]
        exported[party] = (dest, fingerprint.group(1))
    for party, org in organisations.items():
        for other, (dest, fingerprint) in exported.items():
            if other == party:
                continue
            proc = org_playbook(org, "tls-import.yml", "-e", f"party={other}", "-e", f"ca_file={dest}")
            assert passed(proc)[0], passed(proc)[1]
            assert fingerprint in proc.stdout, proc.stdout[-3000:]   # the one read out on the phone

    # each organisation's site.yml, at the same time: each touches only its own servers
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(names, pool.map(lambda p: org_playbook(organisations[p], "site.yml"), names)))
    for party, proc in runs.items():
        assert passed(proc)[0], f"party {party}:\n{passed(proc)[1]}"
        touched = set(re.findall(r"^(\S+)\s+: ok=", proc.stdout, re.M)) - {"localhost"}
        assert touched == set(parties(server_vars)[party]), (party, touched)

    # the same smoke job from both inventories at about the same time, as two organisations would run it
    args = ("-e", "smoke_parties=%s" % ",".join(names), "-e", "smoke_id=orgs-%d" % int(time.time()))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(names, pool.map(lambda p: org_playbook(organisations[p], "smoke.yml", *args), names)))
    for party, proc in runs.items():
        assert passed(proc)[0], f"party {party}:\n{passed(proc)[1]}"
        versions = smoke_versions(proc.stdout)
        assert set(versions) == {party}, (party, versions)   # each checked its own party's results, over TLS
        head = [n for n in parties(server_vars)[party] if n in heads(server_vars)][0]
        assert versions[party] == {current_version(servers[head])}, (party, versions)
