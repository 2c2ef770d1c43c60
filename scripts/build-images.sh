#!/usr/bin/env bash
# Build the harness images WITHOUT a registry, cached by a content hash of their inputs:
#   1. sfops/debian-base:<hash>  debootstrap --variant=minbase bookworm from the host's Debian mirror,
#                                then `tar | docker import` (apt caches removed, host apt sources copied in)
#   2. sfops/server:<hash>       DOCKER_BUILDKIT=0 docker build of scripts/images/server FROM the base
#   3. .sandbox/images/debian-base-<hash>.tar  `docker save` of the base, loaded into the servers' inner
#                                engines by tests (they cannot pull from any registry either)
# An image whose hash tag exists is not rebuilt. `:latest` aliases are tagged for convenience only; the
# harness uses the hash tags, written to .sandbox/images.env (SFOPS_BASE_IMAGE=..., SFOPS_SERVER_IMAGE=...).
# Env: SFOPS_DEBIAN_MIRROR (default: the host's Debian mirror from /etc/apt/sources.list.d/),
#      SFOPS_SUITE (bookworm), FORCE=1 (rebuild even if the tag exists).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SFOPS_STATE_DIR:-$ROOT/.sandbox}
SUITE=${SFOPS_SUITE:-bookworm}
BASE_INCLUDE=python3          # python3: the inner test container serves `python3 -m http.server`
SERVER_CTX_SRC=$ROOT/scripts/images/server
CA_BUNDLE=${SFOPS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export DOCKER_BUILDKIT=0
STEPS=3

log() { printf '[build-images] %s\n' "$*" >&2; }
step() { printf '[build-images] step %s/%s: %s\n' "$1" "$STEPS" "$2" >&2; T0=$SECONDS; }
took() { log "  done in $((SECONDS - T0)) s"; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

mkdir -p "$STATE/images"

# --- inputs -----------------------------------------------------------------------------------------
# Host apt sources that point at Debian (other third-party repos need keyrings the image lacks).
mapfile -t SOURCES < <(grep -lsE 'debian\.org|/debian(-security)?([[:space:]/]|$)' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null || true)
if [ -z "${SFOPS_DEBIAN_MIRROR:-}" ]; then
  SFOPS_DEBIAN_MIRROR=$(
    { for f in "${SOURCES[@]}"; do
        case $f in
          *.sources) awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" ;;
          *) awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' "$f" ;;
        esac
      done; } | grep -v -- '-security' | head -n1)
fi
: "${SFOPS_DEBIAN_MIRROR:?no Debian mirror found in /etc/apt/sources.list.d/; set SFOPS_DEBIAN_MIRROR}"
[ -r "$CA_BUNDLE" ] || { log "CA bundle $CA_BUNDLE not readable"; exit 1; }

hash_of() { sha256sum | cut -c1-12; }
BASE_HASH=$( { echo "recipe=v1 suite=$SUITE variant=minbase include=$BASE_INCLUDE mirror=$SFOPS_DEBIAN_MIRROR";
               for f in "${SOURCES[@]}"; do echo "== $(basename "$f")"; cat "$f"; done; } | hash_of)
BASE_IMAGE=sfops/debian-base:$BASE_HASH
SERVER_HASH=$( { echo "base=$BASE_IMAGE"; cat "$CA_BUNDLE";
                 for f in "$SERVER_CTX_SRC"/*; do echo "== $(basename "$f")"; cat "$f"; done; } | hash_of)
SERVER_IMAGE=sfops/server:$SERVER_HASH
BASE_TAR=$STATE/images/debian-base-$BASE_HASH.tar

# --- 1. base image ------------------------------------------------------------------------------------
if [ "${FORCE:-0}" != 1 ] && image_exists "$BASE_IMAGE"; then
  step 1 "$BASE_IMAGE exists, skipped"
else
  step 1 "debootstrap --variant=minbase $SUITE from $SFOPS_DEBIAN_MIRROR -> $BASE_IMAGE (30-60 s)"
  "$ROOT/scripts/deps.sh" harness     # debootstrap, if missing
  ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/sfops-rootfs.XXXXXX")
  trap 'rm -rf "$ROOTFS"' EXIT
  debootstrap --variant=minbase --include="$BASE_INCLUDE" "$SUITE" "$ROOTFS" "$SFOPS_DEBIAN_MIRROR" \
    > "$STATE/images/debootstrap.log" 2>&1 || { tail -n 30 "$STATE/images/debootstrap.log" >&2; exit 1; }
  # the host's Debian apt sources instead of debootstrap's one-line sources.list
  rm -f "$ROOTFS/etc/apt/sources.list"
  for f in "${SOURCES[@]}"; do
    case $f in /etc/apt/sources.list) cp "$f" "$ROOTFS/etc/apt/sources.list" ;;
               *) cp "$f" "$ROOTFS/etc/apt/sources.list.d/" ;; esac
  done
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/lib/apt/lists/* \
         "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/*
  log "importing rootfs ($(du -sh "$ROOTFS" | cut -f1))"
  tar --numeric-owner -C "$ROOTFS" -c . \
    | docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
  rm -rf "$ROOTFS"; trap - EXIT
  took
fi
docker tag "$BASE_IMAGE" sfops/debian-base:latest

# --- 2. server image ----------------------------------------------------------------------------------
if [ "${FORCE:-0}" != 1 ] && image_exists "$SERVER_IMAGE"; then
  step 2 "$SERVER_IMAGE exists, skipped"
else
  step 2 "docker build (DOCKER_BUILDKIT=0) $SERVER_IMAGE FROM $BASE_IMAGE"
  CTX=$(mktemp -d "${TMPDIR:-/var/tmp}/sfops-server-ctx.XXXXXX")
  trap 'rm -rf "$CTX"' EXIT
  cp "$SERVER_CTX_SRC"/* "$CTX/"
  cp "$CA_BUNDLE" "$CTX/ca-certificates.crt"
  # full output in .sandbox/images/server-build.log; the "Step N/M" lines shown as progress
  { docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$SERVER_IMAGE" "$CTX" 2>&1 || true; } \
    | tee "$STATE/images/server-build.log" \
    | { grep --line-buffered -E '^Step [0-9]+/[0-9]+' || true; } | cut -c1-110 | sed -u 's/^/[build-images]   /' >&2
  if ! image_exists "$SERVER_IMAGE"; then
    tail -n 30 "$STATE/images/server-build.log" >&2
    log "build of $SERVER_IMAGE failed (full log: $STATE/images/server-build.log)"; exit 1
  fi
  rm -rf "$CTX"; trap - EXIT
  took
fi
docker tag "$SERVER_IMAGE" sfops/server:latest

# --- 3. base image archive for the inner engines -----------------------------------------------------------
if [ -s "$BASE_TAR" ]; then
  step 3 "$BASE_TAR exists, skipped"
else
  step 3 "docker save $BASE_IMAGE -> $BASE_TAR"
  docker save -o "$BASE_TAR.tmp" "$BASE_IMAGE" && mv "$BASE_TAR.tmp" "$BASE_TAR"
  took
  find "$STATE/images" -name 'debian-base-*.tar' ! -name "$(basename "$BASE_TAR")" -delete
fi

cat > "$STATE/images.env" <<ENV
SFOPS_BASE_IMAGE=$BASE_IMAGE
SFOPS_SERVER_IMAGE=$SERVER_IMAGE
SFOPS_BASE_IMAGE_TAR=$BASE_TAR
ENV
log "images ready: $BASE_IMAGE $SERVER_IMAGE (written to ${STATE#"$ROOT"/}/images.env)"
