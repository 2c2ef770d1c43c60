# The SecretFlow worker package (worker/, docs/worker.md). Included by the main Makefile.
.PHONY: worker-venv worker-test

worker-venv: deps-venv deps-worker ## build or reuse the SecretFlow worker virtualenv (cached by requirements hash)
	scripts/worker-venv.sh

# Real Redis (Debian's redis-server, started by the tests), real Ray heads on 127.0.0.1/127.0.0.2,
# real Celery workers, real SecretFlow: secure_sum and PSI between two parties.
worker-test: deps-venv deps-worker ## worker unit tests + the real two-party integration test
	venv=$$(scripts/worker-venv.sh | tail -n1) && cd worker && $$venv/bin/python -m pytest tests -q -p no:cacheprovider
