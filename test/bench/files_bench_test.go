// Package bench measures `docker layers files` on generated multi-GB images against
// floors run in the same benchmark. Run it with `make bench`; figures go in notes,
// never into timed tests.
package bench

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const mib = 1 << 20

// image25k is the ~1.3 GB image of the issue: 10 layers, ~34,000 files; big files
// deleted and overwritten later, small files touched again, an opaque directory, a
// directory whiteout, a copy of a big file at a second path, a hardlink.
func image25k() []genLayer {
	var l0, l1, l2, l3, l4, l5, l6, l7, l8, l9 []op
	small := func(i int) (string, int64) {
		return fmt.Sprintf("usr/lib/pkg%03d/file%03d.so", i/100, i%100), int64(1024 + (i*7919)%7168)
	}
	l0 = append(l0, op{kind: 'd', path: "usr/"}, op{kind: 'd', path: "usr/lib/"})
	for i := 0; i < 20000; i++ {
		p, size := small(i)
		if i%100 == 0 {
			l0 = append(l0, op{kind: 'd', path: filepath.Dir(p) + "/"})
		}
		l0 = append(l0, op{kind: 'f', path: p, size: size})
	}
	l0 = append(l0, op{kind: 'h', path: "usr/lib/pkg000/hardlink.so", link: "usr/lib/pkg000/file000.so"})
	l0 = append(l0, op{kind: 'f', path: "usr/share/doc/" + strings.Repeat("very-long-directory-name/", 8) + "README", size: 4096})

	l1 = append(l1, op{kind: 'd', path: "var/lib/apt/lists/"})
	for i := 0; i < 40; i++ {
		l1 = append(l1, op{kind: 'f', path: fmt.Sprintf("var/lib/apt/lists/deb_%02d_Packages", i), size: 1536 * 1024})
	}
	l1 = append(l1, op{kind: 'd', path: "var/cache/apt/archives/"})
	for i := 0; i < 10; i++ {
		l1 = append(l1, op{kind: 'f', path: fmt.Sprintf("var/cache/apt/archives/pkg%d.deb", i), size: 4 * mib})
	}
	l1 = append(l1, op{kind: 'd', path: "usr/share/big/"})
	for _, n := range []string{"a", "b", "c", "d"} {
		l1 = append(l1, op{kind: 'f', path: "usr/share/big/" + n + ".bin", size: 96 * mib})
	}

	l2 = append(l2, op{kind: 'd', path: "data/"})
	for i := 0; i < 3000; i++ {
		l2 = append(l2, op{kind: 'f', path: fmt.Sprintf("data/rec%04d.json", i), size: 8192})
	}
	l2 = append(l2, op{kind: 'f', path: "data/blob.bin", size: 64 * mib})

	l3 = append(l3, op{kind: 'f', path: "usr/share/big/b.bin", size: 96 * mib}, op{kind: 'f', path: "usr/share/big/c.bin", size: 96 * mib})
	for i := 0; i < 20000; i += 4 {
		p, size := small(i)
		l3 = append(l3, op{kind: 'f', path: p, size: size})
	}

	for i := 0; i < 40; i++ {
		l4 = append(l4, op{kind: 'w', path: fmt.Sprintf("var/lib/apt/lists/deb_%02d_Packages", i)})
	}
	l4 = append(l4, op{kind: 'w', path: "var/cache/apt"}, op{kind: 'w', path: "usr/share/big/a.bin"})

	l5 = append(l5, op{kind: 'd', path: "data/"}, op{kind: 'o', path: "data"})
	for i := 0; i < 1000; i++ {
		l5 = append(l5, op{kind: 'f', path: fmt.Sprintf("data/v2/rec%04d.json", i), size: 8192})
	}

	l6 = append(l6, op{kind: 'd', path: "opt/model/"}, op{kind: 'f', path: "opt/model/weights.bin", size: 256 * mib})

	for i := 2; i < 20000; i += 6 {
		p, size := small(i)
		l7 = append(l7, op{kind: 'f', path: p, size: size})
	}
	for i := 0; i < 2000; i++ {
		l7 = append(l7, op{kind: 'f', path: fmt.Sprintf("app/node_modules/m%03d/index%d.js", i/10, i%10), size: 2048})
	}

	l8 = append(l8, op{kind: 'w', path: "opt/model"})

	for i := 0; i < 500; i++ {
		l9 = append(l9, op{kind: 'f', path: fmt.Sprintf("app/dist/chunk%03d.js", i), size: 16384})
	}
	return []genLayer{
		{"ADD rootfs.tar /", l0},
		{"RUN apt-get update && apt-get install -y big", l1},
		{"COPY data /data", l2},
		{"RUN update-big && touch-libs", l3},
		{"RUN rm -rf /var/lib/apt/lists/* /var/cache/apt /usr/share/big/a.bin", l4},
		{"RUN rm -rf /data && regenerate /data/v2", l5},
		{"COPY model /opt/model", l6},
		{"RUN npm ci && touch-libs", l7},
		{"RUN rm -rf /opt/model", l8},
		{"COPY dist /app/dist", l9},
	}
}

