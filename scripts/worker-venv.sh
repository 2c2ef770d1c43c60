#!/usr/bin/env bash
# Create (or reuse) the SecretFlow worker virtualenv and print its path on the LAST line of stdout.
#
#   scripts/worker-venv.sh                 # -> /var/cache/sfops/sf-venv-<12 hex>
#   VENV=$(scripts/worker-venv.sh | tail -n1)
#
# The venv directory name carries sha256(worker/requirements-sf.txt + worker/pyproject.toml), so
# CI reuses it until either file changes. It is shared by every clone on the machine, therefore the
# worker package is (re)installed NON-editable from the current tree on every run (a few seconds).
#
# Environment:
#   SF_VENV_ROOT   parent directory of the venvs (default /var/cache/sfops)
#   PYTHON         interpreter for a new venv (default: python3.11, else python3)
#   SF_VENV_FORCE  =1: delete and rebuild the venv
#
# Needs on the machine: Python 3.11 (3.10 works too), libgomp1 (spu), redis-server for the
# integration tests. The install steps follow the measured recipe in the project notes:
#   1. pip install -r worker/requirements-sf.txt   (secretflow's own requirements minus sdc-sdk/torch/tf)
#   2. pip install --no-deps secretflow==<ver>      (its pin sdc-sdk==0.1.0.dev240320 is cp310-only)
#   3. pip install <worker> -r requirements-sf.txt  (worker + test deps, resolved together with the pins)
set -euo pipefail

log() { printf '[worker-venv] %s\n' "$*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
worker="$repo/worker"
req="$worker/requirements-sf.txt"
pyproject="$worker/pyproject.toml"
[ -f "$req" ] && [ -f "$pyproject" ] || { log "missing $req or $pyproject"; exit 1; }

root=${SF_VENV_ROOT:-/var/cache/sfops}
hash=$(cat "$req" "$pyproject" | sha256sum | cut -c1-12)
venv="$root/sf-venv-$hash"

if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

sf_pin=$(sed -n 's/^#no-deps:[[:space:]]*//p' "$req" | head -n1)
[ -n "$sf_pin" ] || { log "no '#no-deps: secretflow==...' line in $req"; exit 1; }

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
  "$venv/bin/python" -m pip install --quiet --upgrade 'pip>=23' >&2
  log "installing SecretFlow requirements (minutes on a fresh machine)"
  "$venv/bin/python" -m pip install --progress-bar off -r "$req" >&2
  log "installing $sf_pin --no-deps"
  "$venv/bin/python" -m pip install --progress-bar off --no-deps "$sf_pin" >&2
  touch "$venv/.sf-complete"
  log "SecretFlow layer done in $(( $(date +%s) - t0 ))s"
fi

# The worker package: normal (non-editable) install of THIS tree, built from a scratch copy (keeps
# build/ and *.egg-info out of the source tree) with the SecretFlow pins as constraints (keeps
# click<8.3 etc.; extras stripped because pip does not accept them in constraints).
# --force-reinstall --no-deps on the package itself so a same-version rebuild from another clone
# still replaces the code. --no-build-isolation: setuptools is already in the venv (no index hit).
t1=$(date +%s)
log "installing the worker package from $worker"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
# -L: sfworker/_topology.py is a symlink to the collection's plugins/module_utils/_topology.py (the plan's address
# code, shared); the scratch copy must hold the file itself.
cp -aL "$worker/pyproject.toml" "$worker/README.md" "$worker/sfworker" "$scratch/src/"
find "$scratch/src" -name '__pycache__' -prune -exec rm -rf {} +
grep -v '^[[:space:]]*#' "$req" | sed -e 's/\[[^]]*\]//' -e '/^[[:space:]]*$/d' > "$scratch/constraints.txt"
"$venv/bin/python" -m pip install --quiet --progress-bar off --no-build-isolation \
  -c "$scratch/constraints.txt" "$scratch/src[test]" >&2
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
