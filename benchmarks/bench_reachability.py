"""Benchmark: the reachability matrix. Prints figures; asserts nothing.

1. planning: reachability_targets for every host of P parties x N nodes (default 10 x 5 and 100 x 10), in both
   phases - how many probes each server makes and how long deriving them takes;
2. probing on loopback with the real module_utils (probelib.probe_all): throughput for accepted and refused
   connections at the default parallelism;
3. what that means for `verify` on a firewalled deployment, where every must-NOT-reach probe waits for the
   connect timeout (packets dropped): estimated seconds per server = dropped probes / parallel x timeout.

Usage: .venv/bin/python benchmarks/bench_reachability.py [--timeout 2.0] [--parallel 64]
"""
import argparse
import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'collections'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib  # noqa: E402
from ansible_collections.sfops.secretflow.plugins.module_utils import _probe as probelib  # noqa: E402
from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reachability  # noqa: E402
from bench_plan import synthetic  # noqa: E402


def planning(parties, nodes, timeout, parallel):
    errors, plan = planlib.build_plan(synthetic(parties, nodes))
    assert not errors, errors[:3]
    for phase in ('preflight', 'verify'):
        t0 = time.process_time()
        counts = {}
        for host in plan['hosts']:
            targets = reachability.probes(plan, host, phase)
            counts[host] = (len(targets), sum(1 for t in targets if t['expect'] == 'closed'))
        cpu = time.process_time() - t0
        worst = max(counts.values())
        line = ('  %3d x %-2d %-9s: targets per server max %5d (must-NOT %5d); derived for all %d hosts in %.2f s CPU'
                % (parties, nodes, phase, worst[0], worst[1], len(counts), cpu))
        if worst[1]:
            line += ('; firewalled: ~%.0f s per server (%d dropped / %d parallel x %.1f s)'
                     % (worst[1] / float(parallel) * timeout, worst[1], parallel, timeout))
        print(line)


def loopback(parallel, count=2000):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    free = socket.socket()
    free.bind(('127.0.0.1', 0))
    closed_port = free.getsockname()[1]
    free.close()
    for name, target_port, expect in (('accepted', port, 'open'), ('refused', closed_port, 'closed')):
        targets = [{'host': '127.0.0.1', 'port': target_port, 'expect': expect}] * count
        t0 = time.time()
        results, failures = probelib.probe_all(targets, 1.0, parallel)
        wall = time.time() - t0
        print('  %-8s: %d probes in %.2f s = %.0f probes/s (%d unmet)'
              % (name, count, wall, count / wall, len(failures)))
        if name == 'accepted':
            # drain the accept queue
            listener.setblocking(False)
            try:
                while True:
                    listener.accept()[0].close()
            except (BlockingIOError, OSError):
                pass
    listener.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--timeout', type=float, default=2.0)
    ap.add_argument('--parallel', type=int, default=64)
    args = ap.parse_args()
    print('planning (reachability_targets, worker_ports=ends):')
    for parties, nodes in ((2, 2), (10, 5), (100, 10)):
        planning(parties, nodes, args.timeout, args.parallel)
    print('probing on loopback (parallel %d):' % args.parallel)
    loopback(args.parallel)


if __name__ == '__main__':
    main()
