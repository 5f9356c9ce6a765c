package source

import (
	"context"
	"errors"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// readJointly reads, for every set of engine images one export can serve (see
// exportGroups), what each needs from one export of them all, and returns which images
// it read. An engine that refuses the joint export has its images left to the caller,
// which reads them one export each.
func (l *Loaded) readJointly(ctx context.Context, keepOf func(k int) []int, sizes Sizes, need Need) ([]bool, error) {
	done := make([]bool, len(l.Images))
	plans := make([]layerPlan, len(l.Images))
	planned := make([]bool, len(l.Images))
	reads := func(k int) bool {
		if !planned[k] {
			plans[k], planned[k] = planLayers(l.Images[k], keepOf(k), sizes, need), true
		}
		return !plans[k].empty()
	}
	for _, group := range exportGroups(l.Images, reads) {
		err := l.readJoint(ctx, group, plans, sizes, need)
		var refused errJointSave
		if errors.As(err, &refused) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, k := range group {
			done[k] = true
		}
	}
	return done, nil
}

// readJoint reads the layers plans name for the images group from one export: layers to
// measure or keep as readers do (Loaded.read), and layers to replay, handed to
// need.Replay bottom first for each image. Layers come in the export's order, so a
// layer to replay that passes before the one below it waits, as entries, until its
// turn (as Image.StreamEntries does for one export).
func (l *Loaded) readJoint(ctx context.Context, group []int, plans []layerPlan, sizes Sizes, need Need) error {
	var ds []*daemonImage
	var slots []jointSlot
	wanted := map[v1.Hash][]int{}
	files := false
	// Kept entries carry content digests; replayed ones when the command asks.
	digests := need.ReplayDigests
	// replays[m] is member m's replay order; next[m] how far it got; pending[m] the
	// entries of its layers read ahead of their turn.
	replays := make([][]int, len(group))
	next := make([]int, len(group))
	pending := make([]map[int][]analyze.File, len(group))
	for m, k := range group {
		d, _ := daemonOf(l.Images[k])
		ds = append(ds, d)
		p := plans[k]
		replays[m] = slices.Sorted(slices.Values(p.replay))
		pending[m] = map[int][]analyze.File{}
		files = files || len(p.keep) > 0 || len(p.replay) > 0
		digests = digests || len(p.keep) > 0
		for _, i := range append(slices.Clone(p.want), p.replay...) {
			diffID := d.diffIDs[i]
			wanted[diffID] = append(wanted[diffID], len(slots))
			slots = append(slots, jointSlot{m: m, i: i})
		}
	}
	return scanJoint(ctx, ds, slots, wanted, files, digests, func(s jointSlot, ls LayerScan) error {
		k := group[s.m]
		img := l.Images[k]
		sizes.Record(img, s.i, ls.Size)
		switch {
		case slices.Contains(replays[s.m], s.i):
			pending[s.m][s.i] = ls.Files
			return l.replayReady(k, replays[s.m], &next[s.m], pending[s.m], need.Replay)
		case slices.Contains(plans[k].keep, s.i):
			return l.keepFiles(k, s.i, ls.Files, need.Entry)
		}
		return nil
	})
}

// replayReady hands image k's layers to replay in order, as far as they have been read.
func (l *Loaded) replayReady(k int, order []int, next *int, pending map[int][]analyze.File, replay func(int, int, analyze.File) error) error {
	for *next < len(order) {
		i := order[*next]
		files, ok := pending[i]
		if !ok {
			return nil
		}
		delete(pending, i)
		for _, f := range files {
			if err := replay(k, i, f); err != nil {
				return err
			}
		}
		*next++
	}
	return nil
}
