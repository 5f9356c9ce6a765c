//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSharedHTML makes the `shared --all --format html` page over the engine's
// images (at least benchImages) and times headless Chromium on it: the whole browser
// run to a screenshot, the same on an empty page (the browser's start-up), and the
// page's own render time, measured inside the browser by a test page that loads it
// in a frame (from inserting the frame to its load, then style and layout forced):
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
	timer := filepath.Join(dir, "timer.html")
	if err := os.WriteFile(timer, []byte(frameTimer), 0o644); err != nil {
		b.Fatal(err)
	}
	listener := countConnections(b)
	shot := filepath.Join(dir, "shared.png")
	var render, startup, inPage time.Duration
	runs := 0
	for b.Loop() {
		runs++
		render += browse(b, listener.addr, "--screenshot="+shot, page)
		startup += browse(b, listener.addr, "--screenshot="+filepath.Join(dir, "blank.png"), blank)
		m := renderTime.FindStringSubmatch(browseDOM(b, listener.addr, timer, "--allow-file-access-from-files"))
		if m == nil {
			b.Fatal("the timing page reported no render time")
		}
		ms, _ := strconv.Atoi(m[1])
		inPage += time.Duration(ms) * time.Millisecond
	}
	keepArtifact(b, page, shot)
	if f := pageFetches(listener.since(0)); len(f) > 0 {
		b.Errorf("the page made the browser connect to %q", f)
	}
	b.ReportMetric(float64(info.Size()), "page-bytes")
	b.ReportMetric(render.Seconds()/float64(runs), "chromium-s")
	b.ReportMetric(startup.Seconds()/float64(runs), "blank-page-s")
	b.ReportMetric(inPage.Seconds()/float64(runs), "render-s")
}

// frameTimer loads shared.html from its directory in a 1280×2000 frame, forces its
// style and layout once it has loaded, and writes how long that took into its own
// DOM, before its own load event, so --dump-dom sees it.
const frameTimer = `<!DOCTYPE html><title>timing</title><pre id="out"></pre><script>
var t0 = performance.now();
var f = document.createElement("iframe");
f.style.width = "1280px"; f.style.height = "2000px";
f.onload = function () {
	var h = f.contentDocument.documentElement.getBoundingClientRect().height;
	document.getElementById("out").textContent = "render-ms=" + Math.round(performance.now() - t0) + " height=" + Math.round(h);
};
f.src = "shared.html";
document.body.appendChild(f);
</script>
`

var renderTime = regexp.MustCompile(`render-ms=([0-9]+)`)
