# tenantgate — `make run` starts the gateway, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

WASM_TARGET := wasm32-wasip1
WASM        := dist/tenantgate.wasm
# The same filter without wasm SIMD, for proxy-wasm hosts that lack it.
WASM_NOSIMD := dist/tenantgate-nosimd.wasm
VENV        := .venv
PYTHON      := $(VENV)/bin/python
CLAIMS      ?= {}
ALG         ?= RS256
# OCI image of the filter (make oci / make push).
OCI_DIR     := dist/oci
OCI_TAG     ?= $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
IMAGE_NAME  ?= tenantgate
REGISTRY    ?=
SKOPEO_FLAGS ?=
# The release .wasm must stay at or under this (bytes, after wasm-opt).
WASM_SIZE_LIMIT := 614400
# apt-get needs root; use sudo when not root.
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# make bench: rounds per scenario and seconds per run.
BENCH_ROUNDS  ?= 5
BENCH_SECONDS ?= 5
BENCH_DIST    := dist/bench
# Features Rust's wasm32-wasip1 output uses; binaryen 108 needs them named.
WASM_FEATURES_BASE := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
WASM_OPT_FLAGS := -Oz --strip-debug --strip-producers $(WASM_FEATURES_BASE) --enable-simd

.PHONY: help build build-nosimd run demo-token token-table test lint unit unit-wasm crypto-long e2e bench bench-instructions bench-filters deps-rust deps-binaryen deps-python deps-vm deps-oci deps-node deps-bench deps-valgrind size oci push clean

help:
	@echo "make run          start Envoy + tenantgate, VictoriaMetrics and a demo identity provider"
	@echo "make demo-token   print a token the default configuration accepts (CLAIMS='{...}' ALG=ES256)"
	@echo "make test         formatting, lints, unit tests and end-to-end tests in a real Envoy"
	@echo "make build        build $(WASM) (uses wasm SIMD: V8, Wasmtime, WasmEdge)"
	@echo "make build-nosimd build $(WASM_NOSIMD), for proxy-wasm hosts without wasm SIMD"
	@echo "make size         print the sizes of both builds and check them against the 600 KiB limit"
	@echo "make bench        throughput and latency against jwt_authn and a wasm floor (BENCH_ROUNDS=5 BENCH_SECONDS=5)"
	@echo "make bench-instructions  instructions per request in Envoy, counted under callgrind (about 6 minutes)"
	@echo "make oci          write the OCI image of the filter to $(OCI_DIR); make push REGISTRY=... pushes it"

deps-rust:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

deps-python: $(VENV)/.installed

# wasm-opt: the release .wasm is size-optimised (and checked) with it.
deps-binaryen:
	@command -v wasm-opt >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q binaryen; }

deps-vm:
	@command -v victoria-metrics >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q victoria-metrics; }

build: deps-rust deps-binaryen
	cargo build --release --target $(WASM_TARGET)
	@$(call release,target/$(WASM_TARGET)/release/tenantgate.wasm,$(WASM))

# RUSTFLAGS replaces the simd128 flag of .cargo/config.toml; its own target
# folder keeps the two builds from rebuilding each other.
build-nosimd: deps-rust deps-binaryen
	RUSTFLAGS="-C target-feature=-simd128" CARGO_TARGET_DIR=target/nosimd \
		cargo build --release --target $(WASM_TARGET)
	@$(call release,target/nosimd/$(WASM_TARGET)/release/tenantgate.wasm,$(WASM_NOSIMD))

# $(call optimise,BUILT,OUT): size-optimised by wasm-opt (deps-binaryen).
define optimise
	mkdir -p dist; \
	wasm-opt $(WASM_OPT_FLAGS) $(1) -o $(2); \
	echo "built $(2) ($$(stat -c %s $(2)) bytes)"
endef

# $(call release,BUILT,OUT): without the callbacks the filter leaves at the
# SDK's default (tools/trim_callbacks.py), then optimised.
define release
	mkdir -p $(dir $(2)); \
	trap 'rm -f $(2).trimmed' EXIT; \
	python3 tools/trim_callbacks.py trim $(1) $(2).trimmed; \
	$(call optimise,$(2).trimmed,$(2))
endef

deps-oci:
	@command -v skopeo >/dev/null && command -v docker-registry >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q skopeo docker-registry; }

size: build build-nosimd
	@for wasm in $(WASM) $(WASM_NOSIMD); do \
		bytes=$$(stat -c %s $$wasm); \
		echo "$$wasm: $$bytes bytes ($$(( (bytes + 1023) / 1024 )) KiB; limit $$(( $(WASM_SIZE_LIMIT) / 1024 )) KiB)"; \
		if [ $$bytes -gt $(WASM_SIZE_LIMIT) ]; then echo "$$wasm is over the size limit" >&2; exit 1; fi; \
	done
	@# The build for hosts without SIMD must validate without it.
	@wasm-opt --mvp-features $(WASM_FEATURES_BASE) $(WASM_NOSIMD) -o /dev/null 2>/dev/null || \
		{ echo "$(WASM_NOSIMD) uses wasm features beyond $(WASM_FEATURES_BASE)" >&2; exit 1; }
	@echo "$(WASM_NOSIMD) validates without wasm SIMD"

