# End-to-end tests against a private dockerd and registry (see test/e2e/).
# Included from the top-level Makefile; also usable as make -f test/e2e/e2e.mk e2e.

E2E_FLAGS ?=

.PHONY: e2e e2e-setup e2e-smoke

e2e-setup:
	bash test/e2e/setup.sh

e2e: e2e-setup
	go test -tags e2e -count=1 -timeout 15m $(E2E_FLAGS) ./test/e2e/...

e2e-smoke: e2e-setup
	go test -tags e2e -count=1 -timeout 10m -run Smoke -v ./test/e2e/...

# Registry scale (issue 16): 1,000 repositories × 5 tags pushed to the private registry,
# walked cold, warm and without the cache; takes a few minutes.
.PHONY: bench-registry
bench-registry: e2e-setup
	go test -tags e2e -count=1 -run '^$$' -bench RegistryWalk -benchtime 1x -timeout 30m ./test/e2e/