// image1M has 1,000,000 entries of small files over 10 layers: the second half of the
// layers rewrites and deletes what the first half wrote.
func image1M() []genLayer {
	var layers []genLayer
	const perLayer = 100000
	for l := 0; l < 10; l++ {
		var ops []op
		base := l % 5 // layers 5..9 touch the paths of layers 0..4 again
		for d := 0; d < perLayer/100; d++ {
			dir := fmt.Sprintf("srv/l%d/d%04d", base, d)
			if l >= 5 && d%10 == 0 {
				ops = append(ops, op{kind: 'w', path: dir}) // a whole directory deleted
				continue
			}
			ops = append(ops, op{kind: 'd', path: dir + "/"})
			for f := 0; f < 99; f++ {
				ops = append(ops, op{kind: 'f', path: fmt.Sprintf("%s/f%02d.txt", dir, f), size: int64((d*31 + f*17 + l) % 200)})
			}
		}
		layers = append(layers, genLayer{fmt.Sprintf("RUN step %d", l), ops})
	}
	return layers
}

type benchEnv struct {
	dir, bin string
	archive  string // docker-archive:… ref
	layout   string // oci:… ref
	blobs    []string
}

// setup builds the binary and generates the image once per benchmark.
func setup(b *testing.B, layers []genLayer, withLayout bool) benchEnv {
	b.Helper()
	// DOCKER_LAYERS_BENCH_DIR keeps the generated data for reruns (while tuning); by
	// default it goes under $TMPDIR and is removed after.
	dir := os.Getenv("DOCKER_LAYERS_BENCH_DIR")
	if dir != "" {
		dir = filepath.Join(dir, b.Name())
		must(b, os.MkdirAll(dir, 0o755))
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "docker-layers-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	env := benchEnv{dir: dir, bin: filepath.Join(dir, "docker-layers")}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		b.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", env.bin, "./cmd/docker-layers")
	build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v: %s", err, out)
	}
	start := time.Now()
	archive := filepath.Join(dir, "save.tar")
	layoutDir := ""
	if withLayout {
		layoutDir = filepath.Join(dir, "layout")
	}
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		genImage(b, layers, archive, layoutDir)
		must(b, os.WriteFile(filepath.Join(dir, "done"), nil, 0o644))
	}
	env.archive = "docker-archive:" + archive
	if withLayout {
		env.layout = "oci:" + layoutDir + ":bench"
		env.blobs = layoutBlobs(b, layoutDir)
	}
	st, _ := os.Stat(archive)
	b.Logf("generated %s (%.2f GB) in %s", archive, float64(st.Size())/1e9, time.Since(start).Round(time.Second))
	return env
}

// layoutBlobs lists the layout's layer blobs, bottom first.
func layoutBlobs(b *testing.B, dir string) []string {
	var idx struct{ Manifests []struct{ Digest string } }
	readJSON(b, filepath.Join(dir, "index.json"), &idx)
	var m struct{ Layers []struct{ Digest string } }
	readJSON(b, blobPath(dir, idx.Manifests[0].Digest), &m)
	var out []string
	for _, l := range m.Layers {
		out = append(out, blobPath(dir, l.Digest))
	}
	return out
}

func blobPath(dir, digest string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func readJSON(b *testing.B, path string, v any) {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.Fatal(err)
	}
}

// run is one measured run of a child process.
type run struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	rssMiB float64
	out    []byte
}

// measure runs a command and returns its wall time, CPU time and peak RSS. The peak
// comes from GNU time when there is one: the kernel charges a child with the peak of the
// process it was forked from (the mm it shared until exec), so a child of this test
// binary, which holds the generated layers' bookkeeping and earlier outputs, would
// show this binary's memory, not its own. Output goes to a file, not to memory.
func measure(b *testing.B, name string, args ...string) run {
	b.Helper()
	dir := b.TempDir()
	outPath, timePath := filepath.Join(dir, "out"), filepath.Join(dir, "time")
	out, err := os.Create(outPath)
	must(b, err)
	defer out.Close()
	argv := append([]string{name}, args...)
	gnuTime := false
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		argv = append([]string{"/usr/bin/time", "-f", "%M", "-o", timePath}, argv...)
		gnuTime = true
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var errOut strings.Builder
	cmd.Stdout, cmd.Stderr = out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, errOut.String())
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rssMiB := float64(ru.Maxrss) / 1024
	if gnuTime {
		raw, err := os.ReadFile(timePath)
		must(b, err)
		var kb float64
		if _, err := fmt.Sscan(strings.TrimSpace(string(raw)), &kb); err == nil {
			rssMiB = kb / 1024
		}
	}
	output, err := os.ReadFile(outPath)
	must(b, err)
	return run{wall: wall, cpu: cpu, rssMiB: rssMiB, out: output}
}

