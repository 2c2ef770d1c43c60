# -*- coding: utf-8 -*-
"""The party's Redis as the node role configures it (#12), against a real redis-server (Debian's package):

- the default user is disabled: an unauthenticated client gets NOAUTH, nobody logs in as `default`;
- the worker's ACL user may not run CONFIG, MODULE, DEBUG, FLUSHALL, SHUTDOWN, ACL, KEYS, ...;
- the container's healthcheck (the exact command of roles/node/tasks/run.yml, the password from the file into
  REDISCLI_AUTH) passes;
- a real Celery worker, `sfworker submit`, the status events and the job slot locks all work as that user, and
  Redis' ACL LOG stays empty: nothing the worker does is denied (needs the worker's virtualenv, as `make
  worker-test` builds it: $SFOPS_WORKER_VENV or the newest /var/cache/sfops/sf-venv-*).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.sfops.secretflow.plugins.module_utils import _redis as redislib
from ansible_collections.sfops.secretflow.tests.unit.role_templar import ROOT, RoleTemplar, trust
from ansible_collections.sfops.secretflow.tests.unit.test_node_role_render import FACTS, sandbox_plan

REDIS_SERVER = shutil.which('redis-server')
REDIS_CLI = shutil.which('redis-cli')
pytestmark = pytest.mark.skipif(REDIS_SERVER is None or REDIS_CLI is None,
                                reason='redis-server/redis-cli not found (Debian: apt-get install -y redis-server)')

PASSWORD = 'Zq3-vT9.x_Kp~w2!rS8$'      # 20 characters of the allowed set, shell-special ones included
ADMIN = 'acl-test-admin-pw'             # a user of this test only, to read the ACL LOG


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def rendered_redis_conf():
    templar = RoleTemplar('node', facts=FACTS, sf_plan=sandbox_plan(), inventory_hostname='bob-1',
                          node_object_store_memory_mb=512, node_redis_password=PASSWORD)
    return templar.render('redis.conf.j2')


class Redis(object):
    def __init__(self, tmp):
        self.dir = str(tmp)
        self.port = free_port()
        conf = rendered_redis_conf()
        assert 'bind 172.31.0.21\n' in conf and 'port 16379\n' in conf and 'dir /data\n' in conf
        conf = (conf.replace('bind 172.31.0.21\n', 'bind 127.0.0.1\n').replace('port 16379\n', 'port %d\n' % self.port)
                .replace('dir /data\n', 'dir %s\n' % self.dir))
        conf += 'user acl-test-admin on >%s ~* &* +@all\n' % ADMIN
        self.conf = os.path.join(self.dir, 'redis.conf')
        with open(self.conf, 'w') as handle:
            handle.write(conf)
        self.pwfile = os.path.join(self.dir, 'redis.pw')
        with open(self.pwfile, 'w') as handle:
            handle.write(PASSWORD + '\n')    # as roles/node/tasks/configure.yml writes it
        self.proc = subprocess.Popen([REDIS_SERVER, self.conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _attempt in range(100):
            if self.cli('ping').stdout.strip() in ('NOAUTH Authentication required.', 'PONG'):
                return
            if self.proc.poll() is not None:
                raise AssertionError('redis-server refused the rendered redis.conf:\n%s' % self.proc.stdout.read())
            time.sleep(0.1)
        raise AssertionError('redis-server did not come up')

    def cli(self, *args, **kw):
        """redis-cli, the password (if any) in the environment only."""
        env = dict(os.environ)
        env.pop('REDISCLI_AUTH', None)
        user = kw.get('user')
        if user:
            env['REDISCLI_AUTH'] = kw['password']
        argv = [REDIS_CLI, '-h', '127.0.0.1', '-p', str(self.port)] + (['--user', user] if user else []) + list(args)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)

    def worker(self, *args):
        return self.cli(*args, user=redislib.WORKER_USER, password=PASSWORD)

    def admin(self, *args):
        return self.cli(*args, user='acl-test-admin', password=ADMIN)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(name='redis', scope='module')
def redis_fixture(tmp_path_factory):
    server = Redis(tmp_path_factory.mktemp('redis'))
    yield server
    server.stop()


def test_rendered_config_loads_and_holds_no_password(redis):
    with open(redis.conf) as handle:
        conf = handle.read()
    assert PASSWORD not in conf
    assert 'requirepass' not in conf
    assert redis.admin('acl', 'whoami').stdout.strip() == 'acl-test-admin'


def test_unauthenticated_client_gets_noauth(redis):
    assert 'NOAUTH' in redis.cli('ping').stdout
    assert 'NOAUTH' in redis.cli('get', 'x').stdout


def test_nobody_logs_in_as_default(redis):
    for password in (PASSWORD, '', 'nopass'):
        out = redis.cli('ping', user='default', password=password)
        assert 'PONG' not in out.stdout, password
    assert 'off' in redis.admin('acl', 'getuser', 'default').stdout.split()


def test_worker_user_with_a_wrong_password_is_refused(redis):
    out = redis.cli('ping', user=redislib.WORKER_USER, password=PASSWORD + 'x')
    assert 'PONG' not in out.stdout and 'WRONGPASS' in out.stdout + out.stderr


@pytest.mark.parametrize('command', [
    ['config', 'get', '*'], ['config', 'set', 'dir', '/tmp'], ['module', 'list'], ['debug', 'sleep', '0'],
    ['flushall'], ['flushdb'], ['shutdown', 'nosave'], ['acl', 'list'], ['acl', 'setuser', 'x', 'on'],
    ['keys', '*'], ['scan', '0'], ['info'], ['client', 'list'], ['client', 'kill', 'id', '1'], ['save'],
    ['bgsave'], ['replicaof', 'no', 'one'], ['script', 'flush'], ['function', 'flush'], ['swapdb', '0', '1'],
    ['migrate', '127.0.0.1', '1', 'k', '0', '100'], ['restore', 'k', '0', 'x'], ['sort', 'k'],
])
def test_dangerous_commands_are_denied_to_the_worker(redis, command):
    # ACL DRYRUN: the ACL's own verdict (DEBUG and MODULE are also off by Redis 7's defaults; the ACL must deny
    # them by itself). Then for real: an error, never a result.
    verdict = redis.admin('acl', 'dryrun', redislib.WORKER_USER, *command).stdout.strip()
    assert verdict != 'OK' and 'no permissions' in verdict, verdict
    out = redis.worker(*command)
    assert 'NOPERM' in out.stdout or "can't run this command" in out.stdout or 'ERR' in out.stdout, out.stdout
    assert redis.admin('ping').stdout.strip() == 'PONG'    # still running (SHUTDOWN denied)


def test_a_lua_script_cannot_reach_past_the_acl(redis):
    out = redis.worker('eval', "return redis.call('flushall')", '0')
    assert "can't run this command" in out.stdout or 'NOPERM' in out.stdout, out.stdout


def test_what_celery_needs_is_allowed(redis):
    assert redis.worker('ping').stdout.strip() == 'PONG'
    assert redis.worker('lpush', 'q', 'm').stdout.strip().isdigit()
    assert redis.worker('brpop', 'q', '1').stdout.split() == ['q', 'm']
    assert redis.worker('eval', "return redis.call('set', KEYS[1], ARGV[1])", '1', 'k', 'v').stdout.strip() == 'OK'


def healthcheck_command(redis):
    """The Redis container's healthcheck of roles/node/tasks/run.yml, templated for this server."""
    with open(os.path.join(ROOT, 'roles', 'node', 'tasks', 'run.yml')) as handle:
        tasks = yaml.safe_load(handle)
    task = [t for t in tasks if 'Redis (head' in t['name']][0]
    kind, command = task['community.docker.docker_container']['healthcheck']['test']
    assert kind == 'CMD-SHELL'
    templar = RoleTemplar('node', facts=FACTS, sf_plan=sandbox_plan(), inventory_hostname='bob-1',
                          _node_conf_in=redis.dir, _node_party={'redis': {'host': '127.0.0.1', 'port': redis.port}})
    return templar.templar.template(trust(command))


