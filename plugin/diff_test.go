package plugin

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDiffGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"diff-lazy-legacy", []string{"diff", demo("lazy-v1-legacy"), demo("lazy-v2-legacy")}},
		{"diff-lazy-buildkit", []string{"diff", demo("lazy-v1-buildkit"), demo("lazy-v2-buildkit")}},
		{"diff-pro-legacy", []string{"diff", demo("pro-v1-legacy"), demo("pro-v2-legacy")}},
		{"diff-pro-buildkit", []string{"diff", demo("pro-v1-buildkit"), demo("pro-v2-buildkit")}},
		{"diff-lazy-legacy-json", []string{"diff", "--format", "json", demo("lazy-v1-legacy"), demo("lazy-v2-legacy")}},
		{"diff-lazy-buildkit-json", []string{"diff", "--format", "json", demo("lazy-v1-buildkit"), demo("lazy-v2-buildkit")}},
		{"diff-pro-legacy-json", []string{"diff", "--format", "json", demo("pro-v1-legacy"), demo("pro-v2-legacy")}},
		{"diff-pro-buildkit-json", []string{"diff", "--format", "json", demo("pro-v1-buildkit"), demo("pro-v2-buildkit")}},
		{"diff-lazy-to-pro", []string{"diff", demo("lazy-v1-buildkit"), demo("pro-v1-buildkit")}},
		{"diff-same", []string{"diff", demo("pro-v1-legacy"), demo("pro-v1-legacy")}},
		{"diff-template", []string{"diff", "--format", "{{.Index}}\t{{.Status}}\t{{.NewBytes}}\t{{.Instruction}}", demo("lazy-v1-buildkit"), demo("lazy-v2-buildkit")}},
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

func TestDiffJSONShape(t *testing.T) {
	out, _, code := runCLI(t, "diff", "--format", "json", demo("lazy-v1-legacy"), demo("lazy-v2-legacy"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"old", "new", "layers", "reusedLayers", "rebuiltLayers", "addedLayers", "removedLayers",
		"reusedSize", "rebuiltSize", "transferSize", "transferCompressed", "firstBreak", "advice"} {
		if _, ok := got[key]; !ok {
			t.Errorf("no %q", key)
		}
	}
	for _, key := range []string{"image", "id"} {
		if _, ok := got["old"].(map[string]any)[key]; !ok {
			t.Errorf("no old.%q", key)
		}
	}
	layer := got["layers"].([]any)[3].(map[string]any)
	for _, key := range []string{"index", "status", "sameContent", "old", "new"} {
		if _, ok := layer[key]; !ok {
			t.Errorf("no layers[].%q", key)
		}
	}
	for _, key := range []string{"diffID", "size", "instruction"} {
		if _, ok := layer["new"].(map[string]any)[key]; !ok {
			t.Errorf("no layers[].new.%q", key)
		}
	}
	fb := got["firstBreak"].(map[string]any)
	for _, key := range []string{"index", "reason", "oldInstruction", "newInstruction", "changedFiles"} {
		if _, ok := fb[key]; !ok {
			t.Errorf("no firstBreak.%q", key)
		}
	}
	f := fb["changedFiles"].([]any)[0].(map[string]any)
	if f["path"] != "/app/src/util.js" || f["change"] != "modified" || f["size"].(float64) <= 0 {
		t.Errorf("changed file %v", f)
	}
	if fb["index"].(float64) != 3 || fb["reason"] != "inputs-changed" {
		t.Errorf("first break %v", fb)
	}
	if got["advice"] == nil || len(got["advice"].(map[string]any)["text"].([]any)) == 0 {
		t.Error("no advice for the lazy order")
	}
}

func TestDiffExitCode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"diff", demo("lazy-v1-legacy"), demo("lazy-v2-legacy")}, 0},
		{[]string{"diff", "--exit-code", demo("lazy-v1-legacy"), demo("lazy-v2-legacy")}, ExitFinding},
		{[]string{"diff", "--exit-code", demo("pro-v1-legacy"), demo("pro-v1-legacy")}, 0},
		{[]string{"diff", demo("lazy-v1-legacy")}, ExitUsage},
		{[]string{"diff", "--platform", "nonsense", demo("lazy-v1-legacy"), demo("lazy-v2-legacy")}, ExitUsage},
		{[]string{"diff", demo("lazy-v1-legacy"), "oci:../testdata/demo:no-such-tag"}, ExitImage},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			if code == ExitFinding && errOut != "" {
				t.Errorf("--exit-code printed %q", errOut)
			}
		})
	}
}
