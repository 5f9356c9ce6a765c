//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sizes of the images BenchmarkEngineTwoImages reads: a big base layer both share, then
// a layer of each one's own, as a Debian + npm image rebuilt after a dependency change.
const (
	jointBaseBytes = 250_000_000
	jointOwnBytes  = 40_000_000
)

var (
	jointOnce sync.Once
	jointErr  error
	jointRefs [2]string
)

// jointImages builds e2e/joint:v1 and :v2 once: FROM one base with a big shared layer,
// each then one layer of its own random bytes and a small COPY-like layer on top, so
// `diff` breaks at the own layer and `diff --files` reads every layer of both.
func jointImages(b *testing.B) [2]string {
	jointOnce.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp(h.root, "joint-")
		if err != nil {
			jointErr = err
			return
		}
		base := fmt.Sprintf("FROM %s\nRUN head -c %d /dev/urandom > /base.bin && mkdir -p /usr/lib/app && for i in $(seq 1 2000); do echo $i > /usr/lib/app/f$i; done\n", BaseImage, jointBaseBytes)
		app := fmt.Sprintf("FROM e2e/joint-base:latest\nARG BUILD\nRUN echo \"$BUILD\" > /build && head -c %d /dev/urandom > /app.bin\nRUN rm -rf /usr/lib/app/f1* && echo done > /done\n", jointOwnBytes)
		for name, body := range map[string]string{"Dockerfile.base": base, "Dockerfile.app": app} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				jointErr = err
				return
			}
		}
		steps := [][]string{
			{"build", "-q", "--network=host", "-f", filepath.Join(dir, "Dockerfile.base"), "-t", "e2e/joint-base:latest", dir},
			{"build", "-q", "--network=host", "--build-arg", "BUILD=1", "-f", filepath.Join(dir, "Dockerfile.app"), "-t", "e2e/joint:v1", dir},
			{"build", "-q", "--network=host", "--build-arg", "BUILD=2", "-f", filepath.Join(dir, "Dockerfile.app"), "-t", "e2e/joint:v2", dir},
		}
		for _, args := range steps {
			if _, err := runDocker(nil, nil, args...); err != nil {
				jointErr = err
				return
			}
		}
		jointRefs = [2]string{"e2e/joint:v1", "e2e/joint:v2"}
		fmt.Fprintf(os.Stderr, "e2e: built e2e/joint:v1 and :v2 in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if jointErr != nil {
		b.Fatalf("building the joint images: %v", jointErr)
	}
	return jointRefs
}

// saveToNull runs `docker save REFS` with its stdout on /dev/null: the engine's whole
// export, sent and thrown away. (Not `-o /dev/null`: the CLI writes a temporary file next
// to the output and renames it over the output.)
func saveToNull(b *testing.B, refs ...string) time.Duration {
	b.Helper()
	cmd := exec.CommandContext(commands, dockerCLI, append([]string{"save"}, refs...)...)
	cmd.Env = commandEnv(nil)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("docker save %s: %v\n%s", strings.Join(refs, " "), err, stderr.String())
	}
	return time.Since(start)
}

// timedPlugin runs the plugin and returns its wall time and peak resident memory.
func timedPlugin(b *testing.B, args ...string) (time.Duration, int64) {
	b.Helper()
	start := time.Now()
	rss, _ := runForRSS(b, args...)
	return time.Since(start), rss
}

// BenchmarkEngineTwoImages times what reads two engine images' contents — `diff OLD NEW`
// (the layers at the break), `diff --files OLD NEW` (every layer of both) — against one
// `docker save OLD NEW` to /dev/null, and `files --wasted IMAGE` against `docker save
// IMAGE` (issue 11's targets: ≤ 1.0× and ≤ 1.05×). Runs alternate, so a busy machine
// slows both sides of a ratio alike.
//
//	go test -tags e2e -run '^$' -bench EngineTwoImages -benchtime 3x ./test/e2e/
func BenchmarkEngineTwoImages(b *testing.B) {
	if h.pluginErr != nil {
		b.Fatalf("plugin binary not built: %v", h.pluginErr)
	}
	refs := jointImages(b)
	var saveBoth, saveOne, diff, diffFiles, wasted time.Duration
	var maxRSS int64
	for b.Loop() {
		saveBoth += saveToNull(b, refs[0], refs[1])
		d, rss := timedPlugin(b, "diff", refs[0], refs[1])
		diff += d
		maxRSS = max(maxRSS, rss)
		d, rss = timedPlugin(b, "diff", "--files", refs[0], refs[1])
		diffFiles += d
		maxRSS = max(maxRSS, rss)
		saveOne += saveToNull(b, refs[1])
		d, rss = timedPlugin(b, "files", "--wasted", refs[1])
		wasted += d
		maxRSS = max(maxRSS, rss)
	}
	n := float64(b.N)
	b.ReportMetric(saveBoth.Seconds()/n, "save-both-s")
	b.ReportMetric(diff.Seconds()/n, "diff-s")
	b.ReportMetric(diffFiles.Seconds()/n, "diff-files-s")
	b.ReportMetric(saveOne.Seconds()/n, "save-one-s")
	b.ReportMetric(wasted.Seconds()/n, "files-wasted-s")
	b.ReportMetric(diff.Seconds()/saveBoth.Seconds(), "diff/save")
	b.ReportMetric(diffFiles.Seconds()/saveBoth.Seconds(), "diff-files/save")
	b.ReportMetric(wasted.Seconds()/saveOne.Seconds(), "files-wasted/save")
	b.ReportMetric(float64(maxRSS)/(1<<20), "maxRSS-MiB")
}