// best is the fastest of n runs (and the highest peak RSS seen).
func best(n int, f func() run) run {
	var r run
	for i := 0; i < n; i++ {
		x := f()
		if i == 0 || x.wall < r.wall {
			r.wall, r.out = x.wall, x.out
		}
		if i == 0 || x.cpu < r.cpu {
			r.cpu = x.cpu
		}
		r.rssMiB = max(r.rssMiB, x.rssMiB)
	}
	return r
}

// TestMain runs the walk floor when the benchmark starts this binary as a child for it,
// so the floor's time and CPU are measured as the command's are.
func TestMain(m *testing.M) {
	if archive := os.Getenv("DOCKER_LAYERS_WALK_FLOOR"); archive != "" {
		if err := walk(archive); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// walkFloor is the minimal Go walker, run as a child process: every entry of every
// layer of a classic docker save archive, contents read.
func walkFloor(b *testing.B, archive string) run {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "DOCKER_LAYERS_WALK_FLOOR="+strings.TrimPrefix(archive, "docker-archive:"))
	var errOut strings.Builder
	cmd.Stderr = &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("walk floor: %v: %s", err, errOut.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{wall: time.Since(start), cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssMiB: float64(ru.Maxrss) / 1024}
}

func walk(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	outer := tar.NewReader(bufio.NewReaderSize(f, mib))
	buf := make([]byte, 256<<10)
	for {
		hdr, err := outer.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !strings.HasSuffix(hdr.Name, "/layer.tar") {
			continue
		}
		inner := tar.NewReader(outer)
		for {
			_, err := inner.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if _, err := io.CopyBuffer(io.Discard, inner, buf); err != nil {
				return err
			}
		}
	}
}

// gunzipFloor is `gzip -dc` of every layer blob, one after another.
func gunzipFloor(b *testing.B, blobs []string) run {
	var r run
	start := time.Now()
	for _, blob := range blobs {
		cmd := exec.Command("gzip", "-dc", blob)
		cmd.Stdout = io.Discard
		must(b, cmd.Run())
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		r.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	r.wall = time.Since(start)
	return r
}

type filesOut struct {
	Size       int64   `json:"size"`
	WastedSize int64   `json:"wastedSize"`
	Efficiency float64 `json:"efficiency"`
	Wasted     []struct{ Path string }
}

func (e benchEnv) files(b *testing.B, ref string) run {
	r := best(3, func() run { return measure(b, e.bin, "files", "--wasted", "--format", "json", ref) })
	var v filesOut
	must(b, json.Unmarshal(r.out, &v))
	b.Logf("%s: %s uncompressed, wasted %d bytes at %d paths, efficiency %.3f", ref, fmtBytes(v.Size), v.WastedSize, len(v.Wasted), v.Efficiency)
	return r
}

func fmtBytes(n int64) string { return fmt.Sprintf("%.2f GB", float64(n)/1e9) }

// report logs and records one measurement against its floor: wall time (what a user
// waits) and CPU time (user + system, steadier on a busy machine), both as ratios.
func report(b *testing.B, what string, r run, floorName string, floor run) {
	ratio := r.wall.Seconds() / floor.wall.Seconds()
	cpuRatio := r.cpu.Seconds() / floor.cpu.Seconds()
	b.Logf("%-12s wall %6.2fs (%s %6.2fs) %.2f×   cpu %6.2fs (%s %6.2fs) %.2f×   peak RSS %.0f MiB",
		what, r.wall.Seconds(), floorName, floor.wall.Seconds(), ratio, r.cpu.Seconds(), floorName, floor.cpu.Seconds(), cpuRatio, r.rssMiB)
	b.ReportMetric(r.wall.Seconds(), what+"-s")
	b.ReportMetric(ratio, what+"-x-"+floorName)
	b.ReportMetric(cpuRatio, what+"-cpu-x-"+floorName)
	b.ReportMetric(r.rssMiB, what+"-peak-RSS-MiB")
}

// bestFloor is the fastest of n runs of a floor (wall and CPU each at their best).
func bestFloor(n int, f func() run) run {
	return best(n, f)
}

// BenchmarkFiles25k: `files --wasted --format json` on the ~1.3 GB image, from a
// classic docker save (against the walk floor) and from an OCI layout with gzip layers
// (against sequential gzip -dc).
func BenchmarkFiles25k(b *testing.B) {
	env := setup(b, image25k(), true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		walk := bestFloor(3, func() run { return walkFloor(b, env.archive) })
		report(b, "archive", env.files(b, env.archive), "walk", walk)
		gunzip := bestFloor(3, func() run { return gunzipFloor(b, env.blobs) })
		report(b, "layout", env.files(b, env.layout), "gunzip", gunzip)
	}
}

// BenchmarkFiles1M: the same on 1,000,000 entries (small files), for memory.
func BenchmarkFiles1M(b *testing.B) {
	env := setup(b, image1M(), false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		walk := bestFloor(3, func() run { return walkFloor(b, env.archive) })
		report(b, "archive-1M", env.files(b, env.archive), "walk", walk)
	}
}
