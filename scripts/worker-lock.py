#!/usr/bin/env python
"""The worker's Python lock files: generate them (``make lock``) or check that they are current (``--check``).

    python3 scripts/worker-lock.py            # regenerate worker/requirements-sf.lock + worker/requirements-test.lock
    python3 scripts/worker-lock.py --check    # exit 1 (saying why) when a lock is missing, stale or not fully hashed

Inputs (edited by hand): ``worker/requirements-sf.txt`` (SecretFlow's own pins minus sdc-sdk/torch/tf, and the
``#no-deps: secretflow==<ver>`` line) and the ``dependencies`` / ``optional-dependencies`` of
``worker/pyproject.toml``. Outputs (generated, never edited):

* ``requirements-sf.lock``: everything the image's venv and the worker venv install besides the worker package,
  every distribution pinned ``==`` with its sha256 hashes, secretflow itself included (its hash from the index; it is
  resolved without its dependencies because its sdc-sdk pin exists only for cp310). Installed with
  ``pip install --require-hashes --no-deps -r requirements-sf.lock``: no resolver, no download that is not hashed.
* ``requirements-test.lock``: the ``test`` extra (pytest and its dependencies) resolved against the first lock,
  without the packages the first lock already has. Worker venv only (tests), never in the image.

Both carry ``# input-sha256: <hex>`` over the inputs (the requirements file's bytes and the pyproject dependency
lists), so a change of an input without ``make lock`` is caught by ``--check`` (the unit tests,
``scripts/worker-venv.sh``). The lock is for CPython 3.11 on Linux x86_64: the Debian bookworm image's python3 and
the worker venv's python3.11. Generation needs the package index (PyPI, or PIP_INDEX_URL) and takes minutes.

Environment: PYTHON (interpreter the lock is resolved for; default python3.11), PIP_TOOLS_VERSION, PIP_INDEX_URL
(a mirror of PyPI; pip configuration files, find-links and extra indexes of the machine are ignored).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, 'worker')
REQUIREMENTS = 'requirements-sf.txt'
PYPROJECT = 'pyproject.toml'
RUNTIME_LOCK = 'requirements-sf.lock'
TEST_LOCK = 'requirements-test.lock'
# The image's python3 (Debian bookworm) and the worker venv's python3.11.
TARGET_PYTHON = (3, 11)
TARGET_MACHINE = 'x86_64'
PIP_TOOLS_VERSION = os.environ.get('PIP_TOOLS_VERSION', '7.5.2')

_NAME = re.compile(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)')
_PIN = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)')
_HASH = re.compile(r'--hash=sha256:([0-9a-f]{64})\b')
_INPUT = re.compile(r'^# input-sha256: ([0-9a-f]{64})$', re.M)


class LockError(Exception):
    pass


def canonical(name):
    """PEP 503 normalised project name."""
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_names(lines):
    """Canonical names of the requirement lines (comments, options and blank lines skipped)."""
    names = []
    for line in lines:
        line = line.split('#', 1)[0].strip()
        if not line or line.startswith('-'):
            continue
        match = _NAME.match(line)
        if match:
            names.append(canonical(match.group(1)))
    return names


def no_deps_pin(requirements_text):
    """``secretflow==<ver>`` from the ``#no-deps:`` line of requirements-sf.txt."""
    for line in requirements_text.splitlines():
        if line.startswith('#no-deps:'):
            pin = line.split(':', 1)[1].strip()
            if not _PIN.match(pin):
                raise LockError('%s: the #no-deps: line must be name==version, got %r' % (REQUIREMENTS, pin))
            return pin
    raise LockError('%s has no "#no-deps: secretflow==..." line' % REQUIREMENTS)


def pyproject_dependencies(pyproject_text):
    """{'dependencies': [...], 'optional-dependencies': {...}} of the [project] table."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python < 3.11
        import tomli as tomllib  # type: ignore
    project = tomllib.loads(pyproject_text).get('project', {})
    return {'dependencies': list(project.get('dependencies', [])),
            'optional-dependencies': {k: list(v) for k, v in project.get('optional-dependencies', {}).items()}}


def _significant(requirements_text):
    """The requirement lines and the #no-deps: line, stripped; comments and blank lines do not matter."""
    out = []
    for line in requirements_text.splitlines():
        if line.startswith('#no-deps:'):
            out.append(line.strip())
            continue
        line = line.split('#', 1)[0].strip()
        if line:
            out.append(line)
    return '\n'.join(out)


def input_sha256(requirements_text, pyproject_text):
    """sha256 over what the locks are resolved from: the requirement lines (and the #no-deps: line) of the
    requirements file and the pyproject dependency lists - not comments, not the rest of pyproject.toml (a comment,
    a version bump or a new entry point needs no new lock)."""
    digest = hashlib.sha256()
    for label, data in ((REQUIREMENTS, _significant(requirements_text)),
                        (PYPROJECT, json.dumps(pyproject_dependencies(pyproject_text), sort_keys=True))):
        data = data.encode('utf-8')
        digest.update(('%s\0%d\0' % (label, len(data))).encode('utf-8'))
        digest.update(data)
    return digest.hexdigest()


