//go:build e2e

// Package e2e runs docker-layers against a real, private Docker daemon and a
// real registry. TestMain starts both in a temporary directory, imports two
// hermetic base images (e2e/busybox:latest and e2e/node:fake) and stops
// everything it started when the tests end, so no test needs the network or
// touches the machine's own dockerd.
//
// E2E_ENGINE picks the engine: "classic" (default) is Debian's dockerd 20.10 with
// the classic image store; "containerd" is Docker Engine 29 with the containerd
// image store, on its own containerd 2.x, built by test/e2e/engine29.sh.
//
// Run it with `make -f test/e2e/e2e.mk e2e` (both engines; or `bash
// test/e2e/setup.sh` and `E2E_ENGINE=... go test -tags e2e ./test/e2e/...`).
package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// dockerCLI is the 20.10 client from Debian's docker.io: it has BuildKit
	// built in, unlike the buildx-less client that may sit in /usr/local/bin.
	dockerCLI = "/usr/bin/docker"
	dockerd   = "dockerd"
	registry  = "docker-registry"
	busybox   = "/bin/busybox"

	// BaseImage is a busybox-only image imported from a rootfs tar.
	BaseImage = "e2e/busybox:latest"
	// NodeImage is BaseImage plus a fake npm and node (testdata/e2e/fakenode).
	NodeImage = "e2e/node:fake"

	// tmpPrefix names the harness's temporary directories under /tmp; the
	// unix sockets inside must stay under 108 bytes, so no deeper root.
	tmpPrefix = "dl-e2e-"

	// commandTimeout bounds any single docker or plugin invocation.
	commandTimeout = 5 * time.Minute
)

// harness is the state TestMain sets up; tests read it via the accessors.
type harness struct {
	root         string // private temp dir holding everything below
	engineDir    string // the Docker 29 binaries (containerd engine only)
	cgroupParent string // the cgroup parent given to dockerd 29, removed at teardown
	repoRoot     string
	dockerHost   string
	registryAddr string
	registryLog  string // registry HTTP access log (combined log format)
	pluginBin    string
	pluginErr    error // why the plugin binary could not be built, if it could not
	configDir    string

	mu    sync.Mutex
	procs []*process // started daemons, stopped in reverse order
}

var h harness

// commands is cancelled at teardown, killing any docker or plugin command
// still running (after a signal the tests keep going while we clean up) and
// refusing new ones, so nothing writes into the directory being removed.
var commands, stopCommands = context.WithCancel(context.Background())

// dockerHost is the DOCKER_HOST of the private daemon (unix:///tmp/dl-e2e-…/docker.sock).
func dockerHost() string { return h.dockerHost }

// Engines (E2E_ENGINE).
const (
	classicEngine    = "classic"    // Debian's dockerd 20.10, classic image store
	containerdEngine = "containerd" // Docker Engine 29, containerd image store
)

// engine is the engine under test.
func engine() string {
	if e := os.Getenv("E2E_ENGINE"); e != "" {
		return e
	}
	return classicEngine
}

// containerdStore is true when the engine keeps images in the containerd image store.
func containerdStore() bool { return engine() == containerdEngine }

// storageDriver is the classic engine's storage driver or the containerd engine's
// snapshotter. The defaults, vfs and overlayfs, work everywhere here;
// E2E_STORAGE_DRIVER=overlay2 checks our sizes against the driver most classic engines
// use, E2E_STORAGE_DRIVER=native the containerd snapshotter that copies whole trees.
func storageDriver() string {
	if d := os.Getenv("E2E_STORAGE_DRIVER"); d != "" {
		return d
	}
	if containerdStore() {
		return "overlayfs"
	}
	return "vfs"
}

// registryAddr is the private registry's "127.0.0.1:PORT".
func registryAddr() string { return h.registryAddr }