oci: build
	python3 tools/oci_image.py build $(WASM) --out $(OCI_DIR) --tag $(OCI_TAG)

# Refuse before building anything when the destination is missing.
ifneq ($(filter push,$(MAKECMDGOALS)),)
ifeq ($(REGISTRY),)
$(error usage: make push REGISTRY=registry.example.com/team [OCI_TAG=...] [SKOPEO_FLAGS=--dest-tls-verify=false])
endif
endif

push: oci
	python3 tools/oci_image.py push --layout $(OCI_DIR) --tag $(OCI_TAG) docker://$(REGISTRY)/$(IMAGE_NAME):$(OCI_TAG) -- $(SKOPEO_FLAGS)

run: build deps-python deps-vm
	tools/run-gateway.sh

demo-token: deps-python
	@$(PYTHON) tools/mint_token.py --alg '$(ALG)' --claims '$(CLAIMS)'

# The accepted/refused token table run by tests/token_table.rs (natively) and
# tests/e2e/test_token_table.py (in Envoy, with freshly minted tokens).
token-table: deps-python
	$(PYTHON) tools/token_table.py write

lint: deps-rust
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --release --target $(WASM_TARGET) -- -D warnings
	CARGO_TARGET_DIR=target/timed cargo clippy --release --target $(WASM_TARGET) --features phase-timing -- -D warnings
	@# The bench crates, each in the target folder its bench build uses.
	for crate in floor probe profile; do cargo fmt --check --manifest-path bench/$$crate/Cargo.toml; done
	for crate in floor probe; do CARGO_TARGET_DIR=target/bench cargo clippy --quiet --release \
		--target $(WASM_TARGET) --manifest-path bench/$$crate/Cargo.toml -- -D warnings; done
	cargo clippy --quiet --release --manifest-path bench/profile/Cargo.toml -- -D warnings

unit:
	cargo test --workspace

# Node runs wasm32-wasip1 test binaries in V8 (.cargo/config.toml names it).
deps-node:
	@command -v node >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs; }

# The signature code's tests, built for wasm32 and run in V8.
unit-wasm: deps-rust deps-node
	@# The runner named in .cargo/config.toml, found from the policy crate's folder.
	CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $(CURDIR)/tools/wasi-run.mjs" \
		cargo test --target $(WASM_TARGET) -p tenantgate-policy --lib crypto::
	cargo test --target $(WASM_TARGET) --test wycheproof --test crypto_differential
	@# Again as shipped: the release profile with LTO, in a target folder of its own
	@# so the release filter is not overwritten by a test build.
	CARGO_TARGET_DIR=target/release-tests cargo test --release --target $(WASM_TARGET) --test wycheproof

# Many more differential cases, optimised (CRYPTO_CASES per property).
CRYPTO_CASES ?= 20000
crypto-long:
	PROPTEST_CASES=$(CRYPTO_CASES) cargo test --release --test crypto_differential

e2e: build build-nosimd deps-python deps-vm deps-oci
	$(VENV)/bin/pytest -q tests/e2e
	@# The build without SIMD: every algorithm and key form, both backends.
	TENANTGATE_WASM=$(WASM_NOSIMD) $(VENV)/bin/pytest -q tests/e2e/test_token_table.py

test: lint unit unit-wasm size e2e

deps-bench:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q wrk; }

# The floor filter and the host-signature probe, with tenantgate's release
# profile, in their own target directory; and tenantgate built to time its
# own phases (feature phase-timing). The floor and the probe are trimmed as
# tenantgate is; floor-sdk.wasm is the floor with every SDK callback.
bench-filters: deps-rust deps-binaryen
	@mkdir -p $(BENCH_DIST)
	CARGO_TARGET_DIR=target/timed cargo build --quiet --release --target $(WASM_TARGET) --features phase-timing
	@$(call release,target/timed/$(WASM_TARGET)/release/tenantgate.wasm,$(BENCH_DIST)/tenantgate-timed.wasm)
	@for filter in floor probe; do \
		CARGO_TARGET_DIR=target/bench cargo build --quiet --release --target $(WASM_TARGET) \
			--manifest-path bench/$$filter/Cargo.toml; \
	done
	@$(call release,target/bench/$(WASM_TARGET)/release/tenantgate_bench_floor.wasm,$(BENCH_DIST)/floor.wasm)
	@$(call optimise,target/bench/$(WASM_TARGET)/release/tenantgate_bench_floor.wasm,$(BENCH_DIST)/floor-sdk.wasm)
	@$(call release,target/bench/$(WASM_TARGET)/release/tenantgate_bench_probe.wasm,$(BENCH_DIST)/probe.wasm)

deps-valgrind:
	@command -v valgrind >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q valgrind; }

# Instructions per request in Envoy under callgrind: counted, not timed.
bench-instructions: build bench-filters deps-python deps-valgrind
	$(PYTHON) bench/instructions.py

# A benchmark, not a test: about 9 minutes with the defaults.
bench: build bench-filters deps-python deps-bench
	$(PYTHON) bench/run.py --rounds $(BENCH_ROUNDS) --seconds $(BENCH_SECONDS)

clean:
	cargo clean
	rm -rf dist .run
