package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// registryApp is a service image: a shared base, a shared runtime for some, and a layer
// of its own.
func registryApp(t *testing.T, runtime bool, own string) v1.Image {
	t.Helper()
	adds := []mutate.Addendum{{Layer: imagetest.FileLayer(t, map[string]string{"bin/sh": strings.Repeat("s", 5000)}), History: v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:" + strings.Repeat("1", 64) + " in / "}}}
	if runtime {
		adds = append(adds, mutate.Addendum{Layer: imagetest.FileLayer(t, map[string]string{"opt/runtime": strings.Repeat("r", 3000)}), History: v1.History{CreatedBy: "RUN /bin/sh -c install runtime # buildkit", Comment: "buildkit.dockerfile.v0"}})
	}
	adds = append(adds, mutate.Addendum{Layer: imagetest.FileLayer(t, map[string]string{"app": own}), History: v1.History{CreatedBy: "COPY app /app # buildkit", Comment: "buildkit.dockerfile.v0"}})
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pushRegistryApps(t *testing.T) *imagetest.Registry {
	t.Helper()
	reg := imagetest.NewRegistry(t)
	reg.Push(t, "team/api:v1", registryApp(t, true, "api 1"))
	reg.Push(t, "team/api:v2", registryApp(t, true, "api 2"))
	reg.Push(t, "team/web:v1", registryApp(t, false, "web 1"))
	reg.Push(t, "team/web:latest", registryApp(t, false, "web 1"))
	reg.Push(t, "other/tool:1", registryApp(t, false, "tool"))
	return reg
}

func TestSharedRegistryTable(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	reg := pushRegistryApps(t)
	out, errOut, code := runCLI(t, "shared", "--registry", reg.Host+"/team")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	out = strings.ReplaceAll(out, reg.Host, "REGISTRY")
	assertGolden(t, "shared-registry", out)
}

func TestSharedRegistryJSONL(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	reg := pushRegistryApps(t)
	for _, run := range []string{"cold", "warm"} {
		out, errOut, code := runCLI(t, "shared", "--registry", reg.Host, "--format", "jsonl", "--jobs", "2")
		if code != 0 || errOut != "" {
			t.Fatalf("%s: exit %d, stderr %q\n%s", run, code, errOut, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 6 {
			t.Fatalf("%s: %d lines, want 5 images and a summary:\n%s", run, len(lines), out)
		}
		images, cached := map[string]bool{}, 0
		for _, l := range lines[:5] {
			var img registryImageJSON
			if err := json.Unmarshal([]byte(l), &img); err != nil || img.Type != "image" {
				t.Fatalf("%s: %q: %v", run, l, err)
			}
			images[img.Image] = true
			if img.Cached {
				cached++
			}
		}
		if run == "warm" && cached != 5 {
			t.Errorf("warm run: %d of 5 images came from the cache", cached)
		}
		var sum registryJSON
		if err := json.Unmarshal([]byte(lines[5]), &sum); err != nil || sum.Type != "summary" {
			t.Fatalf("%s: last line %q: %v", run, lines[5], err)
		}
		// Five tags, four images (web:v1 and web:latest are one), five distinct layers
		// by chain ID: base, runtime, api 1, api 2, web 1, tool = six.
		if sum.Tags != 5 || sum.Images != 4 || sum.Layers != 6 || sum.Repositories != 3 || sum.LayerBlobs != 6 || len(sum.SharedLayers) != 2 {
			t.Errorf("%s: summary %+v", run, sum)
		}
	}
}

func TestSharedRegistrySkipsAndExits3(t *testing.T) {
	reg := pushRegistryApps(t)
	out, errOut, code := runCLI(t, "shared", "--registry", reg.Host, "--repo", "team/gone", "--format", "jsonl", "--no-cache")
	if code != ExitImage {
		t.Errorf("exit %d, want %d", code, ExitImage)
	}
	if !strings.Contains(errOut, "skipped: docker://"+reg.Host+"/team/gone") || strings.Count(strings.TrimSpace(errOut), "\n") != 1 {
		t.Errorf("stderr %q, want the skipped repository and the summary line", errOut)
	}
	if !strings.Contains(out, `"type":"skipped"`) || !strings.Contains(out, `"type":"summary"`) {
		t.Errorf("stdout %q", out)
	}
}

func TestSharedRegistryUsage(t *testing.T) {
	for _, args := range [][]string{
		{"shared", "--repo", "x"},
		{"shared", "--registry", "h", "img"},
		{"shared", "--registry", "h", "--tags", "v*", "--latest", "2"},
		{"shared", "--registry", "h", "--jobs", "0"},
		{"shared", "--registry", "h", "--latest", "0"},
		{"shared", "img", "--format", "jsonl"},
		{"shared", "--registry", "h", "--uncompressed"},
		{"shared", "--registry", "h", "--cache-size", "lots"},
		{"shared", "--cache-size", "1GB", "img"},
	} {
		if _, errOut, code := runCLI(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, ExitUsage)
		}
	}
}

func TestSharedRegistryJSON(t *testing.T) {
	reg := pushRegistryApps(t)
	out, errOut, code := runCLI(t, "shared", "--registry", reg.Host, "--repo", "team/*", "--format", "json", "--no-cache")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var v sharedJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Images) != 4 || v.Registry == nil || v.Registry.Images != 3 || v.Registry.Repositories != 2 ||
		v.CompressedSavedSize == nil || *v.CompressedSavedSize != *v.Registry.CompressedSavedSize {
		t.Errorf("json view: %d images, registry %+v", len(v.Images), v.Registry)
	}
}
