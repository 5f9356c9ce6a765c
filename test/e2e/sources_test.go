//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// sourceView is what must agree between sources: per step the instruction, whether it
// made a layer and which, and per layer the diffID and (when known) the size.
type sourceView struct {
	ID     string
	Steps  []string
	Layers []string
}

func viewOf(img inspectedImage, sizes bool) sourceView {
	v := sourceView{ID: img.ID}
	for _, s := range img.Steps {
		layer := "-"
		if s.Layer != nil {
			layer = fmt.Sprint(*s.Layer)
		}
		v.Steps = append(v.Steps, fmt.Sprintf("%s empty=%v layer=%s", s.Instruction, s.EmptyLayer, layer))
	}
	for _, l := range img.Layers {
		if sizes {
			v.Layers = append(v.Layers, fmt.Sprintf("%s %d", l.DiffID, l.Size))
		} else {
			v.Layers = append(v.Layers, l.DiffID)
		}
	}
	return v
}

// TestSourcesAgree reads the same images from the engine, a docker save archive, an OCI
// layout and the registry, and checks every figure against the engine's own.
func TestSourcesAgree(t *testing.T) {
	for _, tc := range []struct{ dir, dockerfile string }{
		{"app", "Dockerfile.pro"},
		{"fs", "Dockerfile"},
	} {
		for _, buildkit := range []bool{false, true} {
			name := tc.dir + "-legacy"
			if buildkit {
				name = tc.dir + "-buildkit"
			}
			t.Run(name, func(t *testing.T) {
				tag := "e2e/sources-" + name + ":v1"
				build(t, tc.dir, tc.dockerfile, tag, buildkit)
				checkSources(t, tag, "sources-"+name)
			})
		}
	}
}

