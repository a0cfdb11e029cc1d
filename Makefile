# inference-platform: the commands a platform engineer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= local
OUT ?= out/$(STACK)
STAMP := $(VENV)/.installed
# The local stack keeps its state in .state/ on this machine, with an empty passphrase:
# it holds nothing but a throwaway kind cluster. Other stacks use the backend you logged in to.
ifeq ($(STACK),local)
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.state
export PULUMI_CONFIG_PASSPHRASE ?=
endif

.PHONY: help venv test lint render render-all perf simulate conformance schemas checkov venv-bench bench preview up destroy e2e clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the pinned dependencies

test: $(STAMP) ## lint, then unit, program, conformance and policy tests (e2e is opt-in: E2E=1)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .

render: $(STAMP) ## write every object STACK would apply to OUT (default out/<stack>)
	$(PY) -m tooling.render $(STACK) --out $(OUT)

render-all: $(STAMP) ## render every stack file, root and examples/
	@for f in Pulumi.*.yaml examples/Pulumi.*.yaml; do \
	  s=$$(basename $$f .yaml); s=$${s#Pulumi.}; \
	  $(PY) -m tooling.render $$f --out out/$$s || exit 1; done

perf: $(STAMP) ## print render time per stack file and per added model (numbers only, no pass/fail)
	$(PY) -m tooling.perf

simulate: $(STAMP) ## autoscaling simulation of MODEL in STACK (TRACE=, SLO_MS=): report, timeline, recommendation
	$(PY) -m simulator $(STACK) $(MODEL) $(if $(TRACE),--trace '$(TRACE)') $(if $(SLO_MS),--slo-ms $(SLO_MS)) \
	  $(if $(SIM_OUT),--out $(SIM_OUT)) $(SIMULATE_ARGS)

conformance: render ## validate the rendered objects strictly against the official schemas
	$(PY) -m tooling.conformance $(OUT)

schemas: $(STAMP) ## refresh schemas/ (CRD schemas, chart values) and engine flags from the pins; KIND=g/v/Kind adds a kind
	$(PY) -m tooling.schemas $(if $(KIND),--add-kind $(KIND)) $(SCHEMAS_ARGS)

checkov: render ## run checkov on the rendered manifests (installs it in its own venv)
	@test -x .venv-checkov/bin/checkov || (python3 -m venv .venv-checkov && .venv-checkov/bin/pip install --quiet checkov==3.3.30)
	.venv-checkov/bin/checkov --quiet --compact --framework kubernetes --config-file .checkov.yaml -d $(OUT)

venv-bench: ## create .venv-bench with the pinned load generator (what `make bench` and its real-run tests use)
	@cmp -s requirements-bench.txt .venv-bench/requirements-bench.txt || (python3 -m venv .venv-bench && \
	  .venv-bench/bin/pip install --quiet -r requirements-bench.txt && cp requirements-bench.txt .venv-bench/)

bench: $(STAMP) venv-bench ## benchmark a model as a Job on STACK's cluster (MODEL= HOP=pods WORKLOAD=chat STEPS=1,2,4; COMPARE="runA runB")
	$(PY) -m bench $(if $(COMPARE),compare $(COMPARE) --out out/bench/compare,run $(STACK) $(if $(MODEL),--model $(MODEL)) --hop $(or $(HOP),pods) --workload $(or $(WORKLOAD),chat) $(if $(STEPS),--steps $(STEPS))) $(BENCH_ARGS)

preview: $(STAMP) ## pulumi preview STACK (needs the Pulumi CLI and the stack's credentials)
	@scripts/require.sh pulumi
	@scripts/pulumi-stack.sh $(STACK) preview --diff

up: $(STAMP) ## bring the local stack up on kind (local state backend) and print how to call the model
	@scripts/require.sh docker kind kubectl pulumi
	@scripts/up-local.sh

# The program runs first so providers get today's credentials, not the ones in the state
# (a vks Supervisor token expires in hours); RUN_PROGRAM= destroys from the state alone.
RUN_PROGRAM ?= --run-program
destroy: $(STAMP) ## destroy STACK (default local; deletes the kind cluster); runs the program first (RUN_PROGRAM= not)
	@scripts/require.sh pulumi
	@scripts/pulumi-stack.sh $(STACK) destroy --yes $(RUN_PROGRAM)

e2e: $(STAMP) ## kind end-to-end test (needs Docker, kind, kubectl and the Pulumi CLI)
	E2E=1 $(VENV)/bin/pytest -m e2e tests/e2e -p no:cacheprovider

clean: ## remove rendered output and caches
	rm -rf out .pytest_cache .ruff_cache
