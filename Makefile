# Set-up and checks on a CPU machine. GPU users: see README.md ("GPU machines").
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: install test perf clean

STAMP := $(VENV)/.installed

$(PY):
	$(PYTHON) -m venv $(VENV)

# The CPU build of torch first, so that no dependency pulls a CUDA build; then the toolkit and test tools.
install: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test,raw,dist]"
	touch $(STAMP)

# test installs only when .venv is new or the dependencies changed (make install always reinstalls).
$(STAMP): setup.cfg pyproject.toml | $(PY)
	$(MAKE) install

# pytest exits 5 when it collected no test: that is a failure too. Test files run in parallel (pytest-xdist:
# one worker per core, at most TEST_WORKERS), each worker's torch on one thread so workers x threads = cores.
# Bytecode is written (into the git-ignored __pycache__/) even where PYTHONDONTWRITEBYTECODE is set: without it
# every worker rewrites the tests' assertions again at collection (about 6 s each).
TEST_WORKERS ?= 4
test: $(STAMP)
	$(PY) -m ruff check .
	OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n auto --maxprocesses $(TEST_WORKERS) --dist loadfile --durations=10; \
		rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests were collected"; fi; exit $$rc

# Every perf script in its --quick mode (numbers on stdout; see perf/*.py for the full runs).
perf: $(STAMP)
	@set -e; for script in $$(grep -l "__main__" perf/*.py); do \
		echo "== $$script --quick"; $(PY) $$script --quick; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
