//go:build e2e

package e2e

import (
	"context"
	"testing"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// engineExtra is, per layer of a saved image, what the engine's storage driver may add
// to our figure (the sum of regular file sizes, hardlinks once) in `docker history`:
// nothing on vfs, which sums the tar's file sizes; on overlay2, which measures the
// unpacked directory for some layers (imported ones, legacy-builder commits) but not
// others (BuildKit's, on 20.10), every symlink's target length.
func engineExtra(t *testing.T, archive string) []int64 {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, "docker-archive:"+archive, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	extra := make([]int64, len(img.Layers))
	if storageDriver() != "overlay2" {
		return extra
	}
	want := make([]int, len(img.Layers))
	for i := range want {
		want[i] = i
	}
	err = img.ScanLayers(ctx, want, true, func(i int, s source.LayerScan) error {
		for _, f := range s.Files {
			if f.Kind == analyze.KindSymlink {
				extra[i] += int64(len(f.Link))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return extra
}

// engineAgrees reports whether the engine's size for a layer is ours, or ours plus what
// the storage driver may add (see engineExtra).
func engineAgrees(ours, engine, extra int64) bool {
	return engine == ours || (storageDriver() == "overlay2" && engine == ours+extra)
}
