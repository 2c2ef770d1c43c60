# -*- coding: utf-8 -*-
"""roles/image: the Dockerfile renders for both bases, and the content hash (its tag) is stable and sensitive.

Rendered with ansible-core's own Templar from the role's defaults + vars, like tests/unit/test_docker_role_templates.py.
Only the Debian base is built for real (against the sandbox); the official SecretFlow base cannot be pulled here, so
its Dockerfile is checked here only.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

import pytest
import yaml

pytest.importorskip('ansible')
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar  # noqa: E402
from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.loader import lookup_loader  # noqa: E402
from role_templar import RoleTemplar, trust  # noqa: E402


from ansible_collections.sfops.secretflow.plugins.lookup import image_content_hash as hash_lookup  # noqa: E402
from ansible_collections.sfops.secretflow.plugins.module_utils._image_hash import (  # noqa: E402
    DEFAULT_EXCLUDE, content_hash, tree_files)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(ROOT, 'roles', 'image')
WORKER = os.path.join(ROOT, 'worker')


def Role(**overrides):  # noqa: N802 - reads like the class it used to be
    return RoleTemplar('image', **overrides)


def _instructions(dockerfile):
    """Dockerfile -> list of (INSTRUCTION, argument text) with continuation lines joined, comments dropped."""
    out, current = [], ''
    for line in dockerfile.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith('#')):
            continue
        if line.endswith('\\'):
            current += line[:-1] + ' '
            continue
        current += line
        word, _sep, rest = current.strip().partition(' ')
        out.append((word, ' '.join(rest.split())))
        current = ''
    assert not current, 'dangling continuation line'
    return out


def _runs(instructions):
    return ' && '.join(arg for word, arg in instructions if word == 'RUN')


# --- Dockerfile -------------------------------------------------------------------------------------------

def test_dockerfile_debian_base():
    text = Role().render('Dockerfile.j2')
    assert text.startswith('#'), 'ansible_managed header first'
    ins = _instructions(text)
    words = [word for word, _arg in ins]
    assert set(words) <= {'FROM', 'ARG', 'ENV', 'COPY', 'RUN', 'USER', 'ENTRYPOINT', 'CMD'}
    assert ins[0] == ('FROM', 'sfops/debian-base:latest')
    assert words.count('FROM') == 1
    runs = _runs(ins)
    for pkg in ('python3-venv', 'libgomp1', 'redis-server', 'supervisor', 'tini', 'curl', 'procps'):
        assert ' %s ' % pkg in runs + ' ', pkg
    assert 'rm -rf /var/lib/apt/lists/*' in runs
    # worker-venv.sh's recipe: the hashed lock (secretflow included), then the worker package alone (#12)
    lock = runs.index('/opt/sf/bin/pip install --require-hashes --no-deps --only-binary=:all:'
                      ' -r /tmp/sfops-build/requirements-sf.lock')
    worker = runs.index('/opt/sf/bin/pip install --no-deps --no-build-isolation /tmp/sfops-build/worker')
    assert lock < worker
    assert ('COPY', 'worker/requirements-sf.lock /tmp/sfops-build/requirements-sf.lock') in ins
    # nothing resolved or downloaded without a hash: no ranges, no pip self-upgrade, no requirements file
    assert "'pip>=23'" not in runs and 'requirements-sf.txt' not in runs and 'constraints' not in runs
    for call in runs.split('pip install')[1:]:
        assert call.startswith(' --require-hashes --no-deps') or call.startswith(' --no-deps --no-build-isolation'), call
    assert 'PIP_NO_CACHE_DIR=1' in [a for w, a in ins if w == 'ARG']
    assert 'rm -rf /tmp/sfops-build /root/.cache' in runs
    # self-test
    # (redis + kombu's Redis transport: redis-py needs async-timeout on Debian 12's Python 3.11.2)
    imports = "python3 -c 'import secretflow, spu, fed, sfworker, cryptography.x509, redis, kombu.transport.redis'"
    for check in ('ray --version', 'ray start --help >/dev/null', imports,
                  'sfworker --help >/dev/null', 'python3 -m sfworker.selftest', 'supervisord --version',
                  'redis-server --version'):
        assert check in runs, check
    assert ('ENV', 'LANG=C.UTF-8 PATH=/opt/sf/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin') in ins
    assert ('ENTRYPOINT', '["/usr/bin/tini", "--"]') in ins
    # no CA bundle by default: no pip.conf, nothing of the builder's trust store in the image
    assert 'pip.conf' not in text and 'build-ca.crt' not in text
    assert 'find /opt/sf/lib' not in text


def test_dockerfile_debian_with_build_ca_bundle_and_options():
    role = Role(image_build_ca_bundle='/etc/ssl/certs/ca-certificates.crt', image_venv_path='/srv/sf',
                image_extra_packages=['less'], image_prune_tests=True, image_base_image='registry.example.org/deb:12')
    ins = _instructions(role.render('Dockerfile.j2'))
    assert ins[0] == ('FROM', 'registry.example.org/deb:12')
    assert ('COPY', 'pip.conf build-ca.crt /tmp/sfops-build/') in ins
    assert ('ARG', 'PIP_CONFIG_FILE=/tmp/sfops-build/pip.conf') in ins
    # the CA files arrive before the first pip call
    first_pip = next(i for i, (w, a) in enumerate(ins) if w == 'RUN' and 'pip install' in a)
    assert ins.index(('COPY', 'pip.conf build-ca.crt /tmp/sfops-build/')) < first_pip
    runs = _runs(ins)
    assert ' less ' in runs
    assert '/srv/sf/bin/pip install --require-hashes --no-deps' in runs
    assert "find /srv/sf/lib -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} +" in runs
    conf = role.render('pip.conf.j2')
    assert conf.startswith('#')
    assert 'cert = /tmp/sfops-build/build-ca.crt' in conf.splitlines()


def test_dockerfile_official_secretflow_base():
    text = Role(image_base='secretflow').render('Dockerfile.j2')
    ins = _instructions(text)
    assert ins[0] == ('FROM', 'secretflow-registry.cn-hangzhou.cr.aliyuncs.com/secretflow/secretflow-lite-anolis8:1.11.0b1')
    runs = _runs(ins)
    assert runs.startswith('yum install -y redis procps-ng curl libgomp && yum clean all')
    assert 'apt-get' not in runs and 'venv' not in runs
    # SecretFlow is preinstalled: no requirements, no secretflow pin; click<8.3 (Python 3.10 + ray) and the worker
    assert 'requirements-sf.txt' not in text
    assert "python3 -m pip install 'click<8.3' supervisor /tmp/sfops-build/worker" in runs
    assert 'ln -sfn /usr/local /opt/sf' in runs
    assert 'ray start --help >/dev/null' in runs
    assert ('ENTRYPOINT', '[]') in ins  # the official image's entrypoint script is not ours


@pytest.mark.parametrize('ref, from_', [
    ('reg.example.org:5000/deb:12@sha256:' + 'a' * 64, 'reg.example.org:5000/deb@sha256:' + 'a' * 64),
    ('reg.example.org/deb@sha256:' + 'b' * 64, 'reg.example.org/deb@sha256:' + 'b' * 64),
    ('reg.example.org:5000/deb:12', 'reg.example.org:5000/deb:12'),
])
def test_base_by_digest_is_looked_up_and_used_by_digest(ref, from_):
    # community.docker finds/pulls `repository@digest` (not `repository:tag@digest`); FROM takes the same (#12)
    role = Role(image_base_image=ref)
    assert role.var('_image_base_ref') == from_
    assert _instructions(role.render('Dockerfile.j2'))[0] == ('FROM', from_)


def test_build_checks_the_base_policy_before_pulling():
    with open(os.path.join(ROLE, 'tasks', 'build.yml')) as handle:
        tasks = yaml.safe_load(handle)
    names = [t['name'] for t in tasks]
    check = names.index('Check the base image reference (image_base_image pinned by digest)')
    assert names.index('Look up the base image on the builder') < check < names.index('Pull the base image onto the builder')
    assert 'image_base_check(_image_base_info.images' in tasks[check]['vars']['_image_base_policy']
    assert 'allow_mutable_tag=image_base_allow_mutable_tag' in tasks[check]['vars']['_image_base_policy']
    assert tasks[names.index('Pull the base image onto the builder')]['community.docker.docker_image']['name'] == \
        '{{ _image_base_ref }}'


def _tasks(name):
    with open(os.path.join(ROLE, 'tasks', name)) as handle:
        return yaml.safe_load(handle)


def _flat(tasks):
    flat = []
    for task in tasks:
        flat.append(task)
        for key in ('block', 'rescue', 'always'):
            flat.extend(_flat(task.get(key, [])))
    return flat


def test_archive_is_verified_before_load_and_the_id_after():
    tasks = list(_flat(_tasks('distribute-archive.yml')))
    names = [t['name'] for t in tasks]
    # the old load (docker_image source: load, trusting any name:tag already there) is gone
    assert not [t for t in tasks if t.get('community.docker.docker_image', {}).get('source') == 'load']
    delta = next(i for i, t in enumerate(tasks) if 'sfops.secretflow.image_archive_delta' in t)
    copy = next(i for i, n in enumerate(names) if n.startswith('Copy the tarball to the server'))
    stat = names.index('Checksum the tarball on the server')
    verify = names.index('Assert the tarball on the server matches the controller\'s checksum')
    load = next(i for i, t in enumerate(tasks) if 'community.docker.docker_image_load' in t)
    # the zstd copy streams into docker load (no tarball written on the server), after the same checks
    stream = next(i for i, t in enumerate(tasks) if '| docker load' in t.get('ansible.builtin.shell', {}).get('cmd', ''))
    assert 'set -o pipefail' in tasks[stream]['ansible.builtin.shell']['cmd']
    assert tasks[stream]['when'] == '_image_delta.compressed' and tasks[load]['when'] == 'not _image_delta.compressed'
    after = names.index('Assert the loaded image has the expected ID')
    assert delta < copy < stat < verify < stream < load < after
    # what travels: the whole tarball or the one without the server's layers, checked against its own sha256 (the
    # whole one's is the controller's .sha256 file)
    assert tasks[delta]['sfops.secretflow.image_archive_delta']['src_sha256'] == '{{ _image_archive_sha256 }}'
    assert tasks[delta]['delegate_to'] == 'localhost'
    assert tasks[copy]['ansible.builtin.copy']['src'] == '{{ _image_delta.path }}'
    assert tasks[stat]['ansible.builtin.stat']['checksum_algorithm'] == 'sha256'
    assert '_image_server_archive.stat.checksum == _image_delta.sha256' in tasks[verify]['ansible.builtin.assert']['that']
    assert "host '{{ inventory_hostname }}'" in tasks[verify]['ansible.builtin.assert']['fail_msg']
    assert '_image_server_loaded.images[0].Id == _image_expected_id' in ' '.join(tasks[after]['ansible.builtin.assert']['that'])
    # a server whose name:tag has another ID gets the verified tarball too (replaced, not trusted)
    block = _tasks('distribute-archive.yml')[1]
    assert "_image_server_info.images[0].Id != _image_expected_id" in block['when']


def test_registry_pull_is_checked_against_the_expected_id():
    tasks = list(_flat(_tasks('distribute-registry.yml')))
    names = [t['name'] for t in tasks]
    assert names.index('Pull {{ _image_repository ~ \':\' ~ _image_tag }}') < names.index('Assert the pulled image has the expected ID')
    check = tasks[names.index('Assert the pulled image has the expected ID')]['ansible.builtin.assert']
    assert '_image_server_pulled.images[0].Id == _image_registry_expected_id' in ' '.join(check['that'])


def test_archive_sha256_is_read_from_the_checksum_file(tmp_path):
    (tmp_path / 'w.tar.sha256').write_text(u'%s  w.tar\n' % ('AB' * 32))
    role = Role(image_archive_src=str(tmp_path / 'w.tar'), image_tag='t', _image_tag='t')
    assert role.var('_image_archive_sha256') == 'ab' * 32


def test_dockerignore_matches_hash_excludes():
    lines = [line for line in Role().render('dockerignore.j2').splitlines() if line and not line.startswith('#')]
    from ansible_collections.sfops.secretflow.plugins.module_utils._image_hash import DEFAULT_EXCLUDE
    assert sorted(line[len('**/'):] for line in lines) == sorted(DEFAULT_EXCLUDE)


def test_computed_vars():
    role = Role()
    assert role.var('_image_secretflow_pin') == 'secretflow==1.11.0b1'
    assert role.var('_image_base_image') == 'sfops/debian-base:latest'
    assert role.var('_image_repository') == 'sfops/secretflow-worker'
    role = Role(image_distribution='registry', image_registry='reg.example.org:5000/sf', _image_tag='abc')
    assert role.var('_image_repository') == 'reg.example.org:5000/sf/sfops/secretflow-worker'
    role = Role(_image_tag='0123456789ab', image_archive_dir='/srv/images')
    assert role.var('_image_archive_file') == '/srv/images/sfops_secretflow-worker-0123456789ab.tar'
    assert role.var('_image_server_archive_file') == '/var/cache/sfops/images/sfops_secretflow-worker-0123456789ab.tar'
    assert role.var('_image_build_dir') == '/srv/images/build-0123456789ab'
    role = Role(_image_tag='t', image_archive_src='/data/prebuilt.tar', image_tag='t')
    assert role.var('_image_server_archive_file') == '/var/cache/sfops/images/prebuilt.tar'
    assert Role(_image_tag='t', image_distribution='build').var('_image_build_dir') == '/var/cache/sfops/image-build/t'


# --- content hash -----------------------------------------------------------------------------------------

@pytest.fixture
def worker_copy(tmp_path):
    dst = tmp_path / 'worker'
    shutil.copytree(WORKER, str(dst), ignore=shutil.ignore_patterns('__pycache__', '*.egg-info', 'build'))
    return dst


def _lookup(**options):
    return lookup_loader.get('sfops.secretflow.image_content_hash').run([], variables={}, **options)


def _tag(worker, dockerfile='FROM x\n', base='sfops/debian-base:latest@sha256:aa'):
    result = _lookup(texts={'Dockerfile': dockerfile, 'base': base}, paths={'worker': str(worker)})
    assert isinstance(result, list) and len(result) == 1
    return result[0]


def test_hash_is_stable_and_12_hex(worker_copy, tmp_path):
    first = _tag(worker_copy)
    assert len(first) == 12 and int(first, 16) >= 0
    assert _tag(worker_copy) == first
    # same content elsewhere, and different dict order: same hash
    other = tmp_path / 'elsewhere'
    shutil.copytree(str(worker_copy), str(other))
    assert _tag(other) == first
    assert content_hash({'base': 'b', 'Dockerfile': 'd'}) == content_hash({'Dockerfile': 'd', 'base': 'b'})


def test_hash_ignores_tests_caches_and_build_outputs(worker_copy):
    first = _tag(worker_copy)
    (worker_copy / 'sfworker' / '__pycache__').mkdir(exist_ok=True)
    (worker_copy / 'sfworker' / '__pycache__' / 'cli.cpython-311.pyc').write_bytes(b'\0')
    (worker_copy / 'tests' / 'test_new.py').write_text(u'def test(): pass\n')
    (worker_copy / 'build' / 'lib').mkdir(parents=True)
    (worker_copy / 'build' / 'lib' / 'x.py').write_text(u'x = 1\n')
    (worker_copy / 'sfworker.egg-info').mkdir()
    (worker_copy / 'sfworker.egg-info' / 'PKG-INFO').write_text(u'Name: sfworker\n')
    assert _tag(worker_copy) == first
    files = tree_files(str(worker_copy))
    assert 'pyproject.toml' in files and 'requirements-sf.txt' in files and 'sfworker/cli.py' in files
    # the lock (what the image installs) is part of the tag (#12)
    assert 'requirements-sf.lock' in files
    assert not [f for f in files if f.startswith(('tests/', 'build/')) or '__pycache__' in f or 'egg-info' in f]


@pytest.mark.parametrize('change', ['worker_code', 'new_module', 'requirements', 'lock', 'dockerfile', 'base_id',
                                    'rename'])
def test_hash_changes_with_every_input(worker_copy, change):
    first = _tag(worker_copy)
    dockerfile, base = 'FROM x\n', 'sfops/debian-base:latest@sha256:aa'
    if change == 'worker_code':
        with open(str(worker_copy / 'sfworker' / 'cli.py'), 'a') as f:
            f.write('\n# changed\n')
    elif change == 'new_module':
        (worker_copy / 'sfworker' / 'tasks' / 'extra.py').write_text(u'')
    elif change == 'requirements':
        req = worker_copy / 'requirements-sf.txt'
        req.write_text(req.read_text().replace('ray==2.9.3', 'ray==2.9.2'))
    elif change == 'lock':
        lock = worker_copy / 'requirements-sf.lock'
        lock.write_text(lock.read_text().replace('--hash=sha256:', '--hash=sha256:0', 1)[:-1] + '\n')
    elif change == 'dockerfile':
        dockerfile = 'FROM x\nRUN true\n'
    elif change == 'base_id':
        base = 'sfops/debian-base:latest@sha256:bb'
    elif change == 'rename':
        os.rename(str(worker_copy / 'sfworker' / 'paths.py'), str(worker_copy / 'sfworker' / 'paths2.py'))
    assert _tag(worker_copy, dockerfile=dockerfile, base=base) != first


def test_hash_frames_items():
    # moving bytes from one item to the next changes the hash
    assert content_hash({'a': 'xy', 'b': ''}) != content_hash({'a': 'x', 'b': 'y'})
    assert content_hash({'a': 'x'}) != content_hash({'b': 'x'})
    assert len(content_hash({'a': 'x'}, length=64)) == 64


def test_lookup_errors(tmp_path):
    with pytest.raises(AnsibleLookupError, match='neither a file nor a directory'):
        _lookup(texts={'a': 'b'}, paths={'w': str(tmp_path / 'missing')})
    with pytest.raises(AnsibleLookupError, match='takes no terms'):
        lookup_loader.get('sfops.secretflow.image_content_hash').run(['text'], variables={})
    with pytest.raises(AnsibleLookupError, match='must be a string'):
        _lookup(texts={'a': ['list']})
    with pytest.raises(AnsibleLookupError, match='length'):
        _lookup(texts={'a': 'b'}, length=0)


def test_lookup_options_default_to_the_module_utils_ones():
    assert _lookup(texts={'a': 'b'}) == [content_hash({'a': 'b'})]
    assert _lookup(texts={'a': 'b'}, length=20) == [content_hash({'a': 'b'}, length=20)]
    doc = yaml.safe_load(hash_lookup.DOCUMENTATION)
    assert tuple(doc['options']['exclude']['default']) == DEFAULT_EXCLUDE


def test_lookup_through_a_template_as_the_role_calls_it(worker_copy):
    # roles/image/tasks/build.yml: lookup('sfops.secretflow.image_content_hash', texts=..., paths=...)
    templar = Templar(loader=DataLoader(), variables=trust({'texts': {'Dockerfile': 'FROM x\n'},
                                                            'paths': {'worker': str(worker_copy)}}))
    tag = templar.template(trust("{{ lookup('sfops.secretflow.image_content_hash', texts=texts, paths=paths) }}"))
    assert tag == content_hash({'Dockerfile': 'FROM x\n'}, {'worker': str(worker_copy)})


def test_single_file_path(tmp_path):
    f = tmp_path / 'ca.crt'
    f.write_text(u'pem')
    h = content_hash(paths={'ca': str(f)})
    f.write_text(u'pem2')
    assert content_hash(paths={'ca': str(f)}) != h
