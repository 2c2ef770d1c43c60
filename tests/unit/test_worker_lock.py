# -*- coding: utf-8 -*-
"""scripts/worker-lock.py: the worker's lock files are current, fully pinned and hashed, and staleness is caught (#12).

The image (roles/image) and the worker venv (scripts/worker-venv.sh) install ONLY from worker/requirements-sf.lock
(+ requirements-test.lock for the venv) with --require-hashes --no-deps; `make lock` regenerates them.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, 'worker')

_spec = importlib.util.spec_from_file_location('worker_lock', os.path.join(ROOT, 'scripts', 'worker-lock.py'))
lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock)

H1, H2 = 'a' * 64, 'b' * 64


def test_the_committed_locks_are_current_and_hashed():
    assert lock.check(WORKER) == []
    with open(os.path.join(WORKER, lock.RUNTIME_LOCK)) as handle:
        entries = lock.parse_lock(handle.read())
    # what requirements-sf.txt pins exactly is what the lock has; secretflow itself is in it (installed --no-deps)
    assert entries['ray'][0] == '2.9.3' and entries['pandas'][0] == '1.5.3'
    assert entries['secretflow'][0] == '1.11.0b1'
    assert int(entries['click'][0].split('.')[0]) == 8 and int(entries['click'][0].split('.')[1]) < 3
    assert int(entries['numpy'][0].split('.')[0]) < 2
    # the build tools the worker package is built with (--no-build-isolation) are locked too
    assert 'setuptools' in entries and 'wheel' in entries
    with open(os.path.join(WORKER, lock.TEST_LOCK)) as handle:
        tests = lock.parse_lock(handle.read())
    assert 'pytest' in tests and 'ray' not in tests


@pytest.fixture
def worker(tmp_path):
    dst = tmp_path / 'worker'
    dst.mkdir()
    for name in (lock.REQUIREMENTS, lock.PYPROJECT, lock.RUNTIME_LOCK, lock.TEST_LOCK):
        shutil.copy(os.path.join(WORKER, name), str(dst / name))
    return dst


def test_a_changed_requirement_makes_the_locks_stale(worker):
    req = worker / lock.REQUIREMENTS
    req.write_text(req.read_text().replace('ray==2.9.3', 'ray==2.9.2'))
    problems = lock.check(str(worker))
    assert any('requirements-sf.lock is stale' in p for p in problems), problems
    assert any('requirements-test.lock is stale' in p for p in problems), problems


def test_a_changed_dependency_in_pyproject_makes_the_locks_stale_other_changes_do_not(worker):
    pyproject = worker / lock.PYPROJECT
    text = pyproject.read_text()
    pyproject.write_text(text.replace('version = "0.1.0"', 'version = "0.1.1"') + '\n# a comment\n')
    assert lock.check(str(worker)) == []
    pyproject.write_text(text.replace('"PyYAML>=6",', '"PyYAML>=6",\n    "requests>=2",'))
    assert any('stale' in p for p in lock.check(str(worker)))


def test_missing_lock(worker):
    (worker / lock.RUNTIME_LOCK).unlink()
    assert 'requirements-sf.lock is missing' in lock.check(str(worker))


def test_an_unhashed_or_unpinned_entry_is_refused():
    assert lock.parse_lock('a==1 \\\n    --hash=sha256:%s\nb==2 \\\n    --hash=sha256:%s\n' % (H1, H2)) == \
        {'a': ('1', [H1]), 'b': ('2', [H2])}
    with pytest.raises(lock.LockError, match='b has no --hash'):
        lock.parse_lock('a==1 --hash=sha256:%s\nb==2\n' % H1)
    with pytest.raises(lock.LockError, match='not pinned'):
        lock.parse_lock('a>=1 --hash=sha256:%s\n' % H1)
    with pytest.raises(lock.LockError, match='listed twice'):
        lock.parse_lock('a==1 --hash=sha256:%s\nA==1 --hash=sha256:%s\n' % (H1, H1))


def test_a_lock_edited_by_hand_is_refused(worker):
    path = worker / lock.RUNTIME_LOCK
    text = path.read_text()
    # a requirement dropped (e.g. to "fix" a conflict by hand)
    start = text.index('\nray==')
    end = text.index('\n', text.index('# via', start)) if '# via' in text[start:start + 4000] else start + 1
    path.write_text(text[:start] + text[end:])
    problems = lock.check(str(worker))
    assert any('lacks ray' in p for p in problems), problems
    # secretflow at another version than the #no-deps: line says
    path.write_text(text.replace('secretflow==1.11.0b1', 'secretflow==1.10.0'))
    assert any('does not pin secretflow==1.11.0b1' in p for p in lock.check(str(worker)))


def test_input_hash_and_names():
    assert lock.canonical('Typing_Extensions') == 'typing-extensions'
    assert lock.requirement_names(['jax[cpu]<=0.4.26,>=0.4.16', '# c', '', 'sdc-apis==1; platform_machine == "x86_64"',
                                   '-r other.txt']) == ['jax', 'sdc-apis']
    assert lock.no_deps_pin('#no-deps: secretflow==1.11.0b1\n') == 'secretflow==1.11.0b1'
    with pytest.raises(lock.LockError):
        lock.no_deps_pin('x\n')
    a = lock.input_sha256('x==1\n', '[project]\ndependencies = ["a"]\n')
    assert a == lock.input_sha256('# a comment\nx==1  # why\n\n', '[project]\ndependencies = ["a"]\n')
    assert a != lock.input_sha256('x==1\n#no-deps: y==1\n', '[project]\ndependencies = ["a"]\n')
    assert a == lock.input_sha256('x==1\n', '[project]\nname = "n"\ndependencies = ["a"]\n')
    assert a != lock.input_sha256('x==2\n', '[project]\ndependencies = ["a"]\n')
    assert a != lock.input_sha256('x==1\n', '[project]\ndependencies = ["b"]\n')


def test_main_check_exit_code(worker, capsys):
    assert lock.main(['--check', '--worker', str(worker)]) == 0
    (worker / lock.TEST_LOCK).unlink()
    assert lock.main(['--check', '--worker', str(worker)]) == 1
    assert 'make lock' in capsys.readouterr().err
