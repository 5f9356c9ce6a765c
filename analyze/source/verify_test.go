package source

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func openAndScan(ctx context.Context, ref string) error {
	img, err := Open(ctx, ref, Options{})
	if err != nil {
		return err
	}
	defer img.Close()
	want := make([]int, len(img.Layers))
	for i := range want {
		want[i] = i
	}
	return img.ScanLayers(ctx, want, false, func(int, LayerScan) error { return nil })
}

// Issue 12, item 2: bytes that do not match the digest naming them are an error that
// names the content and both digests, in every source, for layers and metadata.
func TestTamperedImagesAreRefused(t *testing.T) {
	ctx := context.Background()
	good := layerTar(t, "app/a.js", "console.log(1)\n")
	evil := layerTar(t, "app/a.js", "console.log(2)\n")

	// A layer whose content is not what the config's diffID says.
	wrongDiffID := gzipLayer(t, evil)
	wrongDiffID.diffID = sha(good)
	// A blob whose bytes are not what its name and descriptor say.
	swapped := layoutFilesOf(t, "v1", []storedLayer{gzipLayer(t, good)}, layoutEdits{})
	for n := range swapped {
		if strings.HasPrefix(n, "blobs/") && bytes.Equal(swapped[n], gzipLayer(t, good).blob) {
			swapped[n] = gzipLayer(t, evil).blob
		}
	}
	// A config edited after the manifest named it.
	editedConfig := layoutFilesOf(t, "v1", []storedLayer{gzipLayer(t, good)}, layoutEdits{tamperConfig: func(b *[]byte) {
		*b = bytes.Replace(*b, []byte(`"amd64"`), []byte(`"arm64"`), 1)
	}})
	// A manifest edited after the index named it.
	editedManifest := layoutFilesOf(t, "v1", []storedLayer{gzipLayer(t, good)}, layoutEdits{tamperManifest: func(b *[]byte) {
		*b = bytes.Replace(*b, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":3`), 1)
	}})

	for name, tc := range map[string]struct {
		files map[string][]byte
		want  string
	}{
		"diffID":   {layoutFilesOf(t, "v1", []storedLayer{wrongDiffID}, layoutEdits{}), "layer 0 of %s does not match its diffID: expected " + sha(good).String() + ", read " + sha(evil).String()},
		"blob":     {swapped, "does not match its blob digest: expected " + sha(gzipLayer(t, good).blob).String()},
		"config":   {editedConfig, "config does not match its digest"},
		"manifest": {editedManifest, "manifest does not match its digest"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, ref := range []string{"oci:" + writeDirOf(t, tc.files), "oci-archive:" + writeTarOf(t, tc.files, "")} {
				err := openAndScan(ctx, ref)
				want := strings.ReplaceAll(tc.want, "%s", ref)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v\nwant an error containing %q", ref, err, want)
				}
				var de *DigestError
				if !errors.As(err, &de) {
					t.Errorf("%s: not a DigestError: %v", ref, err)
				}
			}
		})
	}
}

func TestTamperedDockerSaveIsRefused(t *testing.T) {
	ctx := context.Background()
	img := randomImage(t, 2)
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			path := writeSave(t, style, []string{"app:v1"}, img)
			data, _ := os.ReadFile(path)
			// Flip one byte inside the first layer's stored bytes (random layers are
			// gzip; classic and oci hold them uncompressed, past a 512-byte tar header).
			layers, _ := img.Layers()
			var stored []byte
			if style == containerdSave {
				stored = readAll(t, layers[0].Compressed)
			} else {
				stored = readAll(t, layers[0].Uncompressed)
			}
			at := bytes.Index(data, stored[:1024])
			if at < 0 {
				t.Fatal("layer not found in archive")
			}
			data[at+700] ^= 0xff
			bad := filepath.Join(t.TempDir(), "bad.tar")
			os.WriteFile(bad, data, 0o644)
			err := openAndScan(ctx, "docker-archive:"+bad)
			// A flipped byte in a gzip stream breaks it before the digests are
			// compared: the blob digest still names the cause.
			var de *DigestError
			if !errors.As(err, &de) {
				t.Errorf("tampered layer: %v", err)
			}
		})
	}
	// A config that is not the one its name (the image ID) says.
	path := writeSave(t, classicSave, []string{"app:v1"}, img)
	data, _ := os.ReadFile(path)
	data = bytes.Replace(data, []byte(`"type":"layers"`), []byte(`"type":"layerz"`), 1)
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, data, 0o644)
	if err := openAndScan(ctx, "docker-archive:"+bad); err == nil || !strings.Contains(err.Error(), "the image config") || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("tampered config: %v", err)
	}
}

