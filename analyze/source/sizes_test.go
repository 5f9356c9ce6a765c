package source

import (
	"context"
	"testing"

	"github.com/docker-layers/docker-layers/analyze"
)

// Two builds share their bottom layers: measuring both reads each content once.
func TestSizesReadsEachContentOnce(t *testing.T) {
	ctx := context.Background()
	sizes := Sizes{}
	var read []int
	for _, tag := range []string{"lazy-v1-legacy", "lazy-v2-legacy"} {
		img, err := Open(ctx, "oci:../../testdata/demo:"+tag, Options{})
		if err != nil {
			t.Fatal(err)
		}
		missing := sizes.Missing(img)
		read = append(read, len(missing))
		if err := img.ScanLayers(ctx, missing, false, func(i int, s LayerScan) error {
			sizes.Record(img, i, s.Size)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i, l := range img.Layers {
			if l.Size == analyze.Unknown {
				t.Errorf("%s layer %d: size still unknown", tag, i)
			}
		}
		img.Close()
	}
	// v2 reuses the base (2 layers) and WORKDIR; it rebuilt COPY and RUN.
	if read[0] != 5 || read[1] != 2 {
		t.Errorf("layers read: %v, want [5 2]", read)
	}
}

// One image with the same content twice (two empty layers) reads it once.
func TestSizesSameContentTwiceInOneImage(t *testing.T) {
	empty := analyze.Layer{Size: analyze.Unknown}
	empty.DiffID.Algorithm, empty.DiffID.Hex = "sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
	img := &Image{Image: analyze.Image{Layers: []analyze.Layer{empty, {Size: 7}, empty}}}
	sizes := Sizes{}
	if got := sizes.Missing(img); len(got) != 1 || got[0] != 0 {
		t.Fatalf("Missing = %v, want [0]", got)
	}
	sizes.Record(img, 0, 0)
	if img.Layers[2].Size != 0 || img.Layers[1].Size != 7 {
		t.Errorf("layers after Record: %+v", img.Layers)
	}
}
