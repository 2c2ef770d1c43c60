# -*- coding: utf-8 -*-
"""A flushed firewall table comes back without Ansible, and verify.yml fails when it is missing (#12).

- The role's apply script (templates/firewall-apply.sh.j2): ``load`` loads the rules and records the table as nft
  lists it; ``ensure`` - run by the restore timer - loads them again only when the table is missing or differs from
  the record. Run against a stand-in nft (always) and the real nft in a network namespace of its own (when this
  machine allows one).
- The restore timer and the units (rendered).
- verify's verdict (module_utils/_firewall.table_problems): every problem named, with host, party and the runbook.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat
import subprocess
import textwrap

import pytest

from ansible_collections.sfops.secretflow.plugins.filter.firewall_table_problems import FilterModule
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils._firewall import firewall_rules, table_problems

from test_plan import model  # pylint: disable=import-error
from test_reachability import build  # pylint: disable=import-error
from role_templar import RoleTemplar  # pylint: disable=import-error

TABLE = 'sfops_secretflow'


@pytest.fixture(name='plan')
def plan_fixture():
    return build()


def templar(plan, tmp_path, nft='/usr/sbin/nft', host='alice-1', **overrides):
    role = RoleTemplar('firewall', inventory_hostname=host, firewall_config_dir=str(tmp_path / 'etc'),
                       _firewall_nft=nft, _firewall_state_file=str(tmp_path / 'run' / (TABLE + '.loaded')),
                       **overrides)
    role.variables['_firewall_rules'] = firewall_rules(plan, host)
    return role


def install(plan, tmp_path, nft):
    """The rules file and the apply script, as configure.yml writes them; returns the script's path."""
    role = templar(plan, tmp_path, nft)
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'etc' / 'firewall.nft').write_text(role.render('firewall.nft.j2'))
    script = tmp_path / 'apply'
    script.write_text(role.render('firewall-apply.sh.j2'))
    script.chmod(0o750)
    return script


# A stand-in for nft: the "kernel" is a file. -f copies the rules file there (and counts the loads); -s list table
# prints it or fails like nft does when the table is missing.
FAKE_NFT = textwrap.dedent('''\
    #!/bin/sh
    dir=$(dirname "$0")
    if [ "$1" = -f ]; then
        cp "$2" "$dir/kernel" && echo load >> "$dir/loads"
    elif [ "$1" = -s ] && [ "$2" = list ]; then
        [ -f "$dir/kernel" ] || { echo "Error: No such file or directory" >&2; exit 1; }
        cat "$dir/kernel"
    else
        echo "unexpected: $*" >&2; exit 3
    fi
''')


@pytest.fixture(name='fake')
def fake_fixture(plan, tmp_path):
    nft = tmp_path / 'fake' / 'nft'
    nft.parent.mkdir()
    nft.write_text(FAKE_NFT)
    nft.chmod(nft.stat().st_mode | stat.S_IXUSR)
    return {'script': install(plan, tmp_path, str(nft)), 'kernel': nft.parent / 'kernel',
            'loads': nft.parent / 'loads', 'state': tmp_path / 'run' / (TABLE + '.loaded')}


def run(script, mode, netns=False):
    argv = [str(script), mode]
    if netns:
        argv = ['unshare', '-n'] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def loads(fake):
    return len(fake['loads'].read_text().splitlines()) if fake['loads'].exists() else 0


def test_load_records_the_table_and_ensure_leaves_an_intact_table_alone(fake):
    assert run(fake['script'], 'load').returncode == 0
    assert loads(fake) == 1 and fake['state'].read_text() == fake['kernel'].read_text()
    for _attempt in range(3):
        proc = run(fake['script'], 'ensure')
        assert proc.returncode == 0 and proc.stderr == '', proc.stderr
    assert loads(fake) == 1   # idempotent: nothing loaded again, counters keep counting


def test_ensure_loads_a_missing_table_again(fake):
    run(fake['script'], 'load')
    fake['kernel'].unlink()                     # nft flush ruleset
    proc = run(fake['script'], 'ensure')
    assert proc.returncode == 0, proc.stderr
    assert 'table inet %s is missing - loading' % TABLE in proc.stderr   # in the journal of the check unit
    assert loads(fake) == 2 and fake['kernel'].exists()


