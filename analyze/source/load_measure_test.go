package source

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// countedLayer counts how often its contents are opened.
type countedLayer struct {
	v1.Layer
	opens *atomic.Int32
}

func (l countedLayer) Compressed() (io.ReadCloser, error) {
	l.opens.Add(1)
	return l.Layer.Compressed()
}

func (l countedLayer) Uncompressed() (io.ReadCloser, error) {
	l.opens.Add(1)
	return l.Layer.Uncompressed()
}

// Load reads a content several images share once, and every image gets every size.
func TestLoadMeasuresEachContentOnce(t *testing.T) {
	var baseOpens atomic.Int32
	base := countedLayer{imagetest.FileLayer(t, map[string]string{"base": "0123456789"}), &baseOpens}
	const n = 9
	own := make([]atomic.Int32, n)
	images := map[string]v1.Image{}
	var refs []string
	for i := range n {
		l := countedLayer{imagetest.FileLayer(t, map[string]string{"own": fmt.Sprint(i)}), &own[i]}
		img, err := mutate.AppendLayers(empty.Image, base, l)
		if err != nil {
			t.Fatal(err)
		}
		ref := "app" + strconv.Itoa(i)
		images[ref] = img
		refs = append(refs, ref)
	}
	baseOpens.Store(0)
	for i := range own {
		own[i].Store(0)
	}
	open := func(_ context.Context, ref string, _ Options) (*Image, error) { return FromV1(images[ref], ref) }
	loaded, err := Load(context.Background(), open, refs, Options{}, Need{Sizes: SizesLocal})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	for i, img := range loaded.Images {
		if got := sizesOf(img); len(got) != 2 || got[0] != 10 || got[1] != int64(len(fmt.Sprint(i))) {
			t.Errorf("%s: sizes %v, want [10 %d]", refs[i], got, len(fmt.Sprint(i)))
		}
	}
	if got, once := baseOpens.Load(), own[0].Load(); got != once || once == 0 {
		t.Errorf("the shared layer was opened %d times, an image's own layer %d: want the same", got, once)
	}
}
