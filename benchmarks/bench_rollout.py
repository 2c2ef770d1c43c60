"""Rollout speed, side by side on this machine (#16): `make bench-rollout`.

On fresh harness servers, one after the other (the servers are destroyed and created again between runs, untimed):

  baseline   benchmarks/rollout-baseline.sh - docker.io by apt, `docker save | zstd | ssh docker load` to every
             server at once, `docker run` of the plan's `ray start` lines, wait until Ray lists every node
  archive    site.yml cold, image_distribution: archive (the controller's image built, its tarball not yet made)
  no-op(3)   site.yml again on the same servers (changed=0), with ansible.posix.profile_tasks
  registry   site.yml cold, image_distribution: registry - a real registry with TLS from its own CA
             (scripts/registry.sh: Debian's docker-registry package), the controller pushes, every server pulls
  archive(6) site.yml cold on the 6-server sandbox (inventories/sandbox-6)
  no-op(6)   site.yml again on the 6 servers, with ansible.posix.profile_tasks

and prints one table with the ratios against the targets. It uses the sandbox inventories and their servers: a
running sandbox (`make sandbox`) is destroyed. Logs and the profiles: .sandbox/bench/. A figure, never an assertion:
the script fails only when a run fails.

Env: BENCH_RUNS (comma-separated subset of baseline,archive,noop3,registry,six; default: all),
     BENCH_KEEP=1 (leave the last servers running).
"""


import datetime
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / '.venv' / 'bin'
OUT = ROOT / '.sandbox' / 'bench'
INV3 = 'inventories/sandbox'
INV6 = 'inventories/sandbox-6'
REGISTRY_IP = '172.31.0.5'          # on the 3-server sandbox's network (172.31.0.0/24), outside its servers' IPs
RUNS = [r for r in os.environ.get('BENCH_RUNS', 'baseline,archive,noop3,registry,six').split(',') if r]
RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
PROFILE = re.compile(r'^(.+?) -+ (\d+\.\d+)s$', re.M)


CPU = {}


class RunFailed(Exception):
    """A run of the benchmark failed: its row says so, the runs that do not depend on it go on."""


def env():
    e = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), PATH='%s:%s' % (VENV, os.environ['PATH']),
             ANSIBLE_FORCE_COLOR='0', PYTHONUNBUFFERED='1')
    return e


def run(name, argv, extra_env=None):
    """Run argv from the checkout, its output to .sandbox/bench/<name>.log; returns (seconds, output)."""
    log = OUT / ('%s.log' % name)
    print('>>> bench: %s: %s (log %s)' % (name, ' '.join(argv), log.relative_to(ROOT)), flush=True)
    t0 = time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, 'w') as f:
        proc = subprocess.run(argv, cwd=ROOT, env=dict(env(), **(extra_env or {})), stdout=f,
                              stderr=subprocess.STDOUT, text=True, check=False)
    took = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of this machine's processes of the run (ansible-playbook, its workers, ssh; docker save | zstd for the
    # baseline) - not the servers' own work, which runs in their containers
    CPU[name] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    text = log.read_text()
    if proc.returncode != 0:
        sys.stdout.write(text[-4000:])
        raise RunFailed('%s failed (exit %d) after %.0f s, log %s' % (name, proc.returncode, took, log))
    print('    %s: %.0f s' % (name, took), flush=True)
    return took, text


def playbook(name, inventory, playbook_path, *args, profile=False):
    extra = {'ANSIBLE_CALLBACKS_ENABLED': 'ansible.posix.profile_tasks',
             'PROFILE_TASKS_TASK_OUTPUT_LIMIT': 'all'} if profile else None
    return run(name, [str(VENV / 'ansible-playbook'), '-i', inventory, playbook_path] + list(args), extra)


def changed(text):
    return sum(int(m.group(3)) for m in RECAP.finditer(text))


def tasks_run(text):
    return len(re.findall(r'^TASK \[', text, re.M))


def destroy(inventory, name):
    run('%s-destroy' % name, [str(VENV / 'ansible-playbook'), '-i', inventory, 'molecule/shared/destroy.yml'])