def parse_lock(text):
    """Lock text -> {canonical name: (version, [sha256, ...])}. Raises LockError for an unpinned or unhashed entry."""
    entries = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if not raw[0].isspace():
            match = _PIN.match(line)
            if not match:
                raise LockError('not pinned with ==: %r' % line)
            current = canonical(match.group(1))
            if current in entries:
                raise LockError('%s is listed twice' % current)
            entries[current] = (match.group(2), [])
        elif current is None:
            raise LockError('option without a requirement: %r' % line)
        entries[current][1].extend(_HASH.findall(line))
    for name, (_version, hashes) in entries.items():
        if not hashes:
            raise LockError('%s has no --hash=sha256:' % name)
    return entries


def read_inputs(worker=WORKER):
    """The lock's inputs: the text of worker/requirements-sf.txt and of worker/pyproject.toml."""
    with open(os.path.join(worker, REQUIREMENTS)) as handle:
        requirements_text = handle.read()
    with open(os.path.join(worker, PYPROJECT)) as handle:
        pyproject_text = handle.read()
    return requirements_text, pyproject_text


def check(worker=WORKER):
    """Problems (list of str) of the lock files in ``worker``; empty = current and complete."""
    requirements_text, pyproject_text = read_inputs(worker)
    expected = input_sha256(requirements_text, pyproject_text)
    deps = pyproject_dependencies(pyproject_text)
    pin = no_deps_pin(requirements_text)
    wanted = {RUNTIME_LOCK: requirement_names(requirements_text.splitlines()) + requirement_names(deps['dependencies'])
              + [canonical(_PIN.match(pin).group(1))],
              TEST_LOCK: requirement_names(sum(deps['optional-dependencies'].values(), []))}
    problems, parsed = [], {}
    for lock in (RUNTIME_LOCK, TEST_LOCK):
        path = os.path.join(worker, lock)
        if not os.path.exists(path):
            problems.append('%s is missing' % lock)
            continue
        with open(path) as handle:
            text = handle.read()
        found = _INPUT.search(text)
        if not found or found.group(1) != expected:
            problems.append('%s is stale: %s or the dependencies in %s changed since it was generated'
                            % (lock, REQUIREMENTS, PYPROJECT))
        try:
            parsed[lock] = parse_lock(text)
        except LockError as exc:
            problems.append('%s: %s' % (lock, exc))
            continue
        missing = sorted(set(wanted[lock]) - set(parsed[lock]) - set(parsed.get(RUNTIME_LOCK, {})))
        if missing:
            problems.append('%s lacks %s' % (lock, ', '.join(missing)))
    runtime = parsed.get(RUNTIME_LOCK, {})
    name, version = _PIN.match(pin).groups()
    if runtime and runtime.get(canonical(name), (None,))[0] != version:
        problems.append('%s does not pin %s (the #no-deps: line of %s)' % (RUNTIME_LOCK, pin, REQUIREMENTS))
    for name, (version, _hashes) in parsed.get(TEST_LOCK, {}).items():
        if name in runtime and runtime[name][0] != version:
            problems.append('%s pins %s==%s, %s has %s' % (TEST_LOCK, name, version, RUNTIME_LOCK, runtime[name][0]))
    return problems


# --- generation ----------------------------------------------------------------------------------------------

