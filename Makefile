# Two commands for a newcomer:  make demo   /   make test
SHELL := /bin/bash
ENV := . scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench clean

setup:
	scripts/setup_env.sh

demo: setup
	$(ENV) samosaic3d demo --out out/demo

test: setup
	$(ENV) python -m pytest -q test $(PYTEST_ARGS)

test-fast: setup
	$(ENV) python -m pytest -q test -m "not slow" $(PYTEST_ARGS)

bench: setup
	$(ENV) python bench/run_all.py

clean:
	rm -rf build install log out .stamps
