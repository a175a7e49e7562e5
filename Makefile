# Two commands do all the set-up: `make demo` and `make test`. Both build what they need.
SHELL := /bin/bash
PY311 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.11.7/bin/python) $(shell command -v python3.11) python3)
PY310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.13/bin/python) $(shell command -v python3.10))
VENV := .venv
LAVA_VENV := .venv-lava
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test test-main test-lava lint bench env clean

$(VENV)/.built: pyproject.toml
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) torch==2.13.0
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

$(LAVA_VENV)/.built: pyproject.toml
	@test -n "$(PY310)" || { echo "Python 3.10 not found (lava-nc needs it): set PY310=/path/to/python3.10"; exit 1; }
	test -x $(LAVA_VENV)/bin/python || $(PY310) -m venv $(LAVA_VENV)
	$(LAVA_VENV)/bin/pip install $(PIP_FLAGS) lava-dl==0.6.0
	$(LAVA_VENV)/bin/pip install $(PIP_FLAGS) -e '.[test]' 'pytest<8'
	touch $@

env: $(VENV)/.built $(LAVA_VENV)/.built

## Convert the bundled digits CNN and print the accuracy-vs-T table.
demo: $(VENV)/.built
	mkdir -p build
	$(VENV)/bin/sjconvert ann2snn samples/digits_cnn.pt --arch samples.models:DigitsCNN \
		--calib samples/digits_calib.npz --mode 99.9% -o build/digits.sjir
	$(VENV)/bin/sjconvert simulate build/digits.sjir --data samples/digits_test.npz -T 1,2,4,8,16,32,64

## Lint, then every test: Python 3.11 (torch 2.13, SpikingJelly) and Python 3.10 (Lava).
test: lint test-main test-lava

lint: $(VENV)/.built
	$(VENV)/bin/ruff format --check sjconvert tests benchmarks samples
	$(VENV)/bin/ruff check sjconvert tests benchmarks samples
	$(VENV)/bin/lint-imports

test-main: $(VENV)/.built
	SJCONVERT_TEST_ENV=main $(VENV)/bin/python -m pytest -m "not lava" -q

test-lava: $(LAVA_VENV)/.built
	SJCONVERT_TEST_ENV=lava $(LAVA_VENV)/bin/python -m pytest -m "not spikingjelly and not fuzz" -q -p no:cacheprovider

bench: $(VENV)/.built
	$(VENV)/bin/python -m benchmarks.conversion
	$(VENV)/bin/python -m benchmarks.low_t

clean:
	rm -rf $(VENV) $(LAVA_VENV) build .pytest_cache
