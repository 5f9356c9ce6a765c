//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chromium is Debian's browser (setup.sh installs it), run headless to check the
// --format html pages as a reader sees them.
const chromium = "chromium"

// hostileText is history text that would run as script if the page did not escape it.
const hostileText = `<script>alert(1)</script>`

// TestHTMLInBrowser makes each command's page from the e2e images, opens it in
// headless Chromium with every host name resolved to a listener that records what
// each connection asks for, and checks the page as the browser built it: the figures in the DOM
// are the JSON output's, nothing was fetched, and an image's hostile history entry is
// text. The screenshots are kept in $E2E_ARTIFACTS when it is set.
func TestHTMLInBrowser(t *testing.T) {
	if _, err := exec.LookPath(chromium); err != nil {
		t.Fatalf("%s not found (run test/e2e/setup.sh): %v", chromium, err)
	}
	ctx := copyContext(t, "app")
	df := filepath.Join(ctx, "Dockerfile.lazy")
	b, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	// The label is a metadata-only step whose history text carries the script.
	hostile := strings.Replace(string(b), "WORKDIR /app\n", "WORKDIR /app\nLABEL note=\""+hostileText+"\"\n", 1)
	if err := os.WriteFile(df, []byte(hostile), 0o644); err != nil {
		t.Fatal(err)
	}
	build(t, ctx, "Dockerfile.lazy", "e2e/html:v1", false)
	replaceInFile(t, filepath.Join(ctx, "src", "util.js"), `"hello, "`, `"hello from `+t.Name()+`, "`)
	build(t, ctx, "Dockerfile.lazy", "e2e/html:v2", false)

	listener := countConnections(t)
	dir := t.TempDir()

	// The control: a page that does fetch is seen to.
	control := filepath.Join(dir, "control.html")
	if err := os.WriteFile(control, []byte(`<!DOCTYPE html><title>control</title><img src="http://pictures.example.invalid/x.png">`), 0o644); err != nil {
		t.Fatal(err)
	}
	before := listener.seen()
	browseDOM(t, listener.addr, control)
	if f := pageFetches(listener.since(before)); !slices.Contains(f, "pictures.example.invalid") {
		t.Fatalf("a page's fetch went unseen: the listener saw %q", f)
	}
	for _, tc := range []struct {
		name string
		args []string
		// min is the fewest figures the page must show.
		min int
	}{
		{"inspect", []string{"inspect", "e2e/html:v1", NodeImage}, 8},
		{"diff", []string{"diff", "e2e/html:v1", "e2e/html:v2"}, 12},
		{"shared", []string{"shared", "--matrix", "e2e/html:v1", "e2e/html:v2", NodeImage, BaseImage}, 20},
		// The context now holds v2's edit: the COPY is the predicted first break; the
		// hostile LABEL is a step of the Dockerfile.
		{"predict", []string{"predict", "-f", df, "--context", ctx, "e2e/html:v1"}, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := filepath.Join(dir, tc.name+".html")
			args := append([]string{tc.args[0], "--format", "html", "-o", page}, tc.args[1:]...)
			if out, errOut, code := layers(t, args...); code != 0 || out != "" {
				t.Fatalf("%s: exit %d, stdout %q, stderr %s", strings.Join(args, " "), code, out, errOut)
			}
			js, errOut, code := layers(t, append([]string{tc.args[0], "--format", "json"}, tc.args[1:]...)...)
			if code != 0 {
				t.Fatalf("--format json: exit %d: %s", code, errOut)
			}
			src, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			if refs := externalRefs(string(src)); len(refs) > 0 {
				t.Errorf("the page refers to something outside itself: %q", refs)
			}

			shot := filepath.Join(dir, tc.name+".png")
			before := listener.seen()
			elapsed := browse(t, listener.addr, "--screenshot="+shot, page)
			dom := browseDOM(t, listener.addr, page)
			hosts := listener.since(before)
			if f := pageFetches(hosts); len(f) > 0 {
				t.Errorf("the page made the browser connect to %q", f)
			}
			t.Logf("%s: the browser connected to %d hosts, all its own services: %q", tc.name, len(hosts), hosts)
			info, err := os.Stat(shot)
			if err != nil || info.Size() < 10000 {
				t.Errorf("no screenshot, or a blank one: %v", err)
			}
			keepArtifact(t, page, shot)
			t.Logf("%s: page %d bytes, screenshot %s, headless Chromium took %v", tc.name, len(src), shot, elapsed.Round(time.Millisecond))

			n, err := domFigures(dom, js)
			if err != nil {
				t.Error(err)
			}
			if n < tc.min {
				t.Errorf("%d figures in the DOM, want at least %d", n, tc.min)
			}
			t.Logf("%s: %d figures in the DOM equal the JSON output", tc.name, n)
			if refs := externalRefs(dom); len(refs) > 0 {
				t.Errorf("the DOM refers to something outside the page: %q", refs)
			}
			if got := strings.Count(dom, "<script"); got != 1 {
				t.Errorf("the DOM has %d script elements, want only the page's own", got)
			}
			if tc.name != "shared" && !strings.Contains(dom, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("the hostile history entry is not on the page as text")
			}
			if strings.Contains(dom, "<script>alert") {
				t.Errorf("the hostile history entry became markup")
			}
		})
	}
}

