package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// readTree maps every file under root (by slash path) to its content.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func diffTrees(t *testing.T, want, got map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: missing", name)
		} else if !bytes.Equal(w, g) {
			t.Errorf("%s: content differs", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected", name)
		}
	}
}

func TestGenerateIsReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := generate(a); err != nil {
		t.Fatal(err)
	}
	// Leave a stray file behind to check the output directory is recreated.
	if err := os.WriteFile(filepath.Join(b, "stale"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	ta, tb := readTree(t, a), readTree(t, b)
	diffTrees(t, ta, tb)

	var total int
	for _, data := range ta {
		total += len(data)
	}
	if total >= 1<<20 {
		t.Errorf("layout holds %d bytes, want under 1 MiB", total)
	}
}

// TestCommittedOutputIsCurrent keeps testdata/demo in step with the generator.
func TestCommittedOutputIsCurrent(t *testing.T) {
	committed := filepath.Join("..", "..", "testdata", "demo")
	if _, err := os.Stat(filepath.Join(committed, "index.json")); err != nil {
		t.Skipf("no committed layout: %v", err)
	}
	fresh := t.TempDir()
	if err := generate(fresh); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, readTree(t, fresh), readTree(t, committed))
	if t.Failed() {
		t.Log("regenerate with: go run ./tools/gendemo -out testdata/demo")
	}
}

// demo is the generated layout, opened through ggcr.
type demo struct {
	t      *testing.T
	index  v1.ImageIndex
	byTag  map[string]v1.Descriptor
	images map[string]v1.Image
}

func openDemo(t *testing.T) *demo {
	t.Helper()
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{t: t, index: idx, byTag: map[string]v1.Descriptor{}, images: map[string]v1.Image{}}
	for _, desc := range m.Manifests {
		d.byTag[desc.Annotations[refName]] = desc
	}
	return d
}

func (d *demo) image(tag string) v1.Image {
	d.t.Helper()
	if img, ok := d.images[tag]; ok {
		return img
	}
	desc, ok := d.byTag[tag]
	if !ok {
		d.t.Fatalf("no tag %q in layout", tag)
	}
	img, err := d.index.Image(desc.Digest)
	if err != nil {
		d.t.Fatal(err)
	}
	d.images[tag] = img
	return img
}

func (d *demo) config(tag string) *v1.ConfigFile {
	d.t.Helper()
	cf, err := d.image(tag).ConfigFile()
	if err != nil {
		d.t.Fatal(err)
	}
	return cf
}

func (d *demo) diffIDs(tag string) []v1.Hash {
	return d.config(tag).RootFS.DiffIDs
}

func (d *demo) layers(tag string) []v1.Layer {
	d.t.Helper()
	ls, err := d.image(tag).Layers()
	if err != nil {
		d.t.Fatal(err)
	}
	return ls
}

// nonEmptyHistory is the history entries that made a layer.
func (d *demo) nonEmptyHistory(tag string) []v1.History {
	var hs []v1.History
	for _, h := range d.config(tag).History {
		if !h.EmptyLayer {
			hs = append(hs, h)
		}
	}
	return hs
}

func commonPrefix(a, b []v1.Hash) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

type member struct {
	name    string
	typ     byte
	content string
}

func members(t *testing.T, l v1.Layer) []member {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var ms []member
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ms
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{hdr.Name, hdr.Typeflag, string(data)})
	}
}

var builders = []string{"legacy", "buildkit"}

func TestBaseIsShared(t *testing.T) {
	d := openDemo(t)
	ref := d.layers("lazy-v1-legacy")[:2]
	refHistory := d.config("lazy-v1-legacy").History[:5]
	for _, b := range builders {
		for _, df := range []string{"lazy", "pro"} {
			for _, v := range []string{"v1", "v2"} {
				tag := df + "-" + v + "-" + b
				for i, l := range d.layers(tag)[:2] {
					got, _ := l.Digest()
					want, _ := ref[i].Digest()
					if got != want {
						t.Errorf("%s base layer %d blob %s, want %s", tag, i, got, want)
					}
				}
				for i, h := range d.config(tag).History[:5] {
					if h != refHistory[i] {
						t.Errorf("%s base history %d = %+v, want %+v", tag, i, h, refHistory[i])
					}
				}
			}
		}
	}
}

