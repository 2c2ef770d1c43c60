"""Two organisations from one scenario inventory: for each party, the inventory its own organisation would keep -
only its servers under `secretflow`, the other parties in `sf_peer_parties` (address and first ports from the
deployment plan), its own TLS directory. The same settings otherwise (the scenario's group_vars, each server's
connection variables), so that each organisation's site.yml changes only what the split changes.

    python orgs.py <scenario inventory dir> <plan.json> <out dir>     (prints the inventories written)
"""

import json
import os
import re
import shutil
import sys

import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

# what a server needs to be reached (molecule's connection_options are per host in its generated inventory)
CONNECTION = ("ansible_host", "ansible_connection", "ansible_user", "ansible_port", "ansible_python_interpreter",
              "ansible_ssh_private_key_file", "ansible_ssh_common_args", "ansible_control_path_dir")
NODE_VARS = ("sf_node_id", "sf_ray_role", "sf_node_ip", "sf_external_ip")


def _absolute(value, inventory_dir):
    """Variables refer to files next to the inventory (Jinja's inventory_dir): keep pointing at the same files."""
    if isinstance(value, str):
        value = value.replace("{{ inventory_dir }}", inventory_dir)
        return re.sub(r"\binventory_dir\b", "'%s'" % inventory_dir, value)
    if isinstance(value, dict):
        return {k: _absolute(v, inventory_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute(v, inventory_dir) for v in value]
    return value


def split(inventory_dir, plan, out_dir):
    """Write <out_dir>/<party>/{hosts.yml, group_vars/*.yml}; return {party: inventory directory}."""
    runner = AnsibleRunner(inventory_dir)
    hostvars = {name: runner.get_variables(name) for name in runner.get_hosts("secretflow")}
    source_dir = inventory_dir
    if not os.path.isdir(os.path.join(source_dir, "group_vars")):   # molecule: the linked scenario inventory
        source_dir = os.path.dirname(os.path.realpath(os.path.join(inventory_dir, "hosts.yml")))
    managed = [p for p in plan["party_order"] if plan["parties"][p]["managed"]]
    written = {}
    for party in managed:
        org = os.path.join(out_dir, party)
        if os.path.isdir(org):
            shutil.rmtree(org)
        os.makedirs(os.path.join(org, "group_vars"))
        hosts = {}
        for name in plan["parties"][party]["nodes"]:
            hv = hostvars[name]
            hosts[name] = {k: _absolute(hv[k], source_dir) for k in CONNECTION + NODE_VARS if k in hv}
        inventory = {"all": {"children": {"secretflow": {"children": {party: {"hosts": hosts}}}}}}
        with open(os.path.join(org, "hosts.yml"), "w", encoding="utf-8") as f:
            f.write("# Organisation %s: its own servers only; the other parties are peers (group_vars/%s.yml).\n"
                    % (party, party))
            yaml.safe_dump(inventory, f, sort_keys=False)
        for name in sorted(os.listdir(os.path.join(source_dir, "group_vars"))):
            path = os.path.join(source_dir, "group_vars", name)
            if name.endswith(".yml") and name != "all.yml":
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                with open(os.path.join(org, "group_vars", name), "w", encoding="utf-8") as f:
                    f.write(_absolute(text, source_dir))
        peers = {
            other: {"external_ip": plan["parties"][other]["external_ip"],
                    "fed_port": plan["parties"][other]["fed_port"],
                    "spu_port": plan["parties"][other]["spu_port"]}
            for other in plan["party_order"] if other != party
        }
        deployment = {
            "sf_peer_parties": peers,
            "sf_job_slots": plan["job_slots"],
            # each organisation its own PKI; the peers' CAs arrive with playbooks/tls-import.yml
            "sf_tls_dir": os.path.join(org, "credentials", "tls"),
        }
        # in the party's group: above group_vars/secretflow.yml (copied, it may set sf_tls_dir) in precedence
        with open(os.path.join(org, "group_vars", "%s.yml" % party), "w", encoding="utf-8") as f:
            f.write("# Deployment-wide settings of organisation %s's inventory (its servers are all in this group).\n"
                    % party)
            yaml.safe_dump(deployment, f, sort_keys=False)
        written[party] = org
    return written


if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as handle:
        print(json.dumps(split(sys.argv[1], json.load(handle), sys.argv[3]), indent=2))
