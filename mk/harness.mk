# Harness: "servers" as Docker-in-Docker containers on this machine - the sandbox and the molecule scenario.
# See docs/harness.md. Included by the main Makefile (`-include mk/*.mk`), which defines VENV and `venv`.
SANDBOX_INVENTORY ?= inventories/sandbox
SANDBOX_PLAYBOOK ?= site.yml

.PHONY: sandbox sandbox-down molecule molecule-e2e harness-engine harness-images

harness-engine: ## start a Docker engine on this machine if none answers (apt install docker.io, dockerd)
	@scripts/docker-engine.sh

harness-images: harness-engine ## build the harness images without a registry (cached by content hash)
	@scripts/build-images.sh

# Safe to run again: existing servers are kept, the deployment converges with changed=0.
sandbox: venv harness-images ## servers alice-1, alice-2, bob-1 as containers, then site.yml on them and a real job (smoke.yml)
	@echo ">>> sandbox: creating servers from $(SANDBOX_INVENTORY) (molecule/shared/create.yml)"
	$(VENV)/bin/ansible-playbook -i $(SANDBOX_INVENTORY) molecule/shared/create.yml
	@echo ">>> sandbox: ansible-playbook $(SANDBOX_PLAYBOOK) -i $(SANDBOX_INVENTORY)"
	$(VENV)/bin/ansible-playbook -i $(SANDBOX_INVENTORY) $(SANDBOX_PLAYBOOK)
	@echo ">>> sandbox: a real multi-party job: ansible-playbook playbooks/smoke.yml -i $(SANDBOX_INVENTORY)"
	$(VENV)/bin/ansible-playbook -i $(SANDBOX_INVENTORY) playbooks/smoke.yml

sandbox-down: venv harness-engine ## remove the sandbox servers, their volumes and network
	$(VENV)/bin/ansible-playbook -i $(SANDBOX_INVENTORY) molecule/shared/destroy.yml

# Own servers (network sfops-molecule, 172.31.1.0/24): can run while a sandbox exists.
molecule: venv harness-images ## molecule test: create, prepare, converge, idempotence, verify, destroy
	. $(VENV)/bin/activate && molecule test

# End to end on its own servers (network sfops-e2e, 172.31.2.0/24): the whole site.yml (image + nodes), then a
# real job, Ray/port/Redis checks, supervisord recovery and a server restart (molecule/e2e/tests/test_node.py).
# E2E_SKIP: test modules to leave out (comma-separated, e.g. test_scale; tests/conftest.py SKIP_MODULES) - empty: all.
E2E_SKIP ?=
molecule-e2e: venv harness-images ## molecule test -s e2e: full deployment + real multi-party job
	. $(VENV)/bin/activate && SFOPS_E2E_SKIP_MODULES='$(E2E_SKIP)' molecule test -s e2e
