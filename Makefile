# sfops.secretflow — developer and operator entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
SANITY_VENV ?= .venv-sanity
INVENTORY ?= inventories/example
ANSIBLE_CORE_VERSION := $(shell sed -n 's/^ansible-core==//p' requirements.txt)
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
BUILD_DIR ?= .cache/build
# ansible-test must run outside this git checkout (it would list only git-tracked files of the parent repo).
SANITY_DIR ?= /tmp/sfops-sanity
# Not Ansible plugin code: the worker is a Python package with its own tests; molecule/ is the test harness.
SANITY_EXCLUDE := worker molecule
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: bench-rollout help deps deps-venv deps-unit deps-worker deps-harness venv test unit lint sanity build install-check plan bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# Machine prerequisites (Debian packages), one table in scripts/deps.sh; each target asks for the group it
# needs, so `make test` and `make sandbox` work on a fresh machine by themselves. Installs only what is missing.
deps: ## install every missing machine prerequisite of make test (apt; `scripts/deps.sh --list` shows them)
	@scripts/deps.sh

deps-%:
	@scripts/deps.sh $*

# order-only: checking the packages never forces a rebuild of the venv
$(VENV)/.installed: requirements.txt | deps-venv
	@echo ">>> creating $(VENV) from requirements.txt"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## the pinned controller tooling in .venv

# Everything CI runs, in two lanes at once that share nothing but the machine: the host lane (unit, lint, sanity,
# install-check, the worker's tests with their own Ray clusters on 127.0.0.x, then molecule default on its own
# servers) and the harness lane (molecule e2e: the harness images, the whole deployment and the day-2 sequence on it).
# Most of the harness lane's time is waiting (servers booting, image copies, health gates), so the lanes overlap
# instead of adding up; molecule default runs last in the host lane, when the harness lane has built the harness
# images long before (its own `make harness-images` then finds them cached). Each lane runs its targets one after the
# other; every line is prefixed with its lane. TEST_LANES=serial: one target after the other (for debugging).
TEST_LANES ?= parallel
TEST_HOST_TARGETS := unit lint sanity install-check worker-test molecule
TEST_HARNESS_TARGETS := molecule-e2e
# e2e test modules `make test` leaves out (comma-separated, e.g. TEST_E2E_SKIP=test_scale,test_teardown for a quicker
# local run); empty, as in CI: every module (README "Tests").
TEST_E2E_SKIP ?=
test: E2E_SKIP = $(TEST_E2E_SKIP)
.PHONY: test-lane-host test-lane-harness
ifeq ($(TEST_LANES),serial)
test: deps venv $(TEST_HOST_TARGETS) $(TEST_HARNESS_TARGETS) ## everything CI runs (README's test command)
else
test: deps venv harness-engine ## everything CI runs (README's test command)
	@echo ">>> test: two lanes at once - [host] $(TEST_HOST_TARGETS) | [harness] $(TEST_HARNESS_TARGETS)"
	$(MAKE) --no-print-directory -j2 test-lane-host test-lane-harness E2E_SKIP='$(E2E_SKIP)'
endif

test-lane-host test-lane-harness: test-lane-%:
	@set -o pipefail; start=$$SECONDS; \
	  $(MAKE) --no-print-directory -j1 $(TEST_$(shell echo $* | tr a-z A-Z)_TARGETS) 2>&1 \
	  | sed -u -e '/-j1 forced in submake/d' -e 's/^/[$*] /'; \
	  rc=$$?; echo "[$*] >>> lane $* finished (exit $$rc) in $$((SECONDS - start)) s"; exit $$rc

# Most of the unit suite's time is real ansible-playbook runs (one CPU each): one pytest-xdist worker per CPU, a test
# file's tests on one worker (module-scoped fixtures such as a test Redis are made once). UNIT_JOBS=0: no workers.
UNIT_JOBS ?= auto
unit: venv deps-unit ## pytest unit tests (plan, validation, plugins, controller-only playbooks)
	$(VENV)/bin/python -m pytest tests/unit -q -n $(UNIT_JOBS) --dist loadfile