def fresh(inventory, name):
    """Destroy the inventory's servers and create them again (untimed)."""
    destroy(inventory, name)
    run('%s-create' % name, [str(VENV / 'ansible-playbook'), '-i', inventory, 'molecule/shared/create.yml'])


def worker_image():
    """Build the worker image on the controller (untimed) - both the baseline and site.yml start from it."""
    text = playbook('image-build', INV3, 'playbooks/image.yml', '--tags', 'image_obtain')[1]
    refs = re.findall(r'docker save\) (\S+:[0-9a-f]{12})', text)
    if not refs:
        sys.exit('bench: no image reference in the output of playbooks/image.yml --tags image_obtain')
    return refs[-1].rstrip(']')


def archive_dir():
    # image_archive_dir's default (roles/image/defaults/main.yml), as the sandbox does not set it
    return Path(os.path.expanduser('~/.cache/sfops/images'))


def forget_archives(tag):
    """The controller's tarballs of this tag (and their zstd copies, deltas, checksums): the cold run makes them."""
    gone = 0
    for f in archive_dir().glob('*%s*' % tag):
        if f.is_file():
            f.unlink()
            gone += 1
    return gone


def baseline_servers(inventory, tsv):
    """The baseline's server list from the inventory and the plan (the same command lines site.yml runs)."""
    plan_file = OUT / 'plan-sandbox.json'
    playbook('plan', inventory, 'playbooks/plan.yml', '-e', 'sf_plan_file=%s' % plan_file)
    plan = json.loads(plan_file.read_text())
    inv = json.loads(subprocess.run([str(VENV / 'ansible-inventory'), '-i', inventory, '--list'], cwd=ROOT,
                                    env=env(), capture_output=True, text=True, check=True).stdout)
    hostvars = inv['_meta']['hostvars']
    key = ROOT / '.sandbox' / hostvars[next(iter(hostvars))]['harness_name'] / 'ssh' / 'id_ed25519'
    lines = []
    for party_name, party in plan['parties'].items():
        for host, node in party['nodes'].items():
            lines.append('\t'.join([host, hostvars[host]['ansible_host'], hostvars[host]['ansible_user'], str(key),
                                    party_name, node['role'], party['ray_address'],
                                    json.dumps(node['ray_start_argv'])]))
    tsv.write_text('\n'.join(lines) + '\n')


def top_tasks(text, n=12):
    rows = [(float(s), t.strip()) for t, s in PROFILE.findall(text)]
    return sorted(rows, reverse=True)[:n]


