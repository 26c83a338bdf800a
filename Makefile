# omni-cancel-relay: the one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
# No region here: every AWS call resolves it as the AWS CLI does (AWS_REGION, AWS_DEFAULT_REGION, your
# profile), and `make deploy` saves the stack's region with its other settings (deploy.toml).

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/core/requirements.txt | cksum | cut -d' ' -f1)

# Dev tools run on Python 3.11+; the first one found wins.
PYTHON ?= $(shell for p in python3.12 python3.11 python3.13 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; \
	done)
# `sam build` for the python3.12 runtime needs a working python3.12 on PATH (not only a pyenv shim).
PY312 ?= $(shell for p in "$$(command -v python3.12)" $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
	  /usr/local/bin/python3.12 /usr/bin/python3.12 /opt/homebrew/bin/python3.12; do \
	  [ -x "$$p" ] && "$$p" -c 'import sys' 2>/dev/null && { echo "$$p"; break; }; \
	done)

.PHONY: help venv tools local-build demo local job smoke deploy configure slack-app manifest test unit lint template build bench soak events redrive clean walk \
	sam-local-commands sam-local-engine sam-local-image sam-local-test

# The local stack's knobs (see local/cloud/stack.py): template parameter overrides, extra post-back hosts,
# where it listens, and the python3.12 its functions run on.
export PARAMS POSTBACK_HOSTS HOST PORT VERBOSE
export PY312

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv with the pinned tools and runtime dependencies

$(STAMP): requirements-dev.txt layers/core/requirements.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed (python3.11 / python3.12 on PATH)"; exit 1; }
	@echo "setting up $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

local-build: venv ## sam build for this machine into .aws-sam/local (what make local, demo and test run)
	@$(BIN)/python -m local.cloud.build

demo: local-build ## run the main job on the local stack: signed Slack commands and webhooks, emulated Omni and AWS
	@$(BIN)/python -m local.demo

local: local-build ## serve the stack from template.yaml on 127.0.0.1:3000 (PARAMS="Name=value ...", HOST=0.0.0.0 for bridge-networked sam local)
	@$(BIN)/python -m local.cloud.stack

job: venv ## a running job to cancel in the local stack's Omni emulator (beside make local): make job [STATE=QUEUED]
	@$(BIN)/python -m local.job $(if $(STATE),--state $(STATE))

test: tools lint template local-build ## ruff, mypy, sam validate/cfn-lint/checkov, then unit, fuzz, integration and e2e tests
	@$(BIN)/python -m pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

unit: venv ## the fast loop: unit, fuzz and infra tests in-process, no linters and no build (seconds)
	@$(BIN)/python -m pytest tests/unit tests/fuzz tests/infra -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

SOAK_EXAMPLES ?= 10000

soak: local-build ## deeper fuzzing: SOAK_EXAMPLES (default 10000) fresh requests per route and parser, then burst and faults
	HYPOTHESIS_PROFILE=soak FUZZ_EXAMPLES=$(SOAK_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -p no:logging -q
	$(BIN)/python -m pytest tests/integration/test_fault_matrix.py tests/e2e/test_burst.py -p no:logging -q
	BUDGET_BURST_JOBS=50 $(BIN)/python -m pytest tests/e2e/test_omni_budget.py -p no:logging -q -s

lint: venv ## ruff and mypy
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check --diff . >/dev/null || { echo "ruff format would change files: run '$(BIN)/ruff format .'"; exit 1; }
	@$(BIN)/mypy

CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt | cksum | cut -d' ' -f1)

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed"; exit 1; }
	@echo "setting up $(CHECKOV_VENV) for checkov (its own environment; about a minute the first time)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

# Both tool environments, installed side by side on a fresh machine (each is mostly waiting on pip).
tools:
	@$(MAKE) --no-print-directory -j2 $(STAMP) $(CHECKOV_STAMP)

template: venv $(CHECKOV_STAMP) ## sam validate --lint, cfn-lint and checkov (suppressions justified in template.yaml)
	@# A region only for the linter's region-specific checks (nothing is called in AWS).
	@$(BIN)/sam validate --lint --template template.yaml --region $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1) >/dev/null
	@$(BIN)/cfn-lint template.yaml
	@$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download \
	  >$(CHECKOV_VENV)/report.txt 2>&1 || { cat $(CHECKOV_VENV)/report.txt; exit 1; }
	@echo "template: sam validate --lint, cfn-lint and checkov found nothing"

# The functions' architecture: the deployment's saved Architecture (deploy.toml), else arm64.
ARCH ?= $(or $(shell sed -n 's/^Architecture = "\(.*\)"/\1/p' $(or $(DEPLOY_SETTINGS),deploy.toml) 2>/dev/null),arm64)

