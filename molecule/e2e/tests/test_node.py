"""Verify the SecretFlow nodes end to end: Ray per party, ports, Redis auth, supervisord recovery, a real job, the
verify matrix. (A whole server restart is in test_restart.py, after the upgrades.)"""

import json
import os
import re
import time

import pytest
from conftest import (NODE, REDIS, healthy, heads, manifest, matrix_rows, node_answers, node_of, parties,  # pylint: disable=import-error
                      run_playbook, sudo, wait_until)

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
INVENTORY = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])


def test_containers_healthy(servers, server_vars):
    for name, server in servers.items():
        assert healthy(server, NODE), name
        if name in heads(server_vars):
            assert healthy(server, REDIS), name
        else:
            assert sudo(server, f"docker inspect {REDIS}").rc != 0, f"{name}: Redis runs only on the head"


def test_each_party_ray_cluster_has_exactly_its_nodes(servers, server_vars):
    for party, members in parties(server_vars).items():
        head = [n for n in members if n in heads(server_vars)][0]
        ray_address = manifest(servers[head])["self"]["ray_address"]
        out = sudo(servers[head], f"docker exec {NODE} python -m sfworker.raycheck {ray_address} 10")
        assert out.rc == 0, out.stderr
        alive = sorted(n["node_id"] for n in json.loads(out.stdout)["nodes"] if n["alive"])
        assert alive == sorted(members.values()), (party, alive)


def test_no_ray_address_in_the_container_environment(servers):
    for name, server in servers.items():
        env = sudo(server, f"docker inspect -f '{{{{json .Config.Env}}}}' {NODE}").stdout
        assert "RAY_ADDRESS" not in env, name


def listening(server):
    """{port: [(ip, "proc1,proc2")]} of every listening TCP socket of the server (host network)."""
    ports = {}
    for line in sudo(server, "ss -Hltnp").stdout.splitlines():
        ip, port = line.split()[3].rsplit(":", 1)
        procs = ",".join(sorted(set(re.findall(r'\(\("([^"]+)"', line) + re.findall(r'\),\("([^"]+)"', line))))
        ports.setdefault(int(port), []).append((ip.strip("[]"), procs))
    return ports


def test_planned_ports_listen_and_no_unplanned_ray_port(servers):
    for name, server in servers.items():
        node = node_of(server, name)
        ports = node["ports"]
        socks = listening(server)
        expected = {
            "ray_node_manager_port": "raylet",
            "ray_object_manager_port": "raylet",
        }
        if node["role"] == "head":
            expected.update(ray_port="gcs_server", redis_port="redis-server")
        for key, proc in expected.items():
            assert ports[key] in socks, f"{name}: {key} {ports[key]} is not listened on"
            assert any(proc in p for _ip, p in socks[ports[key]]), f"{name}: {key} held by {socks[ports[key]]}"
        # With --include-dashboard=false Ray 2.9 does not open the dashboard agent and metrics ports (measured);
        # they stay reserved in the plan and must not be taken by anything else (checked below).
        assert ports["ray_runtime_env_agent_port"] in socks, f"{name}: ray_runtime_env_agent_port is not listened on"
        if node["role"] == "head":
            # no Ray client server (sf_ray_client_server_enabled is off): neither its port nor Ray's default 10001
            for port in (ports["ray_client_server_port"], 10001):
                assert port not in socks, f"{name}: the Ray client server listens on {port}: {socks[port]}"
        if node["role"] == "head":
            redis_ips = {ip for ip, _p in socks[ports["redis_port"]]}
            assert redis_ips == {node["node_ip"]}, f"{name}: Redis must bind only {node['node_ip']}: {redis_ips}"
        planned = set(ports.values()) | set(range(ports["ray_min_worker_port"], ports["ray_max_worker_port"] + 1))
        if node["role"] == "head":
            own = manifest(server)["self"]
            planned |= set(range(own["fed_ports"][0], own["fed_ports"][1] + 1))
            planned |= set(range(own["spu_ports"][0], own["spu_ports"][1] + 1))
        ray_procs = ("raylet", "gcs_server", "python", "ray::", "redis-server", "sfworker", "celery")
        stray = {port: holders for port, holders in socks.items()
                 if port not in planned and any(any(r in p for r in ray_procs) for _ip, p in holders)}
        assert not stray, f"{name}: unplanned ports opened by Ray/worker/Redis: {stray}"


