package source

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// Sizes remembers measured uncompressed layer sizes by content (diffID), so that a layer
// several images have — or one image has twice, like two empty layers — is read once.
type Sizes map[v1.Hash]int64

// Missing fills in img's unknown sizes that s already knows and returns the layers still
// to read: one index per distinct content whose size neither img nor s knows.
func (s Sizes) Missing(img *Image) []int {
	var want []int
	seen := map[v1.Hash]bool{}
	for i, l := range img.Layers {
		if l.Size != analyze.Unknown {
			continue
		}
		if size, ok := s[l.DiffID]; ok {
			img.Layers[i].Size = size
			continue
		}
		if !seen[l.DiffID] {
			seen[l.DiffID] = true
			want = append(want, i)
		}
	}
	return want
}

// Known notes the sizes img's source records (the engine's history, a layout's or an
// archive's measured layers), so that another image with the same content, such as a
// registry image whose blobs are compressed, need not be read to measure it.
func (s Sizes) Known(img *Image) {
	for _, l := range img.Layers {
		if _, ok := s[l.DiffID]; !ok && l.Size != analyze.Unknown {
			s[l.DiffID] = l.Size
		}
	}
}

// Record notes that layer i of img measured size, and fills it in wherever img has the
// same content with an unknown size.
func (s Sizes) Record(img *Image, i int, size int64) {
	diffID := img.Layers[i].DiffID
	s[diffID] = size
	for j, l := range img.Layers {
		if l.DiffID == diffID && l.Size == analyze.Unknown {
			img.Layers[j].Size = size
		}
	}
}

// Measure fills in every unknown size of img, reading each content s does not know yet
// once, in one pass over img.
func (s Sizes) Measure(ctx context.Context, img *Image) error {
	return img.ScanLayers(ctx, s.Missing(img), false, func(i int, ls LayerScan) error {
		s.Record(img, i, ls.Size)
		return nil
	})
}
