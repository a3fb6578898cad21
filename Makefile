# Two commands on a fresh clone: `make run` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench mutants clean doctor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	@if $(BIN)/python -m bot.cli configured; then \
		exec $(BIN)/voicebot serve; \
	else \
		exec $(BIN)/voicebot local; \
	fi

# Read-only checks of a real installation (settings, Slack, Kaleyra, PUBLIC_URL); never places a call.
doctor: install
	$(BIN)/voicebot doctor

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/run_all.py

# Not part of `make test`: breaks each safety rule on purpose and checks its tests catch it.
mutants: install
	$(BIN)/python tools/mutants.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