// pageRef finds what a page could load: attribute URLs and style url()s.
var pageRef = regexp.MustCompile(`(?i)\b(?:src|href|action|poster|srcset|xlink:href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)`)

// externalRefs are the references of a page to anything outside itself: all but
// in-page anchors and our own data: heat-map picture.
func externalRefs(page string) []string {
	var out []string
	for _, m := range pageRef.FindAllStringSubmatch(page, -1) {
		v := strings.TrimSpace(m[1] + m[2])
		if strings.HasPrefix(v, "#") || strings.HasPrefix(v, "data:image/png;base64,") {
			continue
		}
		out = append(out, v)
	}
	return out
}

// dataFigure is a figure on a page: its path in the JSON output and its bytes.
var dataFigure = regexp.MustCompile(`data-json="([^"]*)" data-value="([^"]*)"`)

// domFigures checks every data-json figure of the DOM against the JSON output.
func domFigures(dom, js string) (int, error) {
	var doc any
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range dataFigure.FindAllStringSubmatch(dom, -1) {
		path, value := m[1], m[2]
		v := doc
		for _, key := range strings.Split(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				v = c[key]
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i >= len(c) {
					return n, fmt.Errorf("%s: not in the JSON output", path)
				}
				v = c[i]
			default:
				return n, fmt.Errorf("%s: not in the JSON output", path)
			}
		}
		want := ""
		if v != nil {
			want = fmt.Sprint(v)
		}
		if want != value {
			return n, fmt.Errorf("%s: the DOM says %q, the JSON output %q", path, value, want)
		}
		n++
	}
	return n, nil
}

// connCounter is a loopback listener that every host name resolves to while the
// browser runs: it records the host each connection asks for (TLS server name or HTTP
// Host), so a fetch by the page cannot leave the machine and is seen.
type connCounter struct {
	addr  string
	mu    sync.Mutex
	hosts []string
	wg    sync.WaitGroup
}

func countConnections(t testing.TB) *connCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{addr: l.Addr().String()}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				host := requestedHost(conn)
				c.mu.Lock()
				c.hosts = append(c.hosts, host)
				c.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return c
}

// since returns the hosts asked for after the first n connections.
func (c *connCounter) since(n int) []string {
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.hosts[n:]...)
}

func (c *connCounter) seen() int {
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.hosts)
}

// requestedHost reads the start of a connection: the server name of a TLS client
// hello, or the Host of an HTTP request; "?" for anything else, and "" when the
// connection sent nothing within two seconds (Chromium opens sockets ahead of need for
// its own services and closes them unused when it exits; a fetch always sends).
func requestedHost(conn net.Conn) string {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(conn)
	first, err := br.Peek(1)
	if err != nil {
		return ""
	}
	if first[0] == 0x16 { // a TLS handshake record
		host := "?"
		srv := tls.Server(&peekedConn{Conn: conn, r: br}, &tls.Config{
			GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				host = hello.ServerName
				return nil, errors.New("not serving")
			},
		})
		_ = srv.Handshake()
		return host
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return "?"
	}
	return req.Host
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// browserService says whether host is one of Chromium's own background services
// (network time, component updates, sign-in), which it contacts for any page, even
// an empty one and even with --disable-background-networking; a page's fetch of
// anything else (fonts, scripts, pictures) is a failure.
func browserService(host string) bool {
	host, _, _ = strings.Cut(host, ":")
	if strings.HasPrefix(host, "fonts.") {
		return false
	}
	for _, suffix := range []string{".google.com", ".googleapis.com", ".gvt1.com"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// pageFetches are the hosts asked for that are not the browser's own services.
func pageFetches(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h != "" && !browserService(h) {
			out = append(out, h)
		}
	}
	return out
}

// browse opens page in headless Chromium with extra flags and returns how long the
// browser ran. Every host name resolves to resolveTo, so a fetch cannot leave the
// machine and is counted.
func browse(t testing.TB, resolveTo string, flag, page string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := runChromium(t, resolveTo, page, flag); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// browseDOM is the page's DOM after its script ran, as Chromium serialises it.
func browseDOM(t testing.TB, resolveTo, page string, flags ...string) string {
	t.Helper()
	out, err := runChromium(t, resolveTo, page, append(flags, "--dump-dom")...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runChromium(t testing.TB, resolveTo, page string, flags ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(commands, time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp("", "dl-e2e-chromium-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(profile)
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--host-resolver-rules=MAP * " + resolveTo,
		"--user-data-dir=" + profile, "--window-size=1280,2000",
	}, flags...)
	cmd := exec.CommandContext(ctx, chromium, append(args, "file://"+page)...)
	// The browser's helpers are in its process group: a timeout ends them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", chromium, strings.Join(flags, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// keepArtifact copies files into $E2E_ARTIFACTS (a CI artefact directory), if set.
func keepArtifact(t testing.TB, files ...string) {
	t.Helper()
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
