#!/usr/bin/env bash
# Installs what the end-to-end tests need, only if it is missing: the Debian
# docker.io engine (dockerd 20.10 with BuildKit, containerd, runc and the
# /usr/bin/docker client), the distribution v2 registry and a static busybox
# (copied into the base image, so it must not need a dynamic loader), and
# chromium, which opens the --format html pages headless.
# The tests start their own private daemons; this script starts nothing.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e setup: the tests start their own dockerd and must run as root" >&2
	exit 1
fi

need=()
if [ ! -x /usr/bin/docker ] || ! command -v dockerd >/dev/null ||
	! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
	need+=(docker.io)
fi
command -v docker-registry >/dev/null || need+=(docker-registry)
if [ ! -x /bin/busybox ] ||
	! dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
	need+=(busybox-static)
fi
# The HTML pages are checked in a real browser (headless).
command -v chromium >/dev/null || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
	echo "e2e setup: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# The Debian package may start a system dockerd; the tests neither use nor stop it.
if pgrep -x dockerd >/dev/null; then
	echo "e2e setup: note: a system dockerd is running; the tests use their own private one"
fi
echo "e2e setup: ok"
