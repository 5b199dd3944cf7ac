# Every target creates (or reuses) .venv and installs what it needs; nothing depends on what a
# session installed by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# make demo DEMO_ARGS=--serve keeps the demo's server running until Ctrl-C
DEMO_ARGS ?=

.PHONY: venv demo test test-ray lint bench bench-record bench-selection bench-insights bench-mergequeue bench-smoke clean

$(STAMP): pyproject.toml setup.py src/greenline/_ctracer.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	# Backstage's catalog model (npm, for tests/cli/test_backstage.py; it skips without it)
	command -v npm >/dev/null && npm install --silent --no-save --no-package-lock --no-audit \
	  --no-fund --prefix $(VENV)/backstage @backstage/catalog-model@1.10.3 \
	  || echo "make: no npm or no registry: the Backstage catalog test will skip"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py $(DEMO_ARGS)

# pytest exits 5 when it collects nothing (e.g. a -k that matches no test): not a failure.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The Ray executor's tests on a local cluster they start and stop (a head and a second node).
test-ray: $(STAMP)
	$(BIN)/python -m pytest -m ray tests/ray -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/lint-imports

# Benchmarks build their own environments under benchmarks/*/work (not committed).
bench: $(STAMP)
	$(BIN)/python benchmarks/record/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/selection/run.py $(BENCH_ARGS)

bench-record: $(STAMP)
	$(BIN)/python benchmarks/record/run.py $(BENCH_ARGS)

bench-selection: $(STAMP)
	$(BIN)/python benchmarks/selection/run.py $(BENCH_ARGS)

bench-insights: $(STAMP)
	$(BIN)/python benchmarks/insights/run.py $(BENCH_ARGS)

bench-mergequeue: $(STAMP)
	$(BIN)/python benchmarks/mergequeue/run.py $(BENCH_ARGS)

.PHONY: bench-split
bench-split: $(STAMP)
	$(BIN)/python benchmarks/split/run.py $(BENCH_ARGS)

.PHONY: bench-recovery
bench-recovery: $(STAMP)
	$(BIN)/python benchmarks/recovery/run.py $(BENCH_ARGS)

# The team server under load (SQLite and PostgreSQL): heavy, run it on a quiet machine.
.PHONY: bench-server
bench-server: $(STAMP)
	$(BIN)/python benchmarks/server/run.py $(BENCH_ARGS)

# How the store grows with runs of the same coverage (SQLite).
.PHONY: bench-store
bench-store: $(STAMP)
	$(BIN)/python benchmarks/store/run.py $(BENCH_ARGS)

# Greenline at 64,000 tests (packaging) and at 7,800 (jsonschema): recording, the store's growth,
# select on a one-function change and a release diff, planning in the plugin, MCP answer sizes.
.PHONY: bench-large
bench-large: $(STAMP)
	$(BIN)/python benchmarks/large/run.py $(BENCH_ARGS)

bench-smoke: $(STAMP)
	$(BIN)/python benchmarks/record/run.py --smoke
	$(BIN)/python benchmarks/selection/run.py --smoke
	$(BIN)/python benchmarks/insights/run.py --smoke
	$(BIN)/python benchmarks/mergequeue/run.py --smoke
	$(BIN)/python benchmarks/recovery/run.py --smoke
	$(BIN)/python benchmarks/server/run.py --smoke
	$(BIN)/python benchmarks/split/run.py --smoke
	$(BIN)/python benchmarks/store/run.py --smoke
	$(BIN)/python benchmarks/large/run.py --smoke

clean:
	rm -rf $(VENV) build src/*.egg-info src/greenline/*.so
