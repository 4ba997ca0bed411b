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

bench: setup  # the ablation table of the shipped weights on the held-out scenes, sim masks: the SAM-like file (tens of minutes on 2 cores)
	$(ENV) python bench/ablation.py --f2i samosaic3d_core/checkpoints/samosaic3d_synth_sam.safetensors \
		--full samosaic3d_core/checkpoints/samosaic3d_synth_sam.safetensors

clean:
	rm -rf build install log out .stamps
