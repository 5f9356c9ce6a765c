//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchImages is how many images BenchmarkShared creates in the test engine.
const benchImages = 300

var (
	benchOnce sync.Once
	benchErr  error
	benchRefs []string
)

// setupBenchImages creates benchImages tagged images that share bases in several ways:
// four bases (busybox; node; busybox plus a 200 kB runtime; that plus a 100 kB
// framework), each image one tiny layer of its own on one of them, and every third
// image a 20 kB "vendor" layer of the same content between base and own layer (the
// same bytes on different parents). Builds run in parallel batches with the classic
// builder; only COPY steps, so no container runs.
func setupBenchImages(b *testing.B) {
	benchOnce.Do(func() {
		start := time.Now()
		dir := b.TempDir()
		write := func(name, body string) {
			if benchErr == nil {
				benchErr = os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
			}
		}
		write("runtime.bin", strings.Repeat("runtime ", 25000))
		write("framework.bin", strings.Repeat("framework ", 10000))
		write("vendor.bin", strings.Repeat("vendor ", 3000))
		write("Dockerfile.runtime", "FROM "+BaseImage+"\nCOPY runtime.bin /opt/runtime.bin\n")
		write("Dockerfile.framework", "FROM e2e/bench-base:runtime\nCOPY framework.bin /opt/framework.bin\n")
		for _, v := range []string{"plain", "vendor"} {
			df := "ARG BASE\nFROM $BASE\n"
			if v == "vendor" {
				df += "COPY vendor.bin /opt/vendor.bin\n"
			}
			df += "ARG N\nCOPY own-$N.txt /own.txt\n"
			write("Dockerfile."+v, df)
		}
		for i := range benchImages {
			write(fmt.Sprintf("own-%d.txt", i), fmt.Sprintf("image %d\n", i))
		}
		if benchErr != nil {
			return
		}
		if _, benchErr = runDocker(nil, nil, "build", "-q", "-f", filepath.Join(dir, "Dockerfile.runtime"), "-t", "e2e/bench-base:runtime", dir); benchErr != nil {
			return
		}
		if _, benchErr = runDocker(nil, nil, "build", "-q", "-f", filepath.Join(dir, "Dockerfile.framework"), "-t", "e2e/bench-base:framework", dir); benchErr != nil {
			return
		}
		bases := []string{BaseImage, NodeImage, "e2e/bench-base:runtime", "e2e/bench-base:framework"}

		const parallel = 8
		refs := make([]string, benchImages)
		errs := make([]error, benchImages)
		next := make(chan int)
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				for i := range next {
					v := "plain"
					if i%3 == 0 {
						v = "vendor"
					}
					refs[i] = fmt.Sprintf("e2e/bench-%03d:latest", i)
					_, errs[i] = runDocker(nil, nil, "build", "-q",
						"--build-arg", "BASE="+bases[i%len(bases)], "--build-arg", fmt.Sprintf("N=%d", i),
						"-f", filepath.Join(dir, "Dockerfile."+v), "-t", refs[i], dir)
				}
			})
		}
		for i := range benchImages {
			next <- i
		}
		close(next)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				benchErr = err
				return
			}
		}
		benchRefs = refs
		fmt.Fprintf(os.Stderr, "e2e: built %d images in %v\n", benchImages, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

// BenchmarkShared times `shared --all` over the engine's images (at least
// benchImages) against `docker system df -v` on the same engine:
//
//	go test -tags e2e -run XXX -bench Shared ./test/e2e/
//
// shared-all reports x-system-df: its time over that of `docker system df -v` run
// right after each iteration (untimed), so that both see the same machine load; the
// target is at most 1.0 (issue 16).
func BenchmarkShared(b *testing.B) {
	setupBenchImages(b)
	b.Run("shared-all", func(b *testing.B) {
		var n int
		var shared, df time.Duration
		for b.Loop() {
			start := time.Now()
			r := sharedJSON(b, "--all")
			shared += time.Since(start)
			n = len(r.Images)
			b.StopTimer()
			start = time.Now()
			docker(b, "system", "df", "-v")
			df += time.Since(start)
			b.StartTimer()
		}
		if n < benchImages {
			b.Fatalf("shared --all listed %d images, want at least %d", n, benchImages)
		}
		b.ReportMetric(float64(n), "images")
		b.ReportMetric(float64(shared)/float64(df), "x-system-df")
	})
	b.Run("shared-all-table", func(b *testing.B) {
		for b.Loop() {
			if _, errOut, code := layers(b, "shared", "--all"); code != 0 {
				b.Fatalf("shared --all: exit %d: %s", code, errOut)
			}
		}
	})
	b.Run("shared-explicit-refs", func(b *testing.B) {
		for b.Loop() {
			sharedJSON(b, benchRefs...)
		}
	})
	b.Run("system-df-v", func(b *testing.B) {
		for b.Loop() {
			docker(b, "system", "df", "-v")
		}
	})
}
