# Set-up and everyday tasks. `make demo` and `make test` install first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint serve serve-prod bench clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/convrag demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy convrag

serve: install
	$(BIN)/python -m convrag.serve

# Aegra on PostgreSQL (DATABASE_URL, or a cluster under CONVRAG_HOME), on 127.0.0.1:PORT.
serve-prod: install
	$(BIN)/python -m convrag.serve_prod

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .convrag .pytest_cache .mypy_cache .ruff_cache
