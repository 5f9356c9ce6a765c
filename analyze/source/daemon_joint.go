package source

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// An engine stages a whole export before it sends the first byte (dockerd 20.10 does),
// so every export costs a full `docker save` of its images. When a command reads the
// contents of several images of one engine (`diff`, `diff --files`), Load asks for one
// export of them all: the engine sends a layer the images share once, and each wanted
// layer is scanned once as it passes, for every image that wants it.

// daemonOf returns the engine image behind img, if it is one.
func daemonOf(img *Image) (*daemonImage, bool) {
	d, ok := img.scanner.(*daemonImage)
	return d, ok
}

// sameExport is true when a and b can be read from one export: the same engine client
// and the same export options (on the containerd image store, the platform exported).
func sameExport(a, b *daemonImage) bool {
	if a.savePlatform != b.savePlatform || (a.savePlatform && platformString(a.platform) != platformString(b.platform)) {
		return false
	}
	// Clients are compared as values only where Go can: a fake in a test may be a
	// struct that cannot be.
	ta, tb := reflect.TypeOf(a.client), reflect.TypeOf(b.client)
	return ta != nil && ta == tb && ta.Comparable() && a.client == b.client
}

// exportGroups returns the sets of images (indexes into images) that one export can
// serve: two or more engine images of the same engine and export options, in order.
func exportGroups(images []*Image, reads func(k int) bool) [][]int {
	var groups [][]int
	placed := make([]bool, len(images))
	for k, img := range images {
		d, ok := daemonOf(img)
		if !ok || placed[k] || !reads(k) {
			continue
		}
		group := []int{k}
		for j := k + 1; j < len(images); j++ {
			if e, ok := daemonOf(images[j]); ok && !placed[j] && sameExport(d, e) && reads(j) {
				group = append(group, j)
				placed[j] = true
			}
		}
		if len(group) > 1 {
			groups = append(groups, group)
		}
	}
	return groups
}

// errJointSave is returned when the engine refused the joint export itself, before any
// byte was read: the images are then read one export each, whose errors name the image.
type errJointSave struct{ err error }

func (e errJointSave) Error() string { return e.err.Error() }

// saveJoint asks the engine for one export of every image in ds (an image named twice,
// once), with the export options they share (see sameExport).
func saveJoint(ctx context.Context, ds []*daemonImage) (client.ImageSaveResult, error) {
	var ids []string
	for _, d := range ds {
		if !slices.Contains(ids, d.id) {
			ids = append(ids, d.id)
		}
	}
	var opts []client.ImageSaveOption
	if d := ds[0]; d.savePlatform {
		opts = append(opts, client.ImageSaveWithPlatforms(ocispec.Platform{
			OS: d.platform.OS, Architecture: d.platform.Architecture, Variant: d.platform.Variant,
		}))
	}
	return ds[0].client.ImageSave(ctx, ids, opts...)
}

// jointSlot is one wanted layer of one image of a joint export: member m's layer i.
type jointSlot struct{ m, i int }

// scanJoint streams one export of the images ds and calls fn with each wanted layer
// (slots[n], where wanted maps a diffID to the slots that want it) as it passes: a
// content several images want is scanned once and handed to each. Reading stops once
// every wanted layer has passed. An error names the images still waiting for a layer.
func scanJoint(ctx context.Context, ds []*daemonImage, slots []jointSlot, wanted map[v1.Hash][]int, files, digests bool, fn func(slot jointSlot, s LayerScan) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var names []string
	for _, d := range ds {
		names = append(names, d.where)
	}
	counter := &countingReader{}
	stop := startProgress(ds[0].progress, nameImages(names), "exporting from the Docker engine", counter.n.Load)
	defer stop()
	rc, err := saveJoint(ctx, ds)
	if err != nil {
		if e := ctxErr(err); e != nil {
			return e
		}
		return errJointSave{err}
	}
	defer rc.Close()
	counter.r = rc

	err = scanExport(ctx, counter, wanted, exportLayers(ds...), files, digests, func(n int, s LayerScan) error {
		return fn(slots[n], s)
	})
	if err == nil {
		return nil
	}
	if e := ctxErr(err); e != nil {
		return e
	}
	// scanExport leaves in wanted what it did not find.
	var waiting []string
	for m, d := range ds {
		for _, ns := range wanted {
			if slices.ContainsFunc(ns, func(n int) bool { return slots[n].m == m }) {
				waiting = append(waiting, d.where)
				break
			}
		}
	}
	if len(waiting) == 0 {
		waiting = names
	}
	return fmt.Errorf("%s: reading the engine's export: %w", nameImages(waiting), err)
}

// nameImages names the images of an export in a progress line or an error: two by
// name, more by the first and a count (`shared` may read hundreds).
func nameImages(names []string) string {
	if len(names) <= 2 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d other images", names[0], len(names)-1)
}
