# `make test` and `make example` set up .venv on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: test lint parity parity-tf example bench

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

# One pytest worker per core (pytest-xdist): a cold numba cache compiles the recurrences' time loops once per
# worker, side by side, and the suite's tests are independent (each writes only under its own tmp_path).
test: $(INSTALLED)
	$(PY) -m pytest -n auto

# The linter (a small rule set of real mistakes) and the import floors (import-linter contracts in pyproject.toml).
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# The parity extra (Keras 3 on its torch backend, PyTorch 2.13 CPU): the tests against real Keras and
# PyTorch, which `make test` skips without them. Here a missing Keras fails instead of skipping.
parity: $(INSTALLED)
	$(PY) -m pip install --quiet -e '.[dev,parity]'
	TINYGRAD_EMBED_PARITY=required KERAS_BACKEND=torch $(PY) -m pytest tests/test_keras_parity*.py \
		tests/test_lstm.py::test_pytorch_lstm_with_our_weights_gives_our_outputs

# Keras's TextVectorization runs on TensorFlow's string ops, so its parity files run in a virtualenv of their
# own with tensorflow-cpu and KERAS_BACKEND=tensorflow (beside torch, TensorFlow would pin shared packages).
TF_VENV := .venv-tf
parity-tf:
	test -x $(TF_VENV)/bin/python || $(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TF_VENV)/bin/python -m pip install --quiet -e . 'pytest>=7' 'hypothesis>=6.80' 'h5py>=3' 'keras>=3' \
		tensorflow-cpu==2.21.0
	TINYGRAD_EMBED_PARITY=required KERAS_BACKEND=tensorflow $(TF_VENV)/bin/python -m pytest \
		tests/test_keras_parity_text.py tests/test_keras_parity_files_text.py

# Runs here read the shared copy of the dataset when it sits beside the checkout (no network).
SHARED_IMDB := $(abspath ../shared/data/aclImdb_v1.tar.gz)
IMDB_ENV := $(if $(wildcard $(SHARED_IMDB)),TINYGRAD_EMBED_IMDB=$(SHARED_IMDB),)

example: $(INSTALLED)
	$(IMDB_ENV) $(PY) examples/imdb_lstm.py

bench: $(INSTALLED)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench_embedding.py
	$(PY) benchmarks/bench_train_step.py
	$(IMDB_ENV) $(PY) benchmarks/bench_imdb.py
