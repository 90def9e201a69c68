# tenantgate — `make run` starts the gateway, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

WASM_TARGET := wasm32-wasip1
WASM        := dist/tenantgate.wasm
VENV        := .venv
PYTHON      := $(VENV)/bin/python
CLAIMS      ?= {}
ALG         ?= RS256
# apt-get needs root; use sudo when not root.
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Features Rust's wasm32-wasip1 output uses; binaryen 108 needs them named.
WASM_OPT_FLAGS := -Oz --strip-debug --strip-producers \
	--enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types

.PHONY: help build run demo-token test lint unit e2e deps-rust deps-python deps-vm size clean

help:
	@echo "make run          start Envoy + tenantgate, VictoriaMetrics and a demo identity provider"
	@echo "make demo-token   print a token the default configuration accepts (CLAIMS='{...}' ALG=ES256)"
	@echo "make test         formatting, lints, unit tests and end-to-end tests in a real Envoy"
	@echo "make build        build $(WASM)"

deps-rust:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

deps-python: $(VENV)/.installed

deps-vm:
	@command -v victoria-metrics >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q victoria-metrics; }

build: deps-rust
	cargo build --release --target $(WASM_TARGET)
	@mkdir -p dist
	@if command -v wasm-opt >/dev/null; then \
		wasm-opt $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/tenantgate.wasm -o $(WASM); \
	else \
		echo "wasm-opt not found (Debian package binaryen): $(WASM) is not size-optimised"; \
		cp target/$(WASM_TARGET)/release/tenantgate.wasm $(WASM); \
	fi
	@echo "built $(WASM) ($$(stat -c %s $(WASM)) bytes)"

size: build

run: build deps-python deps-vm
	tools/run-gateway.sh

demo-token: deps-python
	@$(PYTHON) tools/mint_token.py --alg '$(ALG)' --claims '$(CLAIMS)'

lint: deps-rust
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --release --target $(WASM_TARGET) -- -D warnings

unit:
	cargo test

e2e: build deps-python deps-vm
	$(VENV)/bin/pytest -q tests/e2e

test: lint unit e2e

clean:
	cargo clean
	rm -rf dist .run
