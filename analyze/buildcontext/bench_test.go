package buildcontext

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// benchFiles is the size of the benchmark's context: a large monorepo's worth.
const benchFiles = 50000

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchContext writes, once per run, a context of benchFiles files in 500 directories,
// 0-8 KiB each (about 200 MB), plus an ignored node_modules the reads skip.
func benchContext(b *testing.B) string {
	benchOnce.Do(func() {
		if d := os.Getenv("BUILDCTX_BENCH_DIR"); d != "" {
			benchDir = d // an existing tree, kept: for timing the reads alone
			return
		}
		benchDir, benchErr = os.MkdirTemp("", "buildctx-bench-")
		if benchErr != nil {
			return
		}
		buf := make([]byte, 8192)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		for i := range benchFiles {
			dir := filepath.Join(benchDir, "src", fmt.Sprintf("pkg%03d", i%500))
			if i < 500 {
				if benchErr = os.MkdirAll(dir, 0o755); benchErr != nil {
					return
				}
			}
			size := (i * 2654435761) % 8192
			if benchErr = os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.js", i)), buf[:size], 0o644); benchErr != nil {
				return
			}
		}
		benchErr = os.WriteFile(filepath.Join(benchDir, ".dockerignore"), []byte("node_modules\n"), 0o644)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

// BenchmarkContext50k reads a 50,000-file context as `predict` does (every file
// selected by COPY . ., hashed) against `tar -c` of the same directory piped out
// (GNU tar skips reading file data when its archive is /dev/null itself, so the
// bytes are read through a pipe, as docker build's own context upload reads them).
// Compare the two ns/op: the target is predict ≤ 1.0× tar.
func BenchmarkContext50k(b *testing.B) {
	dir := benchContext(b)
	b.Run("predict", func(b *testing.B) {
		r, err := New(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		cpu := cpuTime(syscall.RUSAGE_SELF)
		for b.Loop() {
			c, err := r.Read(context.Background(), []string{"."})
			if err != nil {
				b.Fatal(err)
			}
			if len(c.Files) < benchFiles {
				b.Fatalf("%d entries", len(c.Files))
			}
		}
		b.ReportMetric(float64(cpuTime(syscall.RUSAGE_SELF)-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("tar", func(b *testing.B) {
		if _, err := exec.LookPath("tar"); err != nil {
			b.Skip("no tar")
		}
		cpu := cpuTime(syscall.RUSAGE_SELF) + cpuTime(syscall.RUSAGE_CHILDREN)
		for b.Loop() {
			cmd := exec.Command("tar", "-c", "-C", dir, ".")
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, out); err != nil {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		// tar's CPU and ours reading its pipe: what the context upload costs.
		b.ReportMetric(float64(cpuTime(syscall.RUSAGE_SELF)+cpuTime(syscall.RUSAGE_CHILDREN)-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("changed", func(b *testing.B) {
		r, err := New(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		changed := []string{"src/pkg001/f00001.js", "src/pkg002/f00002.js", "gone.js"}
		for b.Loop() {
			if _, err := r.ReadChanged(context.Background(), changed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuTime is the user and system CPU time of this process (or of its waited-for
// children) so far, in nanoseconds: on a busy machine it varies less than the wall
// time.
func cpuTime(who int) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" && os.Getenv("BUILDCTX_BENCH_DIR") == "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