// registryLog is the path of the registry's HTTP access log: one line per
// request in Apache combined format, e.g.
// `127.0.0.1 - - [...] "GET /v2/app/blobs/sha256:… HTTP/1.1" 200 1234 "" "docker/20.10.24…"`.
func registryLog() string { return h.registryLog }

// pluginBin is the path of the docker-layers binary built by TestMain.
func pluginBin() string { return h.pluginBin }

// dockerConfigDir is the DOCKER_CONFIG of every command the harness runs; its
// cli-plugins/docker-layers links to pluginBin, so `docker layers` works.
func dockerConfigDir() string { return h.configDir }

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	reapStale()

	var err error
	h.root, err = os.MkdirTemp("/tmp", tmpPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// The owner file lets a later run clean up after a run that was killed.
	if err := os.WriteFile(filepath.Join(h.root, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}

	var once sync.Once
	cleanup := func() { once.Do(teardown) }
	defer cleanup()

	// Stop the daemons when the test binary is interrupted, and before
	// `go test -timeout` panics: that panic skips deferred calls.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: got %v, stopping daemons\n", s)
		cleanup()
		os.Exit(2)
	}()
	if d := testTimeout(); d > 0 {
		margin := min(d/10, 30*time.Second)
		watchdog := time.AfterFunc(d-margin, func() {
			fmt.Fprintf(os.Stderr, "e2e: -timeout %v almost reached, stopping daemons\n", d)
			cleanup()
			os.Exit(3)
		})
		defer watchdog.Stop()
	}

	start := time.Now()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setup:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: setup done in %v (DOCKER_HOST=%s registry=%s)\n",
		time.Since(start).Round(time.Millisecond), h.dockerHost, h.registryAddr)
	return m.Run()
}

// testTimeout is the -test.timeout the binary was started with (0 if none).
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	d, _ := f.Value.(flag.Getter).Get().(time.Duration)
	return d
}

func setup() error {
	for _, bin := range []string{dockerCLI, dockerd, registry, busybox, "containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (run test/e2e/setup.sh): %w", bin, err)
		}
	}
	var err error
	if h.repoRoot, err = findRepoRoot(); err != nil {
		return err
	}
	switch engine() {
	case classicEngine:
	case containerdEngine:
		if err := findEngine29(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("E2E_ENGINE=%s: want %s or %s", engine(), classicEngine, containerdEngine)
	}

	// Building the plugin overlaps with starting the daemons.
	built := make(chan struct{})
	go func() {
		defer close(built)
		buildPlugin()
	}()

	start := startDockerd
	if containerdStore() {
		start = startDocker29
	}
	if err := start(); err != nil {
		return err
	}
	if err := startRegistry(); err != nil {
		return err
	}
	<-built
	if err := writeDockerConfig(); err != nil {
		return err
	}
	return importBaseImages()
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// buildPlugin builds ./cmd/docker-layers; a failure is recorded, not fatal,
// so the harness still runs while the command is being written.
func buildPlugin() {
	h.pluginBin = filepath.Join(h.root, "bin", "docker-layers")
	cmd := exec.Command("go", "build", "-o", h.pluginBin, "./cmd/docker-layers")
	cmd.Dir = h.repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.pluginErr = fmt.Errorf("go build ./cmd/docker-layers: %w\n%s", err, out)
		fmt.Fprintf(os.Stderr, "e2e: skipping the plugin binary: %v\n", h.pluginErr)
	}
}