def test_the_container_healthcheck_passes_without_the_password_in_its_command(redis):
    command = healthcheck_command(redis)
    assert PASSWORD not in command and ' -a ' not in command and '--pass' not in command
    env = dict(os.environ)
    env.pop('REDISCLI_AUTH', None)
    assert subprocess.run(['/bin/sh', '-c', command], env=env, timeout=30, check=False).returncode == 0
    # and it fails when the password is wrong (the check can fail)
    bad = command.replace(redis.pwfile, redis.pwfile + '.missing')
    assert subprocess.run(['/bin/sh', '-c', bad], env=env, timeout=30, check=False,
                          stderr=subprocess.DEVNULL).returncode != 0


def worker_venv():
    env = os.environ.get('SFOPS_WORKER_VENV')
    if env:
        return env
    found = sorted(glob.glob('/var/cache/sfops/sf-venv-*/bin/python'), key=os.path.getmtime)
    return os.path.dirname(os.path.dirname(found[-1])) if found else None


def test_a_real_celery_worker_needs_nothing_the_acl_denies(redis, tmp_path):
    venv = worker_venv()
    if venv is None:
        # `make worker-test` sets SFOPS_WORKER_VENV (and this to 1), so in CI this part always runs
        if os.environ.get('SFOPS_REQUIRE_WORKER_VENV') == '1':
            pytest.fail('SFOPS_REQUIRE_WORKER_VENV=1 but no worker virtualenv was found')
        pytest.skip('no worker virtualenv (make worker-venv, or set SFOPS_WORKER_VENV)')
    assert redis.admin('acl', 'log', 'reset').stdout.strip() == 'OK'
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'worker'))
    env.pop('REDISCLI_AUTH', None)
    script = os.path.join(ROOT, 'tests', 'unit', 'data', 'redis_acl_workload.py')
    proc = subprocess.run([os.path.join(venv, 'bin', 'python'), script, str(redis.port), redis.pwfile, str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    log = ''
    if os.path.exists(str(tmp_path / 'worker.log')):
        log = (tmp_path / 'worker.log').read_text()[-4000:]
    assert proc.returncode == 0 and '"ok": true' in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:] + log
    denied = redis.admin('acl', 'log', '128').stdout
    assert denied.strip() == '', 'the worker was denied something:\n' + denied


if __name__ == '__main__':  # pragma: no cover
    sys.exit(pytest.main([__file__, '-q']))
