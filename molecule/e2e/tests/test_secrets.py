"""Secrets and unprivileged containers on the deployed scenario (issue #12, items 3, 4 and 6) - and the scenario's
idempotence: the first module after converge (conftest.MODULE_ORDER), its site.yml re-run must change nothing:

- the Redis password of every party appears nowhere it should not: not in the output of a whole `site.yml -vvv
  --diff` run, not in `docker inspect` of any container, not in any process's argument list (sampled across several
  healthcheck intervals), and on the servers only in files of mode 0600 owned by the container user;
- Redis: the default user is disabled, the worker's ACL user may not run CONFIG, ACL, KEYS, INFO, MODULE, CLIENT;
- both containers run as 10001:10001 with every capability dropped, no-new-privileges, memory and pids limits, and
  every process in them really has uid 10001, no effective capability and NoNewPrivs; what they write is theirs.
"""

import json
import shlex

import pytest
from conftest import NODE, REDIS, changed_tasks, heads, manifest, recap, run_playbook, sudo  # pylint: disable=import-error

UID = 10001
CONTAINER_USER = f"{UID}:{UID}"
PW_FILE = "/etc/sfops/redis.pw"


@pytest.fixture(name="passwords", scope="module")
def passwords_fixture(servers, server_vars):
    """{head: its party's Redis password}, as deployed (redis.pw on the head)."""
    found = {}
    for name in heads(server_vars):
        out = sudo(servers[name], f"cat {PW_FILE}")
        assert out.rc == 0 and len(out.stdout.strip()) >= 16, name
        found[name] = out.stdout.strip()
    return found


def containers(name, server_vars):
    return [NODE, REDIS] if name in heads(server_vars) else [NODE]


