#!/usr/bin/env bash
# The hand-written rollout that `make bench-rollout` compares site.yml with (#16): what an operator would type to get
# the same Ray clusters onto fresh servers, without Ansible, without the collection's checks.
#   1. every server at once: apt-get install docker.io zstd
#   2. the image: ONE `docker save | zstd -T0`, fanned out with tee to `ssh server 'zstd -dc | sudo docker load'` on
#      every server at once (streamed: nothing is written to disk on either side)
#   3. `docker run --network host` of each node with the plan's own `ray start` command line: the heads first, then
#      the worker nodes once their head's GCS answers
#   4. wait until every head's GCS lists all the nodes of its party alive
# No firewall, no TLS, no Redis, no worker, no supervisord, no health checks, no validation: the baseline is the floor
# a rollout cannot go below on this machine, not a deployment to use.
#
# Usage: rollout-baseline.sh SERVERS_TSV IMAGE
#   SERVERS_TSV  one line per server: <name> <ssh address> <ssh user> <ssh key> <party> <head|worker> <ray address>
#                <ray start argv as a JSON list> (bench_rollout.py writes it from the inventory and the plan)
#   IMAGE        the worker image on this machine's engine (name:tag)
# Env: BASELINE_OBJECT_STORE_MB (512, the sandbox's node_object_store_memory_mb), BASELINE_TIMEOUT_S (600).
# Prints the seconds of each step and `baseline_total_s=<s>` last.
set -euo pipefail

SERVERS_TSV=${1:?usage: rollout-baseline.sh SERVERS_TSV IMAGE}
IMAGE=${2:?usage: rollout-baseline.sh SERVERS_TSV IMAGE}
OBJECT_STORE_MB=${BASELINE_OBJECT_STORE_MB:-512}
TIMEOUT_S=${BASELINE_TIMEOUT_S:-600}
SSH_OPTS=(-o BatchMode=yes -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR)

log() { printf '[baseline] %s\n' "$*" >&2; }
mapfile -t LINES < <(grep -v '^#' "$SERVERS_TSV" | grep -v '^$')
[ "${#LINES[@]}" -gt 0 ] || { log "no servers in $SERVERS_TSV"; exit 1; }
docker image inspect "$IMAGE" >/dev/null || { log "image $IMAGE not on this machine"; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

field() { cut -f"$2" <<<"$1"; }
on() {  # on <line> <command...>: run a command on that server
  local line=$1; shift
  ssh "${SSH_OPTS[@]}" -i "$(field "$line" 4)" "$(field "$line" 3)@$(field "$line" 2)" "$@"
}
wait_all() {  # wait_all <pid>...: wait for every one; fails if any failed
  local pid rc=0
  for pid in "$@"; do wait "$pid" || rc=1; done
  return $rc
}
par() {  # par <function> <line>...: the function for each line at once; fails if any failed
  local fn=$1 pids=() line; shift
  for line in "$@"; do "$fn" "$line" & pids+=($!); done
  wait_all "${pids[@]}"
}
logged() {  # logged <label> <function> <line>: the function's output into the server's log file for that step
  "$2" "$3" > "$TMP/$(field "$3" 1).$1.log" 2>&1
}
START=$SECONDS
# 1. Docker and zstd
T=$SECONDS
install_packages() {
  on "$1" 'sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq' \
         '--no-install-recommends docker.io zstd >/dev/null && sudo systemctl start docker'
}
packages() { logged packages install_packages "$1"; }
par packages "${LINES[@]}" || { tail -n 20 "$TMP"/*.packages.log >&2; log "packages failed"; exit 1; }
log "docker.io + zstd on ${#LINES[@]} servers: $((SECONDS - T)) s"

# 2. the image, streamed once to every server
T=$SECONDS
pids=(); fifos=()
for line in "${LINES[@]}"; do
  fifo=$TMP/$(field "$line" 1).fifo; mkfifo "$fifo"; fifos+=("$fifo")
  on "$line" 'zstd -dc | sudo docker load -q' < "$fifo" > "$TMP/$(field "$line" 1).load.log" 2>&1 & pids+=($!)
done
docker save "$IMAGE" | zstd -T0 -3 -q -c | tee "${fifos[@]}" > /dev/null
wait_all "${pids[@]}" || { tail -n 20 "$TMP"/*.load.log >&2; log "image load failed"; exit 1; }
log "image to ${#LINES[@]} servers (save | zstd | ssh docker load): $((SECONDS - T)) s"

# 3. the nodes: heads, then the worker nodes once their head answers
T=$SECONDS
run_node() {
  local line=$1 argv
  argv=$(field "$line" 8 | python3 -c 'import json, shlex, sys; print(" ".join(map(shlex.quote, json.load(sys.stdin))))')
  on "$line" "sudo docker run -d --name sf-node --network host --shm-size=$((OBJECT_STORE_MB + 256))m $IMAGE \
              $argv --object-store-memory=$((OBJECT_STORE_MB * 1024 * 1024))" >/dev/null
}
ray_alive() {  # alive nodes in the party of <line>, asked from that server
  on "$1" "sudo docker exec sf-node python -m sfworker.raycheck $(field "$1" 7) 5" 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin).get("alive_nodes", 0))' 2>/dev/null || echo 0
}
wait_alive() {  # wait_alive <line> <count>
  local deadline=$((SECONDS + TIMEOUT_S))
  until [ "$(ray_alive "$1")" -ge "$2" ]; do
    [ $SECONDS -lt $deadline ] || { log "$(field "$1" 1): fewer than $2 Ray nodes alive after ${TIMEOUT_S} s"; return 1; }
    sleep 1
  done
}
party_size() { printf '%s\n' "${LINES[@]}" | awk -F'\t' -v p="$(field "$1" 5)" '$5 == p' | wc -l; }
head_up() { wait_alive "$1" 1; }
party_up() { wait_alive "$1" "$(party_size "$1")"; }
heads=(); workers=()
for line in "${LINES[@]}"; do
  if [ "$(field "$line" 6)" = head ]; then heads+=("$line"); else workers+=("$line"); fi
done
par run_node "${heads[@]}" || { log "docker run failed on a head"; exit 1; }
par head_up "${heads[@]}" || exit 1
if [ "${#workers[@]}" -gt 0 ]; then par run_node "${workers[@]}" || { log "docker run failed on a worker node"; exit 1; }; fi
# 4. every party complete
par party_up "${heads[@]}" || exit 1
log "nodes running, every party's Ray complete: $((SECONDS - T)) s"
echo "baseline_total_s=$((SECONDS - START))"