func TestCacheReuse(t *testing.T) {
	d := openDemo(t)
	for _, b := range builders {
		lazy1, lazy2 := "lazy-v1-"+b, "lazy-v2-"+b
		if n := len(d.diffIDs(lazy1)); n != 5 {
			t.Errorf("%s has %d layers, want 5", lazy1, n)
		}
		// Only base and WORKDIR survive the edit: COPY . . sees new content
		// and npm install reruns after it.
		if n := commonPrefix(d.diffIDs(lazy1), d.diffIDs(lazy2)); n != 3 {
			t.Errorf("%s and %s share %d leading layers, want 3", lazy1, lazy2, n)
		}
		// The rerun install has the same files, with new mtimes.
		m1, m2 := members(t, d.layers(lazy1)[4]), members(t, d.layers(lazy2)[4])
		if len(m1) != len(m2) {
			t.Fatalf("%s npm install layers have %d and %d members", b, len(m1), len(m2))
		}
		for i := range m1 {
			if m1[i] != m2[i] {
				t.Errorf("%s npm install member %d: %+v vs %+v", b, i, m1[i].name, m2[i].name)
			}
		}

		pro1, pro2 := "pro-v1-"+b, "pro-v2-"+b
		if n := len(d.diffIDs(pro1)); n != 6 {
			t.Errorf("%s has %d layers, want 6", pro1, n)
		}
		if n := commonPrefix(d.diffIDs(pro1), d.diffIDs(pro2)); n != 5 {
			t.Errorf("%s and %s share %d leading layers, want 5", pro1, pro2, n)
		}
		for i := 2; i < 5; i++ {
			a, _ := d.layers(pro1)[i].Digest()
			c, _ := d.layers(pro2)[i].Digest()
			if a != c {
				t.Errorf("%s layer %d blob %s, %s has %s", pro1, i, a, pro2, c)
			}
		}
		// Reused steps keep v1's history entries, created time included;
		// from COPY . . on, every entry is new.
		h1, h2 := d.config(pro1).History, d.config(pro2).History
		for i := range h1 {
			reused := i < 9 // base 5, LABEL, WORKDIR, COPY package*.json, RUN
			if reused != (h1[i] == h2[i]) {
				t.Errorf("%s history %d: v1 %+v, v2 %+v, want reused=%v", b, i, h1[i], h2[i], reused)
			}
			if !reused && h2[i].Created.Time.Before(v2Start) {
				t.Errorf("%s v2 history %d created %s, before the v2 build", b, i, h2[i].Created)
			}
		}
	}
	// Builders never share layers beyond the base.
	if n := commonPrefix(d.diffIDs("lazy-v1-legacy"), d.diffIDs("lazy-v1-buildkit")); n != 2 {
		t.Errorf("legacy and buildkit lazy-v1 share %d leading layers, want 2", n)
	}
}

func TestHistoryText(t *testing.T) {
	d := openDemo(t)
	for _, tag := range []string{"lazy-v1-legacy", "lazy-v2-legacy", "pro-v1-legacy", "pro-v2-legacy"} {
		for _, h := range d.config(tag).History[5:] {
			if !strings.HasPrefix(h.CreatedBy, "/bin/sh -c ") || h.Comment != "" {
				t.Errorf("%s: legacy history %+v", tag, h)
			}
		}
	}
	for _, tag := range []string{"lazy-v1-buildkit", "lazy-v2-buildkit", "pro-v1-buildkit", "pro-v2-buildkit"} {
		for _, h := range d.config(tag).History[5:] {
			if strings.HasPrefix(h.CreatedBy, "/bin/sh") || h.Comment != buildkitV0 {
				t.Errorf("%s: buildkit history %+v", tag, h)
			}
		}
	}
	// The legacy COPY dir: hash follows the copied content.
	c1 := d.nonEmptyHistory("lazy-v1-legacy")[3].CreatedBy
	c2 := d.nonEmptyHistory("lazy-v2-legacy")[3].CreatedBy
	if !strings.HasPrefix(c1, "/bin/sh -c #(nop) COPY dir:") || c1 == c2 {
		t.Errorf("lazy COPY history v1 %q, v2 %q", c1, c2)
	}
}

