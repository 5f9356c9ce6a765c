package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/containerd/stargz-snapshotter/estargz"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/docker-layers/docker-layers/analyze"
)

// layerTar is an uncompressed layer tar of regular files (name → content), in order.
func layerTar(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// storedLayer is a layer blob as a layout stores it.
type storedLayer struct {
	blob        []byte
	diffID      v1.Hash
	mediaType   types.MediaType
	annotations map[string]string
}

func gzipLayer(t *testing.T, tarBytes []byte) storedLayer {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(tarBytes)
	zw.Close()
	return storedLayer{blob: buf.Bytes(), diffID: sha(tarBytes), mediaType: types.OCILayer}
}

func zstdLayer(t *testing.T, tarBytes []byte) storedLayer {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(tarBytes)
	zw.Close()
	return storedLayer{blob: buf.Bytes(), diffID: sha(tarBytes), mediaType: types.OCILayerZStd}
}

// estargzLayer converts a layer to eStargz, as `buildx … compression=estargz` does;
// annotate says whether the manifest carries the TOC annotation (the footer says it
// either way).
func estargzLayer(t *testing.T, tarBytes []byte, annotate bool) storedLayer {
	blob, err := estargz.Build(io.NewSectionReader(bytes.NewReader(tarBytes), 0, int64(len(tarBytes))))
	if err != nil {
		t.Fatal(err)
	}
	defer blob.Close()
	b, err := io.ReadAll(blob)
	if err != nil {
		t.Fatal(err)
	}
	diffID, err := v1.NewHash(blob.DiffID().String())
	if err != nil {
		t.Fatal(err)
	}
	l := storedLayer{blob: b, diffID: diffID, mediaType: types.OCILayer}
	if annotate {
		l.annotations = map[string]string{annotationEstargzTOC: blob.TOCDigest().String()}
	}
	return l
}

// layoutEdits change a layout's documents: edits are consistent (the descriptors and
// names that point at a document follow it), tampers happen after the document was named.
type layoutEdits struct {
	config, manifest, index      func(*[]byte)
	tamperConfig, tamperManifest func(*[]byte)
}

// layoutFilesOf builds an OCI layout's files (name → bytes) holding one image tagged
// tag.
func layoutFilesOf(t *testing.T, tag string, layers []storedLayer, e layoutEdits) map[string][]byte {
	t.Helper()
	edit := func(f func(*[]byte), b []byte) []byte {
		if f != nil {
			f(&b)
		}
		return b
	}
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	cfg := v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	for i, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
		cfg.History = append(cfg.History, v1.History{CreatedBy: "RUN step " + string(rune('a'+i))})
		d := sha(l.blob)
		files["blobs/sha256/"+d.Hex] = l.blob
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: int64(len(l.blob)), Digest: d, Annotations: l.annotations})
	}
	rawCfg, _ := json.Marshal(cfg)
	rawCfg = edit(e.config, rawCfg)
	m.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawCfg)), Digest: sha(rawCfg)}
	files["blobs/sha256/"+sha(rawCfg).Hex] = edit(e.tamperConfig, rawCfg)
	rawManifest, _ := json.Marshal(m)
	rawManifest = edit(e.manifest, rawManifest)
	files["blobs/sha256/"+sha(rawManifest).Hex] = edit(e.tamperManifest, rawManifest)
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIManifestSchema1, Size: int64(len(rawManifest)), Digest: sha(rawManifest),
		Annotations: map[string]string{annotationRefName: tag},
	}}}
	rawIndex, _ := json.Marshal(idx)
	files["index.json"] = edit(e.index, rawIndex)
	return files
}

