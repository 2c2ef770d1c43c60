"""What a deployed worker does against its party's Redis, as the ACL user of the node role's redis.conf.

Run by tests/unit/test_redis_acl.py with the worker's virtualenv (Celery, kombu, redis-py) and this checkout's
worker package on PYTHONPATH:  python redis_acl_workload.py PORT PASSWORD_FILE WORKDIR
A real `sfworker worker` (Celery prefork pool: consumes, acks, restores unacked messages, binding sweeps), a real
`sfworker submit` of the hello and health tasks (send_task, results over pub/sub), the status events (both channels),
the job slot locks and the run-once records (sfworker/status.py, slots.py), `sfworker drain` and `undrain`. Prints {"ok": true} and exits 0 when
every step worked.
"""

import json
import os
import signal
import subprocess
import sys
import time

import yaml


def main():
    port, pwfile, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    data = os.path.join(workdir, 'data')
    os.makedirs(data, exist_ok=True)
    cfgfile = os.path.join(workdir, 'worker.yml')
    cfg = {
        'party': 'alice', 'node_id': 'alice-head', 'node_ip': '127.0.0.1', 'ray_address': '127.0.0.1:1',
        # what the node role writes: the user in the URL, the password in its file
        'redis_url': 'redis://sfworker@127.0.0.1:%d/0' % port, 'redis_password_file': pwfile,
        'queue': 'acl_queue', 'data_dir': data, 'work_dir': os.path.join(workdir, 'work'), 'job_slots': 2,
        'peer_timeout_s': 5, 'job_timeout_s': 60, 'concurrency': 1, 'log_level': 'info',
        'parties': {'alice': {'external_ip': '127.0.0.1', 'fed_port': 19000, 'spu_port': 19500},
                    'bob': {'external_ip': '127.0.0.2', 'fed_port': 19000, 'spu_port': 19500}},
        'spu_runtime_config': {'protocol': 'SEMI2K', 'field': 'FM128'}, 'tls': None,
    }
    with open(cfgfile, 'w') as handle:
        yaml.safe_dump(cfg, handle)
    sfworker = [sys.executable, '-c', 'import sys; from sfworker.cli import main; main(sys.argv[1:])']
    worker = subprocess.Popen(sfworker + ['--config', cfgfile, 'worker'],
                              stdout=open(os.path.join(workdir, 'worker.log'), 'w'), stderr=subprocess.STDOUT)
    try:
        import redis
        from sfworker import slots, status
        from sfworker.config import load_config

        for task in ('tasks.secretflow.hello.hello_task', 'tasks.secretflow.health_check.health_check_task'):
            deadline, out, proc = time.time() + 90, None, None
            while time.time() < deadline:
                proc = subprocess.run(sfworker + ['--config', cfgfile, 'submit', '--task', task, '--timeout', '30'],
                                      capture_output=True, text=True, check=False)
                if proc.returncode == 0:
                    out = json.loads(proc.stdout)
                    break
                time.sleep(1)
            assert out and out['ok'], (task, proc.stdout, proc.stderr)
        # sfworker drain / undrain (Celery remote control: cancel_consumer, inspect active/reserved, add_consumer)
        for command, field, want in (('drain', 'drained', True), ('undrain', 'consuming', True)):
            proc = subprocess.run(sfworker + ['--config', cfgfile, command, '--timeout', '10'] if command == 'drain'
                                  else sfworker + ['--config', cfgfile, command],
                                  capture_output=True, text=True, check=False, timeout=60)
            assert proc.returncode == 0 and json.loads(proc.stdout)[field] is want, (command, proc.stdout,
                                                                                     proc.stderr)
        client = redis.Redis.from_url(load_config(cfgfile).redis_url)
        status.publish(client, status.make_event('job-acl', 'alice', 'alice-head', status.RUNNING),
                       original=status.make_original_event(status.RUNNING, {'execution_id': 'job-acl'}, 'alice-head',
                                                           'validated', 0.05))
        assert status.history(client, 'job-acl'), 'no status event stored'
        assert status.original_history(client, 'job-acl'), 'no event on the original worker\'s list'
        once = slots.RunOnce(client, 'alice', 'celery-id-acl', ttl_s=3)
        assert once.claim(5) is None, 'run-once lease not taken'
        once.finish('SUCCESS', result={'status': 'success'})
        assert once.outcome()['result'] == {'status': 'success'}, 'run-once outcome not stored'
        lock = slots.SlotLock(client, 'alice', 0, owner='job-acl', ttl_s=2.0, wait_timeout_s=5.0)
        lock.acquire()
        time.sleep(1.5)   # the lock renews itself (EVAL pexpire) at least once
        assert lock.release(), 'slot lock not released'
    finally:
        worker.send_signal(signal.SIGTERM)   # warm shutdown: kombu restores what it had not acked
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
    print(json.dumps({'ok': True}))


if __name__ == '__main__':
    main()
