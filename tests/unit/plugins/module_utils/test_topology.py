# -*- coding: utf-8 -*-
"""_topology: the address code the plan and the worker share (one file, the worker reaches it by a symlink)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

import pytest
import yaml

from ansible_collections.sfops.secretflow.plugins.module_utils import _image_hash
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _topology as topo
from ansible_collections.sfops.secretflow.plugins.action.deployment_plan import load_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TOPOLOGY = os.path.join(ROOT, 'plugins', 'module_utils', '_topology.py')
WORKER_LINK = os.path.join(ROOT, 'worker', 'sfworker', '_topology.py')
# The one table of the RAY_*ADDRESS rule; worker/tests/test_envhygiene.py reads the same file.
RAY_ENV_TABLE = os.path.join(ROOT, 'tests', 'unit', 'data', 'ray_address_env.json')


def ray_env_cases():
    with open(RAY_ENV_TABLE) as handle:
        return [tuple(case) for case in json.load(handle)['cases']]


# ---------------------------------------------------------------- the RAY_*ADDRESS rule


def test_the_table_has_both_kinds():
    cases = ray_env_cases()
    assert {refused for _name, refused in cases} == {True, False}
    assert len(set(name for name, _refused in cases)) == len(cases)


@pytest.mark.parametrize('name,refused', ray_env_cases())
def test_ray_address_rule(name, refused):
    assert topo.is_ray_address_var(name) is refused


@pytest.mark.parametrize('name,refused', ray_env_cases())
def test_plan_refuses_exactly_the_table_names_in_sf_worker_env(name, refused):
    inv = {'parties': {'alice': ['a1'], 'bob': ['b1']}, 'stray_hosts': [], 'defaults': copy.deepcopy(load_defaults()),
           'hosts': {'a1': {'ansible_host': '10.0.0.1', 'sf_ray_role': 'head', 'sf_worker_env': {name: 'x'}},
                     'b1': {'ansible_host': '10.0.0.2', 'sf_ray_role': 'head'}}}
    errors, plan = planlib.build_plan(inv)
    if refused:
        assert len(errors) == 1 and "party 'alice', host 'a1': sf_worker_env must not set %s:" % name in errors[0]
        assert planlib.RAY_ADDRESS_WHY in errors[0]
    else:
        assert errors == [] and plan['parties']['alice']['nodes']['a1']['worker_env'] == {name: 'x'}


def test_non_strings_are_not_ray_address_names():
    assert topo.is_ray_address_var(None) is False and topo.is_ray_address_var(1) is False


# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize('host,port,expected', [
    ('10.0.0.1', 19000, '10.0.0.1:19000'),
    ('2001:db8::21', 19003, '[2001:db8::21]:19003'),
    ('::', 19500, '[::]:19500'),
    ('bob.example.org', 1, 'bob.example.org:1'),
])
def test_hostport(host, port, expected):
    assert topo.hostport(host, port) == expected


@pytest.mark.parametrize('host,expected', [
    ('10.0.0.1', '0.0.0.0'), ('fd00::1', '::'), ('bob.example.org', '0.0.0.0'), ('::ffff:10.0.0.1', '::')])
def test_listen_any(host, expected):
    assert topo.listen_any(host) == expected


PARTIES = {
    'carol': {'external_ip': 'carol.example.org', 'fed_port': 29000, 'spu_port': 29500},
    'bob': {'external_ip': '2001:db8::21', 'fed_port': 19000, 'spu_port': 19500, 'managed': True, 'nodes': {}},
    'alice': {'external_ip': '10.0.0.11', 'fed_port': 19000, 'spu_port': 19500},
}


def test_cluster_config_of_a_slot():
    assert topo.cluster_config(PARTIES, 'bob', 3) == {
        'parties': {
            'alice': {'address': '10.0.0.11:19003', 'listen_addr': '0.0.0.0:19003'},
            'bob': {'address': '[2001:db8::21]:19003', 'listen_addr': '[::]:19003'},
            'carol': {'address': 'carol.example.org:29003', 'listen_addr': '0.0.0.0:29003'},
        },
        'self_party': 'bob',
    }


def test_cluster_config_is_sorted_whatever_the_input_order():
    # JSON of the plan's and the worker's must be byte-for-byte equal, so the order may not depend on the caller
    text = json.dumps(topo.cluster_config(PARTIES, 'alice', 0))
    assert text.index('"alice"') < text.index('"bob"') < text.index('"carol"')


def test_spu_cluster_def_of_a_slot():
    runtime = {'protocol': 'SEMI2K', 'field': 'FM128'}
    spu = topo.spu_cluster_def(PARTIES, runtime, 9)
    assert spu == {
        'nodes': [
            {'party': 'alice', 'address': '10.0.0.11:19509', 'listen_address': '0.0.0.0:19509'},
            {'party': 'bob', 'address': '[2001:db8::21]:19509', 'listen_address': '[::]:19509'},
            {'party': 'carol', 'address': 'carol.example.org:29509', 'listen_address': '0.0.0.0:29509'},
        ],
        'runtime_config': runtime,
    }
    assert spu['runtime_config'] is not runtime  # a copy: the worker merges job overrides into its own


CERT, KEY, CA = '/etc/sfops/tls/v1/cert.pem', '/etc/sfops/tls/v1/key.pem', '/tmp/sfworker/tls-ca/ca-1.pem'


def test_spu_tls_opts_are_both_halves_with_the_same_files():
    opts = topo.spu_tls_opts(CERT, KEY, CA, 2)
    half = {'certificate_path': CERT, 'private_key_path': KEY, 'ca_file_path': CA, 'verify_depth': 2}
    assert opts == {'server_ssl_opts': half, 'client_ssl_opts': half}
    assert opts['server_ssl_opts'] is not opts['client_ssl_opts']


def test_spu_cluster_def_puts_tls_opts_on_the_own_node_only():
    opts = topo.spu_tls_opts(CERT, KEY, CA, 1)
    spu = topo.spu_cluster_def(PARTIES, {}, 2, self_party='bob', tls_opts=opts)
    assert [n.get('tls_opts') for n in spu['nodes']] == [None, opts, None]  # alice, bob, carol
    assert spu['nodes'][1]['tls_opts'] is not opts  # a copy
    for node in spu['nodes']:
        node.pop('tls_opts', None)
    assert spu == topo.spu_cluster_def(PARTIES, {}, 2)  # nothing else changes
    assert json.dumps(topo.spu_cluster_def(PARTIES, {}, 2, self_party='bob')) == \
        json.dumps(topo.spu_cluster_def(PARTIES, {}, 2))  # no tls_opts: byte for byte the plaintext def


def _opts(**change):
    opts = topo.spu_tls_opts(CERT, KEY, CA, 2)
    for half in opts.values():
        half.update(change)
    return opts


@pytest.mark.parametrize('opts,self_party,message', [
    ({'server_ssl_opts': topo.spu_tls_opts(CERT, KEY, CA, 2)['server_ssl_opts']}, 'bob',
     'SPU tls_opts must have exactly the keys server_ssl_opts, client_ssl_opts'),
    (_opts(ca_path=CA), 'bob', 'SPU tls_opts.server_ssl_opts must have exactly the keys certificate_path, '
                               'private_key_path, ca_file_path, verify_depth (SPU ignores any other key)'),
    (_opts(verify_depth=0), 'bob', 'SPU tls_opts.server_ssl_opts.verify_depth must be an integer >= 1 (0 means no '
                                   'verification), got 0'),
    (_opts(verify_depth=True), 'bob', 'verify_depth must be an integer >= 1'),
    (_opts(ca_file_path=''), 'bob', "SPU tls_opts.server_ssl_opts.ca_file_path must be a non-empty path, got ''"),
    ({'server_ssl_opts': None, 'client_ssl_opts': None}, 'bob', 'SPU tls_opts.server_ssl_opts must have exactly'),
    (topo.spu_tls_opts(CERT, KEY, CA, 2), 'dave', "SPU tls_opts need self_party, one of the parties (alice, bob, "
                                                  "carol), got 'dave'"),
    (topo.spu_tls_opts(CERT, KEY, CA, 2), None, 'SPU tls_opts need self_party'),
])
def test_spu_tls_opts_are_checked(opts, self_party, message):
    with pytest.raises(ValueError) as err:
        topo.spu_cluster_def(PARTIES, {}, 0, self_party=self_party, tls_opts=opts)
    assert message in str(err.value)


def test_spu_tls_opts_refuse_verify_depth_zero():
    with pytest.raises(ValueError, match='0 means no verification'):
        topo.spu_tls_opts(CERT, KEY, CA, 0)


def test_a_subset_of_parties_only_names_them():
    subset = {name: PARTIES[name] for name in ('alice', 'carol')}
    assert sorted(topo.cluster_config(subset, 'alice', 1)['parties']) == ['alice', 'carol']
    assert [n['party'] for n in topo.spu_cluster_def(subset, {}, 1)['nodes']] == ['alice', 'carol']


def test_the_plan_reexports_the_shared_functions():
    for name in ('hostport', 'listen_any', 'cluster_config', 'spu_cluster_def', 'is_ip', 'is_dns_name',
                 'is_ray_address_var', 'RAY_ADDRESS_WHY'):
        assert getattr(planlib, name) is getattr(topo, name), name


# ---------------------------------------------------------------- one file, reaching the worker


def test_the_worker_module_is_a_relative_symlink_to_this_file():
    assert os.path.islink(WORKER_LINK)
    target = os.readlink(WORKER_LINK)
    assert not os.path.isabs(target)  # survives a move of the checkout and a collection install
    assert os.path.realpath(WORKER_LINK) == os.path.realpath(TOPOLOGY)


def test_the_shared_file_imports_only_the_standard_library():
    with open(TOPOLOGY) as handle:
        imports = [line.split()[1] for line in handle if line.startswith(('import ', 'from '))]
    assert sorted(imports) == ['__future__', 'ipaddress', 're']


def test_image_content_hash_covers_the_shared_file(tmp_path):
    worker = os.path.join(ROOT, 'worker')
    assert 'sfworker/_topology.py' in _image_hash.tree_files(worker)
    # the hash reads the file behind the link: a copy of worker/ with another _topology.py hashes differently
    import shutil
    copy_dir = str(tmp_path / 'worker')
    shutil.copytree(worker, copy_dir)  # follows the symlink
    assert not os.path.islink(os.path.join(copy_dir, 'sfworker', '_topology.py'))
    same = _image_hash.content_hash(paths={'worker': copy_dir})
    assert same == _image_hash.content_hash(paths={'worker': worker})
    with open(os.path.join(copy_dir, 'sfworker', '_topology.py'), 'a') as handle:
        handle.write('# changed\n')
    assert _image_hash.content_hash(paths={'worker': copy_dir}) != same


def test_the_image_role_copies_the_file_not_the_link():
    """roles/image copies worker/ into the Docker build context with ansible.builtin.copy; with local_follow (its
    default) the action plugin sends the link's target as a regular file."""
    from ansible.plugins.action.copy import _walk_dirs

    with open(os.path.join(ROOT, 'roles', 'image', 'tasks', 'build.yml')) as handle:
        tasks = yaml.safe_load(handle)
    copy_task = [t for b in tasks for t in b.get('block', [b]) if t.get('name') == 'Copy the worker package'][0]
    args = copy_task['ansible.builtin.copy']
    assert args['src'].endswith('/') and args.get('local_follow', True) in (True, 'true', 'yes')
    walked = _walk_dirs(os.path.join(ROOT, 'worker') + '/', local_follow=True)
    assert (os.path.realpath(TOPOLOGY), 'sfworker/_topology.py') in walked['files']
    assert not [link for link in walked['symlinks'] if link[1].endswith('_topology.py')]
