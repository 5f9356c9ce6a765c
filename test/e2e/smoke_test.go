//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessSmoke checks the harness itself: both builders build, rebuild
// from cache after a source edit, and the image can be saved and pushed.
func TestHarnessSmoke(t *testing.T) {
	builders := []struct {
		name     string
		buildkit bool
	}{{"legacy", false}, {"buildkit", true}}
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			ctx := copyContext(t, "app")
			tag := "e2e/smoke-" + b.name + ":v1"
			build(t, ctx, "Dockerfile.lazy", tag, b.buildkit)
			// A one-line edit unique to this test: another test's edit must not be a cache hit.
			replaceInFile(t, filepath.Join(ctx, "src", "util.js"), `"hello, "`, `"hello from `+t.Name()+`, "`)
			log := build(t, ctx, "Dockerfile.lazy", tag, b.buildkit)

			want := map[string]bool{"WORKDIR /app": true, "COPY . .": false, "RUN npm install": false}
			for instr, wantCached := range want {
				cached, found := cacheHit(log, instr)
				if !found {
					t.Errorf("step %q not in the build log:\n%s", instr, log)
				} else if cached != wantCached {
					t.Errorf("step %q cached = %v, want %v; log:\n%s", instr, cached, wantCached, log)
				}
			}
		})
	}

	const tag = "e2e/smoke-legacy:v1"
	t.Run("save", func(t *testing.T) {
		archive := filepath.Join(t.TempDir(), "app.tar")
		docker(t, "save", "-o", archive, tag)
		if !tarHasFile(t, archive, "manifest.json") {
			t.Fatalf("%s has no manifest.json", archive)
		}
	})

	t.Run("push", func(t *testing.T) {
		ref := registryAddr() + "/app:v1"
		docker(t, "tag", tag, ref)
		docker(t, "push", ref)
		if reqs := registryRequests(t, "PUT", "/v2/app/manifests/v1"); len(reqs) != 1 {
			t.Fatalf("want 1 manifest PUT in %s, got %q", registryLog(), reqs)
		}

		// Fetch one blob directly and check that exactly that GET is logged.
		var img struct{ RepoDigests []string }
		imageInspect(t, ref, &img)
		if len(img.RepoDigests) == 0 {
			t.Fatalf("%s has no repo digest after push", ref)
		}
		before := len(registryRequests(t, "GET", "/v2/app/blobs/sha256:"))
		manifest := httpGet(t, "http://"+registryAddr()+"/v2/app/manifests/v1",
			// The containerd store pushes what it stores, an OCI manifest.
			"application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
		_, rest, _ := strings.Cut(manifest, `"layers"`)
		_, digest, _ := strings.Cut(rest, `"digest": "`)
		digest, _, _ = strings.Cut(digest, `"`)
		httpGet(t, "http://"+registryAddr()+"/v2/app/blobs/"+digest, "")
		after := registryRequests(t, "GET", "/v2/app/blobs/sha256:")
		if len(after) != before+1 {
			t.Fatalf("blob GETs went from %d to %d, want +1: %q", before, len(after), after)
		}
		t.Logf("access log line: %s", after[len(after)-1])
	})

	t.Run("plugin", func(t *testing.T) {
		if h.pluginErr != nil {
			t.Skipf("plugin binary not built: %v", h.pluginErr)
		}
		if _, err := os.Stat(pluginBin()); err != nil {
			t.Fatal(err)
		}
		// The CLI lists what it found in DOCKER_CONFIG/cli-plugins; a binary
		// that does not answer the metadata call is listed with an Err.
		var plugins []struct{ Name, Path, Err string }
		out := docker(t, "info", "--format", "{{json .ClientInfo.Plugins}}")
		if err := json.Unmarshal([]byte(out), &plugins); err != nil {
			t.Fatalf("docker info plugins: %v\n%s", err, out)
		}
		for _, p := range plugins {
			if p.Name == "layers" {
				if p.Err != "" {
					t.Fatalf("docker layers is found but not usable: %s", p.Err)
				}
				return
			}
		}
		t.Fatalf("docker does not list the layers plugin in %s: %s", dockerConfigDir(), out)
	})
}

func tarHasFile(t *testing.T, path, name string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if hdr.Name == name {
			return true
		}
	}
}

func httpGet(t *testing.T, url, accept string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}
