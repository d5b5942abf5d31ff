# rootless-cni-infra — build, test, image, benchmarks.
# `make demo` runs the main job; `make test` runs the whole suite (see README).

SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# The agent must not depend on NODE_OPTIONS; neither should its build.
unexport NODE_OPTIONS

NODE_DEPS := node_modules/.package-lock.json
SOURCES := $(shell find common/src agent/src host/src -name '*.ts' 2>/dev/null)
TEST_SOURCES := $(shell find test bench -name '*.ts' 2>/dev/null)

.PHONY: all setup build deps typecheck compile test test-unit test-e2e image demo bench clean

all: build

# Debian packages (needs root when something is missing), then npm packages.
setup:
	scripts/setup-host.sh

deps: $(NODE_DEPS)
$(NODE_DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# tsc type-checks everything (strict) and emits build/ for the tests.
compile: build/.compiled
build/.compiled: $(NODE_DEPS) tsconfig.json $(SOURCES) $(TEST_SOURCES)
	tsc -p tsconfig.json
	@touch $@
typecheck: compile

dist/rootless-cni-infra: $(NODE_DEPS) $(SOURCES) scripts/build.mjs build/.compiled
	node scripts/build.mjs agent
dist/rootless-cni: $(NODE_DEPS) $(SOURCES) scripts/build.mjs build/.compiled
	node scripts/build.mjs host

build: dist/rootless-cni-infra dist/rootless-cni

# The whole suite: unit tests, root tests with the real CNI plugins in real
# network namespaces, and the rootless podman end-to-end tests.
test: setup build
	@mkdir -p build
	ava 2>&1 | tee build/test-output.log; status=$${PIPESTATUS[0]}; \
	  node scripts/test-summary.mjs build/test-output.log; exit $$status

test-unit: build
	ava 'build/test/common/**' 'build/test/agent/**' 'build/test/host/**'

test-e2e: setup build
	ava 'build/test/e2e/**'

# The infra container image (Containerfile), built offline: scripts/base-image.sh
# provides the Debian base, scripts/build-image.sh builds and tags
# localhost/rootless-cni-infra:$(PROTOCOL_VERSION)-ARCH and :latest. Into root's podman
# storage; `make image IMAGE_USER=rcni-e2e` prepares that user for rootless podman
# (scripts/e2e-user.sh) and builds into its storage instead.
PROTOCOL_VERSION := $(shell sed -n "s/^export const PROTOCOL_VERSION = '\([0-9]*\)';/\1/p" common/src/version.ts)
IMAGE_USER :=

image: build
	$(if $(IMAGE_USER),scripts/e2e-user.sh $(IMAGE_USER))
	scripts/build-image.sh --protocol-version $(PROTOCOL_VERSION) $(if $(IMAGE_USER),--user $(IMAGE_USER))

# The main job: two containers on the built-in `podman` network with real
# rootless podman, connected to each other (scripts/demo.sh).
demo: setup build
	scripts/demo.sh

# Benchmarks (bench/run.ts): each figure next to its baseline, measured in the
# same run, as medians; prints a table and writes bench/results/latest.json.
# As root for all sections; BENCH_ARGS="--only startup,agent" runs some.
BENCH_ARGS :=
bench: build
	node build/bench/run.js $(BENCH_ARGS)

clean:
	rm -rf build dist
