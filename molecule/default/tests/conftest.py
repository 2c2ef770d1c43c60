"""Helpers for the testinfra tests: reach any server of the scenario inventory by name."""

import json
import os
import re
import subprocess
import time

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner


#: The e2e sequence on the one deployment (this file is shared by both scenarios): test_secrets first - its site.yml
#: re-run is the scenario's idempotence check (molecule/e2e/molecule.yml has no idempotence step) - then the
#: deployment's own checks, then the day-2 operations in this order; each leaves the deployment working for the next
#: (test_upgrade ends on image B, test_teardown brings a head back). Modules not listed keep their alphabetical place
#: before these.
MODULE_ORDER = ["test_secrets", "test_node", "test_tls", "test_upgrade", "test_restart", "test_scale", "test_teardown"]


#: Test modules left out of this run (comma-separated names), e.g. by `make test` to keep CI within its time budget
#: (Makefile TEST_E2E_SKIP); `make molecule-e2e` runs every module.
SKIP_MODULES = {m.strip() for m in os.environ.get("SFOPS_E2E_SKIP_MODULES", "").split(",") if m.strip()}


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(MODULE_ORDER)}
    items.sort(key=lambda item: rank.get(item.module.__name__, -1))   # stable: a module's own order stays
    skipped = [item for item in items if item.module.__name__ in SKIP_MODULES]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if item.module.__name__ not in SKIP_MODULES]
        print(f"\nSFOPS_E2E_SKIP_MODULES: left out {sorted(SKIP_MODULES)} ({len(skipped)} tests)")


def _inventory() -> str:
    # molecule passes the inventory *directory* (generated ansible_inventory.yml + the linked hosts.yml)
    return os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="session")
def runner() -> AnsibleRunner:
    return AnsibleRunner(_inventory())


@pytest.fixture(scope="session")
def servers(runner):
    """{inventory hostname: testinfra host} for every server of group secretflow."""
    return {
        name: testinfra.get_host(f"ansible://{name}?ansible_inventory={_inventory()}")
        for name in runner.get_hosts("secretflow")
    }


@pytest.fixture(scope="session")
def server_vars(runner):
    return {name: runner.get_variables(name) for name in runner.get_hosts("secretflow")}


@pytest.fixture(scope="session")
def harness_images() -> dict:
    """SFOPS_* image names written by scripts/build-images.sh (environment variables win)."""
    images = {}
    path = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), ".sandbox", "images.env")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            images.update(line.strip().split("=", 1) for line in f if "=" in line)
    images.update({k: v for k, v in os.environ.items() if k.startswith("SFOPS_")})
    return images


PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: where run_playbook keeps each run's output (SFOPS_E2E_RUN_LOGS overrides)
RUN_LOG_DIR = os.environ.get("SFOPS_E2E_RUN_LOGS", "/tmp/sfops-e2e-runs")


def run_playbook(playbook, *extra, timeout=900, inventory=None):
    """Run one of the collection's playbooks against the scenario inventory, as an operator would."""
    # molecule exports ANSIBLE_FORCE_COLOR; the tests read the output as plain text
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(["ansible-playbook", os.path.join(PROJECT, "playbooks", playbook),
                           "-i", inventory or _inventory(), *extra],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    proc.stdout = ANSI.sub("", proc.stdout)
    proc.stderr = ANSI.sub("", proc.stderr)
    # every run's whole output, for reading after a failure (assertion messages carry only excerpts)
    os.makedirs(RUN_LOG_DIR, exist_ok=True)
    # an organisation's own inventory (its party's name), else the scenario's
    source = os.path.basename(inventory) if inventory else os.environ.get("MOLECULE_SCENARIO_NAME", "scenario")
    name = f"{time.strftime('%H%M%S')}-{source}-{os.path.basename(playbook)}.log"
    with open(os.path.join(RUN_LOG_DIR, name), "w") as f:
        f.write(" ".join(proc.args) + f"\nexit {proc.returncode}\n" + proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    return proc


def recap(output):
    """{host: {ok: n, changed: n, ...}} from the PLAY RECAP of a playbook's output."""
    rows = {}
    for line in output.split("PLAY RECAP")[-1].splitlines()[1:]:
        parts = line.split()
        if not parts:   # the recap ends at its first blank line (a callback such as profile_tasks may follow)
            break
        if len(parts) > 2 and parts[1] == ":":
            rows[parts[0]] = {k: int(v) for k, v in (p.split("=") for p in parts[2:])}
    return rows


def changed_tasks(output):
    """The names of the tasks that reported `changed` for some host (a line `changed: [host]...` under them)."""
    return sorted({block.split("]", 1)[0] for block in output.split("\nTASK [")[1:]
                   if re.search(r"^changed: ", block, re.M)})


def matrix_rows(output):
    """{'party/host': {'party:group': cell}} from the (last) reachability matrix printed by preflight/verify."""
    lines = output.splitlines()
    start = [i for i, line in enumerate(lines) if "source \\ destination" in line]
    assert start, "no reachability matrix in the output:\n" + output[-3000:]
    i = start[-1]
    indent = lines[i].index("source")
    columns = re.split(r"\s{2,}", lines[i][indent:].strip())
    rows = {}
    for line in lines[i + 2:]:
        cells = re.split(r"\s{2,}", line[indent:].strip())
        if "/" not in cells[0]:
            break
        rows[cells[0]] = dict(zip(columns[1:], cells[1:]))
    return rows


# Shared by the test modules: the servers as testinfra hosts, the containers, waiting.
NODE = "sf-node"
REDIS = "sf-redis"


def sudo(server, cmd):
    with server.sudo():
        return server.run(cmd)


def manifest(server):
    with server.sudo():
        return json.loads(server.file("/etc/sfops/party.json").content_string)


def node_of(server, name):
    return manifest(server)["self"]["nodes"][name]


def healthy(server, container):
    out = sudo(server, f"docker inspect -f '{{{{.State.Health.Status}}}}' {container}")
    return out.rc == 0 and out.stdout.strip() == "healthy"


def node_answers(server):
    """The container's own healthcheck command: this node alive in Ray and its worker answers a ping.
    False (not an error) while the server itself is still booting and refuses SSH."""
    try:
        return sudo(server, f"docker exec {NODE} sfworker healthcheck --timeout 5").rc == 0
    except RuntimeError:  # testinfra: ssh exited 255 (connection refused during the restart)
        return False


def wait_until(predicate, timeout, step=3):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def parties(server_vars):
    """{party: {host: node_id}} from the scenario inventory."""
    out = {}
    for name, hv in server_vars.items():
        party = [g for g in hv["group_names"] if g not in ("secretflow", "all", "ungrouped")][0]
        out.setdefault(party, {})[name] = hv.get("sf_node_id", name)
    return out


def heads(server_vars):
    return {n: hv for n, hv in server_vars.items() if hv.get("sf_ray_role") == "head"}
