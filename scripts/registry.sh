#!/usr/bin/env bash
# A real container registry for the harness, with TLS from its own CA - for testing image_distribution: registry
# (`make bench-rollout`) on a machine that reaches no registry.
#   scripts/registry.sh up NETWORK IP     build sfops/registry:<hash> (Debian's docker-registry package on the
#                                         harness base image, cached by content hash), make a CA and a certificate
#                                         for IP, run container sfops-registry on docker network NETWORK at IP:5000,
#                                         make this machine's engine trust the CA (/etc/docker/certs.d/IP:5000/ca.crt,
#                                         read at each push: no restart), wait until /v2/ answers
#   scripts/registry.sh down              remove the container, the engine's trust of it and the CA
# Writes .sandbox/registry/ (ca.crt, registry.env: SFOPS_REGISTRY=IP:5000, SFOPS_REGISTRY_CA=<path of ca.crt>).
# The network must exist (molecule/shared/create.yml makes it with the servers).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SFOPS_STATE_DIR:-$ROOT/.sandbox}
DIR=$STATE/registry
NAME=sfops-registry
PORT=5000
CTX_SRC=$ROOT/scripts/images/registry
export DOCKER_BUILDKIT=0
log() { printf '[registry] %s\n' "$*" >&2; }

down() {
  local addr
  addr=$(sed -n 's/^SFOPS_REGISTRY=//p' "$DIR/registry.env" 2>/dev/null || true)
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  [ -z "$addr" ] || rm -rf "/etc/docker/certs.d/$addr"
  rm -rf "$DIR"
  log "removed"
}

up() {
  local network=${1:?usage: registry.sh up NETWORK IP} ip=${2:?usage: registry.sh up NETWORK IP}
  local base hash image gid
  base=$(sed -n 's/^SFOPS_BASE_IMAGE=//p' "$STATE/images.env" 2>/dev/null || true)
  [ -n "$base" ] || { log "no base image: run scripts/build-images.sh (make harness-images) first"; exit 1; }
  hash=$( { echo "base=$base"; cat "$CTX_SRC"/*; } | sha256sum | cut -c1-12)
  image=sfops/registry:$hash
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    log "docker build $image FROM $base (Debian's docker-registry package)"
    docker build -q --build-arg BASE_IMAGE="$base" -t "$image" "$CTX_SRC" >/dev/null
  fi

  # CA and server certificate (IP SAN), made once per `up`; the key is readable by the registry's user only
  down >/dev/null 2>&1
  mkdir -p "$DIR"; chmod 0755 "$DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=sfops harness registry CA" \
    -keyout "$DIR/ca.key" -out "$DIR/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$ip" \
    -keyout "$DIR/registry.key" -out "$DIR/registry.csr" 2>/dev/null
  openssl x509 -req -in "$DIR/registry.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$ip") -out "$DIR/registry.crt" 2>/dev/null
  rm -f "$DIR/registry.csr" "$DIR/ca.srl"; chmod 0600 "$DIR/ca.key"
  gid=$(docker run --rm --entrypoint id "$image" -g)
  chown "root:$gid" "$DIR/registry.key"; chmod 0640 "$DIR/registry.key"

  docker run -d --name "$NAME" --network "$network" --ip "$ip" --label sfops.harness=registry \
    -v "$DIR/registry.crt:/certs/registry.crt:ro" -v "$DIR/registry.key:/certs/registry.key:ro" "$image" >/dev/null
  mkdir -p "/etc/docker/certs.d/$ip:$PORT"
  cp "$DIR/ca.crt" "/etc/docker/certs.d/$ip:$PORT/ca.crt"
  printf 'SFOPS_REGISTRY=%s\nSFOPS_REGISTRY_CA=%s\n' "$ip:$PORT" "$DIR/ca.crt" > "$DIR/registry.env"
  for _ in $(seq 60); do
    if curl -fsS --cacert "$DIR/ca.crt" "https://$ip:$PORT/v2/" >/dev/null 2>&1; then
      log "up: https://$ip:$PORT ($image, CA $DIR/ca.crt)"; return 0
    fi
    sleep 1
  done
  docker logs --tail 20 "$NAME" >&2 || true
  log "https://$ip:$PORT/v2/ did not answer"; exit 1
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  *) echo "usage: $0 up NETWORK IP | down" >&2; exit 2 ;;
esac
