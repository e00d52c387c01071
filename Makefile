# Set-up and checks on a CPU machine. GPU users: see README.md ("GPU machines").
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: install test perf clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The CPU build of torch first, so that no dependency pulls a CUDA build; then the toolkit and test tools.
install: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test,raw,dist]"

# pytest exits 5 when it collected no test: that is a failure too.
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q --durations=10; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests were collected"; fi; exit $$rc

# Every perf script in its --quick mode (numbers on stdout; see perf/*.py for the full runs).
perf: install
	@set -e; for script in $$(grep -l "__main__" perf/*.py); do \
		echo "== $$script --quick"; $(PY) $$script --quick; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
