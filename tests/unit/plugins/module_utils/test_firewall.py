# -*- coding: utf-8 -*-
"""The firewall rules derived from the plan, and the nftables file the firewall role renders from them."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import subprocess

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils._firewall import firewall_rules, FirewallError

from test_reachability import build  # pylint: disable=import-error
from role_templar import RoleTemplar  # pylint: disable=import-error


@pytest.fixture(name='plan')
def plan_fixture():
    return build()


def test_head_private_and_public_ports(plan):
    rules = firewall_rules(plan, 'alice-1')
    assert rules['party'] == 'alice' and rules['role'] == 'head'
    # 16379 redis .. 16387 runtime env agent, without the Ray client server's 16383 (off by default); the worker range
    assert rules['private_ports'] == [[16379, 16382], [16384, 16387], [17000, 17199]]
    assert rules['public_ports'] == [[19000, 19009], [19500, 19509]]
    assert rules['private_v4'] == ['10.0.0.11/32', '10.0.0.12/32']
    # bob's node + alice's own nodes
    assert rules['public_v4'] == ['10.0.0.11/32', '10.0.0.12/32', '10.0.0.21/32']
    assert rules['private_v6'] == [] and rules['public_v6'] == []


def test_worker_node_has_no_head_ports_and_no_public_ports(plan):
    rules = firewall_rules(plan, 'alice-2')
    assert rules['role'] == 'worker'
    assert rules['private_ports'] == [[16381, 16382], [16384, 16387], [17000, 17199]]
    assert rules['public_ports'] == []


def test_peer_sources_replace_the_derived_addresses_and_extras_add(plan):
    rules = firewall_rules(plan, 'alice-1', peer_sources={'bob': ['198.51.100.0/24']},
                           extra_peer_sources=['2001:db8::/64'], private_sources=['192.0.2.5'])
    assert '10.0.0.21/32' not in rules['public_v4'] and '198.51.100.0/24' in rules['public_v4']
    assert rules['public_v6'] == ['2001:db8::/64']
    assert '192.0.2.5/32' in rules['private_v4'] and '192.0.2.5/32' in rules['public_v4']


def test_peer_party_external_ip_is_a_source():
    plan = build(peers={'carol': {'external_ip': '198.51.100.7', 'fed_port': 29000, 'spu_port': 29500}})
    assert '198.51.100.7/32' in firewall_rules(plan, 'bob-1')['public_v4']


def test_a_dns_name_needs_peer_sources_and_the_error_names_it():
    plan = build(sf_external_ip='bob.example.org')
    with pytest.raises(FirewallError) as info:
        firewall_rules(plan, 'alice-1')
    assert "party 'bob'" in str(info.value) and 'firewall_peer_sources.bob' in str(info.value)
    assert firewall_rules(plan, 'alice-1', peer_sources={'bob': ['203.0.113.9']})['public_v4'][-1] == '203.0.113.9/32'
    # bob's own firewall does not need it: its private sources are node IPs
    assert firewall_rules(plan, 'bob-1')['private_v4'] == ['10.0.0.21/32']


def test_bad_input_is_named(plan):
    with pytest.raises(FirewallError, match="'carol' is not a party"):
        firewall_rules(plan, 'alice-1', peer_sources={'carol': ['192.0.2.1']})
    with pytest.raises(FirewallError, match='firewall_private_sources'):
        firewall_rules(plan, 'alice-1', private_sources=['not-an-ip'])
    with pytest.raises(FirewallError, match=r'firewall_peer_sources.bob: must be a non-empty list'):
        firewall_rules(plan, 'alice-1', peer_sources={'bob': []})
    with pytest.raises(FirewallError, match="own party"):
        firewall_rules(plan, 'alice-1', peer_sources={'alice': ['192.0.2.1']})
    with pytest.raises(FirewallError, match='SSH port 16380'):
        firewall_rules(plan, 'alice-1', ssh_port=16380)
    with pytest.raises(FirewallError, match="'nobody' is not a managed host"):
        firewall_rules(plan, 'nobody')


def render(plan, host, **overrides):
    templar = RoleTemplar('firewall', inventory_hostname=host, **overrides)
    templar.variables['_firewall_rules'] = firewall_rules(plan, host)
    return templar.render('firewall.nft.j2')


def test_nft_file_of_a_head(plan):
    text = render(plan, 'alice-1')
    assert text.startswith('#')
    assert 'table inet sfops_secretflow\ndelete table inet sfops_secretflow\n' in text
    assert 'elements = { 10.0.0.11/32, 10.0.0.12/32 };' in text
    assert 'tcp dport { 16379-16382, 16384-16387, 17000-17199 } ip saddr @party_v4 accept' in text
    assert 'tcp dport { 16379-16382, 16384-16387, 17000-17199 } counter drop' in text
    assert 'tcp dport { 19000-19009, 19500-19509 } ip saddr @peers_v4 accept' in text
    assert 'set party_v6 { type ipv6_addr; flags interval; }' in text   # empty set, valid nft
    # nothing but the deployment's ports is dropped, and ssh is never mentioned
    assert 'dport 22' not in text and 'policy drop' not in text


def test_nft_file_of_a_worker_node_has_no_public_section(plan):
    text = render(plan, 'alice-2')
    assert 'peers_v4' not in text and '19000' not in text
    assert 'tcp dport { 16381-16382, 16384-16387, 17000-17199 } ip saddr @party_v4 accept' in text


@pytest.mark.skipif(not shutil.which('nft'), reason='nft not installed on this machine (molecule/e2e checks it)')
def test_nft_accepts_the_file(plan, tmp_path):
    path = tmp_path / 'firewall.nft'
    path.write_text(render(plan, 'alice-1'))
    result = subprocess.run(['nft', '-c', '-f', str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
