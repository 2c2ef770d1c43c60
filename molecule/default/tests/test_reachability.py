"""The reachability matrix and the firewall on clean servers (nothing deployed: preflight's and verify's temporary
listeners stand in for the services): preflight passes, a dropped bob -> alice fed pair is named exactly, and
after a Docker restart verify proves alice's Ray/Redis ports closed to bob and open to alice's own node."""

import re
import time

from conftest import matrix_rows, run_playbook, wait_until  # pylint: disable=import-error

ALICE_HEAD, ALICE_NODE, BOB_HEAD = "mol-alice-1", "mol-alice-2", "mol-bob-1"
TABLE = "inet sfops_secretflow"
FIREWALL_OFF = ("-e", "firewall_enabled=false", "-e", "firewall_disabled_i_understand_ray_is_exposed=true")
RESTORE_S = 30   # firewall_restore_interval_s
# This scenario deploys no SecretFlow nodes (docker + firewall only): verify's TLS checks, which run the worker's
# tls-listen/tls-probe in the node containers, belong to the e2e scenario.
VERIFY_ARGS = ("--skip-tags", "tls")
FAILURE = re.compile(r"^\s*(\S+ -> \S+:\d+ \([^)]*\): expected \w+, got \w+)", re.M)


def sudo(server, cmd):
    with server.sudo():
        return server.run(cmd)


