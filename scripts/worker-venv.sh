#!/usr/bin/env bash
# Create (or reuse) the SecretFlow worker virtualenv and print its path on the LAST line of stdout.
#
#   scripts/worker-venv.sh                 # -> /var/cache/sfops/sf-venv-<12 hex>
#   VENV=$(scripts/worker-venv.sh | tail -n1)
#
# The venv directory name carries sha256(worker/requirements-sf.lock + worker/requirements-test.lock), so CI reuses it
# until a lock changes. It is shared by every clone on the machine, therefore the worker package is (re)installed
# NON-editable from the current tree on every run (a few seconds).
#
# Environment:
#   SF_VENV_ROOT   parent directory of the venvs (default /var/cache/sfops)
#   PYTHON         interpreter for a new venv (default: python3.11, else python3)
#   SF_VENV_FORCE  =1: delete and rebuild the venv
#
# Needs on the machine: Python 3.11 (what the locks are for), libgomp1 (spu), redis-server for the integration
# tests. The install steps are the image's (roles/image/templates/Dockerfile.j2), from the same lock files:
#   0. scripts/worker-lock.py --check              (the locks match requirements-sf.txt + pyproject.toml; else
#                                                   `make lock`)
#   1. pip install --require-hashes --no-deps -r worker/requirements-sf.lock    (SecretFlow + the worker's deps,
#                                                   secretflow itself included; every file checked by sha256)
#   2. pip install --require-hashes --no-deps -r worker/requirements-test.lock  (the test extra)
#   3. pip install --no-deps --no-build-isolation <worker>                       (the package alone)
set -euo pipefail

log() { printf '[worker-venv] %s\n' "$*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
worker="$repo/worker"
lock="$worker/requirements-sf.lock"
test_lock="$worker/requirements-test.lock"

if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi
# stale or unhashed locks fail here, before anything is installed
"$PYTHON" "$repo/scripts/worker-lock.py" --check || exit 1

root=${SF_VENV_ROOT:-/var/cache/sfops}
hash=$(cat "$lock" "$test_lock" | sha256sum | cut -c1-12)
venv="$root/sf-venv-$hash"

libs=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null || true)
if ! printf '%s\n' "$libs" | grep 'libgomp\.so\.1' >/dev/null; then
  log "WARNING: libgomp.so.1 not found (Debian: apt-get install -y libgomp1); spu will not import"
fi

mkdir -p "$root"
# one builder at a time per venv (parallel CI jobs on one machine)
exec 9>"$venv.lock"
flock 9

if [ "${SF_VENV_FORCE:-0}" = 1 ] && [ -d "$venv" ]; then
  log "SF_VENV_FORCE=1: removing $venv"
  rm -rf "$venv"
fi

t0=$(date +%s)
if [ -f "$venv/.sf-complete" ]; then
  log "reusing $venv (requirements unchanged)"
else
  rm -rf "$venv"
  log "creating $venv with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$venv"
  log "installing $(basename "$lock") (hashed, no resolver; minutes on a fresh machine)"
  "$venv/bin/python" -m pip install --progress-bar off --require-hashes --no-deps --only-binary=:all: \
    -r "$lock" >&2
  log "installing $(basename "$test_lock")"
  "$venv/bin/python" -m pip install --progress-bar off --require-hashes --no-deps --only-binary=:all: \
    -r "$test_lock" >&2
  touch "$venv/.sf-complete"
  log "SecretFlow layer done in $(( $(date +%s) - t0 ))s"
fi

# The worker package: normal (non-editable) install of THIS tree, built from a scratch copy (keeps build/ and
# *.egg-info out of the source tree), --no-deps (its dependencies came from the locks), --no-build-isolation (the
# locked setuptools and wheel build it: no index hit), --force-reinstall so a same-version rebuild from another
# clone still replaces the code.
t1=$(date +%s)
log "installing the worker package from $worker"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
# -L: sfworker/_topology.py is a symlink to the collection's plugins/module_utils/_topology.py (the plan's address
# code, shared); the scratch copy must hold the file itself.
cp -aL "$worker/pyproject.toml" "$worker/README.md" "$worker/sfworker" "$scratch/src/"
find "$scratch/src" -name '__pycache__' -prune -exec rm -rf {} +
"$venv/bin/python" -m pip install --quiet --progress-bar off --no-build-isolation \
  --force-reinstall --no-deps "$scratch/src" >&2
"$venv/bin/python" - <<'EOF' >&2
import importlib, sys
for m in ("secretflow", "spu", "fed", "ray", "celery", "redis", "sfworker"):
    importlib.import_module(m)
import ray, secretflow, sfworker
print(f"[worker-venv] import check ok: secretflow {secretflow.__version__}, ray {ray.__version__}, sfworker {sfworker.__version__}")
EOF
log "worker package done in $(( $(date +%s) - t1 ))s; venv size $(du -sh "$venv" | cut -f1)"
echo "$venv"