def _pip_env():
    """The environment of pip and pip-compile: the index only (PyPI, or PIP_INDEX_URL when set), none of the
    machine's pip configuration files, find-links or extra indexes - their files could hash differently from the
    index the image build downloads from."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith('PIP_') and k not in ('PIP_INDEX_URL', 'PIP_CERT', 'PIP_DEFAULT_TIMEOUT'))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK='1')
    return env


def _run(argv, **kwargs):
    print('[lock] $ %s' % ' '.join(argv), file=sys.stderr, flush=True)
    subprocess.run(argv, check=True, env=_pip_env(), **kwargs)


def _header(kind, digest, install):
    return ''.join('# %s\n' % line for line in (
        'GENERATED by `make lock` (scripts/worker-lock.py) - do not edit; edit %s or %s and run `make lock`.'
        % (REQUIREMENTS, PYPROJECT),
        kind,
        'For CPython %d.%d on Linux %s (the image\'s Debian bookworm python3, the worker venv).'
        % (TARGET_PYTHON + (TARGET_MACHINE,)),
        'Install: %s' % install,
    )) + '# input-sha256: %s\n' % digest


def _body(text):
    """pip-compile output without its own header comment block."""
    lines = text.splitlines()
    while lines and (lines[0].startswith('#') or not lines[0].strip()):
        lines.pop(0)
    return '\n'.join(lines) + '\n'


def _target_check(python):
    out = subprocess.run([python, '-c', 'import platform, sys; print(sys.version_info[0], sys.version_info[1],'
                          ' platform.system(), platform.machine())'],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    got = (int(out[0]), int(out[1]), out[2], out[3])
    if got != TARGET_PYTHON + ('Linux', TARGET_MACHINE):
        raise LockError('%s is Python %d.%d on %s %s; the lock is for CPython %d.%d on Linux %s (set PYTHON)'
                        % ((python,) + got + TARGET_PYTHON + (TARGET_MACHINE,)))


def generate(worker=WORKER, python=None):
    python = python or os.environ.get('PYTHON') or shutil.which('python3.11') or 'python3'
    _target_check(python)
    requirements_text, pyproject_text = read_inputs(worker)
    digest = input_sha256(requirements_text, pyproject_text)
    pin = no_deps_pin(requirements_text)
    scratch = tempfile.mkdtemp(prefix='sfops-lock-')
    try:
        venv = os.path.join(scratch, 'venv')
        _run([python, '-m', 'venv', venv])
        pip = [os.path.join(venv, 'bin', 'python'), '-m', 'pip']
        _run(pip + ['install', '--quiet', '--disable-pip-version-check', 'pip-tools==%s' % PIP_TOOLS_VERSION])
        compile_ = [os.path.join(venv, 'bin', 'pip-compile'), '--quiet', '--generate-hashes', '--allow-unsafe',
                    '--strip-extras', '--no-emit-index-url', '--no-emit-trusted-host', '--no-header',
                    '--resolver=backtracking']
        # a scratch copy of the inputs: pip-compile builds the project's metadata; the tree stays clean
        src = os.path.join(scratch, 'src')
        os.mkdir(src)
        shutil.copy(os.path.join(worker, REQUIREMENTS), src)
        shutil.copy(os.path.join(worker, PYPROJECT), src)
        shutil.copy(os.path.join(worker, 'README.md'), src)
        shutil.copytree(os.path.join(worker, 'sfworker'), os.path.join(src, 'sfworker'), symlinks=False,
                        ignore=shutil.ignore_patterns('__pycache__'))
        _run(compile_ + ['--output-file', 'runtime.txt', REQUIREMENTS, PYPROJECT], cwd=src)
        _run(compile_ + ['--extra', 'test', '--constraint', 'runtime.txt', '--output-file', 'test.txt', PYPROJECT],
             cwd=src)
        # secretflow itself, without its dependencies (they are the requirements above): its hash from the index
        dl = os.path.join(scratch, 'dl')
        _run(pip + ['download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:',
                    '--dest', dl, pin])
        hashes = []
        for name in sorted(os.listdir(dl)):
            with open(os.path.join(dl, name), 'rb') as handle:
                hashes.append(hashlib.sha256(handle.read()).hexdigest())
        with open(os.path.join(src, 'runtime.txt')) as handle:
            runtime = _body(handle.read())
        runtime += '%s \\\n%s\n    # installed without its dependencies: the #no-deps: line of %s\n' % (
            pin, ' \\\n'.join('    --hash=sha256:%s' % h for h in hashes), REQUIREMENTS)
        runtime_entries = parse_lock(runtime)
        with open(os.path.join(src, 'test.txt')) as handle:
            test = _drop(_body(handle.read()), runtime_entries)
        parse_lock(test)
        install = 'pip install --require-hashes --no-deps -r %s' % RUNTIME_LOCK
        _write(os.path.join(worker, RUNTIME_LOCK),
               _header('SecretFlow runtime + the worker package\'s dependencies (image and worker venv).', digest,
                       install) + '\n' + runtime)
        _write(os.path.join(worker, TEST_LOCK),
               _header('The test extra of %s, resolved against %s, without its packages (worker venv only).'
                       % (PYPROJECT, RUNTIME_LOCK), digest, install + ' && ' + install.replace(RUNTIME_LOCK, TEST_LOCK))
               + '\n' + test)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    problems = check(worker)
    if problems:
        raise LockError('; '.join(problems))


def _drop(text, present):
    """Requirement blocks of ``text`` whose package is already in ``present`` removed."""
    out, keep = [], True
    for raw in text.splitlines():
        if raw and not raw[0].isspace() and not raw.startswith('#'):
            match = _PIN.match(raw.strip())
            keep = not (match and canonical(match.group(1)) in present)
        if keep:
            out.append(raw)
    return '\n'.join(out).strip('\n') + '\n'


def _write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as handle:
        handle.write(text)
    os.replace(tmp, path)
    print('[lock] wrote %s' % os.path.relpath(path, ROOT), file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--check', action='store_true', help='only check that the locks are current and hashed')
    parser.add_argument('--worker', default=WORKER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if not args.check:
            generate(args.worker)
        problems = check(args.worker)
    except (LockError, OSError, subprocess.CalledProcessError) as exc:
        print('[lock] ERROR: %s' % exc, file=sys.stderr)
        return 1
    if problems:
        for problem in problems:
            print('[lock] %s' % problem, file=sys.stderr)
        print('[lock] run `make lock` (needs the package index, takes minutes) and commit worker/*.lock',
              file=sys.stderr)
        return 1
    print('[lock] %s and %s are current (input-sha256 matches, every entry pinned and hashed)'
          % (RUNTIME_LOCK, TEST_LOCK), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