def test_site_rerun_changes_nothing_and_never_prints_a_redis_password(servers, passwords):
    """The scenario's idempotence check and the secrets check in one re-run of site.yml (molecule's own idempotence
    step would be a second whole no-op run, minutes of the CI budget): right after converge (this module runs first,
    conftest.MODULE_ORDER), `site.yml -vvv --diff` must change nothing on any server, and print no password."""
    proc = run_playbook("site.yml", "-vvv", "--diff", timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    rows = recap(proc.stdout)
    assert set(rows) >= set(servers), rows
    changed = {host: row["changed"] for host, row in rows.items() if row["changed"] or row["failed"]}
    assert not changed, f"site.yml is not idempotent: {changed}, changed tasks: {changed_tasks(proc.stdout)}"
    # the re-run leaves preflight's matrix to verify (the deployment runs everywhere), which still probes both halves
    assert "Reachability matrix (preflight)" not in proc.stdout, "preflight probed a deployment that runs everywhere"
    assert "Reachability matrix (verify)" in proc.stdout
    output = proc.stdout + proc.stderr
    for head, password in passwords.items():
        assert password not in output, f"{head}: the Redis password is in the output of site.yml -vvv --diff"


def test_docker_inspect_shows_no_password(servers, server_vars, passwords):
    for name, server in servers.items():
        for container in containers(name, server_vars):
            out = sudo(server, f"docker inspect {container}")
            assert out.rc == 0, (name, container)
            for head, password in passwords.items():
                assert password not in out.stdout, f"{name}: docker inspect {container} shows {head}'s password"


def test_no_process_carries_the_password_in_its_arguments(servers, server_vars):
    """Every process's argv on each head, sampled every second for 12 s (the Redis healthcheck runs every 5 s).
    The pattern comes from the password file (grep -f), so this check's own argv does not hold it."""
    sample = (f"n=0; for i in $(seq 1 12); do "
              f"c=$(for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done "
              f"| grep -c -F -f {PW_FILE}); n=$((n + c)); sleep 1; done; echo $n")
    for name in heads(server_vars):
        out = sudo(servers[name], f"bash -c {shlex.quote(sample)}")
        assert out.rc == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "0", f"{name}: a process argv holds the Redis password"


def test_files_with_the_password_are_private_to_the_container_user(servers, server_vars):
    for name in heads(server_vars):
        server = servers[name]
        holding = sudo(server, f"grep -rlF -f {PW_FILE} /etc/sfops").stdout.split()
        assert holding == [PW_FILE], f"{name}: the password is also in {holding} (redis.conf has only its SHA-256)"
        with server.sudo():
            for path in holding:
                f = server.file(path)
                assert f.mode == 0o600 and f.uid == UID and f.gid == UID, (name, path, oct(f.mode), f.uid)


def test_every_rendered_file_mode(servers):
    """Nothing under /etc/sfops is writable by anyone but root or world-readable when it holds a secret."""
    for name, server in servers.items():
        listing = sudo(server, "find /etc/sfops -type f -printf '%m %u %g %p\\n'").stdout.splitlines()
        assert listing, name
        for line in listing:
            mode, user, group, path = line.split(" ", 3)
            assert int(mode, 8) & 0o022 == 0, f"{name}: {path} is group/world-writable ({mode})"
            if path.endswith(("redis.pw", "redis.conf", "key.pem")):
                assert mode == "600", f"{name}: {path} is {mode}"
            if path.endswith("worker.yml"):
                assert mode == "640" and user == "root", f"{name}: {path} is {mode} {user}:{group}"


def redis_cli(server, redis, *args, user="sfworker"):
    cmd = (f'REDISCLI_AUTH="$(cat {PW_FILE})" redis-cli --user {user} -h {redis["host"]} -p {redis["port"]} '
           + " ".join(shlex.quote(a) for a in args))
    return sudo(server, f"docker exec {REDIS} sh -c {shlex.quote(cmd)}")


def test_redis_acl_on_the_server(servers, server_vars):
    for name in heads(server_vars):
        server = servers[name]
        redis = manifest(server)["self"]["redis"]
        assert redis_cli(server, redis, "ping").stdout.strip() == "PONG", name
        assert "PONG" not in redis_cli(server, redis, "ping", user="default").stdout, f"{name}: default user works"
        # read-only commands only: harmless even if the ACL were wrong
        for command in (["config", "get", "maxmemory"], ["acl", "list"], ["keys", "*"], ["info"],
                        ["module", "list"], ["client", "list"]):
            out = redis_cli(server, redis, *command)
            assert "NOPERM" in out.stdout, (name, command, out.stdout[:200])


@pytest.mark.parametrize("container", [NODE, REDIS])
def test_containers_are_unprivileged(servers, server_vars, container):
    for name, server in servers.items():
        if container not in containers(name, server_vars):
            continue
        info = json.loads(sudo(server, f"docker inspect {container}").stdout)[0]
        host = info["HostConfig"]
        assert info["Config"]["User"] == CONTAINER_USER, (name, container)
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], (name, container, host["CapDrop"], host["CapAdd"])
        assert "no-new-privileges:true" in (host["SecurityOpt"] or []), (name, container)
        assert not host["Privileged"], (name, container)
        assert host["Memory"] > 0 and (host["PidsLimit"] or 0) > 0, (name, container, host["Memory"], host["PidsLimit"])
        # every process really runs so (docker top: PIDs in the server's namespace)
        pids = sudo(server, f"docker top {container} -eo pid").stdout.split()[1:]
        assert pids, (name, container)
        for pid in pids:
            status = sudo(server, f"cat /proc/{pid}/status").stdout
            if not status:
                continue   # gone meanwhile
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            assert fields["Uid"].split()[:2] == [str(UID), str(UID)], (name, container, pid, fields["Uid"])
            assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0, (name, container, pid)
            assert fields["NoNewPrivs"].strip() == "1", (name, container, pid)


def test_what_the_containers_write_is_theirs(servers, server_vars):
    for name, server in servers.items():
        foreign = sudo(server, f"find /var/log/sfops -xdev ! -uid {UID} -print -quit").stdout.strip()
        assert foreign == "", f"{name}: {foreign} is not the container user's"
        with server.sudo():
            assert server.file("/var/log/sfops/ray.log").uid == UID, name
            assert server.file("/var/lib/sfops/data").uid == UID, name
        # the data directory also holds smoke.yml's inputs (root's, written by Ansible); the jobs' outputs are theirs
        foreign = sudo(server, f"find /var/lib/sfops/data -xdev -name '*-psi.csv' ! -uid {UID} -print -quit")
        assert foreign.stdout.strip() == "", f"{name}: {foreign.stdout.strip()} is not the container user's"
        if name in heads(server_vars):
            mount = sudo(server, "docker volume inspect -f '{{.Mountpoint}}' sf-redis-data").stdout.strip()
            foreign = sudo(server, f"find {mount} -xdev ! -uid {UID} -print -quit").stdout.strip()
            assert foreign == "", f"{name}: {foreign} in the Redis volume is not the container user's"
