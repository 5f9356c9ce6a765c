//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// checkResult is the part of `check --format json` these tests read.
type checkResult struct {
	Passed bool   `json:"passed"`
	Status string `json:"status"`
	Images []struct {
		Image string `json:"image"`
		Sizes string `json:"sizes"`
		Rules []struct {
			Rule   string   `json:"rule"`
			Actual *float64 `json:"actual"`
			Status string   `json:"status"`
			Layer  *struct {
				Index       int    `json:"index"`
				Instruction string `json:"instruction"`
			} `json:"layer"`
		} `json:"rules"`
	} `json:"images"`
}

func checkJSON(t testing.TB, wantCode int, args ...string) checkResult {
	t.Helper()
	out, errOut, code := layers(t, append([]string{"check", "--format", "json"}, args...)...)
	if code != wantCode {
		t.Fatalf("check %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	var r checkResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return r
}

// checkApp builds two versions of the seed's app (the manifests-first order, so a
// source edit rebuilds only the last COPY), tags them in the engine and pushes them:
// v1 as the main branch's image, v2 as the branch's.
type checkApp struct {
	v1, v2             string // engine tags
	remoteMain, remote string // registry references, without docker://
	repo               string
}

func buildCheckApp(t testing.TB, name string) checkApp {
	t.Helper()
	ctx := copyContext(t, "app")
	a := checkApp{v1: "e2e/" + name + ":v1", v2: "e2e/" + name + ":v2", repo: name}
	// A file of this test's own even in v1: an image of the pristine context would be
	// a cache hit for other tests' builds, with this copy's file times in its layers.
	if err := os.WriteFile(filepath.Join(ctx, "src", name+".txt"), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build(t, ctx, "Dockerfile.pro", a.v1, false)
	// A larger source file unique to this test: a cache hit from another test's edit
	// would make the versions the same image.
	replaceInFile(t, filepath.Join(ctx, "src", "util.js"), `"hello, "`, `"hello from `+name+`, "`)
	if err := os.WriteFile(filepath.Join(ctx, "src", "big.js"), []byte(strings.Repeat("// "+name+" grows\n", 4000)), 0o644); err != nil {
		t.Fatal(err)
	}
	build(t, ctx, "Dockerfile.pro", a.v2, false)
	a.remoteMain, a.remote = registryAddr()+"/"+name+":main", registryAddr()+"/"+name+":v2"
	for _, p := range [][2]string{{a.v1, a.remoteMain}, {a.v2, a.remote}} {
		docker(t, "tag", p[0], p[1])
		docker(t, "push", p[1])
	}
	return a
}

// layerBlobGets counts the registry's GETs of repo's blobs other than the images'
// configs (whose digests are the engine's image IDs).
func layerBlobGets(t testing.TB, repo string, before int, configs ...string) (layerGets []string, all int) {
	t.Helper()
	gets := registryRequests(t, "GET", "/v2/"+repo+"/blobs/sha256:")
	for _, g := range gets[before:] {
		isConfig := false
		for _, c := range configs {
			if strings.Contains(g, "/blobs/"+c+" ") {
				isConfig = true
			}
		}
		if !isConfig {
			layerGets = append(layerGets, g)
		}
	}
	return layerGets, len(gets) - before
}

// registryConfig is the config digest of the image ref names in the private registry,
// read from its manifest (no blob is fetched). On the containerd store the engine's
// image ID is a manifest or index digest, so only the registry tells which blob GETs
// are configs.
func registryConfig(t testing.TB, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("reading %s from the registry: %v", ref, err)
	}
	h, err := img.ConfigName()
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return h.String()
}

// TestCheckEngine checks an engine image against limits set at, and one byte under,
// the engine's own figures: docker image inspect's size and layer count.
func TestCheckEngine(t *testing.T) {
	if containerdStore() {
		// Its history and image-inspect sizes are snapshot disk use, not layer sizes (see
		// store_test.go); the limits below are set from those figures.
		t.Skip("the limits are taken from the classic store's engine figures")
	}
	a := buildCheckApp(t, "check-engine")
	var inspect struct {
		Size   int64
		RootFS struct{ Layers []string }
	}
	imageInspect(t, a.v2, &inspect)
	n := len(inspect.RootFS.Layers)

	at := checkJSON(t, 0, "--max-size", fmt.Sprint(inspect.Size), "--max-layers", fmt.Sprint(n), a.v2)
	if r := at.Images[0].Rules[0]; r.Actual == nil || int64(*r.Actual) != inspect.Size || r.Status != "pass" {
		t.Errorf("max-size at the engine's size %d: %+v", inspect.Size, r)
	}
	over := checkJSON(t, 1, "--max-size", fmt.Sprint(inspect.Size-1), "--max-layers", fmt.Sprint(n-1), a.v2)
	for _, r := range over.Images[0].Rules {
		if r.Status != "fail" {
			t.Errorf("%s one under the engine's figure: %s", r.Rule, r.Status)
		}
	}

	// The largest layer, named with its instruction, as docker history sizes it.
	var largest int64
	for _, h := range engineHistory(t, a.v2) {
		largest = max(largest, h.size)
	}
	res := checkJSON(t, 1, "--max-layer-size", fmt.Sprint(largest-1), a.v2)
	r := res.Images[0].Rules[0]
	if r.Status != "fail" || r.Actual == nil || int64(*r.Actual) != largest || r.Layer == nil {
		t.Errorf("max-layer-size %d: %+v, want a failure at %d bytes", largest-1, r, largest)
	} else {
		t.Logf("largest layer %d (%s), %d bytes", r.Layer.Index, r.Layer.Instruction, largest)
	}

	// Wasted space, replayed from the engine's export as files replays it.
	wasted := checkJSON(t, 0, "--max-wasted", "1GB", "--min-efficiency", "0.5", a.v2)
	for _, r := range wasted.Images[0].Rules {
		if r.Status != "pass" || r.Actual == nil {
			t.Errorf("%s on the engine image: %+v", r.Rule, r)
		}
	}

	// Growth over v1, from the engine alone: the edit grew the last COPY.
	grow := checkJSON(t, 0, "--baseline", a.v1, "--max-growth", "1MB", "--max-layer-growth", "100kB", "--min-reused", "50%", a.v2)
	for _, r := range grow.Images[0].Rules {
		if r.Status != "pass" {
			t.Errorf("%s over v1: %s", r.Rule, r.Status)
		}
	}
	table, _, code := layers(t, "check", "--baseline", a.v1, "--max-layer-growth", "10kB", a.v2)
	if code != 1 || !strings.Contains(table, "FAIL     #5 COPY dir:") {
		t.Errorf("max-layer-growth 10kB: exit %d, want 1 naming layer 5, the COPY of the source\n%s", code, table)
	}
	t.Logf("docker layers check --baseline %s --max-layer-growth 10kB %s\n%s", a.v1, a.v2, table)
}

// TestCheckRegistry checks the pushed images against the main branch's image in the
// registry: with --compressed, without downloading any layer blob; without it, from
// the engine image, downloading only the baseline's layers the engine image lacks.
func TestCheckRegistry(t *testing.T) {
	a := buildCheckApp(t, "check-registry")
	configs := []string{registryConfig(t, a.remoteMain), registryConfig(t, a.remote)}

	before := len(registryRequests(t, "GET", "/v2/"+a.repo+"/blobs/sha256:"))
	r := checkJSON(t, 0, "--compressed", "--baseline", "docker://"+a.remoteMain,
		"--max-size", "50MB", "--max-layer-size", "50MB", "--max-growth", "50%", "--warn-growth", "40%", "--max-layer-growth", "1MB", "--min-reused", "50%",
		"docker://"+a.remote)
	layerGets, all := layerBlobGets(t, a.repo, before, configs...)
	if len(layerGets) != 0 {
		t.Errorf("--compressed downloaded %d layer blobs:\n%s", len(layerGets), strings.Join(layerGets, "\n"))
	}
	t.Logf("registry check --compressed: %d blob GETs (configs), %d layer blob GETs", all, len(layerGets))
	if r.Images[0].Sizes != "compressed" || len(r.Images[0].Rules) != 6 {
		t.Errorf("registry check: %+v", r.Images[0])
	}

	// A failing compressed rule, annotated for GitHub Actions.
	out, _, code := layers(t, "check", "--format", "github", "--compressed", "--max-layer-size", "1kB", "--baseline", "docker://"+a.remoteMain, "--warn-growth", "0B", "docker://"+a.remote)
	if code != 1 || !strings.Contains(out, "::error title=") || !strings.Contains(out, "::warning title=") {
		t.Errorf("github format: exit %d, want 1 with an error and a warning annotation\n%s", code, out)
	}

	// The engine's image against the registry's main: the layers both have are sized
	// from the engine's history, so only the baseline's own COPY layer is downloaded.
	before = len(registryRequests(t, "GET", "/v2/"+a.repo+"/blobs/sha256:"))
	out, errOut, code := layers(t, "check", "--baseline", "docker://"+a.remoteMain, "--max-growth", "1MB", "--min-reused", "50%", a.v2)
	layerGets, _ = layerBlobGets(t, a.repo, before, configs...)
	if code != 0 || len(layerGets) != 1 {
		t.Errorf("engine image against a registry baseline: exit %d, %d layer blob GETs, want 0 and 1 (the baseline's COPY . .)\n%s%s\n%s", code, len(layerGets), out, errOut, strings.Join(layerGets, "\n"))
	}
	if !strings.Contains(errOut, "downloaded") {
		t.Errorf("stderr does not say what was downloaded: %q", errOut)
	}
}

// The check never passes when it could not run.
func TestCheckCouldNotRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such image", []string{"--max-size", "1GB", "e2e/no-such-image:v1"}, "no such image"},
		{"no such registry image", []string{"--compressed", "--max-size", "1GB", "docker://" + registryAddr() + "/no-such:v1"}, "no-such"},
		{"unreachable registry", []string{"--compressed", "--max-size", "1GB", "docker://127.0.0.1:1/app:v1"}, "127.0.0.1:1"},
		{"the engine stores no compressed sizes", []string{"--compressed", "--max-size", "1GB", BaseImage}, "compressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "compressed" && containerdStore() {
				t.Skip("the containerd store exports compressed blobs: its images have compressed sizes")
			}
			out, errOut, code := layers(t, append([]string{"check"}, tc.args...)...)
			if code != 2 || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want 2 and %q\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
	// The engine unreachable.
	_, errOut, err := run(t, pluginBin(), []string{"DOCKER_HOST=unix:///tmp/dl-e2e-no-such.sock"}, "check", "--max-size", "1GB", BaseImage)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 || !strings.Contains(errOut, "cannot connect") {
		t.Errorf("unreachable engine: %v\n%s", err, errOut)
	}
}