lint: venv ## ansible-lint, production profile
	$(VENV)/bin/ansible-lint --nocolor

build: venv ## build the collection tarball into $(BUILD_DIR)
	@mkdir -p $(BUILD_DIR)
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(BUILD_DIR)

install-check: build ## install the built collection in a scratch dir and run its playbooks by FQCN
	rm -rf $(BUILD_DIR)/installed
	cd /tmp && ANSIBLE_CONFIG= $(CURDIR)/$(VENV)/bin/ansible-galaxy collection install --no-deps --force \
		-p $(CURDIR)/$(BUILD_DIR)/installed $(CURDIR)/$(BUILD_DIR)/sfops-secretflow-$(COLLECTION_VERSION).tar.gz
	cd /tmp && ANSIBLE_CONFIG= ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD_DIR)/installed \
		$(CURDIR)/$(VENV)/bin/ansible-playbook sfops.secretflow.plan -i $(CURDIR)/inventories/example \
		-e sf_plan_file=$(CURDIR)/$(BUILD_DIR)/installed-plan.json -e ansible_connection=local
	$(VENV)/bin/python -c "import json,sys; p=json.load(open('$(BUILD_DIR)/installed-plan.json')); \
		sys.exit(0 if p['parties']['bank_a']['head']=='bank-a-gw' else 'plan from the installed collection is wrong')"

$(SANITY_VENV)/.installed: requirements.txt | deps-venv
	$(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install --quiet ansible-core==$(ANSIBLE_CORE_VERSION)
	touch $@

# ansible-test wants its bootstrap script from a host this machine cannot reach: seed its cache with ours.
sanity: build $(SANITY_VENV)/.installed ## ansible-test sanity on the built collection (see README for exclusions)
	mkdir -p $$HOME/.ansible/test/cache
	for v in 24.2 25.0 25.1 25.2 25.3; do cp tests/sanity/get_pip_offline.py $$HOME/.ansible/test/cache/get_pip_$${v//./_}.py; done
	rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_DIR)
	cd /tmp && ANSIBLE_CONFIG= $(CURDIR)/$(VENV)/bin/ansible-galaxy collection install --no-deps --force \
		-p $(SANITY_DIR) $(CURDIR)/$(BUILD_DIR)/sfops-secretflow-$(COLLECTION_VERSION).tar.gz
	cd $(SANITY_DIR)/ansible_collections/sfops/secretflow && \
		$(CURDIR)/$(SANITY_VENV)/bin/ansible-test sanity --local --python 3.11 --requirements \
		$(foreach d,$(SANITY_EXCLUDE),$(if $(wildcard $(d)),--exclude $(d)/)) 2>&1 | grep -v '^WARNING: Location' ; exit $${PIPESTATUS[0]}

plan: venv ## validate INVENTORY and write its plan (sf-plan.json); touches no host
	$(VENV)/bin/ansible-playbook playbooks/plan.yml -i $(INVENTORY)

bench: venv ## benchmarks (print figures): validation + plan at 100 parties x 10 nodes; the reachability matrix
	$(VENV)/bin/python benchmarks/bench_plan.py
	$(VENV)/bin/python benchmarks/bench_reachability.py

# Not in `bench`: it needs the harness (Docker, the servers) and takes ~30 min. Destroys a running sandbox.
bench-rollout: venv deps-bench harness-images ## rollout speed (#16): shell baseline vs site.yml cold (archive, registry), no-op on 3 and 6 servers - one table
	$(VENV)/bin/python benchmarks/bench_rollout.py

clean: ## remove build outputs (not the venvs)
	rm -rf $(BUILD_DIR) sf-plan.json tests/output

-include mk/*.mk
