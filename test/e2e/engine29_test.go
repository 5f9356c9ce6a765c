//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The containerd engine: Docker Engine 29 with the containerd image store, on a
// containerd 2.x of its own. Both are built by test/e2e/engine29.sh (pinned `go install`
// through the Go module proxy); runc is Debian's. Everything lives under the harness
// directory except what containerd and dockerd insist on putting elsewhere, which
// teardown removes: the cgroup parent (one per run, named after the directory) and the
// shims' sockets, which the shims remove themselves when they exit.

// findEngine29 locates the binaries engine29.sh installed.
func findEngine29() error {
	script := filepath.Join(h.repoRoot, "test", "e2e", "engine29.sh")
	out, err := exec.Command("bash", script, "dir").Output()
	if err != nil {
		return fmt.Errorf("%s dir: %w", script, err)
	}
	h.engineDir = strings.TrimSpace(string(out))
	for _, f := range []string{"bin/dockerd", "bin/containerd", "bin/containerd-shim-runc-v2", "cli-plugins/docker-buildx"} {
		if _, err := os.Stat(filepath.Join(h.engineDir, f)); err != nil {
			return fmt.Errorf("the Docker 29 engine is not installed (run bash test/e2e/engine29.sh install): %w", err)
		}
	}
	return nil
}

// cgroupParentFor is the cgroup parent of the dockerd a harness directory runs: its own,
// so teardown removes exactly what this run made.
func cgroupParentFor(root string) string { return "/" + filepath.Base(root) }

// startDocker29 starts containerd, then dockerd 29 on it with the containerd image store.
func startDocker29() error {
	ctrdRoot := filepath.Join(h.root, "containerd")
	for _, d := range []string{"root", "state", "opt"} {
		if err := os.MkdirAll(filepath.Join(ctrdRoot, d), 0o700); err != nil {
			return err
		}
	}
	ctrdSock := filepath.Join(h.root, "containerd.sock")
	// containerd 2.x config schema (version 4 since 2.2). Every socket and directory is
	// ours; CRI and NRI are off (dockerd needs neither, and NRI would listen on the
	// machine-wide /var/run/nri/nri.sock). containerd also reads
	// /etc/containerd/conf.d/*.toml whatever this file says; Debian's containerd 1.6
	// ships none.
	conf := fmt.Sprintf(`version = 4
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.nri.v1.nri"]

[plugins."io.containerd.server.v1.grpc"]
  address = %q
[plugins."io.containerd.server.v1.ttrpc"]
  address = %q
[plugins."io.containerd.server.v1.debug"]
  address = %q
[plugins."io.containerd.server.v1.metrics"]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(ctrdRoot, "root"), filepath.Join(ctrdRoot, "state"), ctrdSock, ctrdSock+".ttrpc",
		filepath.Join(h.root, "containerd-debug.sock"), filepath.Join(ctrdRoot, "opt"))
	confPath := filepath.Join(h.root, "containerd.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	// containerd finds its shim, and the shim runc, in PATH.
	env := append(os.Environ(), "PATH="+filepath.Join(h.engineDir, "bin")+":"+os.Getenv("PATH"))
	p, err := startProcessOut("containerd", env, nil, filepath.Join(h.root, "containerd.log"),
		filepath.Join(h.engineDir, "bin", "containerd"), "--config", confPath)
	if err != nil {
		return err
	}
	if err := waitReady(p, 30*time.Second, func() bool { return isSocket(ctrdSock) }); err != nil {
		return err
	}

	data := filepath.Join(h.root, "data")
	exe := filepath.Join(h.root, "exec")
	for _, d := range []string{data, exe} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Debian 12's runc (1.1) predates time namespaces, which dockerd 29 gives every
	// container it runs (legacy-builder RUN steps) unless told not to.
	daemonJSON := fmt.Sprintf(`{"features": {"containerd-snapshotter": true, "time-namespaces": false}, "storage-driver": %q}`+"\n", storageDriver())
	confPath = filepath.Join(h.root, "daemon.json")
	if err := os.WriteFile(confPath, []byte(daemonJSON), 0o644); err != nil {
		return err
	}
	sock := filepath.Join(h.root, "docker.sock")
	h.dockerHost = "unix://" + sock
	h.cgroupParent = cgroupParentFor(h.root)
	p, err = startProcessOut("dockerd", env, nil, filepath.Join(h.root, "dockerd.log"),
		filepath.Join(h.engineDir, "bin", "dockerd"),
		"--config-file="+confPath,
		"--data-root="+data,
		"--exec-root="+exe,
		"--pidfile="+filepath.Join(h.root, "dockerd.pid"),
		"--host="+h.dockerHost,
		"--containerd="+ctrdSock,
		"--cgroup-parent="+h.cgroupParent,
		"--iptables=false",
		"--ip6tables=false",
		"--ip-masq=false",
		"--bridge=none",
		"--userland-proxy=false",
		"--log-level=info",
	)
	if err != nil {
		return err
	}
	return waitDockerd(p, sock)
}

func isSocket(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode()&os.ModeSocket != 0
}

// removeCgroups removes the (empty, once its processes are gone) cgroups under parent
// in every hierarchy, deepest first. Nothing happens for an empty parent.
func removeCgroups(parent string) {
	if parent == "" || parent == "/" {
		return
	}
	var dirs []string
	tops, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	if info, err := os.Stat("/sys/fs/cgroup" + parent); err == nil && info.IsDir() {
		tops = append(tops, "/sys/fs/cgroup"+parent)
	}
	for _, top := range tops {
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(os.Stderr, "e2e: removing cgroup %s: %v\n", d, err)
		}
	}
}
