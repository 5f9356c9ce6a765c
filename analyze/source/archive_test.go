package source

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/docker-layers/docker-layers/analyze"
)

// saveStyle is how a `docker save` archive lays out its files.
type saveStyle int

const (
	classicSave    saveStyle = iota // <id>/layer.tar, <config>.json (Docker < 25)
	ociSave                         // blobs/sha256/<diffID> uncompressed (Docker 25+, classic store)
	containerdSave                  // blobs/sha256/<digest> compressed (containerd image store)
)

type tarWriter struct {
	t  testing.TB
	tw *tar.Writer
}

func (w tarWriter) file(name string, data []byte) {
	w.t.Helper()
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.tw.Write(data); err != nil {
		w.t.Fatal(err)
	}
}

func readAll(t testing.TB, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeSave writes images, tagged, as `docker save` would in the given style.
func writeSave(t testing.TB, style saveStyle, tags []string, imgs ...v1.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "save.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := tarWriter{t: t, tw: tar.NewWriter(f)}
	var manifest tarball.Manifest
	written := map[string]bool{}
	for n, img := range imgs {
		rawCfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfgName, _ := img.ConfigName()
		desc := tarball.Descriptor{RepoTags: []string{tags[n]}}
		layers, _ := img.Layers()
		for _, l := range layers {
			var name string
			var data []byte
			switch style {
			case classicSave:
				d, _ := l.DiffID()
				name = d.Hex[:16] + "/layer.tar"
				data = readAll(t, l.Uncompressed)
			case ociSave:
				d, _ := l.DiffID()
				name = "blobs/sha256/" + d.Hex
				data = readAll(t, l.Uncompressed)
			case containerdSave:
				d, _ := l.Digest()
				name = "blobs/sha256/" + d.Hex
				data = readAll(t, l.Compressed)
			}
			if !written[name] {
				w.file(name, data)
				written[name] = true
			}
			desc.Layers = append(desc.Layers, name)
		}
		desc.Config = cfgName.Hex + ".json"
		if style != classicSave {
			desc.Config = "blobs/sha256/" + cfgName.Hex
		}
		w.file(desc.Config, rawCfg)
		manifest = append(manifest, desc)
	}
	m, _ := json.Marshal(manifest)
	w.file("manifest.json", m)
	if err := w.tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(2048, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestArchiveBothSaveLayouts(t *testing.T) {
	ctx := context.Background()
	want := randomImage(t, 3)
	wantDiffIDs, _ := want.ConfigFile()
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			path := writeSave(t, style, []string{"app:v1"}, want)
			img, err := Open(ctx, "docker-archive:"+path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.Transport != TransportArchive || img.Ref != "docker-archive:"+path {
				t.Errorf("transport %q ref %q", img.Transport, img.Ref)
			}
			cfgName, _ := want.ConfigName()
			if img.ID != cfgName.String() {
				t.Errorf("ID = %s, want the config digest %s", img.ID, cfgName)
			}
			if err := img.MeasureSizes(ctx); err != nil {
				t.Fatal(err)
			}
			layers, _ := want.Layers()
			for i, l := range img.Layers {
				if l.DiffID != wantDiffIDs.RootFS.DiffIDs[i] {
					t.Errorf("layer %d diffID %s", i, l.DiffID)
				}
				size, err := analyze.ScanLayer(context.Background(), readerOf(t, layers[i]), analyze.ScanOptions{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if l.Size != size || size == 0 {
					t.Errorf("layer %d size %d, want %d", i, l.Size, size)
				}
				digest, _ := layers[i].Digest()
				csize, _ := layers[i].Size()
				if style == containerdSave {
					if l.Digest != digest || l.CompressedSize != csize {
						t.Errorf("layer %d: digest %s size %d, want %s %d", i, l.Digest, l.CompressedSize, digest, csize)
					}
				} else if l.CompressedSize != analyze.Unknown || l.Digest != (v1.Hash{}) {
					t.Errorf("layer %d of an uncompressed archive has compressed figures: %+v", i, l)
				}
			}
			if img.LayersCompressed != (style == containerdSave) {
				t.Errorf("LayersCompressed = %v", img.LayersCompressed)
			}
		})
	}
}

func readerOf(t *testing.T, l v1.Layer) io.Reader {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func TestArchiveSeveralImages(t *testing.T) {
	ctx := context.Background()
	a, b := randomImage(t, 1), randomImage(t, 2)
	path := writeSave(t, classicSave, []string{"app:v1", "registry.example:5000/app:v2"}, a, b)

	_, err := Open(ctx, "docker-archive:"+path, Options{})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "app:v1, registry.example:5000/app:v2") {
		t.Errorf("no tag with two images: %v", err)
	}
	img, err := Open(ctx, "docker-archive:"+path+":registry.example:5000/app:v2", Options{})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	if len(img.Layers) != 2 {
		t.Errorf("picked the wrong image: %d layers", len(img.Layers))
	}
	// docker.io names match their short form.
	if img, err = Open(ctx, "docker-archive:"+path+":docker.io/library/app:v1", Options{}); err != nil {
		t.Fatal(err)
	}
	img.Close()
	if _, err := Open(ctx, "docker-archive:"+path+":app:v3", Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tag: %v", err)
	}
}

func TestArchiveBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notTar := filepath.Join(dir, "not.tar")
	os.WriteFile(notTar, []byte(strings.Repeat("not a tar ", 100)), 0o644)
	gz := filepath.Join(dir, "save.tar.gz")
	os.WriteFile(gz, []byte{0x1f, 0x8b, 8, 0, 0, 0}, 0o644)
	truncated := writeSave(t, classicSave, []string{"app:v1"}, randomImage(t, 2))
	data, _ := os.ReadFile(truncated)
	cut := filepath.Join(dir, "cut.tar")
	os.WriteFile(cut, data[:len(data)/3], 0o644)
	noManifest := filepath.Join(dir, "nomanifest.tar")
	f, _ := os.Create(noManifest)
	w := tarWriter{t: t, tw: tar.NewWriter(f)}
	w.file("hello", []byte("hi"))
	w.tw.Close()
	f.Close()

	for ref, want := range map[string]string{
		"docker-archive:" + filepath.Join(dir, "missing.tar"): "no such file",
		"docker-archive:" + notTar:                            "not a readable tar archive",
		"docker-archive:" + gz:                                "unexpected EOF",
		"docker-archive:" + cut:                               "",
		"docker-archive:" + noManifest:                        "not a docker save archive",
		"docker-archive:":                                     "needs a path",
	} {
		_, err := Open(ctx, ref, Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", ref, err, want)
		}
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]Ref{
		"docker-archive:a.tar":                {Transport: TransportArchive, Path: "a.tar"},
		"docker-archive:a.tar:app:v1":         {Transport: TransportArchive, Path: "a.tar", Tag: "app:v1"},
		"oci:dir":                             {Transport: TransportLayout, Path: "dir"},
		"oci:dir:v1":                          {Transport: TransportLayout, Path: "dir", Tag: "v1"},
		"docker://registry.example/app:v1":    {Transport: TransportRegistry, Path: "registry.example/app:v1"},
		"docker-daemon:app:v1":                {Transport: TransportDaemon, Path: "app:v1"},
		"app:v1":                              {Transport: TransportDaemon, Path: "app:v1", Bare: true},
		"localhost:5000/app":                  {Transport: TransportDaemon, Path: "localhost:5000/app", Bare: true},
		"sha256:0123456789abcdef0123456789ab": {Transport: TransportDaemon, Path: "sha256:0123456789abcdef0123456789ab", Bare: true},
		"oci-archive:x.tar:v1":                {Transport: TransportOCIArchive, Path: "x.tar", Tag: "v1"},
		"./App.tar":                           {Transport: TransportDaemon, Path: "./App.tar", Bare: true},
	} {
		got, err := ParseRef(in)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	// Issue 12, item 8: what the engine would refuse is a usage error, before any I/O.
	for in, want := range map[string]string{
		"":                           "empty image reference",
		"UPPER:v1":                   "must be lowercase",
		"docker-daemon:App":          "must be lowercase",
		"https://registry.example/a": "use docker://registry.example/a",
		"app:v1:v2":                  "not a valid image reference",
		"oci-archive:":               "needs a path",
		"container:web":              "names a container; this command reads images",
	} {
		if _, err := ParseRef(in); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRef(%q) = %v, want a usage error containing %q", in, err, want)
		}
	}
}