func startDockerd() error {
	data := filepath.Join(h.root, "data")
	exe := filepath.Join(h.root, "exec")
	for _, d := range []string{data, exe} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Our own config file keeps a host /etc/docker/daemon.json out of the
	// test, and its deprecated-key-path (config file only, no flag) keeps
	// dockerd 20.10 from writing /etc/docker/key.json.
	conf := filepath.Join(h.root, "daemon.json")
	confJSON := fmt.Sprintf("{\"deprecated-key-path\": %q}\n", filepath.Join(h.root, "key.json"))
	if err := os.WriteFile(conf, []byte(confJSON), 0o644); err != nil {
		return err
	}
	sock := filepath.Join(h.root, "docker.sock")
	h.dockerHost = "unix://" + sock
	// Without --containerd, dockerd starts its own containerd with its state
	// under --exec-root and --data-root.
	p, err := startProcess("dockerd", filepath.Join(h.root, "dockerd.log"), dockerd,
		"--config-file="+conf,
		"--data-root="+data,
		"--exec-root="+exe,
		"--pidfile="+filepath.Join(h.root, "dockerd.pid"),
		"--host="+h.dockerHost,
		"--storage-driver="+storageDriver(),
		"--iptables=false",
		"--ip6tables=false",
		"--ip-masq=false",
		"--bridge=none",
		"--log-level=info",
	)
	if err != nil {
		return err
	}
	return waitDockerd(p, sock)
}

func waitDockerd(p *process, sock string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	return waitReady(p, 60*time.Second, func() bool {
		return httpOK(client, "http://docker/_ping")
	})
}

func startRegistry() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	h.registryAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	h.registryLog = filepath.Join(h.root, "registry-access.log")
	// distribution v2 writes its access log (gorilla's combined format) to
	// stdout and its own leveled logs to stderr; we keep them apart so tests
	// can count requests in a clean file. Like Debian's default
	// /etc/docker/registry/config.yml (less its htpasswd auth, a response header
	// and a storage health check every 10 s), it keeps blob descriptors in memory;
	// without that each request re-reads link files (about 10 % more registry CPU
	// per request), and the registry walk's benchmark would not measure a
	// registry as deployed.
	conf := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(h.root, "registry"), h.registryAddr)
	confPath := filepath.Join(h.root, "registry.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	stdout, err := os.Create(h.registryLog)
	if err != nil {
		return err
	}
	defer stdout.Close()
	p, err := startProcessOut("registry", nil, stdout, filepath.Join(h.root, "registry.log"), registry, "serve", confPath)
	if err != nil {
		return err
	}
	return waitReady(p, 30*time.Second, func() bool {
		return httpOK(http.DefaultClient, "http://"+h.registryAddr+"/v2/")
	})
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the registry binds it; on this single-purpose VM that is rare
// enough not to warrant retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func httpOK(c *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func writeDockerConfig() error {
	h.configDir = filepath.Join(h.root, "config")
	plugins := filepath.Join(h.configDir, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.configDir, "config.json"), []byte("{}\n"), 0o600); err != nil {
		return err
	}
	if containerdStore() {
		// The 20.10 client builds with BuildKit through buildx, as Docker 29's own does.
		if err := os.Symlink(filepath.Join(h.engineDir, "cli-plugins", "docker-buildx"), filepath.Join(plugins, "docker-buildx")); err != nil {
			return err
		}
	}
	return os.Symlink(h.pluginBin, filepath.Join(plugins, "docker-layers"))
}

// importBaseImages creates e2e/busybox:latest from a rootfs tar written here
// and builds e2e/node:fake on top of it.
func importBaseImages() error {
	rootfs := filepath.Join(h.root, "rootfs.tar")
	if err := writeBusyboxRootfs(rootfs); err != nil {
		return fmt.Errorf("writing busybox rootfs: %w", err)
	}
	if _, err := runDocker(nil, nil, "import",
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", `CMD ["/bin/sh"]`,
		rootfs, BaseImage); err != nil {
		return fmt.Errorf("importing %s: %w", BaseImage, err)
	}
	ctxDir := filepath.Join(h.repoRoot, "testdata", "e2e", "fakenode")
	if _, err := runDocker([]string{"DOCKER_BUILDKIT=0"}, nil, "build", "--network=host", "-t", NodeImage, ctxDir); err != nil {
		return fmt.Errorf("building %s: %w", NodeImage, err)
	}
	return nil
}

