package plugin

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// checkArgs checks the demo's lazy v2 build against its v1 build with one rule of each
// verdict: a failure on a layer, a warning, passes, growth and reuse.
func checkArgs(extra ...string) []string {
	args := []string{"check",
		"--max-size", "600kB", "--warn-size", "500kB",
		"--max-layer-size", "200kB", "--max-layers", "10",
		"--baseline", demo("lazy-v1-buildkit"), "--max-growth", "1%", "--max-layer-growth", "10kB", "--min-reused", "50%",
	}
	args = append(args, extra...)
	return append(args, demo("lazy-v2-buildkit"))
}

func TestCheckFormats(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
		code   int
	}{
		{"check-table", checkArgs(), ExitFinding},
		{"check-json", checkArgs("--format", "json"), ExitFinding},
		{"check-junit", checkArgs("--format", "junit"), ExitFinding},
		{"check-github", checkArgs("--format", "github"), ExitFinding},
		{"check-markdown", checkArgs("--format", "markdown"), ExitFinding},
		{"check-template", checkArgs("--format", "table {{.Rule}}\t{{.Status}}\t{{.Actual}}\t{{.Layer}}"), ExitFinding},
		{"check-compressed", []string{"check", "--compressed", "--max-size", "150kB", "--max-layer-size", "104kB",
			"--baseline", demo("lazy-v1-buildkit"), "--warn-growth", "0.1%", demo("lazy-v2-buildkit"), demo("pro-v2-buildkit")}, ExitFinding},
		// Rules whose figures are missing are errors, never passes.
		{"check-error", []string{"check", "--max-size", "1MB", "--max-growth", "10%", "--max-wasted", "5%", demo("lazy-v2-buildkit")}, ExitUsage},
		{"check-error-github", []string{"check", "--format", "github", "--max-size", "1MB", "--max-growth", "10%", demo("lazy-v2-buildkit")}, ExitUsage},
		{"check-pass", []string{"check", "--max-size", "1MB", "--max-layers", "5", demo("lazy-v2-buildkit")}, ExitOK},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			assertGolden(t, tc.golden, out)
		})
	}
}

func TestCheckJSONView(t *testing.T) {
	out, _, _ := runCLI(t, checkArgs("--format", "json")...)
	var v checkView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Passed || v.Status != "fail" || len(v.Images) != 1 {
		t.Fatalf("view %+v", v)
	}
	im := v.Images[0]
	got := map[string]checkRuleView{}
	for _, r := range im.Rules {
		got[r.Rule] = r
	}
	if r := got["max-layer-size"]; r.Status != "fail" || r.Layer == nil || r.Layer.Index != 0 || r.Unit != "bytes" || *r.Actual != 308357 {
		t.Errorf("max-layer-size %+v", r)
	}
	if r := got["warn-size"]; r.Status != "warn" || r.Message == "" {
		t.Errorf("warn-size %+v", r)
	}
	if r := got["min-reused"]; r.Status != "pass" || r.Unit != "percent" || im.Baseline != demo("lazy-v1-buildkit") {
		t.Errorf("min-reused %+v, baseline %q", r, im.Baseline)
	}
}

// The JUnit output is what a CI system's XML parser reads: one test case per image ×
// rule, failures and errors counted.
func TestCheckJUnitParses(t *testing.T) {
	out, _, _ := runCLI(t, "check", "--max-size", "600kB", "--max-layer-size", "200kB", "--max-growth", "10%",
		demo("lazy-v2-buildkit"), demo("pro-v2-buildkit"))
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	junit, _, _ := runCLI(t, "check", "--format", "junit", "--max-size", "600kB", "--max-layer-size", "200kB", "--max-growth", "10%",
		demo("lazy-v2-buildkit"), demo("pro-v2-buildkit"))
	if err := xml.Unmarshal([]byte(junit), &doc); err != nil {
		t.Fatalf("JUnit output does not parse: %v\n%s", err, junit)
	}
	if doc.Tests != 6 || len(doc.Suites) != 2 || doc.Errors != 2 {
		t.Errorf("%d tests in %d suites, %d errors; want 6 in 2, 2 errors (max-growth has no baseline)", doc.Tests, len(doc.Suites), doc.Errors)
	}
	failures := 0
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Classname != s.Name || c.Name == "" {
				t.Errorf("test case %q of class %q in suite %q", c.Name, c.Classname, s.Name)
			}
			if c.Failure != nil {
				failures++
				if !strings.Contains(out, c.Failure.Message[:10]) && c.Failure.Message == "" {
					t.Errorf("failure without a message: %+v", c)
				}
			}
		}
	}
	if failures != doc.Failures || failures == 0 {
		t.Errorf("%d failed test cases, the document counts %d", failures, doc.Failures)
	}
}

