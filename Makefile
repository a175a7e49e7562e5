# Two commands do all the set-up: `make demo` and `make test`. Each builds what it needs.
#
# Environments (each built once; its build time and size land in <env>/.built):
#   .venv          Python 3.11, CPU torch 2.13.0, core + onnx + samples + plot + test + lint
#   .venv-interop  Python 3.11, torch 2.14.1 + torchvision 0.29.1, SpikingJelly, snnTorch,
#                  Norse, NIRTorch, CuPy: the interop, cupy and gpu test groups
#   .venv-lava     Python 3.10, lava-dl 0.6 (torch 2.3.1): the core suite and the Lava tests
#   .venv-py312    Python 3.12 and .venv-py313 Python 3.13, torch from PyPI: the core suite
# Every install into an environment carries a constraints file pinning its torch, so no
# dependency can replace it (pip fails instead).
SHELL := /bin/bash
PYENV := $(HOME)/.pyenv/versions
find_python = $(firstword $(wildcard $(PYENV)/$(1).*/bin/python) $(shell command -v python$(1)))
PY310 ?= $(call find_python,3.10)
PY311 ?= $(call find_python,3.11)
PY312 ?= $(call find_python,3.12)
PY313 ?= $(call find_python,3.13)
# The CPU wheel of torch 2.13.0 (on this machine's disk; elsewhere add PyTorch's CPU index)
TORCH_LEAN ?= torch==2.13.0+cpu
TORCH_INTEROP ?= torch==2.14.1 torchvision==0.29.1
# Python 3.12 / 3.13: PyPI's torch (a CUDA build: its nvidia-* wheels come along)
TORCH_PYPI ?= torch==2.14.1
PIP_FLAGS := -q --disable-pip-version-check
# No pip cache: the CUDA wheels would be stored a second time under ~/.cache/pip
export PIP_NO_CACHE_DIR := 1

VENV := .venv
INTEROP_VENV := .venv-interop
LAVA_VENV := .venv-lava
# Test groups (pytest markers, tests/conftest.py) each environment runs
LEAN_TESTS := not (interop or cupy or gpu or lava)
INTEROP_TESTS := interop or cupy or gpu
LAVA_TESTS := not (interop or cupy or gpu or onnx or plot or fuzz or examples)
# The fuzz campaign and the examples (docs, first-hour walkthrough) run once, in the lean environment
PY3X_TESTS := $(LEAN_TESTS) and not (fuzz or examples)
PYTEST := python -m pytest -q -p no:cacheprovider
# What each environment installs beside its torch
LEAN_PIP := -e '.[dev]'
INTEROP_PIP := -e '.[test,samples,onnx,cupy,interop]'
LAVA_PIP := lava-dl==0.6.0 -e '.[test]' 'pytest<8'
PY3X_PIP := -e '.[test,samples,onnx,plot]'

.PHONY: demo test lint test-lean test-interop test-lava test-py312 test-py313 test-wheel \
	env gpu-check gpu-wheels bench clean

# $(call build_venv,DIR,PYTHON,TORCH PINS,PIP ARGUMENTS): a venv whose torch is pinned by
# DIR/constraints.txt for every install; records the build time and size in DIR/.built.
# `make -j env` builds them in parallel; the editable installs of the checkout take turns
# (flock), as each writes sjconvert.egg-info into it. .ci/pip-in-steps installs the large wheels
# (torch, triton, nvidia-*) one pip call each, so pip holds one download at a time.
define build_venv
	@test -n "$(2)" || { echo "$(1): no Python interpreter found (set PY3xx=/path/to/python)"; exit 1; }
	@start=$$(date +%s); set -e; \
	test -x $(1)/bin/python || $(2) -m venv $(1); \
	printf '%s\n' $(3) > $(1)/constraints.txt; \
	$(if $(3),bash .ci/pip-in-steps $(1) $(PIP_FLAGS) -c $(1)/constraints.txt $(3);) \
	mkdir -p build; flock build/.editable.lock \
	bash .ci/pip-in-steps $(1) $(PIP_FLAGS) -c $(1)/constraints.txt $(4); \
	echo "$(1): built in $$(( $$(date +%s) - start )) s, $$(du -sh $(1) | cut -f1)" | tee $(1)/.built