def test_redis_refuses_unauthenticated_clients(servers, server_vars):
    for name in heads(server_vars):
        server = servers[name]
        redis = manifest(server)["self"]["redis"]
        out = sudo(server, f"docker exec {REDIS} redis-cli -h {redis['host']} -p {redis['port']} ping")
        assert "NOAUTH" in out.stdout + out.stderr, out.stdout


def test_smoke_job_passes():
    """This project's jobs, then (#13) the original SecretFlow Worker's orchestrator in each party's head container:
    hello/ping/echo/health and a cluster-mode PSI with its own ids per party, /app/data paths (the scenario's
    node_data_container_dir), the nested result, RUNNING -> SUCCESS events and the output files - in the same run,
    on the same deployment. And (#14) the DAG standard_scaler -> ss_lr -> ss_lr_predict -> biclassification_eval as
    one pipeline job sent with Celery send_task to both parties, each step reading the previous step's files from
    the party's shared data directory (alice's two servers), the AUC checked at the label party."""
    proc = run_playbook("smoke.yml", "-e", "smoke_original_contract=true", "-e", "smoke_dag=true")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "sum correct" in proc.stdout and "psi correct" in proc.stdout
    assert proc.stdout.count("original contract correct") == 2, proc.stdout[-6000:]
    assert proc.stdout.count("DAG correct") == 2, proc.stdout[-6000:]


def ray_node_ids(server, ray_address, node_id):
    """Ray's node IDs (hex) under which `node_id` is alive in the party's GCS."""
    out = sudo(server, f"docker exec {NODE} python -m sfworker.raycheck {ray_address} 5")
    if out.rc != 0:
        return set()
    return {n["ray_node_id"] for n in json.loads(out.stdout)["nodes"] if n["alive"] and n["node_id"] == node_id}


def supervised_pid(server, program):
    return sudo(server, f"docker exec {NODE} supervisorctl -c /etc/sfops/supervisord.conf pid {program}").stdout.strip()


@pytest.mark.parametrize("victim", ["raylet", "worker"])
def test_supervisord_recovers_a_killed_process(servers, server_vars, victim):
    """kill -9 inside the container; supervisord alone (no Ansible) must bring the node back within 60 s:
    a NEW ray start (new Ray node ID for this node ID) or a NEW worker process, and the healthcheck passes."""
    workers = sorted(set(servers) - set(heads(server_vars)))
    name = workers[0] if victim == "raylet" else sorted(heads(server_vars))[-1]
    server = servers[name]
    node = node_of(server, name)
    ray_address = manifest(server)["self"]["ray_address"]
    program = "ray" if victim == "raylet" else "worker"
    before_ids = ray_node_ids(server, ray_address, node["node_id"])
    before_pid = supervised_pid(server, program)
    assert before_ids and before_pid.isdigit(), (name, before_ids, before_pid)
    pattern = "raylet" if victim == "raylet" else "sfworker.*worker"
    assert sudo(server, f"docker exec {NODE} pkill -9 -f '{pattern}'").rc == 0, f"{name}: no {victim} to kill"
    t0 = time.monotonic()

    def recovered():
        pid = supervised_pid(server, program)
        if not pid.isdigit() or pid == before_pid:
            return False
        if victim == "raylet" and not (ray_node_ids(server, ray_address, node["node_id"]) - before_ids):
            return False
        return node_answers(server)

    took = wait_until(recovered, 120)
    took = None if took is None else time.monotonic() - t0
    assert took is not None and took <= 60, f"{name}: not back within 60 s after kill -9 {victim} ({took})"


def test_verify_proves_private_ports_closed_to_other_parties_and_open_inside(server_vars):
    """After the deployment: the live GCS, Redis and Ray ports of each party are reachable from its own nodes and
    not from any server of the other party; fed/SPU ports are reachable across parties."""
    proc = run_playbook("verify.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    rows = matrix_rows(proc.stdout)
    members = parties(server_vars)
    for party, hosts in members.items():
        for other, other_hosts in members.items():
            for host in other_hosts:
                row = rows[f"{other}/{host}"]
                if other == party:
                    if host not in heads(server_vars):   # the head does not probe itself
                        assert row[f"{party}:gcs"] == "open 1" and row[f"{party}:redis"] == "open 1", row
                    continue
                for group in ("gcs", "redis", "ray"):
                    assert row[f"{party}:{group}"].startswith("closed "), (host, party, group, row)
                for group in ("fed", "spu"):
                    assert row[f"{party}:{group}"] == "open 10", (host, party, group, row)