// Exit status: 0 when every rule passed (warnings pass), 1 when one failed, 2 when
// the check could not run — never a silent pass.
func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	badRules := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badRules, []byte("rules:\n  max-size: lots\n  max-layers: 1.5\n  warn-size: 1GB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	goodRules := filepath.Join(dir, "good.yml")
	if err := os.WriteFile(goodRules, []byte("rules:\n  max-size: 1MB\n  warn-size: 500kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v2 := demo("lazy-v2-buildkit")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"pass", []string{"check", "--max-size", "1MB", v2}, ExitOK, nil},
		{"pass at the limit", []string{"check", "--max-size", "567995", v2}, ExitOK, nil},
		{"warnings pass", []string{"check", "--rules", goodRules, v2}, ExitOK, nil},
		{"fail just over", []string{"check", "--max-size", "567994", v2}, ExitFinding, nil},
		{"fail", []string{"check", "--rules", goodRules, "--max-layers", "4", v2}, ExitFinding, nil},
		{"flags contradict each other", []string{"check", "--max-size", "100kB", "--warn-size", "200kB", v2}, ExitUsage, []string{
			"--warn-size: warn-size 200kB is above max-size 100kB (--max-size)"}},
		{"bad reference", []string{"check", "--max-size", "1MB", "oci:no/such/dir"}, ExitUsage, []string{"no/such/dir"}},
		{"bad baseline", []string{"check", "--max-growth", "1MB", "--baseline", "oci:no/such/dir", v2}, ExitUsage, []string{"oci:no/such/dir: no such directory"}},
		{"bad config", []string{"check", "--rules", badRules, v2}, ExitUsage, []string{
			badRules + `:2: max-size: "lots" is not a size`, badRules + `:3: max-layers: "1.5" is not a whole number`}},
		{"missing config", []string{"check", "--rules", filepath.Join(dir, "none.yml"), v2}, ExitUsage, []string{"none.yml"}},
		{"bad flags, all at once", []string{"check", "--max-size", "1XB", "--min-reused", "80", "--max-layers", "x", v2}, ExitUsage, []string{
			`--max-size: "1XB" is not a size`, `--min-reused: "80" is not a percentage`, `--max-layers: "x" is not a whole number`}},
		{"flags contradict the file", []string{"check", "--rules", goodRules, "--warn-size", "2MB", v2}, ExitUsage, []string{
			"--warn-size: warn-size 2MB is above max-size 1MB (" + goodRules + ":2)"}},
		{"no rules", []string{"check", v2}, ExitUsage, []string{"no budget rules"}},
		{"a rule without its figure", []string{"check", "--max-growth", "1MB", v2}, ExitUsage, nil},
		{"no image", []string{"check", "--max-size", "1MB"}, ExitUsage, []string{"requires at least 1"}},
		{"bad format", []string{"check", "--max-size", "1MB", "--format", "{{.Nope", v2}, ExitUsage, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}
}

func TestCheckPrintConfigFlag(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "r.yml")
	if err := os.WriteFile(rules, []byte("rules:\n  max-size: 1MB\nimages:\n  - match: 'oci:*'\n    rules:\n      compressed: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "check", "--rules", rules, "--print-config", "--max-layers", "5")
	want := "rules:\n  max-size: 1MB\n  max-layers: 5\nimages:\n  - match: oci:*\n    rules:\n      compressed: true\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, stderr %q, printed:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

// A per-image override applies to the images it matches only: here, compressed sizes
// for the pro builds, with a larger budget; the lazy build keeps the file's rules.
func TestCheckPerImageOverrides(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yml")
	cfg := "rules:\n  max-size: 500kB\nimages:\n  - match: \"oci:../testdata/demo:pro-*\"\n    rules:\n      compressed: true\n      max-size: 190kB\n"
	if err := os.WriteFile(rules, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "check", "--format", "json", "--rules", rules, demo("lazy-v2-buildkit"), demo("pro-v2-buildkit"))
	if code != ExitFinding {
		t.Errorf("exit %d, want 1 (lazy is over 500kB uncompressed); stderr %s", code, errOut)
	}
	var v checkView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		sizes, status string
		limit         float64
	}{{"uncompressed", "fail", 500e3}, {"compressed", "pass", 190e3}}
	for i, w := range want {
		im := v.Images[i]
		if im.Sizes != w.sizes || im.Status != w.status || im.Rules[0].Limit != w.limit {
			t.Errorf("%s: %s sizes, %s, limit %v; want %s, %s, %v", im.Image, im.Sizes, im.Status, im.Rules[0].Limit, w.sizes, w.status, w.limit)
		}
	}
}

// --output writes any format to a file, JUnit included; html is refused before any read.
func TestCheckOutputFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "size.xml")
	out, errOut, code := runCLI(t, checkArgs("--format", "junit", "-o", file)...)
	if code != ExitFinding || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join("testdata", "check-junit.golden"))
	if string(b) != string(want) {
		t.Errorf("--output file differs from check-junit.golden:\n%s", b)
	}
}

