# docker-layers — see README.md.
BIN        := bin/docker-layers
PLUGIN_DIR := $(HOME)/.docker/cli-plugins
GO         ?= go
export TZ  := UTC

SHELL := /bin/bash
.PHONY: build install test lint demo testdata e2e bench bench-e2e fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/docker-layers

install: build
	mkdir -p $(PLUGIN_DIR)
	install -m 0755 $(BIN) $(PLUGIN_DIR)/docker-layers

test: lint
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# gofmt and staticcheck (pinned, installed through the Go module proxy into bin/tools).
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/tools/staticcheck
lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/bin/tools $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The README's first command: the binary, standalone, on the demo images (no daemon).
demo: build
	$(BIN) inspect oci:testdata/demo:lazy-v1-buildkit
	@echo
	$(BIN) diff oci:testdata/demo:lazy-v1-buildkit oci:testdata/demo:lazy-v2-buildkit
	@echo
	$(BIN) diff oci:testdata/demo:pro-v1-buildkit oci:testdata/demo:pro-v2-buildkit
	@echo
	$(BIN) shared oci:testdata/demo:lazy-v1-buildkit oci:testdata/demo:lazy-v2-buildkit oci:testdata/demo:pro-v1-buildkit oci:testdata/demo:pro-v2-buildkit
	@echo
	$(BIN) files --wasted oci:testdata/demo:lazy-v2-buildkit
	@echo
	$(BIN) check --max-size 100MB --max-layer-size 50MB --baseline oci:testdata/demo:pro-v1-buildkit --min-reused 90% oci:testdata/demo:pro-v2-buildkit

# Regenerates the committed demo images.
testdata:
	$(GO) run ./tools/gendemo -out testdata/demo

# Speed and memory figures (reported in notes; never asserted in timed tests).
bench:
	$(GO) test -run XXX -bench . -benchtime 3x -benchmem ./analyze/... ./plugin/
	# files --wasted on generated 1.3 GB and 1M-entry images against floors (best of 3
	# inside; data under $$TMPDIR, removed after).
	$(GO) test -run XXX -bench . -benchtime 1x -timeout 60m -v ./test/bench/

# The same against a private engine and registry (peak RSS per source, shared --all over
# 300 images against docker system df -v); builds its own images, takes a few minutes.
bench-e2e: e2e-setup
	$(GO) test -tags e2e -run '^$$' -bench . -benchtime 3x -timeout 30m ./test/e2e/

# Fuzzing of every parser of untrusted input (go test -fuzz runs one target at a time):
# history text and layer tars (analyze, fast: no docker client linked), docker save
# archives read in place and as streams, OCI index, manifest and config documents.
# The budget is a count of executions, not a duration: a duration-bound run can fail with a
# bare "context deadline exceeded" and no crasher when its deadline races a busy worker
# (go.dev/issue/75804, unfixed in Go 1.26). CI runs each for FUZZTIME=10000x (seconds each on
# 2 cores); `make fuzz` runs longer. A new interesting input is minimized with at most
# FUZZMINIMIZE runs, so short runs spend their time fuzzing.
FUZZTIME ?= 100000x
FUZZMINIMIZE ?= 10x
FUZZ_TARGETS := ./analyze/:FuzzInstruction ./analyze/:FuzzHistory ./analyze/:FuzzScanLayer \
	./analyze/source/:FuzzArchive ./analyze/source/:FuzzArchiveStream \
	./analyze/source/:FuzzOCIIndex ./analyze/source/:FuzzOCIManifest ./analyze/source/:FuzzOCIConfig
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run XXX -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg 2>&1 | grep -E '^(fuzz: elapsed: [0-9]+s, execs|--- FAIL|ok|FAIL|\s+)' | tail -n 3; \
		test $${PIPESTATUS[0]} -eq 0; \
	done

clean:
	rm -rf bin

include test/e2e/e2e.mk
