package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/docker-layers/docker-layers/analyze"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// testRegistry serves an in-memory registry on 127.0.0.1.
func testRegistry(t *testing.T) (string, *imagetest.Registry) {
	t.Helper()
	reg := imagetest.NewRegistry(t)
	return reg.Host, reg
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, _ := img.Layers()
	var out []v1.Hash
	for _, l := range ls {
		d, _ := l.Digest()
		out = append(out, d)
	}
	return out
}

func TestRegistryInspectDownloadsNoLayer(t *testing.T) {
	host, log := testRegistry(t)
	want := randomImage(t, 3)
	push(t, host+"/app:v1", want)
	ref := "docker://" + host + "/app:v1"

	img, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	digests := layerDigests(t, want)
	if n := log.Count(digests...); n != 0 {
		t.Errorf("opening downloaded %d layer blobs, want 0", n)
	}
	cfg, _ := want.ConfigFile()
	id, _ := want.ConfigName()
	if img.ID != id.String() || fmt.Sprint(img.DiffIDs()) != fmt.Sprint(cfg.RootFS.DiffIDs) || !img.Remote {
		t.Errorf("got id %s diffIDs %v remote %v", img.ID, img.DiffIDs(), img.Remote)
	}
	ls, _ := want.Layers()
	for i, l := range img.Layers {
		size, _ := ls[i].Size()
		if l.Size != analyze.Unknown || l.CompressedSize != size || l.Digest != digests[i] {
			t.Errorf("layer %d: %+v, want compressed %d, uncompressed unknown", i, l, size)
		}
	}

	// --uncompressed: every layer blob once, counted.
	if err := img.MeasureSizes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := log.Count(digests...); n != 3 {
		t.Errorf("measuring downloaded %d layer blobs, want 3", n)
	}
	if img.BytesDownloaded() <= 0 || img.Image.Size() <= 0 {
		t.Errorf("downloaded %d bytes, size %d", img.BytesDownloaded(), img.Image.Size())
	}
}

func TestRegistryIndexPlatforms(t *testing.T) {
	host, log := testRegistry(t)
	amd := platformImage(t, "linux", "amd64", 1)
	arm := platformImage(t, "linux", "arm64", 2)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	r, _ := name.ParseReference(host+"/multi:v1", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	ref := "docker://" + host + "/multi:v1"

	open := func(opts Options) *Image {
		t.Helper()
		img, err := Open(context.Background(), ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	if img := open(Options{}); len(img.Layers) != 1 {
		t.Errorf("default: %d layers, want linux/amd64's 1", len(img.Layers))
	}
	// The engine's platform is the default when there is an engine.
	e := &fakeEngine{t: t}
	if img := open(Options{Daemon: func() (DaemonClient, error) { return e, nil }}); len(img.Layers) != 2 {
		t.Errorf("engine default: %d layers, want linux/arm64's 2", len(img.Layers))
	}
	if img := open(Options{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}); len(img.Layers) != 2 {
		t.Errorf("--platform linux/arm64: %d layers, want 2", len(img.Layers))
	}
	_, err := Open(context.Background(), ref, Options{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no image for platform linux/s390x (available: linux/amd64, linux/arm64)") {
		t.Errorf("missing platform: %v", err)
	}
	if n := log.Count(append(layerDigests(t, amd), layerDigests(t, arm)...)...); n != 0 {
		t.Errorf("downloaded %d layer blobs, want 0", n)
	}
}

func TestRegistryErrors(t *testing.T) {
	host, _ := testRegistry(t)
	_, err := Open(context.Background(), "docker://"+host+"/nosuch:v1", Options{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no such image in the registry") {
		t.Errorf("not found: %v", err)
	}

	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
	}))
	defer locked.Close()
	lockedHost := strings.TrimPrefix(locked.URL, "http://")
	_, err = Open(context.Background(), "docker://"+lockedHost+"/app:v1", Options{})
	if err == nil || !strings.Contains(err.Error(), "refused access") || !strings.Contains(err.Error(), "docker login "+lockedHost) {
		t.Errorf("unauthorized: %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	_, err = Open(context.Background(), "docker://"+closedHost+"/app:v1", Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the registry "+closedHost) {
		t.Errorf("unreachable: %v", err)
	}

	if _, err := Open(context.Background(), "docker://UPPER/Case", Options{}); !errors.Is(err, ErrUsage) {
		t.Errorf("bad reference: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for ref, want := range map[string]bool{
		"localhost:5000/app":     true,
		"127.0.0.1:5000/app:v1":  true,
		"[::1]:5000/app":         true,
		"registry.example/app":   false,
		"docker.io/library/node": false,
		"app":                    false,
	} {
		if got := isLoopback(ref); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", ref, got, want)
		}
	}
}
