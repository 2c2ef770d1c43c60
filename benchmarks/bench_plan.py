"""Benchmark: validation + plan for P parties x N nodes (default 100 x 10). Prints figures; asserts nothing.

1. build_plan() alone on a synthetic inventory model (the pure validation + plan code);
2. the real thing: a generated YAML inventory run through `ansible-playbook playbooks/validate.yml`
   (controller only), reporting wall and CPU time of the whole ansible-playbook process.

Usage: .venv/bin/python benchmarks/bench_plan.py [--parties 100] [--nodes 10] [--skip-ansible]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'collections'))

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib  # noqa: E402
from ansible_collections.sfops.secretflow.plugins.action.deployment_plan import load_defaults  # noqa: E402


def synthetic(parties, nodes):
    inv = {'parties': {}, 'stray_hosts': [], 'hosts': {}, 'defaults': load_defaults()}
    for p in range(parties):
        party = 'party%03d' % p
        members = []
        for n in range(nodes):
            host = '%s-n%02d' % (party.replace('_', '-'), n)
            members.append(host)
            inv['hosts'][host] = {'inventory_hostname': host, 'ansible_host': '10.%d.%d.%d' % (p // 250, p % 250, n + 1),
                                  'sf_node_id': host, 'sf_ray_role': 'head' if n == 0 else 'worker'}
        inv['parties'][party] = members
    return inv


def yaml_inventory(inv):
    children = {}
    for party, members in inv['parties'].items():
        children[party] = {'hosts': {h: {k: v for k, v in inv['hosts'][h].items() if k != 'inventory_hostname'}
                                     for h in members}}
    return {'all': {'children': {'secretflow': {'children': children}}}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--parties', type=int, default=100)
    ap.add_argument('--nodes', type=int, default=10)
    ap.add_argument('--skip-ansible', action='store_true')
    args = ap.parse_args()
    inv = synthetic(args.parties, args.nodes)
    hosts = args.parties * args.nodes

    runs = []
    for _run in range(3):
        t0 = time.process_time()
        errors, plan = planlib.build_plan(inv)
        runs.append(time.process_time() - t0)
    assert not errors, errors[:5]
    print('build_plan: %d parties x %d nodes = %d hosts: best %.3f s CPU (runs: %s)'
          % (args.parties, args.nodes, hosts, min(runs), ', '.join('%.3f' % r for r in runs)))

    if args.skip_ansible:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'hosts.yml')
        with open(path, 'w') as handle:
            yaml.safe_dump(yaml_inventory(inv), handle)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
                               os.path.join(ROOT, 'playbooks', 'validate.yml'), '-i', path],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print('ansible-playbook playbooks/validate.yml (%d hosts): exit %d, wall %.2f s, CPU %.2f s (incl. '
              'ansible start-up and the per-host argument-spec task)' % (hosts, proc.returncode, wall, cpu))
        if proc.returncode:
            print(proc.stdout[-3000:])


if __name__ == '__main__':
    main()
