"""Day-2 on the e2e deployment (#15): a rolling restart (playbooks/restart.yml) with a job sent during it, then a whole
server rebooted, on the same deployment as the other day-2 modules (conftest.MODULE_ORDER: after test_upgrade, before
test_scale).

restart.yml restarts every node container in rolling order (a party's worker nodes first, its head last; drain, restart,
gate). What must hold afterwards: the same containers (restarted, not recreated), every Ray node ID of every party alive
again, the party's Redis untouched, the job sent meanwhile completed with the right result. Then the head of the party
with worker nodes is rebooted (its harness server restarted): the firewall and every node come back by themselves, the
same containers run as before and nothing that was stopped (a container upgrade.yml kept for a rollback) starts. The
smoke job, last, runs after both."""

import subprocess

import threading

from conftest import NODE, REDIS, heads, node_answers, parties, recap, run_playbook, sudo, wait_until  # pylint: disable=import-error
from test_tls import started_at  # pylint: disable=import-error
from test_upgrade import (alive_node_ids, assert_sum_jobs_completed, containers, image_of,  # pylint: disable=import-error
                          sum_job_from_every_head)


def test_rolling_restart_keeps_node_ids_and_the_job_sent_during_it(servers, server_vars):
    members = parties(server_vars)
    head_names = sorted(heads(server_vars))
    party_names = sorted(members)
    before_ids = {name: alive_node_ids(servers[name]) for name in head_names}
    before = containers(servers)
    started = {name: {c: started_at(server, c) for c in (NODE, REDIS) if c in before[name]}
               for name, server in servers.items()}
    # the first server in the rolling order: the first party's worker node
    first = sorted(set(members[party_names[0]]) - set(head_names))[0]

    restart = {}
    thread = threading.Thread(target=lambda: restart.update(proc=run_playbook("restart.yml", timeout=1800)))
    thread.start()
    took = wait_until(lambda: started_at(servers[first], NODE) != started[first][NODE], 600, step=2)
    assert took is not None, f"{first}: restart.yml never restarted its node container"

    # Now the job: the play goes on to the first party's head, whose drain has to wait for it (or it waits in the
    # queue), then to the other party. Each party's orchestrator sends it to its own party's queue.
    jobs = sum_job_from_every_head(head_names, party_names, image_of(servers[head_names[0]], NODE), "restart-job-")
    thread.join()

    proc = restart["proc"]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    rows = recap(proc.stdout)
    assert set(rows) >= set(servers) and all(r["failed"] == 0 for r in rows.values()), rows
    assert_sum_jobs_completed(jobs, party_names, "restart")

    assert containers(servers) == before, "restart.yml recreated or removed a container"
    for name, server in servers.items():
        assert started_at(server, NODE) != started[name][NODE], f"{name}: node container not restarted"
        if REDIS in started[name]:
            assert started_at(server, REDIS) == started[name][REDIS], f"{name}: the party's Redis was restarted"
        assert node_answers(server), name
    after_ids = {name: alive_node_ids(servers[name]) for name in head_names}
    assert after_ids == before_ids == {h: sorted(members[p].values()) for p in members for h in head_names
                                       if h in members[p]}


def test_whole_server_restart_brings_everything_back(servers, server_vars):
    # the head of the party with worker nodes: its worker nodes must rejoin by themselves
    members = parties(server_vars)
    biggest = max(sorted(members), key=lambda p: len(members[p]))
    name = [n for n in members[biggest] if n in heads(server_vars)][0]
    running = set(sudo(servers[name], "docker ps --format '{{.Names}}'").stdout.split())
    subprocess.run(["docker", "restart", "-t", "30", name], check=True, capture_output=True, timeout=300)
    for other, server in servers.items():
        took = wait_until(lambda s=server: node_answers(s), 420, step=5)
        assert took is not None, f"{other}: not healthy again after restarting {name}"
    # the firewall came back with the server (systemd unit), before any Ansible run
    assert sudo(servers[name], "nft list table inet sfops_secretflow").rc == 0
    # what ran runs again; what was stopped (the containers kept for a rollback) stayed stopped
    assert set(sudo(servers[name], "docker ps --format '{{.Names}}'").stdout.split()) == running
    for head in heads(server_vars):
        party = [p for p in members if head in members[p]][0]
        took = wait_until(lambda h=head, p=party: alive_node_ids(servers[h]) == sorted(members[p].values()), 180,
                          step=5)
        assert took is not None, (head, alive_node_ids(servers[head]))


def test_smoke_job_passes_after_the_restarts():
    proc = run_playbook("smoke.yml", timeout=1200)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
