# Template for batch ML on Apache Airflow 3. `make` alone prints this help.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUILD := build
# The project `make demo` renders; `make test` renders its own under $(BUILD)/test.
DEMO := $(BUILD)/churn_forecast

.PHONY: help demo test lint lock release clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

$(BIN)/cookiecutter: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt
	@touch $@

demo: $(BIN)/cookiecutter ## Render the default project into build/ and run its pipeline end to end
	$(BIN)/cookiecutter . --no-input --overwrite-if-exists --output-dir $(BUILD)
	$(MAKE) -C $(DEMO) demo

test: $(BIN)/cookiecutter ## Template tests, then each rendered project's own lint + tests
	$(BIN)/python -m pytest tests

lint: $(BIN)/cookiecutter ## ruff on the hooks, tests, docs scripts and Jinja extension
	$(BIN)/ruff check hooks tests docs local_extensions.py
	$(BIN)/ruff format --check hooks tests docs local_extensions.py

lock: $(BIN)/cookiecutter ## Re-resolve requirements.txt from requirements.in
	$(BIN)/uv pip compile --quiet --python-version 3.11 -o requirements.txt requirements.in

release: ## Tag a release on main: make release VERSION=x.y.z (CHANGELOG.md must have its section)
	@grep -q '^## $(VERSION) - ' CHANGELOG.md || { echo "CHANGELOG.md has no '## $(VERSION) - <date>' section"; exit 1; }
	git tag -a "v$(VERSION)" -m "Release $(VERSION): see CHANGELOG.md"

clean: ## Remove the venv and everything rendered
	rm -rf $(VENV) $(BUILD)