def test_preflight_passes_on_the_clean_setup():
    proc = run_playbook("preflight.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    rows = matrix_rows(proc.stdout)
    assert set(rows) == {f"alice/{ALICE_HEAD}", f"alice/{ALICE_NODE}", f"bob/{BOB_HEAD}"}
    # 10 job slots: 10 fed + 10 SPU ports per party, from every server of the other party
    assert rows[f"bob/{BOB_HEAD}"]["alice:fed"] == "open 10"
    assert rows[f"bob/{BOB_HEAD}"]["alice:spu"] == "open 10"
    assert rows[f"alice/{ALICE_NODE}"]["bob:fed"] == "open 10"
    # inside alice: the worker node reaches the head's GCS and Redis and every Ray port
    assert rows[f"alice/{ALICE_NODE}"]["alice:gcs"] == "open 1"
    assert rows[f"alice/{ALICE_NODE}"]["alice:redis"] == "open 1"
    assert rows[f"alice/{ALICE_NODE}"]["alice:ray"].startswith("open ")
    assert "clock offset" in proc.stdout


def test_preflight_names_exactly_the_dropped_pair(servers, server_vars):
    alice_ip = server_vars[ALICE_HEAD]["ansible_host"]
    rule = f"OUTPUT -p tcp -d {alice_ip} --dport 19003 -j DROP"
    assert sudo(servers[BOB_HEAD], f"iptables -I {rule}").rc == 0
    try:
        proc = run_playbook("preflight.yml")
    finally:
        assert sudo(servers[BOB_HEAD], f"iptables -D {rule}").rc == 0
    assert proc.returncode != 0
    failures = set(FAILURE.findall(proc.stdout))
    assert failures == {f"bob/{BOB_HEAD} -> {alice_ip}:19003 (alice/{ALICE_HEAD} fed): expected open, got timeout"}, \
        proc.stdout[-6000:]
    rows = matrix_rows(proc.stdout)
    assert rows[f"bob/{BOB_HEAD}"]["alice:fed"] == "FAIL 1/10 timeout"
    assert rows[f"bob/{BOB_HEAD}"]["alice:spu"] == "open 10"
    assert rows[f"alice/{ALICE_NODE}"]["bob:fed"] == "open 10"


def test_preflight_names_the_process_holding_a_planned_port(servers):
    """A foreign program on a planned port: one problem naming host, port, pid and process; the other ports are
    still listened on and probed (the matrix stays accurate)."""
    holder = ("import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); "
              "s.bind(('0.0.0.0',19005)); s.listen(); time.sleep(120)")
    bob = servers[BOB_HEAD]
    assert sudo(bob, f'setsid nohup python3 -c "{holder}" >/dev/null 2>&1 < /dev/null &').rc == 0
    try:
        pid = ""
        for _ in range(20):
            pid = sudo(bob, "pgrep -f \"[s].bind..'0.0.0.0',19005\"").stdout.split()
            if pid:
                break
            time.sleep(0.5)
        assert pid, "the foreign listener did not start"
        proc = run_playbook("preflight.yml")
    finally:
        sudo(bob, "pkill -f \"[s].bind..'0.0.0.0',19005\"")
    assert proc.returncode != 0
    assert "1 reachability problem(s):" in proc.stdout, proc.stdout[-4000:]
    assert f"{BOB_HEAD}: planned port 19005 is taken: in use on 0.0.0.0 by pid {pid[0]} (python3)" in proc.stdout
    rows = matrix_rows(proc.stdout)
    assert rows[f"alice/{ALICE_HEAD}"]["bob:fed"] == "open 10"


def test_firewall_table_loaded_and_enabled(servers):
    for name, server in servers.items():
        assert sudo(server, f"nft list table {TABLE}").rc == 0, name
        assert server.service("sfops-firewall").is_enabled, name


def test_verify_after_a_docker_restart_proves_private_ports_closed_to_the_other_party(servers):
    assert sudo(servers[ALICE_HEAD], "systemctl restart docker").rc == 0
    assert sudo(servers[ALICE_HEAD], f"nft list table {TABLE}").rc == 0   # Docker's restart left it alone
    dropped_before = drops(servers[ALICE_HEAD])
    proc = run_playbook("verify.yml", *VERIFY_ARGS)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    rows = matrix_rows(proc.stdout)
    for column in ("alice:gcs", "alice:redis", "alice:ray"):
        # the listeners were up: only the firewall can have kept bob out
        assert rows[f"bob/{BOB_HEAD}"][column].startswith("closed "), (column, rows)
        assert rows[f"alice/{ALICE_NODE}"][column].startswith("open "), (column, rows)
    for column in ("bob:gcs", "bob:redis", "bob:ray"):
        assert rows[f"alice/{ALICE_HEAD}"][column].startswith("closed "), (column, rows)
    assert rows[f"bob/{BOB_HEAD}"]["alice:fed"] == "open 10"
    assert drops(servers[ALICE_HEAD]) > dropped_before


def drops(server):
    """Packets the table's drop rule for Ray/Redis ports counted so far."""
    out = sudo(server, f"nft list table {TABLE}").stdout
    match = re.search(r"counter packets (\d+) bytes \d+ drop comment \"sfops: Ray/Redis", out)
    assert match, out
    return int(match.group(1))


def test_verify_fails_when_the_firewall_is_off(servers, server_vars):
    """The must-NOT-reach half can fail: without alice's rules, bob reaches its GCS/Redis/Ray listeners."""
    # turning it off needs the acknowledgement (without it the plan refuses - tests/unit/test_firewall_playbooks.py)
    off = run_playbook("firewall.yml", "--limit", ALICE_HEAD, *FIREWALL_OFF)
    assert off.returncode == 0, off.stdout[-4000:]
    assert sudo(servers[ALICE_HEAD], f"nft list table {TABLE}").rc != 0
    # the restore timer went with it: the table stays away
    assert not servers[ALICE_HEAD].exists("/etc/systemd/system/sfops-firewall-check.timer")
    time.sleep(RESTORE_S + 5)
    assert sudo(servers[ALICE_HEAD], f"nft list table {TABLE}").rc != 0
    try:
        # the same acknowledgement: verify lists the servers as off instead of failing on the missing table first
        proc = run_playbook("verify.yml", *VERIFY_ARGS, *FIREWALL_OFF)
    finally:
        on = run_playbook("firewall.yml", "--limit", ALICE_HEAD)
    assert on.returncode == 0, on.stdout[-4000:]
    assert proc.returncode != 0
    rows = matrix_rows(proc.stdout)
    assert rows[f"bob/{BOB_HEAD}"]["alice:gcs"] == "OPEN 1/1 connected"
    assert rows[f"bob/{BOB_HEAD}"]["alice:redis"] == "OPEN 1/1 connected"
    assert rows[f"bob/{BOB_HEAD}"]["alice:ray"].startswith("OPEN ")
    assert rows[f"bob/{BOB_HEAD}"]["alice:fed"] == "open 10"
    alice_ip = server_vars[ALICE_HEAD]["ansible_host"]
    assert f"bob/{BOB_HEAD} -> {alice_ip}:16380 (alice/{ALICE_HEAD} gcs): expected closed" in proc.stdout
    assert sudo(servers[ALICE_HEAD], f"nft list table {TABLE}").rc == 0


def has_drop_rule(server):
    out = sudo(server, f"nft list table {TABLE}")
    return out.rc == 0 and "sfops: Ray/Redis" in out.stdout


def test_a_deleted_or_flushed_table_comes_back_without_ansible(servers):
    """The restore timer (sfops-firewall-check.timer): within firewall_restore_interval_s, no Ansible run."""
    for name in (ALICE_HEAD, BOB_HEAD):
        assert sudo(servers[name], "systemctl is-active sfops-firewall-check.timer").stdout.strip() == "active", name
    since = sudo(servers[BOB_HEAD], "date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    assert sudo(servers[BOB_HEAD], f"nft delete table {TABLE}").rc == 0
    assert sudo(servers[ALICE_HEAD], f"nft flush chain {TABLE} input").rc == 0   # the table stays, its rules go
    assert not has_drop_rule(servers[BOB_HEAD]) and not has_drop_rule(servers[ALICE_HEAD])
    assert wait_until(lambda: has_drop_rule(servers[BOB_HEAD]) and has_drop_rule(servers[ALICE_HEAD]),
                      timeout=RESTORE_S + 15, step=2) is not None
    journal = sudo(servers[BOB_HEAD], f"journalctl -u sfops-firewall-check --since '{since}' --no-pager").stdout
    assert "is missing - loading" in journal, journal


def test_verify_fails_naming_the_server_whose_table_is_missing(servers):
    bob = servers[BOB_HEAD]
    assert sudo(bob, "systemctl stop sfops-firewall-check.timer").rc == 0   # or it would be back within 30 s
    assert sudo(bob, f"nft delete table {TABLE}").rc == 0
    try:
        proc = run_playbook("verify.yml", "--tags", "firewall")
    finally:
        fixed = sudo(bob, "systemctl restart sfops-firewall sfops-firewall-check.timer")   # what the message says
    assert proc.returncode != 0
    assert "1 firewall problem(s):" in proc.stdout, proc.stdout[-4000:]
    assert (f"party 'bob', host '{BOB_HEAD}': the firewall table inet sfops_secretflow is missing"
            in proc.stdout), proc.stdout[-4000:]
    assert "docs/operations/firewall.md" in proc.stdout
    assert fixed.rc == 0 and has_drop_rule(bob)
    assert run_playbook("verify.yml", "--tags", "firewall").returncode == 0


def test_firewall_playbook_restores_a_deleted_table_and_a_stopped_timer(servers):
    bob = servers[BOB_HEAD]
    assert sudo(bob, "systemctl stop sfops-firewall-check.timer").rc == 0
    assert sudo(bob, f"nft delete table {TABLE}").rc == 0
    proc = run_playbook("firewall.yml", "--limit", BOB_HEAD)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert re.search(rf"{BOB_HEAD}\s*: ok=\d+\s+changed=[1-9]", proc.stdout)
    assert has_drop_rule(bob)
    assert sudo(bob, "systemctl is-active sfops-firewall-check.timer").stdout.strip() == "active"
