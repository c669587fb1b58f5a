# relaygate — `make serve` runs it, `make test` proves it (PostgreSQL: scripts/test-services.sh).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck install bench-gateway bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/relaygate serve

test: $(STAMP)
	$(BIN)/ruff check relaygate tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	bash scripts/test-services.sh $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check relaygate tests

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data

bench-gateway: $(STAMP)
	bash scripts/bench-gateway.sh

bench: $(STAMP)
	bash scripts/bench.sh
