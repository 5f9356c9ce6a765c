//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSharedHTML makes the `shared --all --format html` page over the engine's
// images (at least benchImages) and times headless Chromium rendering it to a
// screenshot, against the same browser on an empty page (its start-up):
//
//	go test -tags e2e -run XXX -bench SharedHTML ./test/e2e/
func BenchmarkSharedHTML(b *testing.B) {
	setupBenchImages(b)
	dir := b.TempDir()
	page := filepath.Join(dir, "shared.html")
	blank := filepath.Join(dir, "blank.html")
	if err := os.WriteFile(blank, []byte("<!DOCTYPE html><title>blank</title>\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if _, errOut, code := layers(b, "shared", "--all", "--format", "html", "-o", page); code != 0 {
		b.Fatalf("shared --all --format html: exit %d: %s", code, errOut)
	}
	info, err := os.Stat(page)
	if err != nil {
		b.Fatal(err)
	}
	listener := countConnections(b)
	shot := filepath.Join(dir, "shared.png")
	var render, startup time.Duration
	runs := 0
	for b.Loop() {
		runs++
		render += browse(b, listener.addr, "--screenshot="+shot, page)
		startup += browse(b, listener.addr, "--screenshot="+filepath.Join(dir, "blank.png"), blank)
	}
	keepArtifact(b, page, shot)
	if f := pageFetches(listener.since(0)); len(f) > 0 {
		b.Errorf("the page made the browser connect to %q", f)
	}
	b.ReportMetric(float64(info.Size()), "page-bytes")
	b.ReportMetric(render.Seconds()/float64(runs), "chromium-s")
	b.ReportMetric(startup.Seconds()/float64(runs), "blank-page-s")
}
