//go:build e2e

package e2e

import (
	"sync"
	"testing"
	"time"
)

var (
	checkBenchOnce sync.Once
	checkBenchApp  checkApp
)

// BenchmarkCheck reports what `check` costs where CI runs it. engine-vs-history runs
// `check` with size rules on an engine image and `docker history` of the same image
// alternately (target: check/history at most 1.2, as both make the same two metadata
// calls, image inspect and history). registry-compressed runs `check --compressed` of a
// registry image against a registry baseline and counts the registry's blob GETs in
// its access log (target: 0 layer blob GETs; the two configs are blobs too).
// engine-vs-registry-baseline checks the engine image against the registry baseline,
// uncompressed: the layer blobs downloaded to size the baseline's own layers.
//
//	go test -tags e2e -run '^$' -bench Check -benchtime 10x ./test/e2e/
func BenchmarkCheck(b *testing.B) {
	checkBenchOnce.Do(func() { checkBenchApp = buildCheckApp(b, "check-bench") })
	a := checkBenchApp
	configs := []string{registryConfig(b, a.remoteMain), registryConfig(b, a.remote)}
	sizeRules := []string{"check", "--max-size", "1GB", "--warn-size", "900MB", "--max-layer-size", "500MB", "--max-layers", "100"}

	b.Run("engine-vs-history", func(b *testing.B) {
		var checkTime, historyTime time.Duration
		for b.Loop() {
			start := time.Now()
			if _, errOut, code := layers(b, append(sizeRules, a.v2)...); code != 0 {
				b.Fatalf("check: exit %d: %s", code, errOut)
			}
			checkTime += time.Since(start)
			start = time.Now()
			docker(b, "history", a.v2)
			historyTime += time.Since(start)
		}
		b.ReportMetric(float64(checkTime.Milliseconds())/float64(b.N), "check-ms")
		b.ReportMetric(float64(historyTime.Milliseconds())/float64(b.N), "history-ms")
		b.ReportMetric(checkTime.Seconds()/historyTime.Seconds(), "check/history")
	})

	blobGets := func(b *testing.B, args ...string) {
		var layerGets, allGets int
		for b.Loop() {
			before := len(registryRequests(b, "GET", "/v2/"+a.repo+"/blobs/sha256:"))
			if _, errOut, code := layers(b, args...); code != 0 {
				b.Fatalf("check: exit %d: %s", code, errOut)
			}
			l, all := layerBlobGets(b, a.repo, before, configs...)
			layerGets += len(l)
			allGets += all
		}
		b.ReportMetric(float64(layerGets)/float64(b.N), "layer-blob-GETs/op")
		b.ReportMetric(float64(allGets)/float64(b.N), "blob-GETs/op")
	}
	b.Run("registry-compressed", func(b *testing.B) {
		blobGets(b, append(sizeRules, "--compressed", "--baseline", "docker://"+a.remoteMain, "--max-growth", "10%", "--max-layer-growth", "1MB", "--min-reused", "50%", "docker://"+a.remote)...)
	})
	b.Run("engine-vs-registry-baseline", func(b *testing.B) {
		blobGets(b, append(sizeRules, "--baseline", "docker://"+a.remoteMain, "--max-growth", "1MB", "--min-reused", "50%", a.v2)...)
	})
}