def by_role(text):
    """profile_tasks' times summed per role (tasks outside roles: the playbooks' own), largest first."""
    sums = {}
    for task, secs in PROFILE.findall(text):
        role = task.split(' : ', 1)[0].strip() if ' : ' in task else '(playbook tasks)'
        sums[role] = sums.get(role, 0.0) + float(secs)
    return sorted(((v, k) for k, v in sums.items()), reverse=True)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    image = worker_image()
    tag = image.rsplit(':', 1)[1]
    print('>>> bench: worker image %s' % image, flush=True)

    failed = {}

    def site(name, inventory, servers, note, *args, profile=False):
        """site.yml timed as run `name`; a profiled run also keeps its per-role sums and slowest tasks."""
        took, text = playbook(name, inventory, 'site.yml', *args, profile=profile)
        results[name] = (took, servers, note(text) if callable(note) else note)
        if profile:
            results[name + '_roles'] = by_role(text)
            results[name + '_top'] = top_tasks(text)

    def noop_note(text):
        return 'changed=%d, %d tasks' % (changed(text), tasks_run(text))

    def section(name, fn):
        try:
            fn()
        except RunFailed as e:
            failed[name] = str(e)
            print('bench: %s' % e, flush=True)

    def baseline():
        fresh(INV3, 'sandbox')
        tsv = OUT / 'baseline-servers.tsv'
        baseline_servers(INV3, tsv)
        took = run('baseline', ['bash', 'benchmarks/rollout-baseline.sh', str(tsv), image])[0]
        results['baseline'] = (took, 3, '')

    def archive():
        fresh(INV3, 'sandbox')
        gone = forget_archives(tag)
        site('archive', INV3, 3, 'controller tarballs made in the run (%d removed before)' % gone, profile=True)
        if 'noop3' in RUNS:
            site('noop3', INV3, 3, noop_note, profile=True)

    def registry():
        fresh(INV3, 'sandbox')
        run('registry-up', ['bash', 'scripts/registry.sh', 'up', 'sfops-sandbox', REGISTRY_IP])
        try:
            registry_env = dict(l.split('=', 1) for l in (ROOT / '.sandbox/registry/registry.env').read_text().split())
            extra = OUT / 'registry-vars.json'
            extra.write_text(json.dumps({
                'image_distribution': 'registry', 'image_registry': registry_env['SFOPS_REGISTRY'],
                'image_registry_push': True,
                'docker_registry_ca_certs': {registry_env['SFOPS_REGISTRY']:
                                             Path(registry_env['SFOPS_REGISTRY_CA']).read_text()}}))
            site('registry', INV3, 3, 'the controller pushes once, every server pulls (TLS, own CA)',
                 '-e', '@%s' % extra)
        finally:
            run('registry-down', ['bash', 'scripts/registry.sh', 'down'])

    def six():
        destroy(INV3, 'sandbox')
        fresh(INV6, 'sandbox-6')
        kept = any(archive_dir().glob('*%s*.zst' % tag))
        site('archive6', INV6, 6, 'controller tarball %s' % ('reused' if kept else 'made in the run'))
        site('noop6', INV6, 6, noop_note, profile=True)

    for name, fn in (('baseline', baseline), ('archive', archive), ('registry', registry), ('six', six)):
        if name in RUNS or (name == 'archive' and 'noop3' in RUNS):
            section(name, fn)
    if os.environ.get('BENCH_KEEP') != '1':
        section('cleanup', lambda: (destroy(INV6, 'sandbox-6') if 'six' in RUNS else None, destroy(INV3, 'sandbox')))

    report(results, image, failed)
    if failed:
        sys.exit('bench: %d run(s) failed: %s' % (len(failed), '; '.join(failed.values())))


def report(results, image, failed):
    base = results.get('baseline', (None,))[0]
    noop3 = results.get('noop3', (None,))[0]
    rows = [('baseline (shell)', 'baseline', lambda t: '1.00 (reference)'),
            ('site.yml cold, archive', 'archive', lambda t: '%.2f x baseline (target <= 1.5)' % (t / base) if base else ''),
            ('site.yml cold, registry', 'registry',
             lambda t: '%.2f x baseline (target <= 1.5)' % (t / base) if base else ''),
            ('no-op site.yml', 'noop3', lambda t: 'target <= 20 s: %s' % ('met' if t <= 20 else 'missed by %.0f s' % (t - 20))),
            ('site.yml cold, archive', 'archive6', lambda t: ''),
            ('no-op site.yml', 'noop6',
             lambda t: '%+.0f %% vs 3 servers (target <= +25 %%)' % ((t / noop3 - 1) * 100) if noop3 else '')]
    lines = ['| run | servers | time | ratio / target | controller CPU | notes |', '|---|---|---|---|---|---|']
    for label, key, ratio in rows:
        if key in results:
            took, servers, note = results[key]
            lines.append('| %s | %d | %d min %02d s (%.0f s) | %s | %.0f s | %s |'
                         % (label, servers, took // 60, took % 60, took, ratio(took), CPU.get(key, 0), note))
    for name, why in failed.items():
        lines.append('| %s | | failed | | | %s |' % (name, why))
    table = '\n'.join(lines)
    stamp = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
    out = ['# make bench-rollout, %s, image %s, 1-min load at the end: %.1f' % (stamp, image, os.getloadavg()[0]), '', table]
    for run_name in ('archive', 'noop3', 'noop6'):
        if results.get(run_name + '_roles'):
            out += ['', '%s by role (ansible.posix.profile_tasks, summed):' % run_name, '']
            out += ['    %6.1f s  %s' % row for row in results[run_name + '_roles']]
            out += ['', 'slowest tasks of %s:' % run_name, '']
            out += ['    %6.2f s  %s' % row for row in results[run_name + '_top']]
    text = '\n'.join(out) + '\n'
    (OUT / ('rollout-%s.md' % stamp.replace(' ', '-').replace(':', ''))).write_text(text)
    print('\n' + text)


if __name__ == '__main__':
    main()
