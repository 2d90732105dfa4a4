# Two set-up commands: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
# VENV and PYTHON pick the venv and its interpreter (3.11-3.13), e.g. `make demo PYTHON=python3.13 VENV=.venv-3.13`.
VENV ?= .venv
BIN := $(VENV)/bin
INVENTORY ?= local
export VENV PYTHON
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
MOLECULE_SCENARIOS ?= $(sort $(notdir $(wildcard molecule/*)))

.PHONY: demo demo-check drift-check stages-check test setup browser lint pytest molecule local-up local-down local-reset clean summary bench bench-deploy rollback check-inventory unlock audit maintenance live cost cost-refresh drift doctor
.PHONY: venv init check-env controller-docker deploy smoke teardown

# A real environment (make init ENV=<name>, then make deploy|smoke|rollback|teardown ENV=<name>): only the
# Python environment is set up, Docker only where the frontend image is built on this machine, no emulator.
ENV ?=
CLOUDSITE_HOME ?= $(HOME)/.config/cloudsite
ENV_INVENTORY = inventories/$(ENV)
# The vault password make init wrote, unless ANSIBLE_VAULT_PASSWORD_FILE (CI) names another.
ENV_VAULT_ARGS = $(if $(ANSIBLE_VAULT_PASSWORD_FILE),,$(if $(wildcard $(CLOUDSITE_HOME)/$(ENV)/vault-pass),--vault-password-file $(CLOUDSITE_HOME)/$(ENV)/vault-pass))
ENV_PLAYBOOK = $(BIN)/ansible-playbook -i $(ENV_INVENTORY) $(ENV_VAULT_ARGS)

setup:
	@bash local/bootstrap.sh

# Headless Chromium for the browser tests, installed like Docker where it is missing.
browser:
	@bash local/bootstrap.sh browser

check-inventory:
	@test -d inventories/$(INVENTORY) || { echo "error: unknown inventory '$(INVENTORY)': choose one of $$(ls inventories | tr '\n' ' ')" >&2; exit 2; }

demo: setup check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) site.yml $(ANSIBLE_ARGS)
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/summary.yml

# After `make demo`: headless Chromium opens the URL the demo printed; counter and contact form must work.
demo-check: setup browser
	$(BIN)/pytest -m demo tests/demo/test_demo_in_browser.py $(PYTEST_ARGS)

# After `make demo`: make drift exits 0; eight console-style edits (security group rule, bucket policy,
# Block Public Access, cache policy, WAF rule, Lambda environment, a container stopped, one replaced) are
# each reported by resource and attribute (exit 2); the deploy repairs them; make drift exits 0 again.
drift-check: setup check-inventory
	$(BIN)/pytest -m demo tests/demo/test_drift_matrix.py $(PYTEST_ARGS)

# After a deploy: each stage playbook run alone (as `--tags`/a playbook run would) must report changed=0
# on every host: no stage depends on facts only another stage of the same run sets.
STAGES := infra backend monitoring host frontend static
stages-check: setup check-inventory
	@set -o pipefail; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for s in $(STAGES); do \
	  echo "== playbooks/$$s.yml alone"; \
	  $(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/$$s.yml $(ANSIBLE_ARGS) | tee $$log || exit 1; \
	  if grep -E '^\S+ +: ok=[0-9]+ +changed=[1-9]' $$log; then echo "error: playbooks/$$s.yml alone changed something" >&2; exit 1; fi; \
	done; echo "every stage alone: changed=0"

# pytest's two streams, stream B then every Molecule scenario (tools/pytest_streams.sh): Molecule overlaps
# stream A instead of following both. `make pytest` and `make molecule` run either part alone.
test: setup browser lint
	@STREAM_B_MOLECULE="$(MOLECULE_SCENARIOS)" bash tools/pytest_streams.sh $(PYTEST_ARGS)

lint: setup
	$(BIN)/python tools/role_docs.py --check
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two streams at once (tools/pytest_streams.sh: tests/stream-b.txt in a copy of the tree); PYTEST_STREAMS=1
# for one. With a test path in PYTEST_ARGS, plain pytest on it.
pytest: setup browser
	@bash tools/pytest_streams.sh $(PYTEST_ARGS)

molecule: setup
	@for s in $(MOLECULE_SCENARIOS); do echo "== molecule test -s $$s"; $(BIN)/molecule test -s $$s || exit 1; done

local-up:
	@bash local/bootstrap.sh venv docker emulator

local-down:
	@$(BIN)/python -m local.envctl down

local-reset:
	@$(BIN)/python -m local.envctl reset

# Everything generated lives under build/ (tools/paths.py, group_vars/all.yml output_root): the emulator and its
# stand-ins are stopped first (their pid files are there), then build/ goes.
clean:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m local.envctl down; fi
	rm -rf build

bench: setup
	$(BIN)/python bench/s3_sync_bench.py $(BENCH_ARGS)

# A no-op site.yml and a one-file site change, timed per git ref side by side (each in its own clone and
# emulator): make bench-deploy REFS="<before> HEAD".
REFS ?= HEAD
bench-deploy: setup
	$(BIN)/python bench/deploy_bench.py $(REFS)

# With ENV= a real environment (Python only); without, INVENTORY (default local) after the full set-up.
# make rollback [STEPS=N]: the containers and the static site back N builds together (docs/day2.md).
rollback: $(if $(ENV),venv check-env,setup check-inventory)
	$(if $(ENV),$(ENV_PLAYBOOK),$(BIN)/ansible-playbook -i inventories/$(INVENTORY)) playbooks/rollback.yml $(if $(STEPS),-e rollback_steps=$(STEPS)) $(ANSIBLE_ARGS)

venv:
	@bash local/bootstrap.sh venv

# make init ENV=<name> [FORCE=1] [INIT_ARGS="--region eu-west-1 --contact-sender … --ssh-cidr …"]
init: venv
	@test -n "$(ENV)" || { echo "error: ENV is required: make init ENV=<name>" >&2; exit 2; }
	@$(BIN)/python -m tools.init_env $(ENV) $(if $(ACCOUNT_ID),--account-id $(ACCOUNT_ID)) $(if $(filter 1 yes true,$(FORCE)),--force) $(INIT_ARGS)

check-env:
	@test -n "$(ENV)" || { echo "error: ENV is required: make $(MAKECMDGOALS) ENV=<name> (create one with make init ENV=<name>)" >&2; exit 2; }
	@test "$(ENV)" != local || { echo "error: ENV=local is the offline rehearsal: use make demo" >&2; exit 2; }
	@test -d $(ENV_INVENTORY) || { echo "error: no inventory $(ENV_INVENTORY): create it with make init ENV=$(ENV)" >&2; exit 2; }

# The frontend image is built on the controller: the deploy needs a Docker engine here (Docker Desktop on macOS).
controller-docker:
	@docker info >/dev/null 2>&1 || { echo "error: no Docker engine answers: the frontend image is built on this machine; start Docker (Docker Desktop on macOS, or bash local/bootstrap.sh docker on Debian/Ubuntu)" >&2; exit 2; }

deploy: venv check-env controller-docker
	$(ENV_PLAYBOOK) site.yml $(ANSIBLE_ARGS)
	$(ENV_PLAYBOOK) playbooks/summary.yml

smoke: venv check-env
	$(ENV_PLAYBOOK) playbooks/smoke.yml $(ANSIBLE_ARGS)

# make teardown ENV=<name> CONFIRM=<project_name>: the playbook refuses without it, before any AWS call.
teardown: venv check-env
	$(ENV_PLAYBOOK) playbooks/teardown.yml -e confirm_teardown=$(CONFIRM) $(ANSIBLE_ARGS)

# Read-only preflight (docs/real-account.md): one OK/WARN/FAIL line per finding. With ENV= a real environment.
doctor: $(if $(ENV),venv check-env,setup check-inventory)
	$(if $(ENV),$(ENV_PLAYBOOK),$(BIN)/ansible-playbook -i inventories/$(INVENTORY)) playbooks/doctor.yml $(ANSIBLE_ARGS)

summary: check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/summary.yml

# Day 2 (docs/day2.md). unlock: break a stale deploy lock (recorded); audit: the lock and the last N runs.
unlock: export DEPLOY_MESSAGE := $(MESSAGE)
unlock: check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/unlock.yml

audit: check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/audit.yml -e audit_limit=$(or $(N),20)

# maintenance [MESSAGE=...]: the ALB answers a maintenance page (containers untouched); live: back to the site.
maintenance: export MAINTENANCE_MESSAGE := $(MESSAGE)
maintenance: check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/maintenance.yml -e maintenance_enabled=true $(ANSIBLE_ARGS)

live: check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/maintenance.yml -e maintenance_enabled=false $(ANSIBLE_ARGS)

# cost: the monthly estimate from cost/price-sheet.yml (offline); cost-refresh: the sheet from the AWS Price List API.
cost: check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/cost.yml $(ANSIBLE_ARGS)

cost-refresh:
	$(BIN)/python cost/refresh.py $(COST_REFRESH_ARGS)

# drift: the deploy in --check --diff, reported per resource; exit 0 in sync, 2 drift, 1 error (JSON: build/drift.json).
drift: check-inventory
	$(BIN)/python drift/run.py -i inventories/$(INVENTORY) site.yml $(ANSIBLE_ARGS)
