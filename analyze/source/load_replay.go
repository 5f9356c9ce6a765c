package source

import (
	"context"

	"github.com/docker-layers/docker-layers/analyze"
)

// replay streams the layers keep of image k, in order, to need.Replay, and records the
// sizes their entries add up to (regular files, hardlinks once: analyze.ScanLayer's
// figure).
func (l *Loaded) replay(ctx context.Context, k int, img *Image, keep []int, sizes Sizes, need Need) error {
	measured := make(map[int]int64, len(keep))
	before := img.BytesDownloaded()
	err := img.StreamEntries(ctx, keep, EntryOptions{Digests: need.ReplayDigests}, func(i int, f analyze.File) error {
		measured[i] += f.Size
		return need.Replay(k, i, f)
	})
	l.Downloaded[k] += img.BytesDownloaded() - before
	if err != nil {
		return err
	}
	for _, i := range keep {
		sizes.Record(img, i, measured[i])
	}
	return nil
}