def test_ensure_loads_a_changed_table_again(fake):
    run(fake['script'], 'load')
    fake['kernel'].write_text('table inet %s {\n}\n' % TABLE)   # its chain flushed, or replaced by another tool
    proc = run(fake['script'], 'ensure')
    assert 'differs from what was loaded - loading' in proc.stderr
    assert loads(fake) == 2 and 'sfops: Ray/Redis' in fake['kernel'].read_text()


def test_ensure_without_a_record_loads_once_then_is_quiet(fake):
    """An upgrade from a unit that did not record, or /run emptied: one load, then nothing."""
    run(fake['script'], 'load')
    fake['state'].unlink()
    run(fake['script'], 'ensure')
    run(fake['script'], 'ensure')
    assert loads(fake) == 2


def test_a_failing_load_fails_the_unit(fake, tmp_path):
    (tmp_path / 'etc' / 'firewall.nft').unlink()
    proc = run(fake['script'], 'ensure')
    assert proc.returncode != 0


def test_unknown_mode_is_refused(fake):
    proc = run(fake['script'], 'flush')
    assert proc.returncode == 2 and 'usage' in proc.stderr


def _netns_nft():
    if not shutil.which('unshare') or not os.path.exists('/usr/sbin/nft'):
        return False
    proc = subprocess.run(['unshare', '-n', '/usr/sbin/nft', 'list', 'ruleset'], capture_output=True, check=False)
    return proc.returncode == 0


