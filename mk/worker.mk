# The SecretFlow worker package (worker/, docs/worker.md). Included by the main Makefile.
.PHONY: worker-venv worker-test lock lock-check

worker-venv: deps-venv deps-worker ## build or reuse the SecretFlow worker virtualenv (from the lock files, cached by their hash)
	scripts/worker-venv.sh

# Real Redis (Debian's redis-server, started by the tests), real Ray heads on 127.0.0.1/127.0.0.2,
# real Celery workers, real SecretFlow: secure_sum and PSI between two parties. Then the part of the unit tests that
# needs this venv (a real Celery worker against the node role's Redis ACL), which `make unit` skips without it.
worker-test: venv deps-venv deps-worker deps-unit ## worker unit tests + the real two-party integration test
	venv=$$(scripts/worker-venv.sh | tail -n1) && (cd worker && $$venv/bin/python -m pytest tests -q -p no:cacheprovider) && \
	  SFOPS_WORKER_VENV=$$venv SFOPS_REQUIRE_WORKER_VENV=1 $(VENV)/bin/python -m pytest tests/unit/test_redis_acl.py -q -p no:cacheprovider

# The ONE way to change what the image and the worker venv install: edit worker/requirements-sf.txt or the
# dependencies in worker/pyproject.toml, then `make lock` and commit worker/*.lock. Resolves with pip-tools in a
# scratch venv of python3.11 (the image's Python) against PyPI (or PIP_INDEX_URL); takes minutes.
lock: deps-venv ## regenerate worker/requirements-sf.lock + requirements-test.lock (pip-compile --generate-hashes; minutes, needs PyPI)
	$(PYTHON) scripts/worker-lock.py

lock-check: ## the worker lock files are current (match their inputs) and every entry is pinned and hashed
	$(PYTHON) scripts/worker-lock.py --check
