# The two commands: `make run` (set up, train, start everything) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PY := .venv/bin/python
RASA := .venv-rasa/bin/python -m aisle.rasa_cli
# Same default as aisle/config.py: ./var unless AISLE_DATA_DIR says otherwise.
DATA_DIR := $(or $(AISLE_DATA_DIR),var)
RASA_MODEL := $(DATA_DIR)/models/dialogue.tar.gz
RASA_INPUTS := domain.yml config.yml $(shell find data/rules -name '*.yml')
export RASA_TELEMETRY_ENABLED := false

.PHONY: help setup venvs browser servers webchat production-check run-production train train-nlu train-dialogue migrate catalog knowledge run test screenshots axe lock-app lock-rasa

help:
	@echo "make run    set up what is missing, train what is stale, start every service"
	@echo "make test   set up what is missing and run the whole test suite"
	@echo "make setup | train | migrate | catalog | knowledge   the individual steps"

setup: venvs

venvs:
	@scripts/setup_venv.sh .venv locks/app.lock
	@scripts/setup_venv.sh .venv-rasa locks/rasa.lock --ignore-requires-python

train: train-nlu train-dialogue

train-nlu: venvs
	@echo "→ NLU model (retrained only when data/nlu or its settings changed)"
	@$(PY) -m nlu_models train

train-dialogue: venvs $(RASA_MODEL)
	@echo "✓ dialogue model $(RASA_MODEL) is up to date"

$(RASA_MODEL): $(RASA_INPUTS)
	@echo "→ training the dialogue model (domain or rules changed)"
	@$(RASA) train core --out $(DATA_DIR)/models --fixed-model-name dialogue
	@touch $@

migrate: venvs
	@$(PY) -m aisle migrate

catalog: migrate
	@$(PY) -m catalog seed-demo
	@$(PY) -m catalog seed-orders

knowledge: migrate
	@$(PY) -m knowledge seed-demo

run: setup train catalog knowledge
	@echo "→ starting Aisle: NLU, actions, Rasa and web (Ctrl-C stops all of them)"
	@$(PY) -m honcho start -f Procfile

# Production mode: PostgreSQL + Redis, two Rasa servers, two app instances (docs/production.md: "Production mode").
production-check:
	@[[ $${AISLE_DATABASE_URL:-} == postgresql* ]] || { echo "error: make run-production needs AISLE_DATABASE_URL=postgresql://USER:PASSWORD@HOST/DB" >&2; exit 1; }
	@[[ $${AISLE_REDIS_URL:-} == redis* ]] || { echo "error: make run-production needs AISLE_REDIS_URL=redis://HOST:6379/0" >&2; exit 1; }

run-production: production-check setup train migrate
	@echo "→ starting Aisle in production mode: NLU, actions, 2 × Rasa, 2 × web (Ctrl-C stops all of them)"
	@$(PY) -m honcho start -f Procfile.production

browser:
	@scripts/ensure_chromium.sh

servers:
	@scripts/ensure_servers.sh

webchat:
	@scripts/ensure_webchat.sh

axe:
	@scripts/ensure_axe.sh

test: setup browser servers webchat axe train
	@$(PY) -m pytest

# Widget and agent inbox screenshots for the README (docs/), taken by the browser tests against the real services.
screenshots: setup browser train
	@AISLE_SCREENSHOT_DIR=docs $(PY) -m pytest -q tests/test_widget_browser.py -k "greeting_search_cards or phone_layout"
	@AISLE_SCREENSHOT_DIR=docs $(PY) -m pytest -q tests/test_agent_browser.py -k inbox

# Regenerating the locks (maintainers only; needs network access to PyPI).
lock-app:
	scripts/lock_app.sh
lock-rasa:
	scripts/lock_rasa.sh
