#!/bin/sh
# PID 1 of a harness server. Docker mounts the cgroup v1 controllers read-only; systemd and the inner
# dockerd need them writable. A plain `mount -o remount,rw` says "busy": remount as bind,rw.
for d in /sys/fs/cgroup/*; do
  [ -L "$d" ] && continue            # cpu,cpuacct style symlinks
  mountpoint -q "$d" || continue
  mount -o remount,bind,rw "$d" 2>/dev/null || echo "sfops-entrypoint: cannot remount $d rw" >&2
done
exec /lib/systemd/systemd "$@"
