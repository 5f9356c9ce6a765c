package plugin

import (
	"encoding/json"
	"strings"
	"testing"
)

// check --registry applies the rules to every image the walk finds, on compressed
// sizes, keeps only those at fault, and downloads no layer blob.
func TestCheckRegistryWalk(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	reg := pushRegistryApps(t)
	// The images with the runtime layer have 3 layers, the others 2.
	out, errOut, code := runCLI(t, "check", "--registry", reg.Host+"/team", "--max-layers", "2", "--format", "json")
	if code != ExitFinding {
		t.Fatalf("exit %d, want 1; stderr %q\n%s", code, errOut, out)
	}
	var v checkView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range v.Images {
		names = append(names, strings.TrimPrefix(im.Image, reg.Host+"/"))
		if im.Sizes != "compressed" {
			t.Errorf("%s checked on %s sizes", im.Image, im.Sizes)
		}
	}
	if strings.Join(names, ",") != "team/api:v1,team/api:v2" && strings.Join(names, ",") != "team/api:v2,team/api:v1" {
		t.Errorf("images at fault %v, want the two api tags", names)
	}
	if !strings.Contains(errOut, "4 images checked (compressed sizes), 2 failed, 0 warned, 2 passed; 0 skipped") {
		t.Errorf("summary: %q", errOut)
	}
	// Three distinct images (web:v1 and web:latest are one): their configs, no layer.
	distinct := map[string]bool{}
	for _, g := range reg.BlobGets() {
		distinct[g] = true
	}
	if len(distinct) > 3 {
		t.Errorf("%d distinct blobs downloaded, want the 3 configs at most: %v", len(distinct), reg.BlobGets())
	}

	_, _, code = runCLI(t, "check", "--registry", reg.Host+"/team", "--max-layers", "3")
	if code != 0 {
		t.Errorf("all within 3 layers: exit %d", code)
	}
	_, errOut, code = runCLI(t, "check", "--registry", reg.Host, "app:v1", "--max-layers", "3")
	if code != ExitUsage {
		t.Errorf("--registry with an IMAGE: exit %d, %q", code, errOut)
	}
}
