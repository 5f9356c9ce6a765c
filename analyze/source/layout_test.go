package source

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func platformImage(t *testing.T, os, arch string, layers int) v1.Image {
	t.Helper()
	img := randomImage(t, layers)
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = os, arch
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeLayout writes an OCI layout holding a tagged two-platform index, a tagged plain
// image and an untagged image.
func writeLayout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: platformImage(t, "linux", "arm64", 1), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: platformImage(t, "linux", "amd64", 2), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "multi"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(platformImage(t, "linux", "amd64", 3), layout.WithAnnotations(map[string]string{annotationContainerdName: "docker.io/library/app:v1"})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLayoutIndexAndPlatforms(t *testing.T) {
	ctx := context.Background()
	dir := writeLayout(t)
	open := func(ref string, p *v1.Platform) (*Image, error) {
		return Open(ctx, ref, Options{Platform: p})
	}
	img, err := open("oci:"+dir+":multi", nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Architecture != "amd64" || len(img.Layers) != 2 {
		t.Errorf("default platform: %s, %d layers", img.Config.Architecture, len(img.Layers))
	}
	if !img.LayersCompressed || img.Layers[0].CompressedSize <= 0 || img.Layers[0].Size != -1 {
		t.Errorf("layer figures before measuring: %+v", img.Layers[0])
	}
	if err := img.MeasureSizes(ctx); err != nil || img.Layers[0].Size <= 0 {
		t.Errorf("MeasureSizes: %v, %+v", err, img.Layers[0])
	}
	img, err = open("oci:"+dir+":multi", &v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil || img.Config.Architecture != "arm64" || len(img.Layers) != 1 {
		t.Fatalf("arm64: %v", err)
	}
	_, err = open("oci:"+dir+":multi", &v1.Platform{OS: "linux", Architecture: "s390x"})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "available: linux/amd64, linux/arm64") {
		t.Errorf("missing platform: %v", err)
	}
	// A containerd-style full name matches its tag.
	if img, err = open("oci:"+dir+":v1", nil); err != nil || len(img.Layers) != 3 {
		t.Errorf("containerd name: %v", err)
	}
	_, err = open("oci:"+dir, nil)
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "docker.io/library/app:v1, multi") {
		t.Errorf("no tag: %v", err)
	}
	if _, err = open("oci:"+dir+":nope", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tag: %v", err)
	}
	if _, err = open("oci:"+t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err = open("oci:/nonexistent/dir", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestLayoutSingleImageNeedsNoTag(t *testing.T) {
	dir := t.TempDir()
	img, _ := random.Image(100, 1)
	if _, err := layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
		t.Fatal(err)
	}
	got, err := Open(context.Background(), "oci:"+dir, Options{})
	if err != nil || len(got.Layers) != 1 {
		t.Fatalf("Open: %v", err)
	}
}

func TestReadLayersCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	img, err := Open(ctx, "oci:"+writeLayout(t)+":multi", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := img.MeasureSizes(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("MeasureSizes after cancel: %v", err)
	}
}