func checkSources(t *testing.T, tag, repo string) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "save.tar")
	docker(t, "save", "-o", archive, tag)
	ociDir := filepath.Join(dir, "oci")
	writeLayout(t, archive, ociDir)
	remote := registryAddr() + "/" + repo + ":v1"
	docker(t, "tag", tag, remote)
	docker(t, "push", remote)

	refs := map[string]string{
		"engine":   tag,
		"archive":  "docker-archive:" + archive,
		"oci":      "oci:" + ociDir,
		"registry": "docker://" + remote,
	}
	blobsBefore := registryRequests(t, "GET", "/v2/"+repo+"/blobs/sha256:")
	got := map[string]inspectedImage{}
	for src, ref := range refs {
		got[src] = inspectJSON(t, ref)
	}
	blobsAfter := registryRequests(t, "GET", "/v2/"+repo+"/blobs/sha256:")

	// The engine's own figures: history sizes and created_by, the config's empty_layer.
	history := engineHistory(t, tag)
	cfg := archiveConfig(t, archive)
	engine := got["engine"]
	if len(engine.Steps) != len(history) || len(cfg.History) != len(history) {
		t.Fatalf("engine: %d steps, docker history %d, config %d", len(engine.Steps), len(history), len(cfg.History))
	}
	var ours, engineSizes []int64 // per layer
	for i, s := range engine.Steps {
		var size int64
		if s.Layer != nil {
			size = engine.Layers[*s.Layer].Size
			ours, engineSizes = append(ours, size), append(engineSizes, history[i].size)
		}
		// On the containerd store the history's sizes are snapshot disk use, not ours:
		// checked below as a relation.
		if size != history[i].size && !containerdStore() {
			t.Errorf("engine step %d %q: size %d, docker history says %d", i, s.Instruction, size, history[i].size)
		}
		if s.CreatedBy != history[i].createdBy || s.CreatedBy != cfg.History[i].CreatedBy {
			t.Errorf("engine step %d: createdBy %q, history %q, config %q", i, s.CreatedBy, history[i].createdBy, cfg.History[i].CreatedBy)
		}
		if s.EmptyLayer != cfg.History[i].EmptyLayer {
			t.Errorf("engine step %d %q: emptyLayer %v, config says %v", i, s.Instruction, s.EmptyLayer, cfg.History[i].EmptyLayer)
		}
	}
	var inspect struct {
		ID     string `json:"Id"`
		RootFS struct{ Layers []string }
	}
	imageInspect(t, tag, &inspect)
	// id is the config digest from every source; engineID is what the engine calls the
	// image (the same on the classic store, the image index's digest on the containerd
	// store).
	if engine.EngineID != inspect.ID {
		t.Errorf("engine engineID %s, docker image inspect %s", engine.EngineID, inspect.ID)
	}
	if cfgID := got["archive"].ID; engine.ID != cfgID || (!containerdStore() && engine.ID != inspect.ID) {
		t.Errorf("engine ID %s, the archive's config digest %s, docker image inspect %s", engine.ID, cfgID, inspect.ID)
	}
	if containerdStore() {
		checkStoreHistory(t, archive, ours, engineSizes, strings.Contains(tag, "legacy"))
	}
	if fmt.Sprint(viewOf(engine, false).Layers) != fmt.Sprint(inspect.RootFS.Layers) {
		t.Errorf("engine diffIDs %v, docker image inspect %v", viewOf(engine, false).Layers, inspect.RootFS.Layers)
	}

	// Every source: the same steps, layers and diffIDs; sizes wherever the source has them
	// (the engine's with what its storage driver adds: see engineExtra).
	want := viewOf(engine, true)
	extra := engineExtra(t, archive)
	// withEngineSizes puts the engine's size on every layer whose own size agrees with
	// it, so a mismatch shows as a difference of views.
	withEngineSizes := func(img inspectedImage) inspectedImage {
		img.Layers = append(img.Layers[:0:0], img.Layers...)
		for i := range img.Layers {
			if i < len(engine.Layers) && engineAgrees(img.Layers[i].Size, engine.Layers[i].Size, extra[i]) {
				img.Layers[i].Size = engine.Layers[i].Size
			}
		}
		return img
	}
	for _, src := range []string{"archive", "oci"} {
		if g := viewOf(withEngineSizes(got[src]), true); fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("%s differs from the engine:\n%+v\nengine:\n%+v", src, g, want)
		}
	}
	if g, w := viewOf(got["registry"], false), viewOf(engine, false); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("registry differs from the engine:\n%+v\nengine:\n%+v", g, w)
	}

	// inspect docker://… downloads no layer blob (the config is a blob too: allowed).
	newGets := blobsAfter[len(blobsBefore):]
	layerGets := 0
	for _, l := range newGets {
		if !strings.Contains(l, strings.TrimPrefix(engine.ID, "sha256:")) {
			layerGets++
		}
	}
	t.Logf("inspect %s: %d blob GETs, %d of them layer blobs", refs["registry"], len(newGets), layerGets)
	if layerGets != 0 {
		t.Errorf("inspect docker://… downloaded %d layer blobs:\n%s", layerGets, strings.Join(newGets, "\n"))
	}

	// --uncompressed streams every layer blob once and then agrees on sizes too.
	before := len(registryRequests(t, "GET", "/v2/"+repo+"/blobs/sha256:"))
	out, errOut, code := layers(t, "inspect", "--uncompressed", "--format", "json", refs["registry"])
	if code != 0 {
		t.Fatalf("inspect --uncompressed: exit %d: %s", code, errOut)
	}
	var full []inspectedImage
	if err := json.Unmarshal([]byte(out), &full); err != nil || len(full) != 1 {
		t.Fatalf("inspect --uncompressed: %v: %s", err, out)
	}
	if g := viewOf(withEngineSizes(full[0]), true); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("registry --uncompressed differs from the engine:\n%+v\nengine:\n%+v", g, want)
	}
	gets := len(registryRequests(t, "GET", "/v2/"+repo+"/blobs/sha256:")) - before
	t.Logf("inspect --uncompressed: %d blob GETs for %d layers; stderr: %s", gets, len(engine.Layers), strings.TrimSpace(errOut))
	if !strings.Contains(errOut, "downloaded") {
		t.Errorf("inspect --uncompressed does not report what it downloaded: %q", errOut)
	}

	// Side by side, for the note.
	var side strings.Builder
	for _, src := range []string{"engine", "archive", "oci", "registry"} {
		table, _, _ := layers(t, "inspect", refs[src])
		fmt.Fprintf(&side, "$ docker layers inspect %s\n%s\n", refs[src], table)
	}
	t.Logf("four sources:\n%s", side.String())
}

