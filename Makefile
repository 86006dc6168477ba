# Everything runs inside .venv, created on first use. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RAG    := $(VENV)/bin/rag
STAMP  := $(VENV)/.installed
TOOLS  := $(VENV)/.installed-tools
HOST   ?= 127.0.0.1
PORT   ?= 7860
# The one test command: README, `make test` and .ci/run all use it.
TEST_CMD := $(PY) -m pytest

.PHONY: help install install-tools browser run test eval bench reliability check clean

help:  ## list targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The package alone: wheels only, no compiler, so `make run` on a fresh machine starts in a minute or two.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	touch $(STAMP)

# With the test tools and the [gguf] extra (llama.cpp in process: the real-GGUF tests and eval rows).
# llama-cpp-python compiles from source (a few minutes, once); use every core for it. A portable build
# (AVX2, no -march=native): a native one uses AMX on CPUs that have it, and a VM that does not enable AMX
# (Firecracker, here) kills the process at the first matrix product. Not from pip's wheel cache, which
# may hold a native build of the same version.
$(TOOLS): pyproject.toml | $(PY)
	CMAKE_ARGS="-DGGML_NATIVE=OFF $$CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PY) -m pip install --no-cache-dir -e '.[dev,gguf]'
	touch $(TOOLS) $(STAMP)

install: $(STAMP)  ## create .venv and install the package (no compiler needed)

install-tools: $(TOOLS)  ## also the test tools and the [gguf] extra (compiles llama-cpp-python once)

browser:  ## Debian's Chromium for the browser test (needs root and apt; skipped otherwise)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no /usr/bin/chromium and cannot install it: the browser test will be skipped"; fi

run: install  ## ingest seeds/ into index/ and serve the chat UI on http://$(HOST):$(PORT)
	$(RAG) ingest seeds
	$(RAG) serve --host $(HOST) --port $(PORT)

test: install-tools browser  ## run the whole test suite
	$(TEST_CMD)

eval: install-tools  ## quality tables on ../shared/eval: all sets extractive (FaithBench included), our kinds_qa questions, seeds also with the bundled GGUF model
	$(RAG) eval --backend extractive --out .cache/eval-extractive.json
	$(RAG) eval --backend extractive --sets kinds --out .cache/eval-kinds.json
	$(RAG) eval --backend llamacpp --sets seeds --out .cache/eval-llamacpp.json

bench: install  ## speed table (ingest of 100 PolNeAR articles + 500 RealTimeQA records; BENCH_ARGS="--articles 0 --records 0" for all)
	$(RAG) bench $(BENCH_ARGS)

reliability: install-tools  ## reliability figures: hostile files, SIGKILLs during ingest, faults, UI load (about 12 minutes; RELIABILITY_ARGS="--short" or "--only kills")
	$(PY) -m rag.eval.reliability $(RELIABILITY_ARGS)

check: install-tools  ## lint and type-check
	$(VENV)/bin/ruff check rag tests
	$(VENV)/bin/mypy

clean:  ## remove the venv, caches and the default index
	rm -rf $(VENV) .cache index/chroma index/keyword index/manifest.json index/claims.json