// Issue 12, item 3: one cap for every metadata document, and nothing after the JSON.
func TestMetadataIsCappedAndStrict(t *testing.T) {
	ctx := context.Background()
	layers := []storedLayer{gzipLayer(t, layerTar(t, "a", "b"))}
	huge := layoutFilesOf(t, "v1", layers, layoutEdits{})
	huge["index.json"] = append(bytes.Repeat([]byte(" "), maxMetadataFile+1), huge["index.json"]...)
	trailing := func(b *[]byte) { *b = append(*b, []byte(`{"garbage":1}`)...) }
	trailingManifest := layoutFilesOf(t, "v1", layers, layoutEdits{manifest: trailing})
	trailingConfig := layoutFilesOf(t, "v1", layers, layoutEdits{config: trailing})
	trailingIndex := layoutFilesOf(t, "v1", layers, layoutEdits{index: trailing})
	for name, tc := range map[string]struct {
		files map[string][]byte
		want  string
	}{
		"huge index":        {huge, "larger than the 16 MiB"},
		"trailing manifest": {trailingManifest, "trailing data after the JSON value"},
		"trailing index":    {trailingIndex, "trailing data after the JSON value"},
		"trailing config":   {trailingConfig, "trailing data after the JSON value"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, ref := range []string{"oci:" + writeDirOf(t, tc.files), "oci-archive:" + writeTarOf(t, tc.files, "")} {
				start := time.Now()
				_, err := Open(ctx, ref, Options{})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want %q", ref, err, tc.want)
				}
				t.Logf("%s: %v (%s)", name, err, time.Since(start).Round(time.Millisecond))
			}
		})
	}
	// A docker save manifest.json with trailing data.
	path := writeSave(t, classicSave, []string{"app:v1"}, randomImage(t, 1))
	data, _ := os.ReadFile(path)
	// The same length, so the tar header still fits: `[]` then what was the entry.
	data = bytes.Replace(data, []byte(`[{"Config"`), []byte(`[]{"Config`), 1)
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, data, 0o644)
	if _, err := Open(ctx, "docker-archive:"+bad, Options{}); err == nil || !strings.Contains(err.Error(), "trailing data") {
		t.Errorf("manifest.json with trailing data: %v", err)
	}
}

// Issue 12, item 8: --platform that a single-platform source does not have.
func TestPlatformMismatchInSinglePlatformSources(t *testing.T) {
	ctx := context.Background()
	files := layoutFilesOf(t, "v1", []storedLayer{gzipLayer(t, layerTar(t, "a", "b"))}, layoutEdits{})
	arm := &v1.Platform{OS: "linux", Architecture: "arm64"}
	for _, ref := range []string{
		"oci:" + writeDirOf(t, files),
		"oci-archive:" + writeTarOf(t, files, ""),
		"docker-archive:" + writeSave(t, classicSave, []string{"app:v1"}, platformImage(t, "linux", "amd64", 1)),
	} {
		if _, err := Open(ctx, ref, Options{Platform: arm}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "linux/arm64") {
			t.Errorf("%s for linux/arm64: %v", ref, err)
		}
	}
}