// writeBusyboxRootfs writes a minimal root filesystem: the static busybox,
// a symlink per applet in /bin, /tmp, and a few files in /etc. Fixed times
// and owners make the tar, and so the base layer's digest, reproducible.
func writeBusyboxRootfs(path string) error {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(hdr *tar.Header, body []byte) error {
		hdr.ModTime = mtime
		hdr.Format = tar.FormatPAX
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	dir := func(name string, mode int64) error {
		return add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
	}
	file := func(name, body string) error {
		return add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, []byte(body))
	}
	for _, d := range []string{"bin", "etc", "root", "usr", "usr/local", "usr/local/bin", "var"} {
		if err := dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bin); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}, nil); err != nil {
			return err
		}
	}
	if err := file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"); err != nil {
		return err
	}
	if err := file("etc/group", "root:x:0:\nnogroup:x:65534:\n"); err != nil {
		return err
	}
	if err := file("etc/e2e-release", "docker-layers e2e busybox base image\n"); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// process is a daemon started by the harness.
type process struct {
	name string
	log  string // stderr of the process
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	return startProcessOut(name, nil, nil, logPath, bin, args...)
}

// startProcessOut starts bin with stderr (and stdout, unless given) appended
// to logPath, in env (nil: this process's). The process gets its own process
// group so a terminal's Ctrl-C reaches only the test binary, which then stops
// it in order.
func startProcessOut(name string, env []string, stdout *os.File, logPath, bin string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logf
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	// The pid file lets reapStale stop it if this test binary is killed.
	_ = os.WriteFile(filepath.Join(h.root, name+".harness.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	return p, nil
}

func waitReady(p *process, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during startup (%v):\n%s", p.name, p.err, logTail(p.log))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v:\n%s", p.name, timeout, logTail(p.log))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logTail returns the last lines of a daemon's log for an error message;
// the file itself is removed with the harness directory.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// stop sends SIGTERM and waits, then SIGKILL.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	fmt.Fprintf(os.Stderr, "e2e: %s did not stop in %v, killing pid %d\n", p.name, grace, p.cmd.Process.Pid)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// teardown stops every daemon this run started and removes its directory.
func teardown() {
	stopCommands()
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(30 * time.Second)
	}
	if h.root == "" {
		return
	}
	// Last, once every process that could sit in them has gone.
	defer removeCgroups(h.cgroupParent)
	if os.Getenv("E2E_KEEP") != "" {
		// Kept for reading logs; the next run's reapStale removes it.
		fmt.Fprintf(os.Stderr, "e2e: E2E_KEEP set, leaving %s\n", h.root)
		unmountAll(h.root)
		return
	}
	removeRoot(h.root)
}

// removeRoot stops what is left of a harness directory's processes (the
// containerd that dockerd manages and its shims carry the directory in
// their command line, so they are ours), unmounts and deletes it.
func removeRoot(root string) {
	for _, pid := range pidsMentioning(root + "/") {
		terminate(pid, 10*time.Second)
	}
	unmountAll(root)
	// A command killed by stopCommands may still be exiting; retry briefly.
	var err error
	for range 5 {
		if err = os.RemoveAll(root); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "e2e: removing %s: %v\n", root, err)
}

// unmountAll detaches every mount at or below root. A stopped dockerd 20.10
// still leaves exec-root/netns/default bind-mounted, which blocks removal.
func unmountAll(root string) {
	for _, mp := range mountsUnder(root) {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: unmount %s: %v\n", mp, err)
		}
	}
}

