package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
	"github.com/docker-layers/docker-layers/internal/imagetest"
)

func TestHTMLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inspect-pro-buildkit", []string{"inspect", demo("pro-v1-buildkit")}},
		{"inspect-two-images", []string{"inspect", demo("lazy-v1-legacy"), demo("squashed")}},
		{"diff-lazy-legacy", []string{"diff", demo("lazy-v1-legacy"), demo("lazy-v2-legacy")}},
		{"diff-pro-buildkit", []string{"diff", demo("pro-v1-buildkit"), demo("pro-v2-buildkit")}},
		{"diff-same", []string{"diff", demo("pro-v1-legacy"), demo("pro-v1-legacy")}},
		{"shared", append([]string{"shared"}, sharedDemo()...)},
		{"shared-matrix", []string{"shared", "--matrix", demo("lazy-v1-legacy"), demo("pro-v1-legacy"), demo("pro-v1-buildkit")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{tc.args[0], "--format", "html"}, tc.args[1:]...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			assertSelfContained(t, out)
			assertGoldenFile(t, tc.name+".golden.html", out)
		})
	}
}

var (
	pageRef  = regexp.MustCompile(`(?i)\b(?:src|href|action|poster|srcset|xlink:href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)`)
	dataJSON = regexp.MustCompile(`data-json="([^"]*)" data-value="([^"]*)"`)
)

// assertSelfContained checks that a page loads nothing: no external URL in an
// attribute or style, and a content security policy that forbids fetching.
func assertSelfContained(t *testing.T, page string) {
	t.Helper()
	for _, m := range pageRef.FindAllStringSubmatch(page, -1) {
		if v := strings.TrimSpace(m[1] + m[2]); !strings.HasPrefix(v, "#") && !strings.HasPrefix(v, "data:image/png;base64,") {
			t.Errorf("the page refers to something outside itself: %q", v)
		}
	}
	if !strings.Contains(page, `content="default-src 'none';`) {
		t.Error("the page has no content security policy")
	}
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(page, "</html>\n") {
		t.Error("not one whole HTML document")
	}
}

// The figures on the page are the JSON's: every data-json path holds the bytes the
// JSON output holds there.
func TestHTMLFiguresAreTheJSONs(t *testing.T) {
	for _, args := range [][]string{
		{"inspect", demo("pro-v1-buildkit"), demo("lazy-v2-legacy")},
		{"diff", demo("lazy-v1-buildkit"), demo("lazy-v2-buildkit")},
		{"shared", "--matrix", demo("lazy-v1-legacy"), demo("pro-v1-legacy"), demo("pro-v2-legacy"), demo("squashed")},
	} {
		t.Run(args[0], func(t *testing.T) {
			page, _, code := runCLI(t, append([]string{args[0], "--format", "html"}, args[1:]...)...)
			js, _, code2 := runCLI(t, append([]string{args[0], "--format", "json"}, args[1:]...)...)
			if code != 0 || code2 != 0 {
				t.Fatalf("exit %d, %d", code, code2)
			}
			n, err := checkFigures(page, js)
			if err != nil {
				t.Fatal(err)
			}
			if n < 5 {
				t.Errorf("only %d figures on the page", n)
			}
		})
	}
}

// hostile is text an image can carry that would run as script if it were not escaped.
const hostile = `<script>alert(1)</script>`

