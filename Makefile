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

.PHONY: demo test setup browser lint pytest molecule local-up local-down local-reset summary bench rollback check-inventory unlock audit maintenance live cost cost-refresh drift

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

test: setup lint pytest molecule

lint: setup
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: setup browser
	$(BIN)/pytest $(PYTEST_ARGS)

molecule: setup
	@for s in $(MOLECULE_SCENARIOS); do echo "== molecule test -s $$s"; $(BIN)/molecule test -s $$s || exit 1; done

local-up:
	@bash local/bootstrap.sh venv docker emulator

local-down:
	@$(BIN)/python -m local.envctl down

local-reset:
	@$(BIN)/python -m local.envctl reset

bench: setup
	$(BIN)/python bench/s3_sync_bench.py $(BENCH_ARGS)

rollback: setup check-inventory
	$(BIN)/ansible-playbook -i inventories/$(INVENTORY) playbooks/rollback.yml $(ANSIBLE_ARGS)

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

# drift: the deploy in --check --diff, reported per resource; exit 0 in sync, 2 drift, 1 error (JSON: artifacts/drift.json).
drift: check-inventory
	$(BIN)/python drift/run.py -i inventories/$(INVENTORY) site.yml $(ANSIBLE_ARGS)
