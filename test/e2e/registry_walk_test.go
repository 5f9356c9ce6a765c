//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// walkLayer is a gzip-compressed layer of one file; the same name and seed make the same
// layer. Its content is pseudo-random so that it compresses as real binaries do.
func walkLayer(tb testing.TB, file string, size int, seed uint64) v1.Layer {
	tb.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range data {
		// Half-random bytes: compressible, as binaries are, about 2:1.
		data[i] = byte(r.IntN(16)) + 'a'
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
		tb.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func walkImage(tb testing.TB, layers ...v1.Layer) v1.Image {
	tb.Helper()
	var adds []mutate.Addendum
	for i, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: fmt.Sprintf("RUN /bin/sh -c step %d # buildkit", i), Comment: "buildkit.dockerfile.v0"}})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

func pushTo(tb testing.TB, ref string, img v1.Image) {
	tb.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		tb.Fatalf("pushing %s: %v", ref, err)
	}
}

// layersWith runs the plugin with extra environment variables.
func layersWith(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, err := run(t, pluginBin(), env, args...)
	if ee, ok := err.(*exec.ExitError); ok {
		return stdout, stderr, ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout, stderr, 0
}

type walkSummary struct {
	Type         string `json:"type"`
	Repositories int    `json:"repositories"`
	Tags         int    `json:"tags"`
	Skipped      int    `json:"skipped"`
	Images       int    `json:"images"`
	Layers       int    `json:"layers"`
	Blobs        int    `json:"blobs"`
	StoredSize   int64  `json:"storedSize"`
	Dedup        int64  `json:"dedupSavedSize"`
	Walk         struct {
		Requests  int64   `json:"requests"`
		CacheHits int64   `json:"cacheHits"`
		Seconds   float64 `json:"seconds"`
	} `json:"walk"`
}

// jsonlSummary checks a jsonl stream and returns its last line, the summary.
func jsonlSummary(t testing.TB, out string, images int) walkSummary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	n := 0
	for _, l := range lines[:len(lines)-1] {
		var obj struct{ Type string }
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if obj.Type == "image" {
			n++
		}
	}
	var s walkSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.Type != "summary" {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if images >= 0 && n != images {
		t.Fatalf("%d image lines, want %d", n, images)
	}
	return s
}

// accessLogLines is how many requests the registry has logged so far.
func accessLogLines(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(registryLog())
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// requestsSince returns the logged requests ("METHOD /path") after the first n.
func requestsSince(t testing.TB, n int) []string {
	t.Helper()
	b, err := os.ReadFile(registryLog())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var out []string
	for _, l := range lines[min(n, len(lines)):] {
		_, req, ok := strings.Cut(l, `"`)
		if !ok {
			continue
		}
		req, _, _ = strings.Cut(req, " HTTP/")
		out = append(out, req)
	}
	return out
}

// The real registry, walked twice: the second walk sends only the catalog, tag lists and
// HEADs; a repository named but missing is skipped with exit status 3.
func TestRegistryWalk(t *testing.T) {
	addr := registryAddr()
	base := walkLayer(t, "base", 20000, 1)
	runtime := walkLayer(t, "runtime", 8000, 2)
	for i := range 3 {
		for j := range 2 {
			pushTo(t, fmt.Sprintf("%s/walk/svc%d:v1.%d", addr, i, j), walkImage(t, base, runtime, walkLayer(t, "app", 500, uint64(100+10*i+j))))
		}
	}
	amd := walkImage(t, base, walkLayer(t, "amd", 300, 7))
	arm := walkImage(t, walkLayer(t, "arm-base", 300, 8), walkLayer(t, "arm", 300, 9))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	r, _ := name.ParseReference(addr+"/walk/multi:v1", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}

	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	mark := accessLogLines(t)
	out, errOut, code := layersWith(t, env, "shared", "--registry", addr+"/walk", "--format", "jsonl", "--platform", "linux/amd64")
	if code != 0 || errOut != "" {
		t.Fatalf("cold walk: exit %d, stderr %q", code, errOut)
	}
	cold := jsonlSummary(t, out, 7)
	if cold.Repositories != 4 || cold.Tags != 7 || cold.Images != 7 {
		t.Errorf("cold walk summary %+v", cold)
	}
	for _, req := range requestsSince(t, mark) {
		if strings.Contains(req, "/blobs/") {
			for _, l := range []v1.Layer{base, runtime} {
				if d, _ := l.Digest(); strings.Contains(req, d.String()) {
					t.Errorf("the walk read a layer blob: %s", req)
				}
			}
		}
	}
	if n := len(requestsSince(t, mark)); int64(n) > cold.Walk.Requests {
		t.Errorf("the registry logged %d requests, the walk counted %d", n, cold.Walk.Requests)
	}

	mark = accessLogLines(t)
	out, errOut, code = layersWith(t, env, "shared", "--registry", addr+"/walk", "--format", "jsonl", "--platform", "linux/amd64")
	if code != 0 || errOut != "" {
		t.Fatalf("warm walk: exit %d, stderr %q", code, errOut)
	}
	warm := jsonlSummary(t, out, 7)
	if warm.StoredSize != cold.StoredSize || warm.Blobs != cold.Blobs {
		t.Errorf("warm %+v differs from cold %+v", warm, cold)
	}
	for _, req := range requestsSince(t, mark) {
		if !strings.HasPrefix(req, "HEAD ") && !strings.Contains(req, "/tags/list") && !strings.HasPrefix(req, "GET /v2/_catalog") && req != "GET /v2/" {
			t.Errorf("warm walk sent %s", req)
		}
	}

	// The table, from the cache, and a repository that is not there.
	out, errOut, code = layersWith(t, env, "shared", "--registry", addr+"/walk", "--repo", "svc*")
	if code != 0 || !strings.Contains(out, "Registry storage (compressed)") || !strings.Contains(out, "all 6 images") {
		t.Errorf("table: exit %d, stderr %q\n%s", code, errOut, out)
	}
	_, errOut, code = layersWith(t, env, "shared", "--registry", addr+"/walk", "--repo", "nothere", "--format", "jsonl")
	if code != 3 || !strings.Contains(errOut, "skipped") {
		t.Errorf("a missing repository: exit %d, stderr %q; want 3 and a skipped line", code, errOut)
	}
}

// Registry scale, as issue 16 sets it.
const (
	scaleRepos = 1000
	scaleTags  = 5
)

var (
	scaleOnce sync.Once
	scaleErr  error
	scalePush time.Duration
)

// setupScaleRegistry pushes scaleRepos × scaleTags small images under scale/, with the
// sharing real registries have: three bases, two runtimes on each of two bases, a
// dependency layer per repository shared by its tags, and an app layer per tag.
func setupScaleRegistry(b *testing.B) {
	scaleOnce.Do(func() {
		start := time.Now()
		addr := registryAddr()
		var bases [3][]v1.Layer
		for i := range bases {
			bases[i] = []v1.Layer{walkLayer(b, "base", 30000, uint64(1000+i)), walkLayer(b, "etc", 2000, uint64(1100+i))}
		}
		runtimes := [][]v1.Layer{bases[0], bases[1], bases[2]}
		for i := range 4 {
			runtimes = append(runtimes, append(append([]v1.Layer{}, bases[i%2]...), walkLayer(b, "runtime", 10000, uint64(1200+i))))
		}
		jobs := make(chan int)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 16 {
			wg.Go(func() {
				for r := range jobs {
					stack := runtimes[r%len(runtimes)]
					deps := walkLayer(b, "deps", 3000, uint64(10000+r))
					for tag := range scaleTags {
						layers := append(append([]v1.Layer{}, stack...), deps, walkLayer(b, "app", 400, uint64(100000+r*10+tag)))
						img := walkImage(b, layers...)
						ref, _ := name.ParseReference(fmt.Sprintf("%s/scale/svc%04d:1.%d.0", addr, r, tag), name.Insecure)
						if err := remote.Write(ref, img); err != nil {
							mu.Lock()
							scaleErr = err
							mu.Unlock()
							return
						}
					}
				}
			})
		}
		for r := range scaleRepos {
			jobs <- r
		}
		close(jobs)
		wg.Wait()
		scalePush = time.Since(start)
	})
	if scaleErr != nil {
		b.Fatal(scaleErr)
	}
}

// walkRun is one plugin run over the scale namespace.
type walkRun struct {
	elapsed time.Duration
	cpu     time.Duration // the plugin's user + system time
	rss     int64
	logged  int           // requests in the registry's access log
	regCPU  time.Duration // the registry's CPU time during the run
	summary walkSummary
}

func runScaleWalk(b *testing.B, cacheDir string, extra ...string) walkRun {
	b.Helper()
	mark := accessLogLines(b)
	args := append([]string{"shared", "--registry", registryAddr() + "/scale", "--format", "jsonl"}, extra...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(commands, pluginBin(), args...)
	cmd.Env = commandEnv([]string{"XDG_CACHE_HOME=" + cacheDir})
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	regBefore := registryCPU(b)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	r := walkRun{elapsed: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	r.rss = peak()
	r.summary = jsonlSummary(b, stdout.String(), scaleRepos*scaleTags)
	r.logged = len(requestsSince(b, mark))
	r.regCPU = registryCPU(b) - regBefore
	return r
}

// watchPeakRSS samples a process's peak resident set (VmHWM) every 10 ms until it
// exits; the returned function stops and gives the last sample. The child's rusage
// cannot say it: Go starts children sharing its own memory until exec, and Linux
// carries that peak (the benchmark's, after pushing 5,000 images) into the child's
// ru_maxrss.
func watchPeakRSS(pid int) func() int64 {
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
						var kb int64
						fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
						peak.Store(max(peak.Load(), kb<<10))
					}
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// registryCPU is the CPU time (user + system) the registry process has used so far.
func registryCPU(tb testing.TB) time.Duration {
	tb.Helper()
	for _, p := range h.procs {
		if p.name != "registry" || p.cmd.Process == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			tb.Fatal(err)
		}
		// Fields after the command name (which may hold spaces): utime is the 14th
		// field, stime the 15th, in clock ticks (100 a second on Linux).
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		var ut, st int64
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
	tb.Fatal("no registry process")
	return 0
}

// BenchmarkRegistryWalk walks 1,000 repositories × 5 tags on the real registry: a cold
// walk (empty cache), a warm rerun (nothing changed), and a walk without the cache.
// It reports manifests (tags resolved) per second, peak RSS of the plugin with --format
// jsonl, and the requests the registry logged per run.
//
//	make bench-registry   (or: go test -tags e2e -run '^$' -bench RegistryWalk -benchtime 1x ./test/e2e/)
func BenchmarkRegistryWalk(b *testing.B) {
	setupScaleRegistry(b)
	b.Logf("pushed %d images in %v", scaleRepos*scaleTags, scalePush.Round(time.Second))
	tags := float64(scaleRepos * scaleTags)
	report := func(b *testing.B, runs []walkRun) {
		var el, cpu, reg time.Duration
		var rss int64
		for _, r := range runs {
			el += r.elapsed
			cpu += r.cpu
			reg += r.regCPU
			rss = max(rss, r.rss)
		}
		b.ReportMetric(100*reg.Seconds()/el.Seconds(), "registry-cpu-%")
		// The plugin's share of the wall time: the rest is the registry (and, on a
		// shared machine, everything else).
		b.ReportMetric(100*cpu.Seconds()/el.Seconds(), "plugin-cpu-%")
		el /= time.Duration(len(runs))
		last := runs[len(runs)-1]
		b.ReportMetric(tags/el.Seconds(), "manifests/s")
		b.ReportMetric(el.Seconds(), "s/walk")
		b.ReportMetric(float64(rss)/(1<<20), "maxRSS-MiB")
		b.ReportMetric(float64(last.logged), "registry-requests")
		b.ReportMetric(float64(last.summary.Walk.Requests), "client-requests")
		b.ReportMetric(float64(last.summary.StoredSize)/(1<<20), "stored-MiB")
		b.ReportMetric(float64(last.summary.Dedup)/(1<<20), "dedup-saved-MiB")
	}
	var coldMean time.Duration
	b.Run("cold", func(b *testing.B) {
		var runs []walkRun
		for b.Loop() {
			runs = append(runs, runScaleWalk(b, b.TempDir()))
		}
		for _, r := range runs {
			coldMean += r.elapsed
		}
		coldMean /= time.Duration(len(runs))
		report(b, runs)
	})
	b.Run("warm", func(b *testing.B) {
		dir := b.TempDir()
		runScaleWalk(b, dir)
		var runs []walkRun
		for b.Loop() {
			runs = append(runs, runScaleWalk(b, dir))
		}
		report(b, runs)
		var el time.Duration
		for _, r := range runs {
			el += r.elapsed
		}
		if coldMean > 0 {
			b.ReportMetric(100*el.Seconds()/float64(len(runs))/coldMean.Seconds(), "%-of-cold")
		}
	})
	b.Run("no-cache", func(b *testing.B) {
		var runs []walkRun
		for b.Loop() {
			runs = append(runs, runScaleWalk(b, b.TempDir(), "--no-cache"))
		}
		report(b, runs)
	})
}
