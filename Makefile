# make run   installs what is missing (system packages, .venv), then starts `pyk8s server`
# make test  installs test dependencies, then lint, types, import layers and the whole suite
# make test-fast   unit tests only
# make conformance upstream's kubectl suite (test/cmd, from Debian's source package) against
#                  pyk8s, one fresh server per function; writes conformance/RESULTS.md

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
SERVER_ARGS ?=
CONFORMANCE_ARGS ?= -j 2

.PHONY: protos run test test-fast lint deps system-deps bench clean conformance bytecode reference

deps: system-deps $(STAMP) protos bytecode

# pyk8s' own modules compiled to __pycache__ even where PYTHONDONTWRITEBYTECODE is set (the
# editable install compiles nothing): a server then starts without compiling ~300 modules.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 pyk8s conformance >/dev/null

# Kubernetes' protobuf descriptors (for kubectl's protobuf bodies), built into a cache dir.
protos: $(STAMP)
	@hack/build-k8s-protos.sh $(BIN)/python

system-deps:
	@hack/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 \
		| { grep -v '^WARNING: Location' || true; }
	@touch $@

run: deps
	@$(BIN)/pyk8s image bootstrap -q $(filter --data-dir=%,$(SERVER_ARGS)) busybox nginx \
		|| echo "make run: could not bootstrap busybox and nginx (root and Debian's mirror needed)"
	$(BIN)/pyk8s server $(SERVER_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check --quiet
	@$(BIN)/ruff format --check --quiet
	@$(BIN)/mypy
	@out=$$($(BIN)/lint-imports 2>&1) || { echo "$$out"; exit 1; }

test: deps lint
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest tests/unit -q -x $(PYTEST_ARGS)

conformance: deps
	$(BIN)/python -m conformance.harness $(CONFORMANCE_ARGS)

# The reference kube-apiserver v1.20.2 (built once from Debian's source into a cache, ~10 min).
reference:
	@nice -n 10 hack/build-reference.sh

bench: deps
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/apiserver.py
	$(BIN)/python bench/patch.py
	$(BIN)/python bench/client_cache.py
	$(BIN)/python bench/client_informer.py
	$(BIN)/python bench/network.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/scheduler.py --split
	$(BIN)/python bench/controllers.py
	$(BIN)/python bench/kubelet.py
	$(BIN)/python bench/streaming.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
