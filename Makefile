# Two commands do everything from a fresh clone: `make demo` and `make test`
# (then `make view` shows the demo's logs in TensorBoard).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo view screenshots test test-cuda bench lint install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/train_digits.py
	@echo "or: make view"

# TensorBoard on every run under ./runs (the demo's included), at http://127.0.0.1:6006/
view: $(STAMP)
	$(VENV)/bin/vizlog serve tensorboard --logdir runs

# The README's pictures of both viewers, taken by the browser tests themselves
# (needs Chromium: apt-get install -y chromium).
screenshots: $(STAMP)
	$(VENV)/bin/vizlog visdom-assets
	VIZLOG_SCREENSHOTS=docs $(PY) -m pytest -q -p no:cacheprovider tests/test_browser.py

test: $(STAMP)
	$(PY) -m ruff check vizlog tests examples benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider

# on a machine with a CUDA device: the tests that need one (skipped elsewhere)
test-cuda: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m cuda -rs

bench: $(STAMP)
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(PY) -m ruff check vizlog tests examples benchmarks
	$(PY) -m mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
