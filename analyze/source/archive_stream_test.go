package source

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func gzipFile(t *testing.T, path string) string {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(t.TempDir(), "save.tar.gz")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	io.Copy(zw, in)
	zw.Close()
	f.Close()
	return out
}

func layersAndFiles(t *testing.T, ref string) ([]int64, map[int]LayerScan, string) {
	t.Helper()
	img, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	got := scanAll(t, img)
	var sizes []int64
	for i := range img.Layers {
		sizes = append(sizes, got[i].Size)
	}
	return sizes, got, img.ID
}

// Issue 12, item 9: a gzipped docker save and one on standard input are read in one
// pass, with the same figures as the archive read in place.
func TestArchiveStreams(t *testing.T) {
	img := randomImage(t, 3)
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			path := writeSave(t, style, []string{"app:v1"}, img)
			wantSizes, wantScans, wantID := layersAndFiles(t, "docker-archive:"+path)

			sizes, scans, id := layersAndFiles(t, "docker-archive:"+gzipFile(t, path))
			if !reflect.DeepEqual(sizes, wantSizes) || !reflect.DeepEqual(scans, wantScans) || id != wantID {
				t.Errorf("gzipped: sizes %v, want %v (id %s, want %s)", sizes, wantSizes, id, wantID)
			}

			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stdin := os.Stdin
			os.Stdin = f
			defer func() { os.Stdin = stdin }()
			sizes, scans, _ = layersAndFiles(t, "docker-archive:-")
			if !reflect.DeepEqual(sizes, wantSizes) || !reflect.DeepEqual(scans, wantScans) {
				t.Errorf("stdin: sizes %v, want %v", sizes, wantSizes)
			}
		})
	}
}

func TestArchiveStreamRefusesTampering(t *testing.T) {
	img := randomImage(t, 1)
	path := writeSave(t, ociSave, []string{"app:v1"}, img)
	data, _ := os.ReadFile(path)
	layers, _ := img.Layers()
	stored := readAll(t, layers[0].Uncompressed)
	at := strings.Index(string(data), string(stored[:1024]))
	data[at+700] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, data, 0o644)
	_, err := Open(context.Background(), "docker-archive:"+gzipFile(t, bad), Options{})
	var de *DigestError
	if !errors.As(err, &de) {
		t.Errorf("tampered gzipped archive: %v", err)
	}
}
