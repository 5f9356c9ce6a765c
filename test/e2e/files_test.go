//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// wastefulDockerfile writes, overwrites and deletes files over several RUN steps,
// through a hardlink, a directory removal and a copy.
const wastefulDockerfile = `FROM ` + BaseImage + `
RUN mkdir -p /data /var/lib/apt/lists && head -c 300000 /dev/urandom > /data/big && ln /data/big /data/big-link && head -c 5000 /dev/urandom > /var/lib/apt/lists/pkgs && echo v1 > /data/config
RUN head -c 200000 /dev/urandom > /data/big.new && mv /data/big.new /data/big && echo v2 > /data/config
RUN rm -rf /var/lib/apt/lists && rm /data/big-link
RUN cp /data/big /data/copy && echo version3 > /data/config
`

// TestFilesWastedAgreesWithAReferenceCount builds an image whose RUN steps waste bytes
// in every way the README defines, with both builders, and checks files --wasted
// against a count made here from docker save by another method: all stored bytes minus
// the bytes of the file versions still reachable from a visible path.
func TestFilesWastedAgreesWithAReferenceCount(t *testing.T) {
	for _, b := range []struct {
		name     string
		buildkit bool
	}{{"legacy", false}, {"buildkit", true}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.TempDir()
			if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(wastefulDockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			tag := "e2e/files-" + b.name + ":v1"
			build(t, ctx, "Dockerfile", tag, b.buildkit)
			ref := saved(t, t.TempDir(), tag)

			out, stderr, code := layers(t, "files", "--wasted", "--format", "json", ref)
			if code != 0 {
				t.Fatalf("files exited %d: %s", code, stderr)
			}
			var got struct {
				Size       int64 `json:"size"`
				WastedSize int64 `json:"wastedSize"`
				Wasted     []struct {
					Path     string `json:"path"`
					HiddenBy int    `json:"hiddenBy"`
				} `json:"wasted"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			total, wasted := referenceWaste(t, strings.TrimPrefix(ref, "docker-archive:"))
			if got.Size != total || got.WastedSize != wasted {
				t.Errorf("files says %d wasted of %d, the reference count %d of %d\n%s", got.WastedSize, got.Size, wasted, total, out)
			}
			// 300,000 (the first big, once its last link went) + 5,000 (apt lists) +
			// the two old configs; the copy is not waste.
			if wasted != 300000+5000+3+3 {
				t.Errorf("reference waste %d, want %d", wasted, 300000+5000+6)
			}
			// Wasted from the engine must be the same figure.
			engineOut, stderr, code := layers(t, "files", "--wasted", "--format", "json", tag)
			if code != 0 {
				t.Fatalf("files from the engine exited %d: %s", code, stderr)
			}
			if engineOut != strings.ReplaceAll(out, ref, tag) {
				t.Errorf("the engine and docker save disagree:\n%s\n---\n%s", engineOut, out)
			}
		})
	}
}

// referenceWaste counts, from a docker save archive, the stored bytes of every layer
// and the bytes no visible path reaches. It is deliberately naive: a flat map of
// paths, whiteouts applied by prefix, every content version numbered.
func referenceWaste(t *testing.T, archive string) (total, wasted int64) {
	t.Helper()
	layerTars := saveLayers(t, archive)
	type version struct {
		id   int
		size int64
	}
	visible := map[string]version{} // path → content version (regular files only)
	others := map[string]bool{}     // other visible paths (dirs, links), for whiteouts
	next := 0
	for li, data := range layerTars {
		tr := tar.NewReader(strings.NewReader(data))
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %d: %v", li, err)
			}
			p := path.Clean("/" + hdr.Name)
			dir, base := path.Split(p)
			removeUnder := func(root string) {
				for q := range visible {
					if q == root || strings.HasPrefix(q, root+"/") {
						delete(visible, q)
					}
				}
				for q := range others {
					if q == root || strings.HasPrefix(q, root+"/") {
						delete(others, q)
					}
				}
			}
			switch {
			case base == ".wh..wh..opq":
				t.Fatalf("layer %d: an opaque marker; this reference count does not do those", li)
			case strings.HasPrefix(base, ".wh."):
				removeUnder(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			case hdr.Typeflag == tar.TypeReg:
				next++
				total += hdr.Size
				delete(others, p)
				visible[p] = version{next, hdr.Size}
			case hdr.Typeflag == tar.TypeLink:
				target := path.Clean("/" + hdr.Linkname)
				if v, ok := visible[target]; ok {
					visible[p] = v
				}
			case hdr.Typeflag == tar.TypeDir:
				if _, ok := visible[p]; ok {
					removeUnder(p)
				}
				others[p] = true
			default:
				removeUnder(p)
				others[p] = true
			}
		}
	}
	reached := map[int]int64{}
	for _, v := range visible {
		reached[v.id] = v.size
	}
	var live int64
	for _, s := range reached {
		live += s
	}
	return total, total - live
}

// saveLayers returns the layer tars of a classic or OCI docker save archive, bottom first.
func saveLayers(t *testing.T, archive string) []string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		// The containerd image store saves its layers as it keeps them: gzip-compressed.
		if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", hdr.Name, err)
			}
		}
		files[path.Clean(hdr.Name)] = string(b)
	}
	var m []struct{ Layers []string }
	if err := json.Unmarshal([]byte(files["manifest.json"]), &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	var out []string
	for _, l := range m[0].Layers {
		out = append(out, files[path.Clean(l)])
	}
	return out
}