// archiveConfig reads the image config out of a single-image docker save archive.
func archiveConfig(t *testing.T, archive string) *v1.ConfigFile {
	t.Helper()
	files := tarFiles(t, archive, func(name string) bool {
		return name == "manifest.json" || strings.HasSuffix(name, ".json") || strings.HasPrefix(name, "blobs/")
	})
	var m []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(files[m[0].Config])))
	if err != nil {
		t.Fatalf("config %s: %v", m[0].Config, err)
	}
	return cfg
}

// tarFiles reads the small files of a tar whose names keep accepts.
func tarFiles(t *testing.T, path string, keep func(string) bool) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size > 1<<20 || !keep(hdr.Name) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = b
	}
}

// writeLayout turns a docker save archive into an OCI image layout.
func writeLayout(t *testing.T, archive, dir string) {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
}

// TestSourcesTiming compares `docker layers inspect` with `docker history` on the same
// images: one the history API maps onto layers by itself (fast path) and one whose
// zero-sized WORKDIR layer sends us to the export for the config (slow path).
func TestSourcesTiming(t *testing.T) {
	const slow = "e2e/sources-timing:v1"
	build(t, "app", "Dockerfile.pro", slow, false)
	for _, ref := range []string{NodeImage, slow} {
		hist := median(t, 7, func() { docker(t, "history", ref) })
		ours := median(t, 7, func() {
			if _, errOut, code := layers(t, "inspect", ref); code != 0 {
				t.Fatalf("inspect %s: exit %d: %s", ref, code, errOut)
			}
		})
		t.Logf("%s: docker layers inspect %v, docker history %v: %.2fx", ref, ours, hist, float64(ours)/float64(hist))
	}
	// As a plugin, through the docker CLI, with its client set up by the CLI.
	if out := docker(t, "layers", "inspect", NodeImage); !strings.Contains(out, "Image: "+NodeImage) || !strings.Contains(out, "COPY multi:") {
		t.Errorf("docker layers inspect %s:\n%s", NodeImage, out)
	}
}

func median(t *testing.T, n int, f func()) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2].Round(100 * time.Microsecond)
}

// TestSourcesErrors checks the errors users hit: one line, naming the reference, exit 3.
func TestSourcesErrors(t *testing.T) {
	noSock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	for _, tc := range []struct {
		ref  string
		env  []string
		want string
	}{
		{"e2e/nosuch:v1", nil, "e2e/nosuch:v1: no such image in the Docker engine"},
		{NodeImage, []string{"DOCKER_HOST=" + noSock}, NodeImage + ": cannot connect to the Docker engine at " + noSock},
		{"docker://" + registryAddr() + "/nosuch:v1", nil, "no such image in the registry " + registryAddr()},
		{"docker://127.0.0.1:1/app:v1", nil, "cannot reach the registry 127.0.0.1:1"},
	} {
		_, errOut, err := run(t, pluginBin(), tc.env, "inspect", tc.ref)
		code := -1
		var exitErr interface{ ExitCode() int }
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 3 || len(lines) != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("inspect %s: exit %d, stderr %q; want exit 3 and one line with %q", tc.ref, code, errOut, tc.want)
		}
	}
}