// writeTarOf packs files into a tar, in name order, under prefix ("" or "./").
func writeTarOf(t *testing.T, files map[string][]byte, prefix string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := tarWriter{t: t, tw: tar.NewWriter(f)}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w.file(prefix+n, files[n])
	}
	if err := w.tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeDirOf(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for n, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func scanAll(t *testing.T, img *Image) map[int]LayerScan {
	t.Helper()
	got := map[int]LayerScan{}
	want := make([]int, len(img.Layers))
	for i := range want {
		want[i] = i
	}
	err := img.ScanLayers(context.Background(), want, true, func(i int, s LayerScan) error {
		got[i] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func paths(fs []analyze.File) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return strings.Join(out, " ")
}

func TestOCIArchiveCompressions(t *testing.T) {
	ctx := context.Background()
	base := layerTar(t, "etc/os-release", "ID=test\n")
	app := layerTar(t, "app/a.js", "console.log(1)\n", "app/b.js", "exports.b = 2\n")
	for name, layers := range map[string][]storedLayer{
		"gzip":              {gzipLayer(t, base), gzipLayer(t, app)},
		"zstd":              {zstdLayer(t, base), zstdLayer(t, app)},
		"estargz":           {estargzLayer(t, base, true), estargzLayer(t, app, true)},
		"estargz-no-annot.": {estargzLayer(t, base, false), estargzLayer(t, app, false)},
	} {
		t.Run(name, func(t *testing.T) {
			files := layoutFilesOf(t, "v1", layers, layoutEdits{})
			for _, prefix := range []string{"", "./"} {
				path := writeTarOf(t, files, prefix)
				img, err := Open(ctx, "oci-archive:"+path+":v1", Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				if img.Transport != TransportOCIArchive || len(img.Layers) != 2 || !img.LayersCompressed {
					t.Fatalf("transport %s, %d layers, compressed %v", img.Transport, len(img.Layers), img.LayersCompressed)
				}
				got := scanAll(t, img)
				if p := paths(got[1].Files); p != "/app/a.js /app/b.js" {
					t.Errorf("layer 1 files: %s (eStargz entries must not show as files)", p)
				}
				if got[1].Size != int64(len("console.log(1)\n")+len("exports.b = 2\n")) {
					t.Errorf("layer 1 size %d", got[1].Size)
				}
				if got[0].Files[0].Digest != "sha256:"+sha([]byte("ID=test\n")).Hex {
					t.Errorf("file digest %s", got[0].Files[0].Digest)
				}
			}
		})
	}
}

// A docker-archive: that is really an OCI layout tar is read, with a note; an
// oci-archive: that is really a docker save archive says which prefix to use.
func TestArchiveTransportsCrossed(t *testing.T) {
	ctx := context.Background()
	path := writeTarOf(t, layoutFilesOf(t, "v1", []storedLayer{gzipLayer(t, layerTar(t, "a", "b"))}, layoutEdits{}), "")
	img, err := Open(ctx, "docker-archive:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	if len(img.Notes) != 1 || !strings.Contains(img.Notes[0], "oci-archive:"+path) {
		t.Errorf("notes %q", img.Notes)
	}
	save := writeSave(t, classicSave, []string{"app:v1"}, randomImage(t, 1))
	if _, err := Open(ctx, "oci-archive:"+save, Options{}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "use docker-archive:"+save) {
		t.Errorf("oci-archive: on a docker save archive: %v", err)
	}
	if _, err := Open(ctx, "oci-archive:"+filepath.Join(t.TempDir(), "none.tar"), Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(ctx, "oci-archive:"+path+":v2", Options{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"v1"`) && !strings.Contains(err.Error(), "v1") {
		t.Errorf("missing tag: %v", err)
	}
}

// Issue 12, item 9: a bare path that exists is read, its kind detected.
func TestBarePaths(t *testing.T) {
	ctx := context.Background()
	files := layoutFilesOf(t, "v1", []storedLayer{gzipLayer(t, layerTar(t, "a", "b"))}, layoutEdits{})
	for path, transport := range map[string]string{
		writeDirOf(t, files):     TransportLayout,
		writeTarOf(t, files, ""): TransportArchive,
		writeSave(t, classicSave, []string{"app:v1"}, randomImage(t, 1)): TransportArchive,
	} {
		img, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		img.Close()
		if img.Transport != transport || img.Ref != path || len(img.Notes) != 1 {
			t.Errorf("%s: transport %s, ref %s, notes %q", path, img.Transport, img.Ref, img.Notes)
		}
	}
	empty := t.TempDir()
	if _, err := Open(ctx, empty, Options{}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("a plain directory: %v", err)
	}
	if _, err := Open(ctx, "./no-such.tar", Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing file: %v", err)
	}
}