func hostileImage(t *testing.T, app map[string]string) v1.Image {
	t.Helper()
	created := v1.Time{Time: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
	img := empty.Image
	for _, a := range []mutate.Addendum{
		{Layer: imagetest.FileLayer(t, map[string]string{"bin/sh": "sh"}), History: v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:" + strings.Repeat("1", 64) + " in /" + hostile + " ", Created: created}},
		{Layer: imagetest.FileLayer(t, app), History: v1.History{CreatedBy: "/bin/sh -c echo '" + hostile + "' > /x", Comment: hostile, Created: created}},
	} {
		var err error
		if img, err = mutate.Append(img, a); err != nil {
			t.Fatal(err)
		}
	}
	img, err := mutate.Append(img, mutate.Addendum{
		Layer:   imagetest.FileLayer(t, map[string]string{"empty": ""}),
		History: v1.History{CreatedBy: "/bin/sh -c #(nop)  LABEL note=\"" + hostile + "\"", Created: created},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Env = []string{"X=" + hostile}
	cfg.Config.WorkingDir = hostile
	return mustConfig(t, img, cfg)
}

func mustConfig(t *testing.T, img v1.Image, cfg *v1.ConfigFile) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Image names, history text, labels and file paths come from images: on the page they
// are text, never markup.
func TestHTMLEscapesImageText(t *testing.T) {
	// References are checked before any image is opened, so the hostile text comes in
	// the images: history, comments, labels, file paths, config.
	oldName, newName := "app:old", "app:new"
	images := map[string]v1.Image{
		oldName: hostileImage(t, map[string]string{"app/a.js": "1"}),
		newName: hostileImage(t, map[string]string{"app/a.js": "2", "app/" + hostile + ".js": "x"}),
	}
	for _, args := range [][]string{
		{"inspect", "--format", "html", oldName},
		{"diff", "--format", "html", oldName, newName},
		{"shared", "--format", "html", oldName, newName},
	} {
		t.Run(args[0], func(t *testing.T) {
			out, errOut, code := runCLIWith(t, images, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.Contains(out, "<script>alert") {
				t.Errorf("the page has the image's script as markup:\n%s", out)
			}
			if n := strings.Count(out, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 2 {
				t.Errorf("the image's text appears escaped %d times, want it shown (at least twice)", n)
			}
			if strings.Count(out, "<script>") != 1 {
				t.Errorf("want exactly one script element, the page's own")
			}
		})
	}
}

// --output writes the same bytes stdout would get, and stdout stays empty.
func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"html", "json", "table"} {
		path := filepath.Join(dir, "out."+format)
		stdout, errOut, code := runCLI(t, "inspect", "--format", format, "-o", path, demo("squashed"))
		if code != 0 || stdout != "" || errOut != "" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", format, code, stdout, errOut)
		}
		want, _, _ := runCLI(t, "inspect", "--format", format, demo("squashed"))
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s: the file differs from stdout", format)
		}
	}
	// A failure leaves nothing behind, not even a temporary file.
	_, _, code := runCLI(t, "inspect", "--format", "html", "--output", filepath.Join(dir, "bad.html"), demo("nope"))
	if code != ExitImage {
		t.Errorf("exit %d, want %d", code, ExitImage)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("the directory holds %d files, want the 3 outputs", len(entries))
	}
	_, errOut, code := runCLI(t, "inspect", "-o", filepath.Join(dir, "no", "such", "x.html"), demo("squashed"))
	if code != ExitUsage || !strings.Contains(errOut, "invalid --output") {
		t.Errorf("exit %d, stderr %q: want a usage error", code, errOut)
	}
}

// sharedImages builds n images the way a busy engine holds them: four bases, every
// third image a vendor layer on its base, each image one small layer of its own.
func sharedImages(t testing.TB, n int) (map[string]v1.Image, []string) {
	t.Helper()
	var bases []v1.Image
	for i := range 4 {
		img, err := mutate.Append(empty.Image, mutate.Addendum{
			Layer:   imagetest.FileLayer(t, map[string]string{fmt.Sprintf("base/%d", i): strings.Repeat("b", 1000*(i+1))}),
			History: v1.History{CreatedBy: fmt.Sprintf("/bin/sh -c #(nop) ADD file:base%d in / ", i)},
		})
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, img)
	}
	vendor := imagetest.FileLayer(t, map[string]string{"opt/vendor.bin": strings.Repeat("v", 3000)})
	images := map[string]v1.Image{}
	var refs []string
	for i := range n {
		img := bases[i%len(bases)]
		var err error
		if i%3 == 0 {
			if img, err = mutate.Append(img, mutate.Addendum{Layer: vendor, History: v1.History{CreatedBy: "/bin/sh -c #(nop) COPY file:vendor in /opt/vendor.bin "}}); err != nil {
				t.Fatal(err)
			}
		}
		if img, err = mutate.Append(img, mutate.Addendum{
			Layer:   imagetest.FileLayer(t, map[string]string{"own.txt": fmt.Sprintf("image %d\n", i)}),
			History: v1.History{CreatedBy: "/bin/sh -c #(nop) COPY file:own in /own.txt "},
		}); err != nil {
			t.Fatal(err)
		}
		ref := fmt.Sprintf("registry.example/team/bench-%03d:latest", i)
		images[ref] = img
		refs = append(refs, ref)
	}
	return images, refs
}

// The shared page for 300 images must stay small enough to attach: under 2 MB.
func TestSharedHTMLSize300(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 300 images")
	}
	images, refs := sharedImages(t, 300)
	out, errOut, code := runCLIWith(t, images, append([]string{"shared", "--format", "html"}, refs...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("shared --format html over 300 images: %d bytes", len(out))
	if len(out) > 2<<20 {
		t.Errorf("the page is %d bytes, want under 2 MB", len(out))
	}
	if !strings.Contains(out, `src="data:image/png;base64,`) {
		t.Error("300 images: want the heat map as a picture")
	}
}

// BenchmarkSharedHTML300 reports the size and render time of the shared page for 300
// images built in code (go test ./plugin -run XXX -bench SharedHTML).
func BenchmarkSharedHTML300(b *testing.B) {
	images, refs := sharedImages(b, 300)
	view := sharedView(b, images, refs)
	var size int
	for b.Loop() {
		var sb strings.Builder
		if err := writeSharedHTML(&sb, view); err != nil {
			b.Fatal(err)
		}
		size = sb.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
}

// sharedView is the shared view of images built in code, as runShared makes it.
func sharedView(t testing.TB, images map[string]v1.Image, refs []string) sharedJSON {
	t.Helper()
	open := func(_ context.Context, ref string, _ source.Options) (*source.Image, error) {
		return source.FromV1(images[ref], ref)
	}
	loaded, err := source.Load(context.Background(), open, refs, source.Options{}, source.Need{Sizes: source.SizesLocal})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	var imgs []analyze.Image
	for _, img := range loaded.Images {
		imgs = append(imgs, img.Image)
	}
	return newSharedJSON(analyze.Share(imgs), false)
}

// checkFigures holds every data-json figure of page to the JSON output js and
// returns how many it checked.
func checkFigures(page, js string) (int, error) {
	var doc any
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range dataJSON.FindAllStringSubmatch(page, -1) {
		path, value := m[1], m[2]
		v := doc
		for _, key := range strings.Split(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				v = c[key]
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i >= len(c) {
					return n, fmt.Errorf("%s: no such element in the JSON", path)
				}
				v = c[i]
			default:
				return n, fmt.Errorf("%s: no such element in the JSON", path)
			}
		}
		want := ""
		if v != nil {
			want = fmt.Sprint(v)
		}
		if want != value {
			return n, fmt.Errorf("%s: the page says %q, the JSON %q", path, value, want)
		}
		n++
	}
	return n, nil
}

// A container's page adds its writable layer, mounts, changes and warnings; the
// shared page the containers' writable layers. Their figures are the JSON's too.
func TestHTMLContainers(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inspect-container", []string{"inspect", "--files", "--rw-threshold", "1MB", "e2e-dbfile", "container:e2e-withvol"}},
		{"shared-containers", []string{"shared", "--all", "--containers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, errOut, code := runCLIEngine(t, append([]string{tc.args[0], "--format", "html"}, tc.args[1:]...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			js, _, _ := runCLIEngine(t, append([]string{tc.args[0], "--format", "json"}, tc.args[1:]...)...)
			if _, err := checkFigures(page, js); err != nil {
				t.Error(err)
			}
			if !strings.Contains(page, `.container.sizeRw"`) && !strings.Contains(page, `"containers.sizeRw"`) {
				t.Error("the page does not show the writable layers")
			}
			assertSelfContained(t, page)
			assertGoldenFile(t, tc.name+".golden.html", page)
		})
	}
}

// A registry walk's page adds what the registry stores; its figures are the JSON's.
func TestHTMLRegistry(t *testing.T) {
	reg := pushRegistryApps(t)
	args := []string{"shared", "--registry", reg.Host, "--repo", "team/*", "--no-cache"}
	page, errOut, code := runCLI(t, append(args, "--format", "html")...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	js, _, _ := runCLI(t, append(args, "--format", "json")...)
	n, err := checkFigures(page, js)
	if err != nil {
		t.Error(err)
	}
	if !strings.Contains(page, `data-json="registry.storedSize"`) || n < 10 {
		t.Errorf("%d figures; want the registry's storage among them", n)
	}
	assertSelfContained(t, page)
}

// A streamed output (shared --registry --format jsonl) goes to --output too.
func TestOutputFileJSONL(t *testing.T) {
	reg := pushRegistryApps(t)
	path := filepath.Join(t.TempDir(), "walk.jsonl")
	stdout, errOut, code := runCLI(t, "shared", "--registry", reg.Host, "--no-cache", "--format", "jsonl", "-o", path)
	if code != 0 || stdout != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var last struct{ Type string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) != 6 || last.Type != "summary" {
		t.Errorf("%d lines, last %q (%v): want 5 images and a summary\n%s", len(lines), last.Type, err, b)
	}
}

// predict --fix writes the fixed Dockerfile to --output as well.
func TestOutputFileFix(t *testing.T) {
	dir := predictContext(t, predictDockerfile, nil)
	want, _, _ := runCLIWith(t, nil, "predict", "--context", dir, "--fix")
	path := filepath.Join(t.TempDir(), "Dockerfile.fixed")
	stdout, errOut, code := runCLIWith(t, nil, "predict", "--context", dir, "--fix", "-o", path)
	if code != 0 || stdout != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		t.Errorf("the file differs from stdout (%v)", err)
	}
}

// A right-to-left override in a history entry would make the text read otherwise than
// it is: the page shows it as an escape, as the table does.
func TestHTMLShowsHiddenCharacters(t *testing.T) {
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   imagetest.FileLayer(t, map[string]string{"x": "x"}),
		History: v1.History{CreatedBy: "/bin/sh -c echo safe\u202e# hcraes\n# second line"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLIWith(t, map[string]v1.Image{"app:rtl": img}, "inspect", "--format", "html", "app:rtl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsRune(out, '\u202e') || !strings.Contains(out, `safe\u202e# hcraes`) {
		t.Error("the override is not shown as an escape")
	}
	if !strings.Contains(out, "# hcraes\n# second line</pre>") {
		t.Error("the raw history text lost its line break")
	}
}
