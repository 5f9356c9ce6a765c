package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// FuzzArchive feeds arbitrary bytes as a docker save archive: an error is fine, a panic
// or a hang is not. (This package links the docker client, which makes coverage-guided
// fuzzing slow here; TestArchiveSurvivesCorruption covers the same ground quickly.)
func FuzzArchive(f *testing.F) {
	f.Add([]byte("not a tar"))
	f.Add(make([]byte, 2048))
	for _, style := range []saveStyle{classicSave, ociSave, containerdSave} {
		b, err := os.ReadFile(writeSave(f, style, []string{"app:v1"}, fuzzSeedImage(f)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "save.tar")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		img, err := Open(ctx, "docker-archive:"+path, Options{})
		if err != nil {
			return
		}
		defer img.Close()
		_ = img.MeasureSizes(ctx)
	})
}

// TestArchiveSurvivesCorruption opens hundreds of randomly corrupted copies of a valid
// archive: each must end, with an image or an error, and never panic.
func TestArchiveSurvivesCorruption(t *testing.T) {
	good := writeSave(t, classicSave, []string{"app:v1"}, randomImage(t, 2))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	for i := 0; i < 500; i++ {
		bad := append([]byte(nil), data...)
		for k := 0; k < 1+r.Intn(4); k++ {
			bad[r.Intn(len(bad))] = byte(r.Intn(256))
		}
		if r.Intn(4) == 0 {
			bad = bad[:r.Intn(len(bad))]
		}
		path := filepath.Join(dir, fmt.Sprintf("%d.tar", i))
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			ctx := context.Background()
			if img, err := Open(ctx, "docker-archive:"+path, Options{}); err == nil {
				_ = img.MeasureSizes(ctx)
				img.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("corrupted archive %d: no answer after 10s", i)
		}
	}
}

// memFiles is a layout held in memory, so fuzzing the layout parsers touches no disk.
type memFiles map[string][]byte

func (m memFiles) open(name string) (*io.SectionReader, func() error, error) {
	b, ok := m[name]
	if !ok {
		return nil, nil, fmt.Errorf("%s is missing", name)
	}
	return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b))), func() error { return nil }, nil
}

// fuzzLayout builds a valid one-image layout whose index, manifest or config is
// replaced by data, with every descriptor pointing at data updated so that the parser,
// not the digest check, is what the fuzzer reaches.
func fuzzLayout(t testing.TB, which string, data []byte) memFiles {
	layer := gzipLayerBytes(t)
	files := memFiles{}
	files["blobs/sha256/"+sha(layer.blob).Hex] = layer.blob
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + layer.diffID.String() + `"]},"history":[{"created_by":"RUN x"}]}`)
	if which == "config" {
		cfg = data
	}
	files["blobs/sha256/"+sha(cfg).Hex] = cfg
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"%s"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":%d,"digest":"%s"}]}`,
		len(cfg), sha(cfg), len(layer.blob), sha(layer.blob)))
	if which == "manifest" {
		manifest = data
	}
	files["blobs/sha256/"+sha(manifest).Hex] = manifest
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":%d,"digest":"%s","annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`,
		len(manifest), sha(manifest)))
	if which == "index" {
		index = data
	}
	files["index.json"] = index
	return files
}

var fuzzLayer struct {
	once sync.Once
	l    storedLayer
}

func gzipLayerBytes(t testing.TB) storedLayer {
	fuzzLayer.once.Do(func() {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "app/a.js", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
		tw.Write([]byte("ok"))
		tw.Close()
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(buf.Bytes())
		zw.Close()
		fuzzLayer.l = storedLayer{blob: z.Bytes(), diffID: sha(buf.Bytes())}
	})
	return fuzzLayer.l
}

func fuzzOpenLayout(t *testing.T, files memFiles) {
	ctx := context.Background()
	img, err := openOCILayout(files, "", Options{}, "fuzz", TransportLayout)
	if err != nil {
		return
	}
	img.Ref = "fuzz"
	want := make([]int, len(img.Layers))
	for i := range want {
		want[i] = i
	}
	_ = img.ScanLayers(ctx, want, true, func(int, LayerScan) error { return nil })
}

// FuzzOCIIndex, FuzzOCIManifest and FuzzOCIConfig feed arbitrary documents to the
// layout reader (directory, oci-archive: and a docker-archive: holding a layout).
func FuzzOCIIndex(f *testing.F) {
	valid := fuzzLayout(f, "", nil)
	f.Add(valid["index.json"])
	f.Add([]byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:` + strings.Repeat("0", 64) + `"}]}`))
	f.Add([]byte(`{"manifests":[]} {}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOpenLayout(t, fuzzLayout(t, "index", data)) })
}

func FuzzOCIManifest(f *testing.F) {
	valid := fuzzLayout(f, "", nil)
	for n, b := range valid {
		if bytes.Contains(b, []byte(`"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest`)) && n != "index.json" {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"layers":[{"digest":"sha512:00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOpenLayout(t, fuzzLayout(t, "manifest", data)) })
}

func FuzzOCIConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("a", 64) + `"]}}`))
	f.Add([]byte(`{"rootfs":{"diff_ids":[]},"history":[{"empty_layer":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOpenLayout(t, fuzzLayout(t, "config", data)) })
}

// FuzzArchiveStream feeds arbitrary bytes as a docker save stream (standard input, a
// gzipped archive): no file is written, so it runs fast.
func FuzzArchiveStream(f *testing.F) {
	for _, style := range []saveStyle{classicSave, ociSave, containerdSave} {
		b, err := os.ReadFile(writeSave(f, style, []string{"app:v1"}, fuzzSeedImage(f)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := readArchiveStream(context.Background(), bytes.NewReader(data), "", "fuzz", Options{})
		if err != nil {
			return
		}
		img.Ref = "fuzz"
		_ = img.MeasureSizes(context.Background())
	})
}

func fuzzSeedImage(t testing.TB) v1.Image {
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
