package plugin

import (
	"strings"
	"testing"

	"github.com/docker-layers/docker-layers/analyze"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"200MB", 200_000_000},
		{"200mb", 200_000_000},
		{"200 MB", 200_000_000},
		{"1.5GiB", 1_610_612_736},
		{"1.5GB", 1_500_000_000},
		{"512KiB", 524_288},
		{"100kB", 100_000},
		{"1048576", 1_048_576},
		{"300B", 300},
		{"2T", 2_000_000_000_000},
	} {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "-5MB", "10%", "1.5.5MB", "5 XB", "MB", "5MBB", "1e9"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseLimit(t *testing.T) {
	kind := func(name string) analyze.RuleKind {
		k, _ := analyze.RuleKindNamed(name)
		return k
	}
	for _, tc := range []struct {
		rule, in string
		want     analyze.Limit
	}{
		{"max-growth", "10%", analyze.Limit{Value: 10, Percent: true}},
		{"max-growth", "2.5 %", analyze.Limit{Value: 2.5, Percent: true}},
		{"max-growth", "20MB", analyze.Limit{Value: 20e6}},
		{"min-reused", "80%", analyze.Limit{Value: 80, Percent: true}},
		{"max-layers", "12", analyze.Limit{Value: 12}},
		{"min-efficiency", "0.95", analyze.Limit{Value: 0.95}},
		{"min-efficiency", "95%", analyze.Limit{Value: 0.95}},
		{"max-wasted", "5%", analyze.Limit{Value: 5, Percent: true}},
	} {
		got, err := parseLimit(kind(tc.rule), tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s %q = %+v, %v; want %+v", tc.rule, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ rule, in string }{
		{"max-size", "10%"},
		{"max-growth", "ten%"},
		{"min-reused", "80"},
		{"min-reused", "120%"},
		{"max-layers", "1.5"},
		{"max-layers", "-1"},
		{"min-efficiency", "1.2"},
		{"max-size", "-1MB"},
	} {
		if got, err := parseLimit(kind(tc.rule), tc.in); err == nil {
			t.Errorf("%s %q = %+v, want an error", tc.rule, tc.in, got)
		}
	}
}

const goodConfig = `# budgets for every image
rules:
  max-size: 300MB
  warn-size: 250MB
  max-layer-size: 100MB
  max-layers: 20
images:
  - match: "registry.example.com/team/*"
    rules:
      max-size: 500MB
      compressed: true
  - match: "*/big:*"
    rules:
      max-layer-size: 1.5GiB
`

func TestCheckConfigOverrides(t *testing.T) {
	cfg, errs := parseCheckConfig("ci.yml", []byte(goodConfig))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	flags := newRuleSet()
	if err := flags.set("max-layers", "10", "--max-layers"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref        string
		maxSize    float64
		maxLayer   float64
		compressed bool
	}{
		{"app:v2", 300e6, 100e6, false},
		{"docker://registry.example.com/team/app:v2", 500e6, 100e6, true},
		{"registry.example.com/team/app:v2", 500e6, 100e6, true},
		{"registry.example.com/team/sub/app:v2", 300e6, 100e6, false}, // * stops at a slash
		{"docker://r.io/big:1", 300e6, 1.5 * (1 << 30), false},
	} {
		s := cfg.forImage(tc.ref, flags)
		if s.limits["max-size"].Value != tc.maxSize || s.limits["max-layer-size"].Value != tc.maxLayer || s.compressed() != tc.compressed {
			t.Errorf("%s: max-size %v, max-layer-size %v, compressed %v; want %v %v %v", tc.ref,
				s.limits["max-size"].Value, s.limits["max-layer-size"].Value, s.compressed(), tc.maxSize, tc.maxLayer, tc.compressed)
		}
		if s.limits["max-layers"].Value != 10 {
			t.Errorf("%s: the --max-layers flag does not override the file: %v", tc.ref, s.limits["max-layers"])
		}
		if len(s.rules()) != 4 {
			t.Errorf("%s: %d rules, want 4", tc.ref, len(s.rules()))
		}
	}
}

// Every problem is reported, each with its file and line, not just the first.
func TestCheckConfigErrors(t *testing.T) {
	const bad = `rules:
  max-size: 300 megs
  max-sise: 300MB
  warn-size: 400MB
  max-size: 200MB
  min-reused: 80
colours: true
images:
  - match: "[a-"
    rules:
      max-layers: many
  - rules:
      max-size: 1GB
  - match: "ok/*"
    rules:
      warn-size: 2GB
      max-size: 1GB
    extra: 1
`
	_, errs := parseCheckConfig("ci.yml", []byte(bad))
	want := []string{
		`ci.yml:2: max-size: "300 megs" is not a size`,
		`ci.yml:3: unknown key "max-sise"`,
		`ci.yml:5: "max-size" is set twice`,
		`ci.yml:6: min-reused: "80" is not a percentage`,
		`ci.yml:7: unknown key "colours"`,
		`ci.yml:9: match: "[a-" is not a reference pattern`,
		`ci.yml:11: max-layers: "many" is not a whole number`,
		`ci.yml:12: an images entry needs match: PATTERN`,
		`ci.yml:18: unknown key "extra" in an images entry`,
		// Contradictions among the values that did parse come too.
		`ci.yml:16: warn-size 2GB is above max-size 1GB (ci.yml:17)`,
	}
	checkErrors(t, errs, want)

	// Contradictions come once the values parse: in a scope, and between a scope and
	// an override.
	const contradicting = `rules:
  max-size: 300MB
  warn-size: 400MB
  max-layer-size: 100MB
images:
  - match: "app:*"
    rules:
      warn-layer-size: 150MB
  - match: "ok:*"
    rules:
      max-size: 500MB
`
	_, errs = parseCheckConfig("ci.yml", []byte(contradicting))
	checkErrors(t, errs, []string{
		`ci.yml:3: warn-size 400MB is above max-size 300MB (ci.yml:2)`,
		`ci.yml:8: warn-layer-size 150MB is above max-layer-size 100MB (ci.yml:4)`,
	})

	_, errs = parseCheckConfig("ci.yml", []byte("rules: [max-size]\nimages: {}\n"))
	checkErrors(t, errs, []string{"ci.yml:1: rules must be a mapping", "ci.yml:2: images must be a list"})

	_, errs = parseCheckConfig("ci.yml", []byte("rules:\n  max-size: 1GB\n bad indent: x\n"))
	checkErrors(t, errs, []string{"ci.yml:2: did not find expected key"})

	if _, errs := parseCheckConfig("ci.yml", nil); len(errs) != 0 {
		t.Errorf("an empty file: %v", errs)
	}
}

// checkErrors wants one error per want, in order, each starting with its want.
func checkErrors(t *testing.T, errs, want []string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), strings.Join(errs, "\n"))
	}
	for i := range min(len(errs), len(want)) {
		if !strings.HasPrefix(errs[i], want[i]) {
			t.Errorf("error %d: %q, want it to start with %q", i, errs[i], want[i])
		}
	}
}

func TestPrintConfig(t *testing.T) {
	cfg, errs := parseCheckConfig("ci.yml", []byte(goodConfig))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	flags := newRuleSet()
	for k, v := range map[string]string{"max-size": "400MB", "baseline": "docker://registry.example.com/team/app:main"} {
		if err := flags.set(k, v, "--"+k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := cfg.printConfig(flags)
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "check-print-config", string(b))
	// What it prints reads back as the same configuration.
	again, errs := parseCheckConfig("printed.yml", b)
	if len(errs) > 0 {
		t.Fatalf("the printed configuration does not parse: %v\n%s", errs, b)
	}
	if got := again.forImage("registry.example.com/team/app:v2", newRuleSet()); got.limits["max-size"].Value != 400e6 || !got.compressed() {
		t.Errorf("printed configuration gives max-size %v compressed %v for a team image", got.limits["max-size"], got.compressed())
	}
}
