# Coverwatch: `make demo` runs the embedded stack, `make test` runs every check.
# Installs come from uv.lock (exact versions and hashes); `make lock` refreshes it on purpose.
PYTHON     ?= python3
UV_VERSION := 0.13.9
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
UV         := UV_PYTHON_DOWNLOADS=never $(BIN)/uv

.PHONY: demo test unit integration chaos chaos-short evaluation evaluation-short lint lock check-lock bench examples clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked --all-extras --compile-bytecode --python $(BIN)/python
	@touch $(STAMP)

demo: $(STAMP)  ## embedded broker + Redis + worker + simulator + web, until Ctrl-C
	$(BIN)/coverwatch up

test: check-lock lint unit integration chaos-short evaluation-short  ## everything CI runs

check-lock: $(STAMP)  ## fails when pyproject.toml and uv.lock disagree, or the venv is not the lock
	$(UV) lock --check
	$(UV) sync --locked --all-extras --check --python $(BIN)/python

lock: $(STAMP)  ## re-resolve uv.lock from pyproject.toml's ranges, then install it
	$(UV) lock --upgrade
	$(UV) sync --locked --all-extras --compile-bytecode --python $(BIN)/python

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -n auto

integration: $(STAMP)  ## two pytest-xdist workers (each its own broker, Redis, Prometheus and Chromium), a test module per worker at a time
	$(BIN)/python -m pytest tests/integration -n 2 --dist loadfile

chaos-short: $(STAMP)  ## the chaos suite's CI part: the short day, seven scenarios (one of each kind of fault)
	$(BIN)/python -m pytest tests/chaos

chaos: $(STAMP)  ## the chaos suite: the full recorded day through every scenario (~25 min)
	$(BIN)/python -m pytest tests/chaos --chaos-day=full --chaos-scenarios=all

evaluation-short: $(STAMP)  ## the evaluation's CI part: 14 simulated days of 20 officers with a planted effect, through the archive into the report
	$(BIN)/python -m pytest tests/evaluation -s

evaluation: $(STAMP)  ## the analysis recovers planted effects: 14 simulated days of 30 officers, planted effect and none
	$(BIN)/python -m pytest tests/evaluation -s --evaluation-size=full

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy streams schemas
	$(BIN)/lint-imports

bench: $(STAMP)  ## speed as ratios against baselines measured in the same run
	$(BIN)/python -m streams.devtools.bench

examples: $(STAMP)  ## regenerate the output topics' examples in schemas/examples from the code
	$(BIN)/python -m streams.devtools.examples

clean:
	rm -rf $(VENV) build *.egg-info
