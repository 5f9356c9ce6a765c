package buildcontext

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
		for b.Loop() {
			c, err := r.Read(context.Background(), []string{"."})
			if err != nil {
				b.Fatal(err)
			}
			if len(c.Files) < benchFiles {
				b.Fatalf("%d entries", len(c.Files))
			}
		}
	})
	b.Run("tar", func(b *testing.B) {
		if _, err := exec.LookPath("tar"); err != nil {
			b.Skip("no tar")
		}
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

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" && os.Getenv("BUILDCTX_BENCH_DIR") == "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
