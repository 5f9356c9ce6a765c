//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fault is one way a registry misbehaves, played by a proxy in front of the real one.
type fault struct {
	name string
	// answer, when it returns true, has answered the request itself.
	answer func(w http.ResponseWriter, r *http.Request) bool
	// tamper, when set, changes the bytes of the blob GETs the registry answers whose
	// size it accepts (the config is under 4 KiB, the base layer over).
	tamper func(size int64) bool
	code   int
	hint   string
}

// faultyProxy serves the private registry through fault.
func faultyProxy(t *testing.T, f fault) string {
	t.Helper()
	target, _ := url.Parse("http://" + registryAddr())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.answer != nil && f.answer(w, r) {
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String()+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		body := io.Reader(resp.Body)
		if f.tamper != nil && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && f.tamper(resp.ContentLength) {
			body = &flipper{r: resp.Body}
		}
		io.Copy(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// flipper changes one byte in the middle of the first read, keeping the length.
type flipper struct {
	r    io.Reader
	done bool
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if !f.done && n > 64 {
		p[n/2] ^= 0xff
		f.done = true
	}
	return n, err
}

// faultRun is how a command ended.
type faultRun struct {
	stderr    string
	code      int
	elapsed   time.Duration
	peakKB    int64    // peak resident memory
	leftovers []string // what it left in its TMPDIR
}

func (r faultRun) String() string {
	return fmt.Sprintf("exit %d in %s, peak %d MB: %s", r.code, r.elapsed.Round(10*time.Millisecond), r.peakKB>>10, strings.TrimSpace(r.stderr))
}

// runIn runs the plugin with its temporary directory set to a fresh one (and extra
// environment), and reports its peak memory and what it left there.
func runIn(t *testing.T, env []string, args ...string) faultRun {
	t.Helper()
	tmp := t.TempDir()
	var stderr strings.Builder
	ctx, cancel := context.WithTimeout(commands, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pluginBin(), args...)
	cmd.Env = commandEnv(append([]string{"TMPDIR=" + tmp}, env...))
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := faultRun{stderr: stderr.String(), code: exitCode(t, err), elapsed: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakKB = ru.Maxrss
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		r.leftovers = append(r.leftovers, e.Name())
	}
	return r
}

// Live faults (issue 12): a registry answering 401, 404, 429 with a long Retry-After,
// 500, never answering, or serving a blob whose bytes do not match its digest. Each is
// one line on stderr, exit 3, within the timeout, and nothing left in TMPDIR.
func TestFaultsRegistry(t *testing.T) {
	repo := registryAddr() + "/faults/busybox:v1"
	docker(t, "tag", BaseImage, repo)
	docker(t, "push", repo)
	status := func(code int, header ...string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/manifests/") {
				return false
			}
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"errors":[{"code":"X","message":"fault %d"}]}`, code)
			return true
		}
	}
	for _, f := range []fault{
		{name: "401", answer: status(http.StatusUnauthorized), code: 3, hint: "refused access (401): log in with docker login"},
		{name: "404", answer: status(http.StatusNotFound), code: 3, hint: "no such image in the registry"},
		{name: "429", answer: status(http.StatusTooManyRequests, "Retry-After", "3600"), code: 3, hint: "rate limiting requests (429): try again in 1h0m0s"},
		{name: "500", answer: status(http.StatusInternalServerError), code: 3, hint: "answered 500"},
		{name: "stall", answer: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/manifests/") {
				return false
			}
			<-r.Context().Done()
			return true
		}, code: 3, hint: "no progress for 2s on the response headers to GET /v2/faults/busybox/manifests/v1"},
		{name: "tampered config", tamper: func(n int64) bool { return n < 4096 }, code: 3, hint: "do not match their digest"},
		{name: "tampered layer", tamper: func(n int64) bool { return n >= 4096 }, code: 3, hint: "does not match its blob digest"},
	} {
		t.Run(f.name, func(t *testing.T) {
			ref := "docker://" + faultyProxy(t, f) + "/faults/busybox:v1"
			r := runIn(t, nil, "inspect", "--uncompressed", "--timeout", "2s", ref)
			t.Logf("%s: %s", f.name, r)
			if r.code != f.code || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, f.hint) {
				t.Errorf("exit %d, stderr %q; want exit %d and one line containing %q", r.code, r.stderr, f.code, f.hint)
			}
			if len(r.leftovers) > 0 {
				t.Errorf("left in TMPDIR: %v", r.leftovers)
			}
		})
	}
}

// cutEngine is a proxy in front of the engine's socket that drops every connection
// once it has relayed limit bytes from the engine: an engine that dies mid-export.
func cutEngine(t *testing.T, limit int64) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cut.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	engine := strings.TrimPrefix(dockerHost(), "unix://")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				e, err := net.Dial("unix", engine)
				if err != nil {
					return
				}
				defer e.Close()
				go io.Copy(e, c)
				io.Copy(c, io.LimitReader(e, limit))
			}()
		}
	}()
	return "unix://" + sock
}

// twoBuilds builds faults/cut:a and faults/cut:b, the same step built twice without
// the cache: diff lists the files of the layer that differs, which needs an export.
func twoBuilds(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+BaseImage+"\nRUN date +%s%N > /x && head -c 300000 /bin/busybox > /big\n"), 0o644)
	build(t, dir, "Dockerfile", "faults/cut:a", false, "--no-cache")
	build(t, dir, "Dockerfile", "faults/cut:b", false, "--no-cache")
}

// An engine that stops in the middle of an export: one line, exit 3, nothing left.
func TestFaultsEngineStopsMidExport(t *testing.T) {
	twoBuilds(t)
	host := cutEngine(t, 256<<10)
	r := runIn(t, []string{"DOCKER_HOST=" + host}, "diff", "faults/cut:a", "faults/cut:b")
	t.Logf("engine cut mid-export: %s", r)
	if r.code != 3 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "export") {
		t.Errorf("exit %d, stderr %q; want exit 3 and one line about the export", r.code, r.stderr)
	}
	if len(r.leftovers) > 0 {
		t.Errorf("left in TMPDIR: %v", r.leftovers)
	}
}

// Read-only, proven: while every command runs on every source, the engine emits no
// event that changes anything and the registry receives no write.
func TestReadOnlyEverySource(t *testing.T) {
	repo := registryAddr() + "/readonly/node:v1"
	docker(t, "tag", NodeImage, repo)
	docker(t, "push", repo)
	archive := filepath.Join(t.TempDir(), "node.tar")
	docker(t, "save", "-o", archive, NodeImage)
	twoBuilds(t)
	logBefore := fileLines(t, registryLog())
	// Events carry whole seconds: start in a second after the set-up's tag, push and save.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	since := time.Now().Truncate(time.Second)

	refs := []string{NodeImage, "docker-archive:" + archive, "oci:" + filepath.Join(testdataDir(""), "..", "demo") + ":lazy-v1-buildkit", "docker://" + repo}
	for _, ref := range refs {
		for _, args := range [][]string{
			{"inspect", ref},
			{"inspect", "--uncompressed", "--format", "json", ref},
			{"diff", ref, ref},
			{"shared", ref, ref},
		} {
			if _, stderr, code := layers(t, args...); code != 0 {
				t.Errorf("%v: exit %d: %s", args, code, stderr)
			}
		}
	}
	if _, stderr, code := layers(t, "shared", "--all"); code != 0 {
		t.Errorf("shared --all: exit %d: %s", code, stderr)
	}
	// An export (the engine's "save" event shows the stream is being recorded).
	if _, stderr, code := layers(t, "diff", "faults/cut:a", "faults/cut:b"); code != 0 {
		t.Errorf("diff faults/cut:a faults/cut:b: exit %d: %s", code, stderr)
	}

	until := time.Now().Add(time.Second)
	events := docker(t, "events", "--since", fmt.Sprint(since.Unix()), "--until", fmt.Sprint(until.Unix()), "--format", "{{json .}}")
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(events), "\n") {
		if line == "" {
			continue
		}
		var ev struct{ Type, Action string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		actions = append(actions, ev.Type+" "+ev.Action)
		switch ev.Action {
		case "save", "inspect", "history":
		default:
			t.Errorf("the engine saw a %s %s event while docker-layers ran", ev.Type, ev.Action)
		}
	}
	t.Logf("engine events while commands ran: %d (%s)", len(actions), summarize(actions))
	if !strings.Contains(strings.Join(actions, ","), "image save") {
		t.Errorf("no save event recorded for the export: is the event stream being read?")
	}
	var requests []string
	for _, line := range fileLines(t, registryLog())[len(logBefore):] {
		_, req, ok := strings.Cut(line, `"`)
		if !ok {
			continue
		}
		method, _, _ := strings.Cut(req, " ")
		requests = append(requests, method)
		if method != http.MethodGet && method != http.MethodHead {
			t.Errorf("the registry received a write: %s", line)
		}
	}
	t.Logf("registry requests while commands ran: %d (%s)", len(requests), summarize(requests))
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func summarize(xs []string) string {
	counts := map[string]int{}
	var order []string
	for _, x := range xs {
		if counts[x] == 0 {
			order = append(order, x)
		}
		counts[x]++
	}
	var parts []string
	for _, x := range order {
		parts = append(parts, fmt.Sprintf("%s ×%d", x, counts[x]))
	}
	return strings.Join(parts, ", ")
}
