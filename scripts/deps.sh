#!/usr/bin/env bash
# The machine prerequisites of `make test`, `make sandbox` and their parts: ONE table, installed from the
# distribution when missing (Debian/Ubuntu: apt-get, as root). Nothing is installed that is already there.
#
#   scripts/deps.sh                 # every group (what `make test` needs)
#   scripts/deps.sh worker harness  # only these groups
#   scripts/deps.sh --list          # print the table
#
# A prerequisite that cannot be installed here (not root, no apt-get, apt failed) stops with ONE line
# naming the packages to install. The Docker ENGINE is started by scripts/docker-engine.sh (this script
# only installs its package).
set -euo pipefail

log() { printf '[deps] %s\n' "$*" >&2; }

# group    kind   what                 package        why
TABLE=$(cat <<'EOF'
venv       pymod  venv                 python3-venv   controller virtualenvs (.venv, .venv-sanity, the worker venv)
venv       pymod  ensurepip            python3-venv   pip inside those virtualenvs
unit       cmd    nft                  nftables       the firewall role's rules file checked with `nft -c`
unit       cmd    redis-server         redis-server   the node role's redis.conf (ACL user, hashed password) run by a real Redis
unit       cmd    zstd                 zstd           image_archive_delta's zstd copies (the image role's default archive compression)
harness    cmd    zstd                 zstd           the controller compresses the worker image tarball for the servers
worker     cmd    redis-server         redis-server   the worker's two-party integration test starts real Redis servers
worker     lib    libgomp.so.1         libgomp1       spu (SecretFlow's MPC runtime) links OpenMP
worker     cmd    tcpdump              tcpdump        the worker's integration test captures the parties' traffic (TLS: no key or job name in clear)
harness    cmd    dockerd              docker.io      the engine the harness servers (Docker-in-Docker) run on
harness    cmd    iptables             iptables       dockerd's networking
harness    cmd    debootstrap          debootstrap    base images built without a registry
harness    file   /etc/ssl/certs/ca-certificates.crt ca-certificates  pip inside images reaches PyPI
bench      cmd    openssl              openssl        scripts/registry.sh makes the harness registry's CA and certificate
bench      cmd    curl                 curl           scripts/registry.sh waits until the registry answers
EOF
)

if [ "${1:-}" = --list ]; then printf '%s\n' "$TABLE"; exit 0; fi
GROUPS_WANTED=("$@")
[ ${#GROUPS_WANTED[@]} -gt 0 ] || GROUPS_WANTED=(venv unit worker harness)

PY=${PYTHON:-python3}
libs=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null || true)
present() {  # kind what
  case $1 in
    cmd) command -v "$2" >/dev/null 2>&1 || [ -x "/usr/sbin/$2" ] || [ -x "/sbin/$2" ] ;;
    lib) printf '%s\n' "$libs" | grep -qF "$2" ;;
    pymod) "$PY" -c "import $2" >/dev/null 2>&1 ;;
    file) [ -e "$2" ] ;;
    *) log "unknown kind $1"; exit 2 ;;
  esac
}

missing=()
while read -r group kind what package _why; do
  [ -n "$group" ] || continue
  for g in "${GROUPS_WANTED[@]}"; do
    if [ "$g" = "$group" ]; then
      present "$kind" "$what" || missing+=("$package")
    fi
  done
done <<<"$TABLE"
[ ${#missing[@]} -gt 0 ] || exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing prerequisites; install them and run again: apt-get install -y ${missing[*]}"
  exit 2
fi
log "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  log "apt-get failed; install them and run again: apt-get install -y ${missing[*]}"
  exit 2
fi
