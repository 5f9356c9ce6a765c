#!/usr/bin/env bash
# Installs the second engine of the end-to-end suite: Docker Engine 29 with the containerd
# image store. Only the Go module proxy and Debian packages are reachable, so every binary is
# built with a pinned `go install` (static, as upstream's release builds) into a cache
# directory that survives between runs; a second run finds them and returns at once, and the
# Go build cache makes a rebuild after a version bump fast.
#
#   engine29.sh install   build what is missing, print the directory (stdout, last line)
#   engine29.sh dir       print the directory without building
#
# Layout of the directory (E2E_ENGINE_CACHE, default /var/cache/docker-layers-e2e/<versions>):
#   bin/dockerd bin/containerd bin/containerd-shim-runc-v2 cli-plugins/docker-buildx
# runc comes from Debian (test/e2e/setup.sh installs it).
set -euo pipefail

# Pinned versions: Docker Engine 29.8.0 is moby's Go module v2.0.0-beta.24 (its
# releases/versions.yaml says so); containerd is the 2.3 series moby 29.8 is built against
# (its go.mod requires v2.3.5); buildx is the newest the proxy served when pinned.
MOBY_VERSION=v2.0.0-beta.24
DOCKER_VERSION=29.8.0
CONTAINERD_VERSION=v2.3.7
BUILDX_VERSION=v0.38.2

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
DIR=${E2E_ENGINE_CACHE:-/var/cache/docker-layers-e2e/moby-$MOBY_VERSION.containerd-$CONTAINERD_VERSION.buildx-$BUILDX_VERSION}

log() { printf 'engine29: %s\n' "$*" >&2; }

# build <dest> <package@version> <tags> <ldflags>: one static binary, installed atomically so
# an interrupted build never leaves a half-written file that a later run would trust.
build() {
	local dest=$1 pkg=$2 tags=$3 ldflags=$4 tmp t0=$SECONDS
	[ -x "$dest" ] && return 0
	tmp=$(mktemp -d "$DIR/.build.XXXXXX")
	log "building $pkg (cold: several minutes on 2 cores)"
	CGO_ENABLED=0 GOBIN=$tmp GOFLAGS=-buildvcs=false "$GO" install -trimpath \
		-tags "$tags" -ldflags "$ldflags" "$pkg"
	mv "$tmp"/* "$dest"
	rmdir "$tmp"
	log "built $(basename "$dest") in $((SECONDS - t0))s"
}

install() {
	mkdir -p "$DIR/bin" "$DIR/cli-plugins"
	local moby=github.com/moby/moby/v2 ctrd=github.com/containerd/containerd/v2
	local ctrdld="-s -w -X $ctrd/version.Version=$CONTAINERD_VERSION -X $ctrd/version.Package=github.com/containerd/containerd"
	# The same tags as moby's hack/make.sh and containerd's Makefile for static builds, minus
	# the cgo-only btrfs drivers.
	build "$DIR/bin/dockerd" "$moby/cmd/dockerd@$MOBY_VERSION" \
		"netgo osusergo static_build nri_no_wasm exclude_graphdriver_btrfs" \
		"-s -w -X $moby/dockerversion.Version=$DOCKER_VERSION -X $moby/dockerversion.GitCommit=$MOBY_VERSION -X $moby/dockerversion.PlatformName=Docker-Engine-go-install -X $moby/dockerversion.ProductName=docker"
	build "$DIR/bin/containerd" "$ctrd/cmd/containerd@$CONTAINERD_VERSION" \
		"urfave_cli_no_docs no_btrfs osusergo netgo static_build" "$ctrdld"
	build "$DIR/bin/containerd-shim-runc-v2" "$ctrd/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
		"urfave_cli_no_docs no_grpc" "$ctrdld"
	build "$DIR/cli-plugins/docker-buildx" "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION" "" \
		"-s -w -X github.com/docker/buildx/version.Version=$BUILDX_VERSION -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
	"$DIR/bin/dockerd" --version >&2
	"$DIR/bin/containerd" --version >&2
	"$DIR/cli-plugins/docker-buildx" version >&2
	echo "$DIR"
}

case "${1:-}" in
install) install ;;
dir) echo "$DIR" ;;
*)
	echo "usage: $0 install|dir" >&2
	exit 2
	;;
esac
