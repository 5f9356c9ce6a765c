//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMemory runs the plugin on images whose one big layer has two sizes, ten times
// apart, and reports for each read path the peak resident memory of the plugin process
// and its throughput over the image bytes it covers. Memory must not grow with the
// layer: every path streams each layer once.
//
//	go test -tags e2e -run '^$' -bench Memory -benchtime 3x ./test/e2e/
func BenchmarkMemory(b *testing.B) {
	if h.pluginErr != nil {
		b.Fatalf("plugin binary not built: %v", h.pluginErr)
	}
	for _, layerBytes := range []int64{bigLayerBytes / 10, bigLayerBytes} {
		big := bigImages(b, layerBytes)
		paths := []struct {
			name string
			args []string
			// bytes is how many image bytes one run covers.
			bytes int64
		}{
			{"engine-inspect", []string{"inspect", big.v1}, big.imageSize},
			{"archive-inspect", []string{"inspect", "docker-archive:" + big.archive}, big.imageSize},
			{"engine-export-diff", []string{"diff", big.v1, big.v2}, 2 * big.imageSize},
			{"registry-inspect-uncompressed", []string{"inspect", "--uncompressed", "docker://" + big.remote}, big.imageSize},
		}
		for _, p := range paths {
			b.Run(fmt.Sprintf("%s/layer=%dMB", p.name, layerBytes/1_000_000), func(b *testing.B) {
				var maxRSS int64
				var elapsed, cpu time.Duration
				for b.Loop() {
					start := time.Now()
					rss, used := runForRSS(b, p.args...)
					elapsed += time.Since(start)
					cpu += used
					maxRSS = max(maxRSS, rss)
				}
				b.ReportMetric(float64(p.bytes)*float64(b.N)/elapsed.Seconds()/1e6, "MB/s")
				b.ReportMetric(float64(maxRSS)/(1<<20), "maxRSS-MiB")
				// The plugin's share of the wall time: near 100% means it, not the engine
				// or the registry, sets the pace.
				b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "plugin-cpu-%")
				b.ReportMetric(float64(p.bytes)/(1<<20), "image-MiB")
			})
		}
	}
}

// runForRSS runs the plugin to completion and returns its peak resident set size in
// bytes, as the kernel accounts it (getrusage ru_maxrss), and the CPU time it used.
func runForRSS(b *testing.B, args ...string) (rss int64, cpu time.Duration) {
	b.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(commands, pluginBin(), args...)
	cmd.Env = commandEnv(nil)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", pluginBin(), strings.Join(args, " "), err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage for the plugin process")
	}
	return ru.Maxrss << 10, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() // ru_maxrss is in KiB on Linux
}
