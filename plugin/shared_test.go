package plugin

import (
	"encoding/json"
	"strings"
	"testing"
)

// sharedDemo is a set of demo images that share a base, a builder's layers and, for
// two tags of one build, everything.
func sharedDemo() []string {
	return []string{
		demo("lazy-v1-legacy"), demo("lazy-v2-legacy"), demo("pro-v1-legacy"),
		demo("pro-v2-legacy"), demo("pro-v1-buildkit"), demo("squashed"),
	}
}

func TestSharedTable(t *testing.T) {
	stdout, stderr, code := runCLI(t, append([]string{"shared"}, sharedDemo()...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertGolden(t, "shared", stdout)
}

func TestSharedMatrix(t *testing.T) {
	args := []string{"shared", "--matrix", demo("lazy-v1-legacy"), demo("pro-v1-legacy"), demo("pro-v2-legacy"), demo("pro-v1-buildkit"), demo("pro-v1-buildkit")}
	stdout, stderr, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertGolden(t, "shared-matrix", stdout)
}

func TestSharedJSON(t *testing.T) {
	args := append([]string{"shared", "--format", "json"}, sharedDemo()...)
	stdout, stderr, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertGolden(t, "shared-json", stdout)

	var v struct {
		Images []struct {
			Image                        string
			ID                           string
			Size, SharedSize, UniqueSize int64
			CompressedSize               *int64
		}
		Layers []struct {
			ChainID, DiffID, Instruction string
			Size                         int64
			Images                       []string
		}
		SameContent                    []json.RawMessage
		TotalSize, DiskSize, SavedSize int64
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatal(err)
	}
	var total, unique int64
	for _, im := range v.Images {
		if im.SharedSize+im.UniqueSize != im.Size {
			t.Errorf("%s: shared %d + unique %d != size %d", im.Image, im.SharedSize, im.UniqueSize, im.Size)
		}
		if im.CompressedSize == nil {
			t.Errorf("%s: a layout stores compressed blobs, want compressedSize", im.Image)
		}
		total += im.Size
		unique += im.UniqueSize
	}
	if v.TotalSize != total || v.SavedSize != v.TotalSize-v.DiskSize {
		t.Errorf("totals %d/%d/%d disagree with the images (sum %d)", v.TotalSize, v.DiskSize, v.SavedSize, total)
	}
	// Every byte on disk is either unique to one image or in a shared layer.
	var shared int64
	for _, l := range v.Layers {
		shared += l.Size
		if len(l.Images) < 2 {
			t.Errorf("layer %s listed with %d images", l.ChainID, len(l.Images))
		}
	}
	if unique+shared != v.DiskSize {
		t.Errorf("unique %d + shared layers %d != disk size %d", unique, shared, v.DiskSize)
	}
}

func TestSharedTemplate(t *testing.T) {
	stdout, stderr, code := runCLI(t, "shared", "--format", "{{.Image}} {{.Bytes}} {{.SharedBytes}} {{.UniqueBytes}}", demo("lazy-v1-legacy"), demo("lazy-v2-legacy"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertGolden(t, "shared-template", stdout)
}

func TestSharedUsage(t *testing.T) {
	for _, args := range [][]string{
		{"shared"},
		{"shared", "--all", demo("squashed")},
		{"shared", "--include-dangling", demo("squashed")},
		{"shared", "--filter", "reference=x", demo("squashed")},
		{"shared", "--format", "{{", demo("squashed")},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want %d; stderr: %s", args, code, ExitUsage, stderr)
		}
	}
	_, stderr, code := runCLI(t, "shared", demo("squashed"), demo("no-such-tag"))
	if code != ExitImage || !strings.Contains(stderr, "no-such-tag") {
		t.Errorf("missing tag: exit %d, stderr %q; want %d naming the tag", code, stderr, ExitImage)
	}
}