func TestLayersMatchHistory(t *testing.T) {
	d := openDemo(t)
	for tag := range d.byTag {
		if tag == "multi" {
			continue
		}
		layers, made := len(d.diffIDs(tag)), len(d.nonEmptyHistory(tag))
		if tag == "squashed" {
			if layers != 3 || made != 1 {
				t.Errorf("squashed has %d layers and %d non-empty history entries, want 3 and 1", layers, made)
			}
			continue
		}
		if layers != made {
			t.Errorf("%s has %d layers and %d non-empty history entries", tag, layers, made)
		}
	}
}

func TestWorkdirLayerHasNoFileBytes(t *testing.T) {
	d := openDemo(t)
	if ms := members(t, d.layers("lazy-v1-legacy")[2]); len(ms) != 0 {
		t.Errorf("legacy WORKDIR layer has members %+v, want none", ms)
	}
	ms := members(t, d.layers("lazy-v1-buildkit")[2])
	if len(ms) != 1 || ms[0].name != "app/" || ms[0].typ != tar.TypeDir {
		t.Errorf("buildkit WORKDIR layer has members %+v, want only app/", ms)
	}
	for _, tag := range []string{"lazy-v1-legacy", "lazy-v1-buildkit", "pro-v2-legacy", "pro-v2-buildkit"} {
		if n, err := regularBytes(d.layers(tag)[2]); err != nil || n != 0 {
			t.Errorf("%s WORKDIR layer holds %d file bytes (%v), want 0", tag, n, err)
		}
	}
}

func TestConfig(t *testing.T) {
	d := openDemo(t)
	for _, tag := range []string{"lazy-v2-legacy", "pro-v1-buildkit"} {
		c := d.config(tag).Config
		if c.WorkingDir != "/app" || strings.Join(c.Cmd, " ") != "node index.js" {
			t.Errorf("%s: WorkingDir %q Cmd %q", tag, c.WorkingDir, c.Cmd)
		}
		if _, ok := c.ExposedPorts["3000/tcp"]; !ok {
			t.Errorf("%s: ExposedPorts %v", tag, c.ExposedPorts)
		}
		if _, ok := c.Volumes["/app/data"]; !ok {
			t.Errorf("%s: Volumes %v", tag, c.Volumes)
		}
		if got := strings.Join(c.Env, " "); !strings.Contains(got, "NODE_ENV=production") {
			t.Errorf("%s: Env %q", tag, c.Env)
		}
	}
	if got := d.config("pro-v1-legacy").Config.Labels[sourceKey]; got != sourceURL {
		t.Errorf("pro-v1-legacy label %q", got)
	}
	if got := d.config("lazy-v1-legacy").Config.Labels; len(got) != 0 {
		t.Errorf("lazy-v1-legacy labels %v, want none", got)
	}
}

func TestMultiPlatformIndex(t *testing.T) {
	d := openDemo(t)
	desc := d.byTag["multi"]
	if !desc.MediaType.IsIndex() {
		t.Fatalf("multi is a %s, want an index", desc.MediaType)
	}
	idx, err := d.index.ImageIndex(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, c := range m.Manifests {
		platforms = append(platforms, c.Platform.String())
		img, err := idx.Image(c.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if ls, err := img.Layers(); err != nil || len(ls) != 1 {
			t.Errorf("%s: %d layers (%v), want 1", c.Platform, len(ls), err)
		}
	}
	if got := strings.Join(platforms, ","); got != "linux/amd64,linux/arm64/v8" {
		t.Errorf("platforms %s", got)
	}
}