// reapStale cleans up after earlier runs whose test binary died without
// tearing down (kill -9, a crash): their owner.pid names a dead process.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", tmpPrefix+"*"))
	for _, dir := range dirs {
		owner := 0
		if b, err := os.ReadFile(filepath.Join(dir, "owner.pid")); err == nil {
			owner, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		} else if info, err := os.Stat(dir); err != nil || time.Since(info.ModTime()) < time.Minute {
			// No owner file: a run that is just starting, or what a failed
			// removal left behind, which is safe to remove once it is old.
			continue
		}
		if alive(owner) {
			continue
		}
		fmt.Fprintf(os.Stderr, "e2e: cleaning up %s left by an earlier run\n", dir)
		pidFiles, _ := filepath.Glob(filepath.Join(dir, "*.harness.pid"))
		// Reverse name order stops dockerd before the containerd it uses.
		sort.Sort(sort.Reverse(sort.StringSlice(pidFiles)))
		for _, pf := range pidFiles {
			if b, err := os.ReadFile(pf); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && cmdlineMentions(pid, dir+"/") {
					terminate(pid, 30*time.Second)
				}
			}
		}
		removeRoot(dir)
		removeCgroups(cgroupParentFor(dir))
	}
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func cmdlineMentions(pid int, s string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte(s))
}

