# hubspoke — every target brings the locked environment up to date first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
# A uv on PATH, or the one `pip install uv` puts beside $(PYTHON).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --locked --no-sync
PYTEST_ARGS ?=

.PHONY: help env test unit lint bench demo run-local up down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

env:  ## install uv if missing, then create/update .venv from uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| { echo "installing uv with pip"; $(PYTHON) -m pip install --quiet uv 2>/dev/null \
			|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv; }
	@$(UV) sync --locked --quiet

test: env lint  ## lint, then the whole suite
	HUBSPOKE_UV="$(UV)" $(RUN) pytest $(PYTEST_ARGS)

unit: env  ## unit tests only (seconds)
	HUBSPOKE_UV="$(UV)" $(RUN) pytest tests/unit $(PYTEST_ARGS)

lint: env  ## ruff, ruff format, mypy, cfn-lint
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	@if ls infra/*.yaml >/dev/null 2>&1; then $(RUN) cfn-lint infra/*.yaml; fi

bench: env  ## run every benchmark and print its figures
	@for script in benchmarks/*.py; do echo "== $$script"; $(RUN) python "$$script"; done

run-local: env  ## preprocess -> train -> evaluate on the bundled data, locally (WORKDIR=...)
	$(RUN) hubspoke pipeline run-local breast-cancer $(if $(WORKDIR),--workdir $(WORKDIR),)

demo: env  ## the main job: retrain -> approve -> staging -> prod on localcloud
	$(RUN) hubspoke demo

up: env  ## Airflow UI + localcloud on this machine (no Docker); prints the URL and login
	@scripts/up.sh

down:  ## stop what `make up` started (by PID, nothing else)
	@scripts/down.sh

clean:  ## remove caches (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache
