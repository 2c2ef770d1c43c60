"""Day-2 on the e2e deployment (#15): a rolling upgrade A -> B with a job running during it, the upgrade with nothing
new, and an upgrade to a broken image that is rolled back - one deployment for the whole sequence.

The images B and "broken" are one small layer on top of the deployed image A (scripts/image-variant.sh), shipped as
prebuilt archives (image_archive_src): the servers receive only that layer. Runs after the deployment's own checks
(conftest.MODULE_ORDER): it leaves the deployment on B, healthy."""

import json
import os
import subprocess
import threading
import time

import pytest
from conftest import NODE, REDIS, changed_tasks, heads, node_answers, parties, recap, run_playbook, sudo, wait_until  # pylint: disable=import-error

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
REPO = "sfops/secretflow-worker"


@pytest.fixture(scope="module", name="variants")
def variants_fixture(servers, tmp_path_factory):
    """{'a': the deployed image reference, 'b' / 'broken': (tag, tarball)} - B and broken built on the controller."""
    first = sorted(servers)[0]
    image_a = sudo(servers[first], f"docker inspect -f '{{{{.Config.Image}}}}' {NODE}").stdout.strip()
    assert image_a.startswith(REPO + ":"), image_a
    out = str(tmp_path_factory.mktemp("variants"))
    built = {"a": image_a}
    stamp = time.strftime("%H%M%S")          # new tags on every run (a server may keep older test images)
    for kind, tag in (("next", "e2e-b-" + stamp), ("broken", "e2e-broken-" + stamp)):
        proc = subprocess.run([os.path.join(PROJECT, "scripts", "image-variant.sh"), image_a, tag, kind, out],
                              capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, proc.stderr
        built["b" if kind == "next" else "broken"] = (tag, proc.stdout.strip())
    return built


def upgrade_args(variant, *extra):
    tag, tarball = variant
    return ("-e", f"image_archive_src={tarball}", "-e", f"image_tag={tag}", *extra)


def containers(servers):
    """{server: {container name: ID}} of every container (running or not) on the servers."""
    out = {}
    for name, server in servers.items():
        lines = sudo(server, "docker ps -a --format '{{.Names}} {{.ID}}'").stdout.split()
        out[name] = dict(zip(lines[0::2], lines[1::2]))
    return out


def image_of(server, container):
    return sudo(server, f"docker inspect -f '{{{{.Config.Image}}}}' {container}").stdout.strip()


def alive_node_ids(server):
    """The node IDs alive in this server's party's Ray cluster (the party's GCS, asked from this node)."""
    ray_address = json.loads(sudo(server, "cat /etc/sfops/party.json").stdout)["self"]["ray_address"]
    out = sudo(server, f"docker exec {NODE} python -m sfworker.raycheck {ray_address} 5")
    assert out.rc == 0, out.stdout + out.stderr
    return sorted(n["node_id"] for n in json.loads(out.stdout)["nodes"] if n["alive"])


def submit(server_name, image, job_id, params, result):
    """One organisation's orchestrator: a client container of its own (not a node container - an upgrade recreates
    those; it mounts what the head's node container mounts, read-only) on its party's head sends the job to its
    own party's queue with Celery send_task and waits for it."""
    proc = subprocess.run(
        ["docker", "exec", server_name, "docker", "run", "--rm", "--network", "host", "--user", "10001:10001",
         "--volumes-from", f"{NODE}:ro", image, "sfworker", "--config", "/etc/sfops/worker.yml", "submit",
         "--task-request-id", job_id, "--timeout", "900", "--params-json", json.dumps(params)],
        capture_output=True, text=True, timeout=1200, check=False)
    result[server_name] = proc


def sum_job_from_every_head(head_names, party_names, image, prefix):
    """Each party's orchestrator sends the same secure_sum job over smoke.yml's data to its own party's queue, all at
    about the same time (submit); {head: its CompletedProcess} once every one has its answer."""
    inputs = {p: f"smoke/{p}.csv" for p in party_names}
    params = {"task_config": {"task_type": "secure_sum", "column": "value", "input_paths": inputs}}
    job_id = prefix + time.strftime("%H%M%S")
    jobs = {}
    clients = [threading.Thread(target=submit, args=(name, image, job_id, params, jobs)) for name in head_names]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    return jobs


def assert_sum_jobs_completed(jobs, party_names, during):
    """Every party's answer is the right sum (smoke.yml's data: party k holds values 40k+1 .. 40k+120)."""
    expected = sum(sum(range(40 * k + 1, 40 * k + 121)) for k in range(len(party_names)))
    for name, job in jobs.items():
        assert job.returncode == 0, f"{name}: the job sent during the {during} failed:\n{job.stdout}\n{job.stderr}"
        answer = json.loads(job.stdout)
        assert [int(r["result"]["result"]["sum"]) for r in answer["results"].values()] == [expected], answer


def test_upgrade_a_to_b_with_a_job_running(servers, server_vars, variants):
    """Every party ends on B with the same node IDs alive; the job sent while alice's worker node was being
    upgraded completes (correct sum) - it is not lost. The previous containers are kept for a rollback, and with them
    image A; a worker image tag nothing uses is pruned with its archive."""
    members = parties(server_vars)
    head_names = sorted(heads(server_vars))
    before_ids = {name: alive_node_ids(servers[name]) for name in head_names}
    worker_node = sorted(set(servers) - set(head_names))[0]
    # image_prune: a tag nothing uses and its archive on every server must be gone after the upgrade (A stays: the
    # -previous container holds it); a file that is no archive of the image stays
    stale = "stale-" + time.strftime("%H%M%S")
    archives = "/var/cache/sfops/images"
    for server in servers.values():
        out = sudo(server, f"docker tag {variants['a']} {REPO}:{stale} && mkdir -p {archives} && "
                           f"echo x > {archives}/sfops_secretflow-worker-{stale}.tar.zst && echo x > {archives}/notes.txt")
        assert out.rc == 0, out.stderr

    upgrade = {}
    thread = threading.Thread(target=lambda: upgrade.update(
        proc=run_playbook("upgrade.yml", *upgrade_args(variants["b"]), timeout=2400)))
    thread.start()
    # the worker node is being upgraded: its previous container was stopped and kept
    took = wait_until(lambda: sudo(servers[worker_node], f"docker inspect {NODE}-previous").rc == 0, 900, step=2)
    assert took is not None, f"{worker_node}: upgrade.yml never got to it"

    jobs = sum_job_from_every_head(head_names, sorted(members), variants["a"], "upgrade-job-")
    thread.join()

    proc = upgrade["proc"]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert_sum_jobs_completed(jobs, sorted(members), "upgrade")

    tag_b = variants["b"][0]
    for name, server in servers.items():
        assert image_of(server, NODE) == f"{REPO}:{tag_b}", name
        tags = set(sudo(server, f"docker images --format '{{{{.Tag}}}}' {REPO}").stdout.split())
        assert stale not in tags and {tag_b, variants["a"].split(":")[-1]} <= tags, f"{name}: image_prune left {tags}"
        files = set(sudo(server, f"ls {archives}").stdout.split())
        assert f"sfops_secretflow-worker-{stale}.tar.zst" not in files and "notes.txt" in files, f"{name}: {files}"
        assert image_of(server, f"{NODE}-previous") == variants["a"], f"{name}: previous container not kept"
        if name in head_names:
            assert image_of(server, REDIS) == f"{REPO}:{tag_b}", name
        assert node_answers(server), name
    after_ids = {name: alive_node_ids(servers[name]) for name in head_names}
    assert after_ids == before_ids == {h: sorted(members[p].values()) for p in members for h in head_names
                                       if h in members[p]}


def test_upgrade_with_nothing_new_changes_nothing(servers, variants):
    before = containers(servers)
    proc = run_playbook("upgrade.yml", *upgrade_args(variants["b"]), timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    rows = recap(proc.stdout)
    assert set(rows) == set(servers) and all(r["failed"] == 0 for r in rows.values()), rows
    # changed=0, with one known exception: test_tls.py's two organisations left their own PKI on the servers, and
    # the A -> B run installed the scenario's certificates while the old containers still used the old version,
    # which the TLS cleanup removes only on the next run (measured in the local CI run of 2026-11-30; the sandbox,
    # without that PKI swap, gave changed=0). Any other change fails the test.
    changed = set(changed_tasks(proc.stdout))
    allowed = {"sfops.secretflow.node : Remove older certificate versions and CA files of parties that left"}
    assert changed <= allowed, (changed, rows)
    assert proc.stdout.count("): no container changes") == len(servers), proc.stdout[-4000:]
    assert containers(servers) == before


def test_broken_image_rolls_the_first_party_back(servers, server_vars, variants):
    """The first server in the rolling order (the first party's worker node) fails its gate: that party is rolled
    back to B (the same containers as before), the report names the node and the gate, the other party's
    containers are not recreated, and every node answers again."""
    members = parties(server_vars)
    first_party = sorted(members)[0]
    failing = sorted(set(members[first_party]) - set(heads(server_vars)))[0]
    before = containers(servers)
    proc = run_playbook("upgrade.yml", *upgrade_args(variants["broken"], "-e", "node_healthy_timeout_s=90"),
                        timeout=1800)
    out = proc.stdout
    assert proc.returncode != 0, out[-4000:]
    assert f"upgrade.yml stopped at {failing} (party {first_party}, node ID {members[first_party][failing]})" in out, \
        out[-6000:]
    assert 'gate "Run the SecretFlow node container' in out, out[-6000:]
    assert f"Party {first_party} rolled back to its previous image and configuration on {failing}" in out, out[-6000:]
    others = sorted(set(members) - {first_party})
    assert f"parties after it are untouched: {', '.join(others)}" in out, out[-6000:]
    # the failing container's last health check, in its own words
    assert f"broken test image {variants['broken'][0]}" in out, out[-6000:]
    after = containers(servers)
    for party in others:
        for name in members[party]:
            assert after[name] == before[name], f"{name} ({party}): containers recreated"
    # what the rollback put back keeps its owner: the worker's password file is the container user's, as the kept copy
    owners = sudo(servers[failing], "stat -c '%n %u:%g %a' /etc/sfops/redis.pw /etc/sfops/previous/redis.pw").stdout.split()
    assert owners[1] == owners[4] == "10001:10001" and owners[2] == owners[5] == "600", owners
    # the failing server runs its previous container again (same ID), on B
    assert after[failing][NODE] == before[failing][NODE], (before[failing], after[failing])
    assert image_of(servers[failing], NODE) == f"{REPO}:{variants['b'][0]}"
    for name, server in servers.items():
        took = wait_until(lambda s=server: node_answers(s), 300, step=5)
        assert took is not None, f"{name}: not healthy after the rollback"
