# ordersyncd — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup system-deps demo test lint typecheck unit bench clean

# Virtual environment with ordersyncd, its built-in plugins, the test fake plugins and the dev tools.
$(STAMP): pyproject.toml tests/fakeplugins/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' -e tests/fakeplugins
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests use (promtool, systemd-analyze, chromium); idempotent, skips what is there.
system-deps:
	bash scripts/install-system-deps.sh

# The whole product on the bundled simulators (Zalando, Shopify, idealo, WooCommerce) and a local mail server.
demo: setup
	$(PY) demo/demo.py

lint: setup
	$(VENV)/bin/ruff check ordersyncd plugins tests demo bench
	$(VENV)/bin/ruff format --check ordersyncd plugins tests demo bench

typecheck: setup
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict bench

unit: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test: setup system-deps lint typecheck unit

# Benchmarks (simulators and daemon in separate processes); writes bench/results.json and bench/RESULTS.md.
bench: setup
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
