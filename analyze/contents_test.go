package analyze

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestChangedFilesSeesSameSizeEdits(t *testing.T) {
	old := []File{{Path: "/app/a.js", Kind: KindFile, Size: 3, Digest: digestOf("abc")}}
	edited := []File{{Path: "/app/a.js", Kind: KindFile, Size: 3, Digest: digestOf("abd")}}
	got := ChangedFiles(old, edited)
	if len(got) != 1 || got[0].Change != FileModified || got[0].Path != "/app/a.js" {
		t.Errorf("same-size edit: %+v", got)
	}
	if got := ChangedFiles(old, old); len(got) != 0 {
		t.Errorf("no edit: %+v", got)
	}
}

type entry struct {
	name     string
	typeflag byte
	size     int64
	link     string
}

func tarOf(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Size: e.size, Linkname: e.link, Mode: 0o644}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(bytes.Repeat([]byte("x"), int(e.size))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestScanLayerCountsRegularFilesOnce(t *testing.T) {
	layer := tarOf(t,
		entry{name: "app/", typeflag: tar.TypeDir},
		entry{name: "app/big", typeflag: tar.TypeReg, size: 1000},
		entry{name: "app/big-again", typeflag: tar.TypeLink, link: "app/big"},
		entry{name: "app/link", typeflag: tar.TypeSymlink, link: "big"},
		entry{name: "./app/small", typeflag: tar.TypeReg, size: 10},
		entry{name: "app/.wh.gone", typeflag: tar.TypeReg},
		entry{name: "etc/.wh..wh..opq", typeflag: tar.TypeReg},
		entry{name: ".wh..wh.plnk/", typeflag: tar.TypeDir},
	)
	var files []File
	size, err := ScanLayer(context.Background(), layer, ScanOptions{}, func(f File) error { files = append(files, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if size != 1010 {
		t.Errorf("size = %d, want 1010 (regular files, the hardlink once)", size)
	}
	want := []File{
		{Path: "/app", Kind: KindDir, Mode: 0o644},
		{Path: "/app/big", Kind: KindFile, Size: 1000, Mode: 0o644, Digest: digestOf(strings.Repeat("x", 1000))},
		{Path: "/app/big-again", Kind: KindHardlink, Link: "app/big", Mode: 0o644},
		{Path: "/app/link", Kind: KindSymlink, Link: "big", Mode: 0o644},
		{Path: "/app/small", Kind: KindFile, Size: 10, Mode: 0o644, Digest: digestOf(strings.Repeat("x", 10))},
		{Path: "/app/gone", Kind: KindWhiteout},
		{Path: "/etc", Kind: KindOpaque},
	}
	if len(files) != len(want) {
		t.Fatalf("files = %+v", files)
	}
	for i := range want {
		if files[i] != want[i] {
			t.Errorf("file %d = %+v, want %+v", i, files[i], want[i])
		}
	}
}

func TestScanLayerEmptyAndBroken(t *testing.T) {
	if size, err := ScanLayer(context.Background(), tarOf(t), ScanOptions{}, nil); err != nil || size != 0 {
		t.Errorf("empty layer: %d, %v", size, err)
	}
	broken := tarOf(t, entry{name: "f", typeflag: tar.TypeReg, size: 600})
	if _, err := ScanLayer(context.Background(), bytes.NewReader(broken.Bytes()[:700]), ScanOptions{}, nil); err == nil {
		t.Error("a truncated layer read without error")
	}
}

// A later tar entry for a path replaces an earlier one, in either layer.
func TestChangedFilesLastEntryWins(t *testing.T) {
	old := []File{
		{Path: "/a", Kind: KindFile, Size: 1, Digest: digestOf("x")},
		{Path: "/a", Kind: KindFile, Size: 2, Digest: digestOf("yy")},
	}
	edited := []File{{Path: "/a", Kind: KindFile, Size: 2, Digest: digestOf("yy")}}
	if got := ChangedFiles(old, edited); len(got) != 0 {
		t.Errorf("same last entry: %+v", got)
	}
	edited = append(edited, File{Path: "/a", Kind: KindWhiteout})
	if got := ChangedFiles(old, edited); len(got) != 1 || got[0].Change != FileDeleted || got[0].Size != 2 {
		t.Errorf("last entry a whiteout: %+v", got)
	}
}
