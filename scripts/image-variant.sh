#!/usr/bin/env bash
# A variant of a worker image for upgrade tests (molecule e2e, the sandbox runbook checks): one small layer on top
# of BASE, saved as a tarball with its .sha256 next to it - what image_archive_src + image_tag take.
#   scripts/image-variant.sh BASE_REF NEW_TAG KIND OUT_DIR
# KIND: next   - the same worker, one more layer (a file /opt/sfops-variant naming the tag): an upgrade A -> B
#       broken - the worker exits at start (sfworker replaced by a script that fails): the upgrade's gate fails
# Prints the tarball's path. Only the new layer differs from BASE: with BASE on a server, upgrade.yml copies kilobytes.
set -euo pipefail
base=$1 tag=$2 kind=$3 out=$4
repo=${base%:*}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
case $kind in
  next)
    printf 'FROM %s\nUSER root\nRUN echo %s > /opt/sfops-variant\nUSER 10001:10001\n' "$base" "$tag" > "$ctx/Dockerfile" ;;
  broken)
    printf 'FROM %s\nUSER root\nRUN printf "#!/bin/sh\\necho broken test image %s: the worker exits at start >&2\\nexit 1\\n" > /opt/sf/bin/sfworker\nUSER 10001:10001\n' "$base" "$tag" > "$ctx/Dockerfile" ;;
  *) echo "image-variant.sh: KIND must be next or broken, not '$kind'" >&2; exit 2 ;;
esac
DOCKER_BUILDKIT=0 docker build -q -t "$repo:$tag" "$ctx" > /dev/null 2>"$ctx/build.err" || { cat "$ctx/build.err" >&2; exit 1; }
mkdir -p "$out"
file="$out/$(echo "$repo" | tr / _)-$tag.tar"
docker save -o "$file" "$repo:$tag"
(cd "$out" && sha256sum "$(basename "$file")" > "$(basename "$file").sha256")
echo "$file"