// pidsMentioning lists processes other than this one whose command line
// contains s.
func pidsMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cmdlineMentions(pid, s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// terminate stops a process that is not our child: SIGTERM, poll, SIGKILL.
func terminate(pid int, grace time.Duration) {
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) || isZombie(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// mountsUnder lists mount points at or below root, deepest first.
func mountsUnder(root string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == root || strings.HasPrefix(mp, root+"/") {
			mps = append(mps, mp)
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// commandEnv is the environment of every docker and plugin command: the
// caller's, minus anything that could point at another daemon or config.
func commandEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY",
			"DOCKER_CERT_PATH", "DOCKER_API_VERSION", "DOCKER_BUILDKIT", "BUILDKIT_PROGRESS":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "DOCKER_HOST="+h.dockerHost, "DOCKER_CONFIG="+h.configDir, "DOCKER_BUILDKIT=0")
	// Later duplicates win in os/exec, so extra overrides the defaults above.
	return append(env, extra...)
}

// runDocker runs the docker CLI; stderr is folded into the error.
func runDocker(env []string, stdin io.Reader, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(commands, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = commandEnv(env)
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// docker runs the docker CLI against the private daemon and returns stdout;
// it fails the test, showing stderr, if the command fails.
func docker(t testing.TB, args ...string) string {
	t.Helper()
	stdout, stderr, err := dockerEnv(t, nil, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// dockerEnv runs the docker CLI with extra environment variables (e.g.
// "DOCKER_BUILDKIT=1") and reports failure instead of failing the test.
func dockerEnv(t testing.TB, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return run(t, dockerCLI, env, args...)
}

// layers runs the docker-layers binary standalone against the private
// daemon and registry; code is its exit status.
func layers(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if h.pluginErr != nil {
		t.Fatalf("plugin binary not built: %v", h.pluginErr)
	}
	stdout, stderr, err := run(t, h.pluginBin, nil, args...)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return stdout, stderr, 0
	case errors.As(err, &exitErr):
		return stdout, stderr, exitErr.ExitCode()
	default:
		t.Fatalf("running %s: %v", h.pluginBin, err)
		return "", "", -1
	}
}

func run(t testing.TB, bin string, env []string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(commands, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = commandEnv(env)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// testdataDir resolves a build context or file name: absolute paths are
// kept, relative ones are taken from testdata/e2e (e.g. "app", "fs").
func testdataDir(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(h.repoRoot, "testdata", "e2e", p)
}

// build builds dockerfile (relative to contextDir, or absolute) in
// contextDir (absolute, or relative to testdata/e2e) with the legacy builder
// or BuildKit and returns the whole build log, stdout and stderr together.
// The legacy log marks cache hits with " ---> Using cache" under a step,
// BuildKit's plain progress with "#N CACHED"; see cacheHit. extra are more
// `docker build` flags, e.g. "--no-cache". An empty tag builds untagged.
func build(t testing.TB, contextDir, dockerfile, tag string, buildkit bool, extra ...string) string {
	t.Helper()
	contextDir = testdataDir(contextDir)
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(contextDir, dockerfile)
	}
	// The daemon has no bridge network, so RUN steps use the host's; BuildKit
	// refuses to run them otherwise ("network bridge not found").
	args := []string{"build", "--network=host", "-f", dockerfile}
	env := []string{"DOCKER_BUILDKIT=0"}
	if buildkit {
		args = append(args, "--progress=plain")
		env = []string{"DOCKER_BUILDKIT=1"}
		if containerdStore() {
			// The 20.10 client's own BuildKit session is not what users of Docker 29 run:
			// buildx is, with its defaults (a provenance attestation in an image index).
			args = append([]string{"buildx"}, args...)
		}
	}
	if tag != "" {
		args = append(args, "-t", tag)
	}
	args = append(args, extra...)
	args = append(args, contextDir)

	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(commands, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = commandEnv(env)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// cacheHit reports whether the build step whose instruction is exactly instr
// (e.g. "COPY . .", "RUN npm install") came from the cache, in a log returned
// by build with either builder; found is false if no such step is in the log.
func cacheHit(log, instr string) (cached, found bool) {
	lines := strings.Split(log, "\n")
	// Legacy: "Step 3/7 : COPY . ." then " ---> Using cache" before the next step.
	for i, l := range lines {
		_, step, ok := strings.Cut(l, " : ")
		if !strings.HasPrefix(l, "Step ") || !ok || strings.TrimSpace(step) != instr {
			continue
		}
		found = true
		for _, next := range lines[i+1:] {
			if strings.HasPrefix(next, "Step ") {
				break
			}
			if strings.TrimSpace(next) == "---> Using cache" {
				return true, true
			}
		}
		return false, true
	}
	// BuildKit: "#6 [2/5] COPY . ." (or "[stage 2/5]") and later "#6 CACHED".
	var ids []string
	for _, l := range lines {
		id, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(id, "#") || !strings.HasPrefix(rest, "[") {
			continue
		}
		if _, step, ok := strings.Cut(rest, "] "); ok && strings.TrimSpace(step) == instr {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		found = true
		for _, l := range lines {
			if strings.TrimSpace(l) == id+" CACHED" {
				return true, true
			}
		}
	}
	return false, found
}

// copyContext copies a build context (absolute, or relative to testdata/e2e)
// into a fresh t.TempDir, so a test can edit files and rebuild.
func copyContext(t testing.TB, srcDir string) string {
	t.Helper()
	src := testdataDir(srcDir)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatalf("copying build context %s: %v", src, err)
	}
	return dst
}

// replaceInFile replaces every occurrence of old with new in path; it fails
// the test if old does not occur.
func replaceInFile(t testing.TB, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(old), []byte(new)), info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// registryRequests returns the access-log lines of requests with the given
// method whose path contains pathPart, e.g. ("GET", "/v2/app/blobs/sha256:").
func registryRequests(t testing.TB, method, pathPart string) []string {
	t.Helper()
	b, err := os.ReadFile(h.registryLog)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		// The request is the first quoted field: "GET /v2/... HTTP/1.1".
		_, req, ok := strings.Cut(l, `"`)
		if !ok {
			continue
		}
		req, _, _ = strings.Cut(req, `"`)
		m, rest, _ := strings.Cut(req, " ")
		if m == method && strings.Contains(rest, pathPart) {
			out = append(out, l)
		}
	}
	return out
}

// imageInspect decodes `docker image inspect ref` into v.
func imageInspect(t testing.TB, ref string, v any) {
	t.Helper()
	out := docker(t, "image", "inspect", ref)
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("docker image inspect %s: %v\n%s", ref, err, out)
	}
	if err := json.Unmarshal(list[0], v); err != nil {
		t.Fatal(err)
	}
}
