"""Helpers for the testinfra tests: reach any server of the scenario inventory by name."""

import os

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner


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
