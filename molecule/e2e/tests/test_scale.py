"""Scale on the e2e deployment (#15), as docs/operations/scale.md says: a new server joins the first party with
firewall.yml then site.yml --limit <it>, and nothing else is recreated; remove-server.yml takes it out again, then
firewall.yml and verify.yml with the inventory without it.

The new server is a fresh harness server (molecule/shared/create.yml) next to the scenario's, in an inventory that
is the scenario's plus that server; it is destroyed at the end whatever happened."""

import os
import subprocess

import pytest
import yaml
from conftest import NODE, _inventory, heads, parties, run_playbook, sudo, wait_until  # pylint: disable=import-error
from test_upgrade import alive_node_ids, containers  # pylint: disable=import-error

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())


def _new_server(server_vars):
    """(party, name, ip, node_id) of a server the first party does not have yet: its last server's name and IP + 1."""
    members = parties(server_vars)
    party = sorted(members)[0]
    last = sorted(members[party])[-1]
    stem, _, number = last.rpartition("-")
    name = f"{stem}-{int(number) + 1}"
    ip_stem, _, ip_last = server_vars[last]["ansible_host"].rpartition(".")
    ip = f"{ip_stem}.{int(ip_last) + 1}"
    taken = {hv["ansible_host"] for hv in server_vars.values()}
    assert name not in server_vars and ip not in taken, (name, ip)
    return party, name, ip, f"{party}-w{len(members[party])}"


@pytest.fixture(scope="module", name="grown")
def grown_fixture(server_vars, tmp_path_factory):
    """An inventory directory: the scenario's servers plus the new one (same connection settings, same group_vars -
    the scenario's secrets stay in its ephemeral directory), and that server created. Destroyed afterwards."""
    party, name, ip, node_id = _new_server(server_vars)
    scenario = _inventory()
    with open(os.path.join(scenario, "hosts"), encoding="utf-8") as f:
        hosts = yaml.safe_load(f)
    hosts["all"]["children"]["secretflow"]["children"][party]["hosts"][name] = {"ansible_host": ip,
                                                                               "sf_node_id": node_id}
    with open(os.path.join(scenario, "ansible_inventory.yml"), encoding="utf-8") as f:
        generated = yaml.safe_load(f)
    connection = dict(next(iter(generated["all"]["hosts"].values())))
    inv = tmp_path_factory.mktemp("grown")
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inv / "connection.yml").write_text(yaml.safe_dump(
        {"all": {"hosts": {h: connection for h in [*server_vars, name]}}}))
    os.symlink(os.path.realpath(os.path.join(scenario, "group_vars")), inv / "group_vars")
    proc = run_playbook(os.path.join(PROJECT, "molecule", "shared", "create.yml"), inventory=str(inv))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    yield {"inventory": str(inv), "party": party, "name": name, "node_id": node_id}
    # the harness server alone (destroy.yml would take the scenario's network and data volumes with it)
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=600, check=False)


def test_add_a_server_then_remove_it(servers, server_vars, grown):
    import testinfra  # pylint: disable=import-outside-toplevel
    members = parties(server_vars)
    party, name, inv = grown["party"], grown["name"], grown["inventory"]
    head = [h for h in heads(server_vars) if h in members[party]][0]
    before = containers(servers)
    ids_before = alive_node_ids(servers[head])

    # add: the party's doors first (every server), then the new server alone
    proc = run_playbook("firewall.yml", inventory=inv)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    proc = run_playbook("site.yml", "--limit", name, inventory=inv, timeout=2400)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert alive_node_ids(servers[head]) == sorted(ids_before + [grown["node_id"]])
    assert containers(servers) == before, "adding a server recreated containers on the other servers"
    new = testinfra.get_host(f"ansible://{name}?ansible_inventory={inv}")
    assert sudo(new, f"docker exec {NODE} sfworker healthcheck --timeout 5").rc == 0

    # remove: drained, torn down on that server, then the doors closed with the inventory without it
    proc = run_playbook("remove-server.yml", "-e", f"remove_servers={name}", "-e", "remove_confirm=yes",
                        inventory=inv)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert sudo(new, "docker ps -a -q").stdout.strip() == "", "containers left on the removed server"
    assert sudo(new, "test -e /etc/sfops").rc != 0, "configuration left on the removed server"
    assert "sfops_secretflow" not in sudo(new, "nft list tables").stdout
    took = wait_until(lambda: alive_node_ids(servers[head]) == ids_before, 120, step=5)
    assert took is not None, ("the removed node is still alive in the party's Ray cluster", ids_before)
    assert containers(servers) == before, "removing a server recreated containers on the other servers"
    for playbook in ("firewall.yml", "verify.yml"):
        proc = run_playbook(playbook)
        assert proc.returncode == 0, playbook + "\n" + proc.stdout[-6000:] + proc.stderr[-2000:]
