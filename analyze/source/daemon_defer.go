package source

import (
	"context"
	"slices"
	"sort"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/image"

	"github.com/docker-layers/docker-layers/analyze"
)

// deferredHistory is an engine image opened from inspect alone: what reading its
// history later needs, and the engine's size of the whole image.
type deferredHistory struct {
	d   *daemonImage
	ins image.InspectResponse
}

// fromInspect builds a classic-store image from inspect alone: its layers (diffIDs)
// and runtime config, without the history that names the steps and sizes the layers.
// Load fills in the sizes from other images' figures where it can, and reads the
// history where it cannot or where the command asks for the steps.
func (d *daemonImage) fromInspect(ins image.InspectResponse) (*Image, error) {
	var err error
	if d.diffIDs, err = d.diffIDsOf(ins); err != nil {
		return nil, err
	}
	cfg, err := synthesizeConfig(ins, nil, nil)
	if err != nil {
		return nil, err
	}
	img := &Image{Image: analyze.Image{ID: ins.ID, Config: cfg}, Transport: TransportDaemon}
	for _, diffID := range d.diffIDs {
		img.Layers = append(img.Layers, analyze.Layer{DiffID: diffID, Size: analyze.Unknown, CompressedSize: analyze.Unknown})
	}
	img.deferred = &deferredHistory{d: d, ins: ins}
	return img, nil
}

// HistoryDeferred is true for an engine image whose history has not been read: its
// config has no history, so no layer is tied to a step (see Need.Steps).
func (img *Image) HistoryDeferred() bool { return img.deferred != nil }

// readHistory reads a deferred image's history, as opening it would have: the steps,
// and the engine's size of each layer. addsUp is false when those sizes do not add up
// to the engine's size of the image: then no size may be derived from image sizes.
func (img *Image) readHistory(ctx context.Context) (addsUp bool, err error) {
	p := img.deferred
	if p == nil {
		return true, nil
	}
	hist, err := p.d.client.ImageHistory(ctx, p.d.id)
	if err != nil {
		return false, daemonError(p.d.client, p.d.where, err)
	}
	full, err := p.d.fromAPI(ctx, p.ins, hist.Items)
	if err != nil {
		return false, err
	}
	img.Config = full.Config
	for i := range img.Layers {
		if s := full.Layers[i].Size; s != analyze.Unknown {
			img.Layers[i].Size = s
		}
	}
	img.deferred = nil
	sum := full.Size()
	return sum == analyze.Unknown || sum == p.ins.Size, nil
}

// readHistories reads the histories of images, openWorkers at a time; addsUp is false
// when one image's layer sizes do not add up to its size (see readHistory).
func readHistories(ctx context.Context, images []*Image) (addsUp bool, err error) {
	errs := make([]error, len(images))
	sums := make([]bool, len(images))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(openWorkers, len(images)) {
		wg.Go(func() {
			for i := range next {
				sums[i], errs[i] = images[i].readHistory(ctx)
			}
		})
	}
	for i := range images {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return false, err
		}
	}
	return !slices.Contains(sums, false), nil
}

// readDeferred reads the history of every image still without one.
func readDeferred(ctx context.Context, images []*Image) error {
	var rest []*Image
	for _, img := range images {
		if img.HistoryDeferred() {
			rest = append(rest, img)
		}
	}
	_, err := readHistories(ctx, rest)
	return err
}

// sizeDeferred gives the deferred images their layers' sizes, reading as few
// histories as it can. On the classic image store a layer's size is the engine's
// record of that layer (chain ID), the same in every image that has it, and an image's
// size is the sum of its layers': so an image whose layers other images have already
// sized needs no history, and neither does one with a single layer left, which is the
// image's size minus the others. Images with two or more unknown layers have their
// history read, fewest layers first (bases size the images built on them), several
// at a time when they have no unknown layer in common. addsUp is false when a history
// read shows an image whose size is not its layers' sizes added up (an engine that
// counts otherwise): then the derived sizes are not to be trusted.
func sizeDeferred(ctx context.Context, images []*Image) (addsUp bool, err error) {
	var pending []*Image
	chains := map[*Image][]v1.Hash{}
	for _, img := range images {
		if img.deferred != nil {
			pending = append(pending, img)
			chains[img] = analyze.ChainIDs(img.DiffIDs())
		}
	}
	sort.SliceStable(pending, func(i, j int) bool { return len(pending[i].Layers) < len(pending[j].Layers) })
	known := map[v1.Hash]int64{}
	addsUp = true
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var stuck []*Image
		for _, img := range pending {
			if !deriveSizes(img, chains[img], known) {
				stuck = append(stuck, img)
			}
		}
		if len(stuck) < len(pending) {
			// What was derived may size more: go round again before reading.
			pending = stuck
			continue
		}
		batch := disjointUnknowns(stuck, chains, known, openWorkers)
		ok, err := readHistories(ctx, batch)
		if err != nil {
			return false, err
		}
		addsUp = addsUp && ok
		for _, img := range batch {
			for k, c := range chains[img] {
				if s := img.Layers[k].Size; s != analyze.Unknown {
					if _, ok := known[c]; !ok {
						known[c] = s
					}
				}
			}
		}
		pending = stuck[len(batch):]
	}
	return addsUp, nil
}

// deriveSizes sizes img's layers from known (chain ID → size) and the engine's size
// of the whole image, recording a size it derives; false when two or more layers are
// unknown, or the image's size does not add up (then its history tells).
func deriveSizes(img *Image, chain []v1.Hash, known map[v1.Hash]int64) bool {
	unknown := -1
	var sum int64
	for k, c := range chain {
		if s, ok := known[c]; ok {
			sum += s
			continue
		}
		if unknown >= 0 {
			return false
		}
		unknown = k
	}
	if unknown >= 0 {
		rest := img.deferred.ins.Size - sum
		if rest < 0 {
			return false
		}
		known[chain[unknown]] = rest
	}
	for k, c := range chain {
		img.Layers[k].Size = known[c]
	}
	return true
}

// disjointUnknowns picks up to n of images (in order, the first always) whose unknown
// layers no picked image has: reading their histories at once sizes as much as
// reading them one after another would.
func disjointUnknowns(images []*Image, chains map[*Image][]v1.Hash, known map[v1.Hash]int64, n int) []*Image {
	claimed := map[v1.Hash]bool{}
	var picked []*Image
	rest := images[:0:0]
	for _, img := range images {
		var unknown []v1.Hash
		free := true
		for _, c := range chains[img] {
			if _, ok := known[c]; !ok {
				unknown = append(unknown, c)
				free = free && !claimed[c]
			}
		}
		if !free || len(picked) == n {
			rest = append(rest, img)
			continue
		}
		for _, c := range unknown {
			claimed[c] = true
		}
		picked = append(picked, img)
	}
	// The caller goes on with the images not picked, in their order.
	copy(images, append(picked, rest...))
	return images[:len(picked)]
}
