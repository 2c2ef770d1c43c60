"""Day-2 on the e2e deployment (#15): a rolling restart (playbooks/restart.yml) with a job sent during it, on the same
deployment as the other day-2 modules (conftest.MODULE_ORDER: after test_upgrade, before test_scale).

restart.yml restarts every node container in rolling order (a party's worker nodes first, its head last; drain, restart,
gate). What must hold afterwards: the same containers (restarted, not recreated), every Ray node ID of every party alive
again, the party's Redis untouched, the job sent meanwhile completed with the right result - and a smoke job passes."""

import threading

from conftest import NODE, REDIS, heads, node_answers, parties, recap, run_playbook, wait_until  # pylint: disable=import-error
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


def test_smoke_job_passes_after_the_restart():
    proc = run_playbook("smoke.yml", timeout=1200)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
