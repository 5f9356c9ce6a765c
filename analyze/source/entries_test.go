package source

import (
	"context"
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// wasteImage writes, overwrites and deletes files over four layers.
func wasteImage(t *testing.T) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range []map[string]string{
		{"app/big": "0123456789", "app/keep": "k"},
		{"app/big": "01234567890123456789", "app/tmp": "xxxx"},
		{"app/.wh.tmp": ""},
		{"app/big": "abc"},
	} {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: imagetest.FileLayer(t, files), History: v1.History{CreatedBy: "RUN step # buildkit"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func streamAll(t *testing.T, ref string, opts EntryOptions) (map[int][]analyze.File, analyze.Files) {
	t.Helper()
	ctx := context.Background()
	img, err := Open(ctx, ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	fs := analyze.NewFilesystem(len(img.Layers), analyze.FilesOptions{})
	got := map[int][]analyze.File{}
	want := []int{3, 0, 2, 1}
	err = img.StreamEntries(ctx, want, opts, func(i int, f analyze.File) error {
		got[i] = append(got[i], f)
		return fs.Apply(i, f)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, fs.Report(nil)
}

func TestStreamEntriesEverySource(t *testing.T) {
	img := wasteImage(t)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{
		"classic":    "docker-archive:" + writeSave(t, classicSave, []string{"w:1"}, img),
		"oci-save":   "docker-archive:" + writeSave(t, ociSave, []string{"w:1"}, img),
		"containerd": "docker-archive:" + writeSave(t, containerdSave, []string{"w:1"}, img),
		"layout":     "oci:" + dir,
	}
	for name, ref := range refs {
		for _, digests := range []bool{false, true} {
			entries, r := streamAll(t, ref, EntryOptions{Digests: digests, Workers: 2})
			if len(entries) != 4 || entries[1][0].Path != "/app/big" || (entries[1][0].Digest != "") != digests {
				t.Errorf("%s (digests %v): entries %+v", name, digests, entries)
			}
			if r.WastedSize != 34 || r.Size != 38 {
				t.Errorf("%s: wasted %d of %d, want 34 of 38", name, r.WastedSize, r.Size)
			}
		}
	}
}

func TestStreamEntriesStopsOnError(t *testing.T) {
	img := wasteImage(t)
	ref := "docker-archive:" + writeSave(t, containerdSave, []string{"w:1"}, img)
	ctx := context.Background()
	opened, err := Open(ctx, ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	stop := errors.New("stop")
	err = opened.StreamEntries(ctx, []int{0, 1, 2, 3}, EntryOptions{Workers: 1}, func(int, analyze.File) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = opened.StreamEntries(cancelled, []int{0, 1, 2, 3}, EntryOptions{}, func(int, analyze.File) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestLoadReplaysLayersInOrder(t *testing.T) {
	img := wasteImage(t)
	open := func(ctx context.Context, ref string, _ Options) (*Image, error) { return FromV1(img, ref) }
	lastLayer := -1
	var entries int
	loaded, err := Load(context.Background(), open, []string{"a"}, Options{}, Need{
		Sizes: SizesLocal,
		Files: func(images []*Image) [][]int { return [][]int{{3, 2, 1, 0}} },
		Replay: func(image, layer int, f analyze.File) error {
			if layer < lastLayer {
				t.Errorf("layer %d after layer %d", layer, lastLayer)
			}
			lastLayer = layer
			entries++
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	if entries == 0 || lastLayer != 3 {
		t.Errorf("%d entries, last layer %d", entries, lastLayer)
	}
	var sizes []int64
	for _, l := range loaded.Images[0].Layers {
		sizes = append(sizes, l.Size)
	}
	if want := []int64{11, 24, 0, 3}; !slices.Equal(sizes, want) {
		t.Errorf("sizes %v, want %v (measured by the replay)", sizes, want)
	}
}
