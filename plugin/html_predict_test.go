package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The predict page: golden files for a break with changed files (both builders), a
// divergence, nothing changed and the Dockerfile alone (advice only).
func TestPredictHTMLGolden(t *testing.T) {
	sourceEdit := map[string]string{"src/util.js": "module.exports = 'hello again, '\n"}
	for _, tc := range []struct {
		name       string
		buildkit   bool
		dockerfile string
		edits      map[string]string
		args       []string
		image      bool
	}{
		{"predict-buildkit", true, predictDockerfile, sourceEdit, nil, true},
		{"predict-legacy-build-arg", false, predictDockerfile, nil, []string{"--build-arg", "APP_VERSION=2"}, true},
		{"predict-diverged", true, strings.Replace(predictDockerfile, "ARG APP_VERSION=1\n", "ARG APP_VERSION=1\nUSER node\n", 1), nil, nil, true},
		{"predict-unchanged", true, predictDockerfile, nil, nil, true},
		{"predict-alone", true, predictDockerfile, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := predictContext(t, tc.dockerfile, tc.edits)
			args := append([]string{"predict", "--context", dir}, tc.args...)
			images := predictImages(t, tc.buildkit)
			if tc.image {
				args = append(args, "app:v1")
			}
			page, errOut, code := runCLIWith(t, images, append(args[:len(args):len(args)], "--format", "html")...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			js, _, _ := runCLIWith(t, images, append(args[:len(args):len(args)], "--format", "json")...)
			n, err := checkFigures(page, js)
			if err != nil {
				t.Error(err)
			}
			if n < 12 {
				t.Errorf("only %d figures on the page", n)
			}
			assertSelfContained(t, page)
			assertGoldenFile(t, tc.name+".golden.html", page)
		})
	}
}

// The first break is marked on its row (and only there), each step says why, and
// the advice names its lines and --fix.
func TestPredictHTMLShowsTheBreak(t *testing.T) {
	dir := predictContext(t, predictDockerfile, map[string]string{"src/util.js": "edited\n"})
	page, _, code := runCLIWith(t, predictImages(t, true), "predict", "--context", dir, "--format", "html", "app:v1")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(page, `class="rebuilt firstbreak"`); n != 1 {
		t.Errorf("%d rows marked as the first break, want 1", n)
	}
	for _, want := range []string{
		`data-cause="first-break"`, `data-cause="above-break"`, `data-cause="unchanged"`,
		"<code>/app/src/util.js</code>", "inputs-changed", `href="#line-4"`, `href="#line-5"`,
		"docker layers predict --fix",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Text from the image and the context (file names, history) is text on the page.
func TestPredictHTMLEscapes(t *testing.T) {
	df := predictDockerfile + "LABEL note=\"" + hostile + "\"\n"
	dir := predictContext(t, df, map[string]string{"src/" + hostile + ".js": "x"})
	page, errOut, code := runCLIWith(t, predictImages(t, true), "predict", "--context", dir, "--format", "html", "app:v1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(page, "<script>alert") {
		t.Errorf("the page has the script as markup")
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 2 {
		t.Errorf("the hostile text appears escaped %d times, want at least twice", n)
	}
	if strings.Count(page, "<script>") != 1 {
		t.Errorf("want exactly one script element, the page's own")
	}
}

// -o writes the predict page as it writes every other.
func TestPredictHTMLOutputFile(t *testing.T) {
	dir := predictContext(t, predictDockerfile, nil)
	images := predictImages(t, true)
	want, _, _ := runCLIWith(t, images, "predict", "--context", dir, "--format", "html", "app:v1")
	path := filepath.Join(t.TempDir(), "predict.html")
	stdout, errOut, code := runCLIWith(t, images, "predict", "--context", dir, "--format", "html", "-o", path, "app:v1")
	if code != 0 || stdout != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		t.Errorf("the file differs from stdout (%v)", err)
	}
}

// The view's fixed Dockerfile (on the page and in the JSON) is what --fix prints.
func TestPredictFixedDockerfileInTheView(t *testing.T) {
	dir := predictContext(t, predictDockerfile, nil)
	fix, _, code := runCLIWith(t, nil, "predict", "--context", dir, "--fix")
	if code != 0 {
		t.Fatalf("--fix: exit %d", code)
	}
	for _, image := range [][]string{nil, {"app:v1"}} {
		args := append([]string{"predict", "--context", dir, "--format", "json"}, image...)
		out, _, code := runCLIWith(t, predictImages(t, true), args...)
		var v struct{ FixedDockerfile *string }
		if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil {
			t.Fatalf("exit %d, %v", code, err)
		}
		if v.FixedDockerfile == nil || *v.FixedDockerfile != fix {
			t.Errorf("%v: fixedDockerfile differs from --fix", image)
		}
	}
}