// The check page: failures first, each status in words, the figures of the JSON.
func TestCheckHTML(t *testing.T) {
	page, errOut, code := runCLI(t, checkArgs("--format", "html")...)
	if code != ExitFinding {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	assertGoldenFile(t, "check.golden.html", page)
	fail, pass := strings.Index(page, "<strong>FAIL</strong>"), strings.Index(page, "<strong>PASS</strong>")
	if fail < 0 || pass < 0 || fail > pass {
		t.Errorf("failures are not listed before passes (FAIL at %d, PASS at %d)", fail, pass)
	}
}

// Wasted-space rules replay the layers as `files` does: a 10,000-byte file that a
// higher layer overwrites with 100 bytes wastes 10,000 of the image's 10,100 bytes.
func TestCheckWasted(t *testing.T) {
	img := empty.Image
	for _, files := range []map[string]string{
		{"app/data.bin": strings.Repeat("x", 10000)},
		{"app/data.bin": strings.Repeat("y", 100)},
	} {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: imagetest.FileLayer(t, files), History: v1.History{CreatedBy: "COPY data.bin /app/ # buildkit"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	images := map[string]v1.Image{"app:wasteful": img}
	out, errOut, code := runCLIWith(t, images, "check", "--format", "json", "--max-wasted", "20kB", "--min-efficiency", "0.95", "--warn-size", "1MB", "app:wasteful")
	if code != ExitFinding {
		t.Errorf("exit %d, want 1 (efficiency 0.01); stderr %s", code, errOut)
	}
	var v checkView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	rules := v.Images[0].Rules
	if rules[1].Rule != "max-wasted" || *rules[1].Actual != 10000 || rules[1].Status != "pass" {
		t.Errorf("max-wasted %+v", rules[1])
	}
	if rules[2].Rule != "min-efficiency" || rules[2].Status != "fail" || *rules[2].Actual > 0.0100 || *rules[2].Actual < 0.0099 {
		t.Errorf("min-efficiency %+v", rules[2])
	}
	table, _, _ := runCLIWith(t, images, "check", "--max-wasted", "50%", "--min-efficiency", "95%", "app:wasteful")
	assertGolden(t, "check-wasted", table)
}
