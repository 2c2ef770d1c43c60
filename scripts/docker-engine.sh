#!/usr/bin/env bash
# Make a Docker engine answer on /var/run/docker.sock on a host WITHOUT systemd (the CI/dev VM kind
# described in docs/harness.md): install Debian's docker.io if dockerd is missing (scripts/deps.sh), start
# dockerd in the background if no engine answers, wait for the socket. Idempotent: does nothing when an engine answers.
set -euo pipefail

SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT=${DOCKERD_WAIT:-60}
export DOCKER_HOST=${DOCKER_HOST:-unix://$SOCK}

log() { printf '[docker-engine] %s\n' "$*" >&2; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_answers; then
  log "engine already answers on $DOCKER_HOST ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

# the engine's packages come from the one prerequisite table (installs docker.io/iptables if missing,
# or says in one line what to install)
"$(dirname "$0")/deps.sh" harness
if [ "$(id -u)" != 0 ]; then
  log "no engine answers and not root: start dockerd as root (or run this as root)"; exit 1
fi
# the newer client that may be first on PATH is fine (negotiates API 1.41); make sure one exists
command -v docker >/dev/null 2>&1 || { log "no docker client on PATH"; exit 1; }

if [ -S "$SOCK" ] && ! engine_answers; then
  log "stale socket $SOCK, removing"
  rm -f "$SOCK"
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd in the background (log: $LOG)"
  # setsid + nohup: survive the calling shell/make; no systemd on this host.
  setsid nohup dockerd --host="unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$WAIT"); do
  if engine_answers; then
    log "engine up: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${WAIT}s; tail of $LOG:"
tail -n 30 "$LOG" >&2 || true
exit 1