build: venv ## sam build (needs python3.12); ARCH=x86_64 for x86 functions (default arm64)
	@test -n "$(PY312)" || { echo "error: sam build needs python3.12 for the python3.12 runtime."; \
	  echo "  install it (apt install python3.12, brew install python@3.12, or pyenv install 3.12)"; \
	  echo "  or build in Docker with: $(BIN)/sam build --use-container"; exit 1; }
	@mkdir -p .build-bin && ln -sf "$(PY312)" .build-bin/python3.12
	PATH="$(CURDIR)/.build-bin:$(CURDIR)/$(BIN):$$PATH" LAYER_ARCH=$(ARCH) $(BIN)/sam build --template template.yaml \
	  $(if $(filter-out arm64,$(ARCH)),--parameter-overrides Architecture=$(ARCH))
	@$(if $(filter-out arm64,$(ARCH)),grep -qs '^Architecture = "$(ARCH)"' $(or $(DEPLOY_SETTINGS),deploy.toml) || echo "then: make configure Architecture=$(ARCH) && make deploy")
	@$(if $(filter-out arm64,$(ARCH)),echo "sam local on this build: add --parameter-overrides Architecture=$(ARCH) (the built template keeps arm64 as its default)")
	@echo "sam local against make local: see 'make sam-local-commands' (they use make local-build's build, for this machine)"

sam-local-commands: local-build ## print the sam local invoke/start-api command lines for this machine (README: With Docker)
	@$(BIN)/python -m local.cloud.sam_local

sam-local-engine: ## a Docker engine for sam local: Debian's docker.io, started without a bridge (root; idempotent)
	@bash local/cloud/docker_engine.sh

sam-local-image: sam-local-engine venv ## the stand-in Lambda python3.12 base image, built once and kept (local/cloud/sam_local_image.py)
	@if docker info >/dev/null 2>&1; then $(BIN)/python -m local.cloud.sam_local_image; fi

sam-local-test: sam-local-image local-build ## run sam local invoke and start-api against the local stack (tests/sam_local)
	@$(BIN)/python -m pytest tests/sam_local -p no:randomly -s $(PYTEST_ARGS)

bench: local-build ## measure cold start, warm overhead and memory of the default deploy against a Slack Bolt peer
	@$(BIN)/python -m tests.bench.run $(BENCH_ARGS)

deploy: build ## deploy to AWS: 5 questions the first time (saved in deploy.toml, not tracked), then the saved settings
	@command -v aws >/dev/null 2>&1 || { echo "error: the AWS CLI is needed:"; \
	  echo "  https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"; exit 1; }
	@$(BIN)/python -m tools.deploy

configure: venv ## save deploy settings: make configure SlackAllowedTeams=T0123 [Name=value ...]; alone: show them
	@$(BIN)/python -m tools.deploy configure $(MAKEOVERRIDES)

slack-app: venv ## create (or update) the Slack app from the manifest with the stack's URLs; stores its signing secret
	@$(BIN)/python -m tools.slack_app

events: venv ## sign events afresh into .aws-sam/events/ for sam local invoke -e (jobs from make local's emulator)
	@$(BIN)/python -m tools.signers.events

smoke: venv ## check the relay without Slack: the deployed stack's (deploy.toml), make local's, or URL=<relay base URL>
	@$(BIN)/python -m tools.smoke $(if $(URL),--url "$(URL)")

manifest: venv ## the Slack app manifest with the stack's URLs and unfurl domain, in .aws-sam/ (from its outputs, or URL=<relay base URL> OMNI_BASE_URL=<Omni API base URL>)
	@$(BIN)/python -m tools.manifest $(if $(URL),--url "$(URL)") $(if $(OMNI_BASE_URL),--omni-base-url "$(OMNI_BASE_URL)")

redrive: venv ## move parked cancels back to the task queue (the deployed stack's queues, or DLQ_URL=... QUEUE_URL=...)
	@$(BIN)/python -m tools.redrive $(if $(DLQ_URL),--dlq-url "$(DLQ_URL)") $(if $(QUEUE_URL),--queue-url "$(QUEUE_URL)")

clean: ## remove build output and the venv
	rm -rf .aws-sam .build-bin .bench $(VENV) $(CHECKOV_VENV)

walk: venv ## the module walk of one Slack command and one GitHub comment (tests/architecture/walk.py; -v: every step)
	@$(BIN)/python -m tests.architecture.walk $(if $(VERBOSE),-v)
