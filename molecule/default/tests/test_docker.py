"""Verify the docker role on every server, then a host-network container reachable from the other servers."""

import json
import os
import time

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
).get_hosts("secretflow")

HTTP_PORT = 18080
TEST_IMAGE_TAR = "/var/tmp/sfops-debian-base.tar"
TEST_CONTAINER = "sfops-molecule-http"


def test_engine_package_and_dockerd(host):
    assert host.package("docker.io").is_installed
    assert host.exists("dockerd") or host.file("/usr/sbin/dockerd").exists


def test_docker_service_running_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_daemon_json_as_configured(host):
    f = host.file("/etc/docker/daemon.json")
    assert f.exists and f.user == "root" and f.mode == 0o644
    config = json.loads(f.content_string)
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert config["live-restore"] is True
    assert config["max-concurrent-downloads"] == 4  # docker_daemon_options_extra merged in


def test_engine_runs_with_that_configuration(host):
    with host.sudo():
        info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True
    assert info["Driver"] == "overlay2"


def test_python_requests_for_community_docker(host):
    host.run_expect([0], "python3 -c 'import requests'")


def test_docker_users_in_docker_group(host):
    assert "docker" in host.user("sfops").groups


def test_host_network_container_reachable_from_other_servers(servers, server_vars, harness_images):
    names = sorted(servers)
    server_name = names[0]
    server = servers[server_name]
    ip = server_vars[server_name]["ansible_host"]
    name, tag = harness_images["SFOPS_BASE_IMAGE"].rsplit(":", 1)  # the archive prepare.yml copied there

    # community.docker modules on the target (needs python3-requests, installed by the role)
    image = server.ansible(
        "community.docker.docker_image",
        f"name={name} tag={tag} source=load load_path={TEST_IMAGE_TAR}",
        become=True, check=False,
    )
    assert not image.get("failed"), image
    container = server.ansible(
        "community.docker.docker_container",
        f"name={TEST_CONTAINER} image={name}:{tag} network_mode=host state=started "
        f"command='python3 -m http.server {HTTP_PORT} --bind 0.0.0.0'",
        become=True, check=False,
    )
    assert not container.get("failed"), container

    probe = (
        "python3 -c \"import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://{ip}:{HTTP_PORT}/', timeout=3).status == 200 else 1)\""
    )
    for client_name in names[1:]:
        client = servers[client_name]
        for _ in range(20):
            if client.run(probe).rc == 0:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"{client_name} cannot reach {server_name} {ip}:{HTTP_PORT}")