@pytest.mark.skipif(not _netns_nft(), reason='needs nft and a network namespace of its own (root, unshare -n)')
def test_the_real_nft_in_a_network_namespace(plan, tmp_path):
    script = install(plan, tmp_path, '/usr/sbin/nft')
    shell = textwrap.dedent('''\
        set -e
        {s} load
        {s} ensure 2>&1 | sed 's/^/intact: /'
        nft delete table inet {t}
        {s} ensure 2>&1 | sed 's/^/deleted: /'
        nft list table inet {t} > /dev/null && echo "deleted: back"
        nft flush chain inet {t} input
        {s} ensure 2>&1 | sed 's/^/flushed: /'
        nft list table inet {t} | grep -q 'sfops: Ray/Redis' && echo "flushed: back"
        nft flush ruleset
        {s} ensure 2>&1 | sed 's/^/ruleset: /'
        {s} ensure 2>&1 | sed 's/^/again: /'
    ''').format(s=script, t=TABLE)
    proc = subprocess.run(['unshare', '-n', 'sh', '-c', shell], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert not [line for line in out if line.startswith(('intact:', 'again:'))], out
    assert 'deleted: sfops firewall: table inet %s is missing - loading %s again' % (
        TABLE, tmp_path / 'etc' / 'firewall.nft') in out
    assert 'deleted: back' in out and 'flushed: back' in out
    assert [line for line in out if line.startswith('flushed: sfops firewall: table inet %s differs' % TABLE)]
    assert [line for line in out if line.startswith('ruleset: sfops firewall: table inet %s is missing' % TABLE)]


# ------------------------------------------------------------------ the units

def test_the_rules_unit_loads_through_the_script_and_its_stop_deletes_the_table(plan, tmp_path):
    unit = templar(plan, tmp_path).render('firewall.service.j2')
    assert 'ExecStart=/usr/local/sbin/sfops-firewall-apply load\n' in unit
    assert 'ExecReload=/usr/local/sbin/sfops-firewall-apply load\n' in unit
    assert 'ExecStop=-/usr/sbin/nft delete table inet sfops_secretflow\n' in unit


def test_the_timer_runs_the_check_every_interval_and_stops_with_the_rules_unit(plan, tmp_path):
    role = templar(plan, tmp_path, firewall_restore_interval_s=45)
    timer = role.render('firewall-check.timer.j2')
    # OnActiveSec: the first check also when the timer starts long after boot (OnBootSec would have elapsed)
    for line in ('OnActiveSec=45s', 'OnUnitActiveSec=45s', 'Unit=sfops-firewall-check.service',
                 'PartOf=sfops-firewall.service', 'WantedBy=timers.target'):
        assert line + '\n' in timer, line
    service = role.render('firewall-check.service.j2')
    assert 'Type=oneshot\n' in service and 'ExecStart=/usr/local/sbin/sfops-firewall-apply ensure\n' in service
    assert 'ConditionPathExists=%s/firewall.nft\n' % (tmp_path / 'etc') in service


# ------------------------------------------------------------------ verify's verdict

PRESENT = {'rc': 0, 'stdout': 'table inet %s {\n ... counter packets 3 bytes 180 drop comment "sfops: Ray/Redis, '
                              'other sources"\n}' % TABLE, 'stderr': '', 'timer': 'active'}
MISSING = {'rc': 1, 'stdout': '', 'stderr': 'Error: No such file or directory\nlist table inet %s\n' % TABLE,
           'timer': 'active'}


def test_every_table_loaded_is_no_problem(plan):
    verdict = table_problems(plan, {'alice-1': PRESENT, 'alice-2': PRESENT, 'bob-1': PRESENT})
    assert verdict['problems'] == [] and verdict['off'] == []
    assert verdict['lines'][0] == "party 'alice', host 'alice-1': table loaded, restore timer active"


def test_a_missing_table_is_named_with_the_fix_and_the_runbook(plan):
    verdict = table_problems(plan, {'alice-1': PRESENT, 'alice-2': PRESENT, 'bob-1': MISSING})
    assert len(verdict['problems']) == 1
    problem = verdict['problems'][0]
    assert problem.startswith("party 'bob', host 'bob-1': the firewall table inet sfops_secretflow is missing "
                              "(Error: No such file or directory)")
    assert 'every other party' in problem and '`systemctl restart sfops-firewall sfops-firewall-check.timer`' in problem
    assert 'playbooks/firewall.yml' in problem and 'docs/operations/firewall.md' in problem
    assert "party 'bob', host 'bob-1': table MISSING" in verdict['lines']


def test_nft_not_installed_is_a_missing_table(plan):
    state = {'rc': 2, 'stdout': '', 'stderr': '', 'msg': "[Errno 2] No such file or directory: b'nft'"}
    problem = table_problems(plan, {'alice-2': state})['problems'][0]
    assert "host 'alice-2'" in problem and "No such file or directory: b'nft'" in problem


def test_a_flushed_chain_and_a_stopped_timer_are_problems(plan):
    flushed = dict(PRESENT, stdout='table inet %s {\n\tchain input {\n\t}\n}' % TABLE)
    stopped = dict(PRESENT, timer='inactive')
    verdict = table_problems(plan, {'alice-1': flushed, 'alice-2': stopped, 'bob-1': dict(PRESENT, timer='')},
                             service='fw')
    assert len(verdict['problems']) == 3, verdict
    assert 'has no drop rule for the Ray and Redis ports' in verdict['problems'][0]
    assert verdict['problems'][1].startswith("party 'alice', host 'alice-2': the restore timer fw-check.timer is "
                                             "inactive")
    assert 'fw-check.timer is unknown' in verdict['problems'][2]


def test_a_firewall_off_acknowledged_is_listed_not_judged(plan):
    plan['parties']['bob']['nodes']['bob-1']['firewall'] = False
    verdict = table_problems(plan, {'alice-1': PRESENT, 'bob-1': None})
    assert verdict['problems'] == [] and verdict['off'] == ['bob-1']
    assert "party 'bob', host 'bob-1': firewall off (firewall_enabled: false, acknowledged) - not checked" \
        in verdict['lines']


def test_the_plan_says_which_hosts_are_off():
    inv = model(
        alice={'alice-1': {'ansible_host': '10.0.0.11'}},
        bob={'bob-1': {'ansible_host': '10.0.0.21', 'firewall_enabled': False,
                       'firewall_disabled_i_understand_ray_is_exposed': True}})
    plan = planlib.build_plan_or_raise(inv)
    verdict = table_problems(plan, {'alice-1': MISSING, 'bob-1': MISSING})
    assert verdict['off'] == ['bob-1'] and len(verdict['problems']) == 1 and "host 'alice-1'" in \
        verdict['problems'][0]


def test_unchecked_hosts_and_hosts_outside_the_plan(plan):
    verdict = table_problems(plan, {'alice-1': None, 'localhost': PRESENT})
    assert verdict['unchecked'] == ['alice-1'] and verdict['problems'] == []
    assert len(verdict['lines']) == 1


def test_the_filter(plan):
    flt = FilterModule().filters()['firewall_table_problems']
    assert flt(plan, {'bob-1': MISSING}, TABLE, 'sfops-firewall')['problems']
    with pytest.raises(Exception, match='firewall_table_problems'):
        flt(plan, ['bob-1'])
