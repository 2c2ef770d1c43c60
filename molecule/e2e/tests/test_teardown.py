"""Logs and teardown on the e2e deployment (#15): logs.yml bundles every server's logs; teardown.yml on the first
party's head leaves nothing of ours there but the data it keeps; site.yml --limit <that head> afterwards brings the
deployment back (docs/operations/recovery.md, a lost head) - the party's worker node rejoins the new head by itself
(supervisord keeps starting `ray start --address`) and is not recreated - and the smoke job passes again. On the way,
the head's Redis data goes through recovery.md's backup and restore: a key written before the teardown is read back
after the volume was lost and restored from the backup.

One server, not the whole deployment: a teardown works server by server, and a whole one would cost the CI a
second full image copy to every server. Runs last: it ends with a working deployment."""

import glob
import secrets
import tarfile

from conftest import NODE, REDIS, heads, manifest, parties, run_playbook, sudo, wait_until  # pylint: disable=import-error
from test_secrets import redis_cli  # pylint: disable=import-error
from test_upgrade import alive_node_ids, containers  # pylint: disable=import-error

#: recovery.md's commands, as an operator types them on the head (node_redis_volume's default name)
REDIS_VOLUME = "sf-redis-data"
MOUNTPOINT = f"\"$(docker volume inspect -f '{{{{.Mountpoint}}}}' {REDIS_VOLUME})\""
BACKUP = f"tar -czf /backup/sf-redis-data.tgz -C {MOUNTPOINT} ."
RESTORE = f"docker volume create {REDIS_VOLUME} && tar -xzf /backup/sf-redis-data.tgz -C {MOUNTPOINT}"
MARKER_KEY = "sfops:e2e:restore-marker"


def test_logs_bundle_has_every_servers_logs(server_vars, tmp_path):
    proc = run_playbook("logs.yml", "-e", f"logs_dest={tmp_path}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    bundles = glob.glob(str(tmp_path / "sfops-logs-*.tar.gz"))
    assert len(bundles) == 1, bundles
    with tarfile.open(bundles[0]) as tar:
        # one folder per party/server (the bundle's own top folder, if any, left out)
        names = [n.split("/", 1)[1] if n.startswith("sfops-logs-") and "/" in n else n for n in tar.getnames()]
    for party, hosts in parties(server_vars).items():
        for host in hosts:
            own = [n for n in names if n.startswith(f"{party}/{host}/")]
            wanted = ["host/supervisord.log", "host/ray.log", "host/worker.log", f"docker/{NODE}.log",
                      f"docker/{NODE}.inspect.json"]
            if host in heads(server_vars):
                wanted.append(f"docker/{REDIS}.log")
            for name in wanted:
                assert f"{party}/{host}/{name}" in own, (party, host, name, own)
    for beside in ("status.txt", "plan.json"):
        assert beside in names, names


def test_teardown_of_a_head_then_site_brings_it_back(servers, server_vars):
    members = parties(server_vars)
    party = sorted(members)[0]
    head = [h for h in heads(server_vars) if h in members[party]][0]
    others = sorted(set(members[party]) - {head})
    before = containers(servers)
    ids_before = alive_node_ids(servers[head])
    server = servers[head]

    # recovery.md, "Backing up a head's Redis": a key in the party's Redis, then the volume copied as it says
    redis = manifest(server)["self"]["redis"]
    marker = secrets.token_hex(8)
    assert redis_cli(server, redis, "set", MARKER_KEY, marker).stdout.strip() == "OK"
    backup = sudo(server, f"mkdir -p /backup && {BACKUP}")
    assert backup.rc == 0, backup.stdout + backup.stderr

    proc = run_playbook("teardown.yml", "-e", "teardown_confirm=yes", "--limit", head)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert sudo(server, "docker ps -a -q").stdout.strip() == "", "containers left after teardown"
    assert sudo(server, "docker images -q sfops/secretflow-worker").stdout.strip() == "", "worker images left"
    assert "sfops_secretflow" not in sudo(server, "nft list tables").stdout, "firewall table left"
    for path in ("/etc/sfops", "/etc/systemd/system/sfops-firewall.service", "/var/cache/sfops/images"):
        assert sudo(server, f"test -e {path}").rc != 0, f"{path} left after teardown"
    # kept without teardown_purge_data: the job data and the party's Redis data
    assert sudo(server, "test -d /var/lib/sfops/data").rc == 0
    assert sudo(server, "docker volume inspect sf-redis-data").rc == 0
    for name in set(servers) - {head}:
        assert containers({name: servers[name]}) == {name: before[name]}, f"teardown --limit {head} touched {name}"

    # the disk with the Redis volume is lost; recovery.md step 2 restores the backup before the head is deployed
    assert sudo(server, f"docker volume rm {REDIS_VOLUME}").rc == 0
    restore = sudo(server, RESTORE)
    assert restore.rc == 0, restore.stdout + restore.stderr

    # as docs/operations/recovery.md says for a lost head: the server alone (the others' firewall still accepts it)
    proc = run_playbook("site.yml", "--limit", head, timeout=2400)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    # the party's other servers were not recreated: their nodes joined the new head by themselves
    for name in others:
        assert containers({name: servers[name]})[name][NODE] == before[name][NODE], f"{name} recreated"
    # supervisord's ray start retries come further apart the longer the head was away
    took = wait_until(lambda: alive_node_ids(servers[head]) == ids_before, 180, step=5)
    assert took is not None, (alive_node_ids(servers[head]), ids_before)
    got = redis_cli(server, redis, "get", MARKER_KEY).stdout.strip()
    assert got == marker, f"the key written before the teardown came back from the restored backup as {got!r}"
    redis_cli(server, redis, "del", MARKER_KEY)
    proc = run_playbook("smoke.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "sum correct" in proc.stdout and "psi correct" in proc.stdout
