# The two commands of the README: `make demo` and `make test`. Both install what
# they need into .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: demo test system-packages lint format typecheck pytest bench fuzz clean lock cluster-test \
	load-L1 load-L2 load-L6

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs come from the hashed locks only (requirements/install; `make lock` writes them).
$(VENV)/.base-installed: requirements.txt requirements-no-deps.txt | $(BIN)/python
	requirements/install $(BIN)/pip runtime
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements-no-deps.txt | $(BIN)/python
	requirements/install $(BIN)/pip dev
	touch $@ $(VENV)/.base-installed

## lock: re-compile requirements/*.in into the hashed locks (requirements.txt,
## requirements-dev.txt, requirements-no-deps.txt). Newest releases within the ranges of the
## .in files; commit the three files together.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --upgrade
lock: $(VENV)/.dev-installed
	$(PIP_COMPILE) --output-file requirements.txt requirements/base.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements/dev.in
	$(BIN)/python requirements/lock_no_deps.py $(BIN)/pip

## demo: the whole platform with demo data on the embedded defaults, http://127.0.0.1:$(PORT),
## and the demo accounts' virtual devices (demo_devices) answering next to the server. No
## access log: the devices' long polls would flood it; each answer is one line instead.
demo: export SMARTID_ENV ?= demo
demo: export PORT := $(PORT)
demo: $(VENV)/.base-installed
	mkdir -p "$${SMARTID_DATA_DIR:-var}"
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py demo_setup
	$(BIN)/python manage.py demo_devices --server http://127.0.0.1:$(PORT) & devices=$$!; \
	trap 'kill $$devices 2>/dev/null; wait $$devices' EXIT INT TERM; \
	$(BIN)/uvicorn smartid.asgi:application --host 127.0.0.1 --port $(PORT) --lifespan off \
	    --no-access-log --no-proxy-headers

## test: lint, type-check and the whole test suite. First the Debian packages the tests
## need, through the step CI uses (.ci/system-packages: installs what is missing, or stops
## with the command to run). The tests keep their data in var/test, never the demo's var/.
test: export SMARTID_ENV ?= test
test: export SMARTID_DATA_DIR ?= $(CURDIR)/var/test
test: system-packages lint typecheck pytest

system-packages:
	.ci/system-packages

lint: $(VENV)/.dev-installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	PYTHONPATH=sdk/python $(BIN)/lint-imports

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy .
	cd sdk/python && ../../$(BIN)/mypy

pytest: export SMARTID_ENV ?= test
pytest: export SMARTID_DATA_DIR ?= $(CURDIR)/var/test
pytest: $(VENV)/.dev-installed system-packages
	mkdir -p "$$SMARTID_DATA_DIR"
	$(BIN)/pytest $(PYTEST_ARGS)

## cluster-test: the multi-node test (docs/deployment.md "Multi-node test"), as root: network
## namespaces as hosts (PostgreSQL, Redis, two web nodes, two Celery workers, beat, nginx),
## RP API v2/v3 load with SIGKILLed nodes, a frozen Redis and a PostgreSQL restart. Needs
## the services' Debian packages (nginx among them); leaves nothing running. Figures and
## logs: var/cluster/. CLUSTER_ARGS="--rate 4 --freeze 30" passes options on.
cluster-test: $(VENV)/.dev-installed
	.ci/system-packages --services
	tests/cluster/cluster.sh $(CLUSTER_ARGS)

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/splitkey.py

## fuzz: every Atheris harness of fuzz/ for FUZZ_SECONDS each (10 min; CI runs 30 s each in
## the test suite): fails on a crash, an input slower than 1 s or RSS over 512 MB
## (docs/fuzzing.md). Inputs found accumulate in var/fuzz/corpus/, failures in var/fuzz/artifacts/.
FUZZ_SECONDS ?= 600
fuzz: export SMARTID_ENV ?= test
fuzz: $(VENV)/.dev-installed
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

## load-L1, load-L2, load-L6: one load scenario of docs/spec/security-targets.md §4 with
## locust (loadtests/README.md): 5, 10 and 30 min, loopback only, bounded. PostgreSQL
## (DATABASE_URL, a scratch lt_* database is made next to it) and Redis (REDIS_URL, db 8).
## Report and latency plot in var/loadtests/<scenario>-<time>/. LOAD_ARGS="--minutes 2
## --key-bits 1024" passes options on.
load-L1 load-L2 load-L6: load-%: $(VENV)/.dev-installed
	$(BIN)/python loadtests/run.py $* $(LOAD_ARGS)

clean:
	rm -rf $(VENV) var/static var/test .mypy_cache .ruff_cache .pytest_cache .hypothesis
