package plugin

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestInspectGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inspect-lazy-legacy", []string{"inspect", demo("lazy-v1-legacy")}},
		{"inspect-pro-buildkit", []string{"inspect", demo("pro-v1-buildkit")}},
		{"inspect-pro-buildkit-notrunc", []string{"inspect", "--no-trunc", demo("pro-v1-buildkit")}},
		{"inspect-layers-only", []string{"inspect", "--layers-only", demo("lazy-v2-buildkit")}},
		{"inspect-squashed", []string{"inspect", demo("squashed")}},
		{"inspect-two-images", []string{"inspect", demo("lazy-v1-buildkit"), demo("multi")}},
		{"inspect-json", []string{"inspect", "--format", "json", demo("lazy-v1-legacy")}},
		{"inspect-template", []string{"inspect", "--format", "{{.Index}}\t{{.Bytes}}\t{{.Instruction}}", demo("pro-v2-legacy")}},
		{"inspect-table-template", []string{"inspect", "--layers-only", "--format", "table {{.Index}}\\t{{.Size}}\\t{{.Share}}\\t{{.Instruction}}", demo("pro-v2-legacy")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			assertGolden(t, tc.name, out)
		})
	}
}

func TestInspectJSONShape(t *testing.T) {
	out, _, code := runCLI(t, "inspect", "--format", "json", demo("pro-v1-buildkit"), demo("squashed"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d images", len(got))
	}
	for _, key := range []string{"image", "id", "os", "architecture", "size", "compressedSize", "layers", "steps", "config"} {
		if _, ok := got[0][key]; !ok {
			t.Errorf("no %q in %v", key, got[0])
		}
	}
	layer := got[0]["layers"].([]any)[2].(map[string]any)
	for _, key := range []string{"index", "diffID", "digest", "size", "compressedSize", "instruction", "createdBy", "created"} {
		if _, ok := layer[key]; !ok {
			t.Errorf("no %q in layer %v", key, layer)
		}
	}
	// The WORKDIR layer is real and empty: size 0, not a metadata step.
	if layer["instruction"] != "WORKDIR /app" || layer["size"].(float64) != 0 {
		t.Errorf("layer 2 = %v", layer)
	}
	var sum float64
	for _, l := range got[0]["layers"].([]any) {
		sum += l.(map[string]any)["size"].(float64)
	}
	if sum != got[0]["size"].(float64) {
		t.Errorf("layer sizes add up to %v, image size %v", sum, got[0]["size"])
	}
	steps := got[0]["steps"].([]any)
	for _, s := range steps {
		s := s.(map[string]any)
		_, hasLayer := s["layer"]
		if s["emptyLayer"].(bool) == hasLayer {
			t.Errorf("step %v: emptyLayer and layer disagree", s)
		}
	}
	cfg := got[0]["config"].(map[string]any)
	for _, key := range []string{"user", "workingDir", "entrypoint", "cmd", "env", "exposedPorts", "volumes", "labels"} {
		if _, ok := cfg[key]; !ok {
			t.Errorf("no %q in config", key)
		}
	}
	if got[1]["historyMatched"].(bool) {
		t.Error("squashed image's history matched")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"frobnicate"}, ExitUsage, `docker-layers: unknown command "frobnicate"; see 'docker-layers --help'`},
		{[]string{}, ExitUsage, "a command is required"},
		{[]string{"inspect"}, ExitUsage, "docker-layers inspect: requires at least 1 image argument; see 'docker-layers inspect --help'"},
		{[]string{"inspect", "--nope", "x"}, ExitUsage, "unknown flag: --nope"},
		{[]string{"inspect", "--format", "{{.Nope", demo("squashed")}, ExitUsage, "invalid --format template"},
		{[]string{"inspect", "--platform", "amd64", demo("multi")}, ExitUsage, "invalid --platform"},
		{[]string{"inspect", "oci:../testdata/demo"}, ExitUsage, "holds 10 images, name one"},
		{[]string{"inspect", demo("nope")}, ExitImage, `has no image tagged "nope"`},
		{[]string{"inspect", "--platform", "linux/s390x", demo("multi")}, ExitImage, "no image for platform linux/s390x"},
		{[]string{"inspect", "docker-archive:/nonexistent.tar"}, ExitImage, "docker-archive:/nonexistent.tar: no such file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.msg) {
				t.Errorf("stderr %q, want a last line containing %q", errOut, tc.msg)
			}
			if tc.code == ExitImage && (len(lines) != 1 || out != "") {
				t.Errorf("want one line on stderr and nothing on stdout, got %q / %q", errOut, out)
			}
		})
	}
}
