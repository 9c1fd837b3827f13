# scaleplan — the two commands of the README's quick start, and a few more.
#   make demo   set up .venv and run the main job on the bundled example
#   make test   set up .venv with the test extras; ruff, mypy and pytest
#   make lab    JupyterLab on the project's environment with the notebooks open
# Both work on a fresh clone and again when .venv already exists.

# The first of these that runs and is Python 3.11 or newer (a pyenv shim may exist but not run).
PYTHON ?= $(shell for candidate in python3.12 python3.11 python3; do \
	$$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$candidate; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
BASE_STAMP := $(VENV)/.scaleplan-base
TEST_STAMP := $(VENV)/.scaleplan-test
# The Jupyter kernel papermill and JupyterLab run: this venv's Python, installed inside the venv.
KERNEL := scaleplan
KERNEL_STAMP := $(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json
# JupyterLab refuses to run as root without this flag (containers, CI).
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
NOTEBOOKS := 01-plan.ipynb 02-explore.ipynb 03-tractor-pull.ipynb 04-present.ipynb
OUT ?= out

.PHONY: demo test lint typecheck unit composition fuzz e2e bench lab kernel clean help

help:
	@echo "make demo | make test | make composition | make fuzz | make e2e | make lint | make bench | make lab | make kernel | make clean"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "scaleplan needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(BASE_STAMP)

$(KERNEL_STAMP): $(BASE_STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"

kernel: $(KERNEL_STAMP)

demo: $(BASE_STAMP) $(KERNEL_STAMP)
	@mkdir -p $(OUT)
	$(BIN)/scaleplan validate data/architectures/lb-cluster.yaml
	$(BIN)/scaleplan simulate data/architectures/lb-cluster.yaml --seed 1
	$(BIN)/scaleplan decide data/scenarios/online-shop.yaml -o $(OUT)
	@echo "demo output: $(OUT)/online-shop/decision-record.html (the decision record; one file that opens offline)"

lint: $(TEST_STAMP)
	$(BIN)/ruff check scaleplan tests benchmarks examples
	$(BIN)/ruff format --check scaleplan tests benchmarks examples

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# Two passes: the tests that time nothing on every core (pytest-xdist, one worker per core; a
# module's tests stay on one worker so its shared fixtures run once), then, alone on the
# machine, the tests that judge a real process by its speed (marked `serial` in
# tests/conftest.py), so a neighbouring test cannot make the real system look slow.
unit: $(TEST_STAMP) $(KERNEL_STAMP)
	$(BIN)/pytest -m "not e2e and not serial" -n auto --dist loadfile
	$(BIN)/pytest -m "serial and not e2e"

test: lint typecheck unit

# Before a release: the composition test's long profile (tests/test_composition.py), ten times
# the random architectures of `make test`, new ones each run.
composition: $(TEST_STAMP)
	SCALEPLAN_COMPOSITION=long $(BIN)/pytest tests/test_composition.py -p no:cacheprovider -q

# The fuzz suite's long profile (tests/test_fuzz.py): ten times the hostile cases of `make test`,
# new ones each run, shrunk when one fails. Add every case it finds to tests/test_fuzz_regressions.py.
fuzz: $(TEST_STAMP)
	SCALEPLAN_FUZZ=long $(BIN)/pytest tests/test_fuzz.py tests/test_fuzz_regressions.py -p no:cacheprovider -q

# The load-test loop on the reference system at the scenario's own step lengths (about four
# minutes): loadtest, real Locust against real services, verify; `make test` runs it shortened.
# Then the Locust runs the loop also covers (marked e2e), which `make test` leaves out.
e2e: $(TEST_STAMP)
	SCALEPLAN_E2E_FULL=1 $(BIN)/pytest tests/test_loadtest_e2e.py -p no:cacheprovider -q
	$(BIN)/pytest -m e2e -p no:cacheprovider -q

bench: $(TEST_STAMP) $(KERNEL_STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_pull.py
	$(BIN)/python benchmarks/bench_explorer.py
	$(BIN)/python benchmarks/bench_precision.py
	$(BIN)/python benchmarks/bench_decide.py
	$(BIN)/python benchmarks/bench_calibrate.py

lab: $(BASE_STAMP) $(KERNEL_STAMP)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ROOT_FLAG) $(NOTEBOOKS)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