endef

$(VENV)/.built: pyproject.toml
	$(call build_venv,$(VENV),$(PY311),$(TORCH_LEAN),$(LEAN_PIP))

$(INTEROP_VENV)/.built: pyproject.toml Makefile
	$(call build_venv,$(INTEROP_VENV),$(PY311),$(TORCH_INTEROP),$(INTEROP_PIP))

$(LAVA_VENV)/.built: pyproject.toml
	$(call build_venv,$(LAVA_VENV),$(PY310),,$(LAVA_PIP))

.venv-py%/.built: pyproject.toml
	$(call build_venv,.venv-py$*,$(PY$*),$(TORCH_PYPI),$(PY3X_PIP))

env: $(VENV)/.built $(INTEROP_VENV)/.built $(LAVA_VENV)/.built .venv-py312/.built .venv-py313/.built

## Convert the bundled digits CNN and print the accuracy-vs-T table.
demo: $(VENV)/.built
	mkdir -p build
	$(VENV)/bin/sjconvert ann2snn samples/digits_cnn.pt --arch samples.models:DigitsCNN \
		--calib samples/digits_calib.npz --mode 99.9% -o build/digits.sjir
	$(VENV)/bin/sjconvert simulate build/digits.sjir --data samples/digits_test.npz -T 1,2,4,8,16,32,64

## Lint, every test group in its environment and the wheel smoke test, one environment at a
## time (.ci/test-all): each is built if missing, after making room on disk (PRUNE_ENVS=auto
## removes CUDA environments whose tests ran when the next one would not fit; 0 never, 1
## always). Every step runs even when one before it failed; make exits non-zero if any did.
test:
	MAKE="$(MAKE)" bash .ci/test-all

lint: $(VENV)/.built
	$(VENV)/bin/ruff format --check sjconvert tests benchmarks samples
	$(VENV)/bin/ruff check sjconvert tests benchmarks samples
	$(VENV)/bin/lint-imports

test-lean: $(VENV)/.built
	$(VENV)/bin/$(PYTEST) -m "$(LEAN_TESTS)"

test-interop: $(INTEROP_VENV)/.built
	$(INTEROP_VENV)/bin/$(PYTEST) -m "$(INTEROP_TESTS)"

test-lava: $(LAVA_VENV)/.built
	$(LAVA_VENV)/bin/$(PYTEST) -m "$(LAVA_TESTS)"

test-py312: .venv-py312/.built
	.venv-py312/bin/$(PYTEST) -m "$(PY3X_TESTS)"

test-py313: .venv-py313/.built
	.venv-py313/bin/$(PYTEST) -m "$(PY3X_TESTS)"

## A wheel built from the repo, installed with the core only into a fresh venv, converts and
## simulates a sample.
test-wheel: $(VENV)/.built
	bash .ci/wheel-smoke $(VENV)/bin/python $(PY311) "$(TORCH_LEAN)"

## On a GPU machine (Python 3.12, CUDA torch and CuPy preinstalled, no network): the GPU and
## CuPy tests, the parity report and the CuPy benchmark against torch on the same GPU, as
## JSON in build/gpu_check.json. Pure-Python wheels it lacks (nir) come from .whl/, made
## here beforehand by `make gpu-wheels`.
gpu-check:
	bash .ci/gpu-check

gpu-wheels:
	bash .ci/gpu-check --download-wheels

bench: $(VENV)/.built
	$(VENV)/bin/python -m benchmarks.conversion
	$(VENV)/bin/python -m benchmarks.low_t

clean:
	rm -rf $(VENV) $(INTEROP_VENV) $(LAVA_VENV) .venv-py312 .venv-py313 build .pytest_cache
