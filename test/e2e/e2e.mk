# End-to-end tests against private engines and a registry (see test/e2e/).
# Included from the top-level Makefile; also usable as make -f test/e2e/e2e.mk e2e.
#
# Every check runs once per engine in E2E_ENGINES: "classic" is Debian's dockerd 20.10
# (classic image store), "containerd" is Docker Engine 29 with the containerd image store,
# built once by test/e2e/engine29.sh into a cache that later runs reuse.
# E2E_STORAGE_DRIVER picks the storage driver (classic: vfs, overlay2) or the snapshotter
# (containerd: overlayfs, native).

E2E_FLAGS ?=
E2E_ENGINES ?= classic containerd

.PHONY: e2e e2e-setup e2e-smoke

e2e-setup:
	bash test/e2e/setup.sh
	case " $(E2E_ENGINES) " in *" containerd "*) bash test/e2e/engine29.sh install >/dev/null ;; esac

e2e: e2e-setup
	set -e; for engine in $(E2E_ENGINES); do \
		echo "e2e: the $$engine engine"; \
		E2E_ENGINE=$$engine go test -tags e2e -count=1 -timeout 15m $(E2E_FLAGS) ./test/e2e/...; \
	done

e2e-smoke: e2e-setup
	set -e; for engine in $(E2E_ENGINES); do \
		E2E_ENGINE=$$engine go test -tags e2e -count=1 -timeout 10m -run Smoke -v ./test/e2e/...; \
	done

# Registry scale (issue 16): 1,000 repositories × 5 tags pushed to the private registry,
# walked cold, warm and without the cache; takes a few minutes.
.PHONY: bench-registry
bench-registry: e2e-setup
	go test -tags e2e -count=1 -run '^$$' -bench RegistryWalk -benchtime 1x -timeout 30m ./test/e2e/
