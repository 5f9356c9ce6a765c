package analyze

import (
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Sharing is what `shared` reports of a set of images: which layers they have in common
// and what each image really costs on disk.
//
// Layers are identified by chain ID (the layer plus everything below it): that is what
// an engine stores once and a registry serves once. Images are identified by ID: a
// reference listed twice, or two tags of one image, is one image, so an image never
// shares layers with itself. Every reference keeps its own entry in Images, and the
// entries of one image carry the same figures; totals count each image once.
//
// Compressed figures are Unknown unless every layer of every image has a compressed
// size (registry and layout sources); a layer's compressed size is taken from the first
// listed image that has the layer.
type Sharing struct {
	// Images are the listed references in the order given.
	Images []ImageShare
	// Layers are the layers that two or more images have, largest first.
	Layers []SharedLayer
	// SameContent are the contents (diffIDs) stored under two or more chain IDs: the
	// same bytes on different parents, which an engine stores once per parent.
	// Empty layers are left out.
	SameContent []SameContent
	// TotalSize is the sum of the images' sizes, each image counted once and each in
	// full, as adding up the SIZE column of `docker image ls` would give.
	TotalSize int64
	// DiskSize is the sum of the sizes of the distinct layers (by chain ID): what the
	// images take up together.
	DiskSize int64
	// SavedSize is TotalSize minus DiskSize: the bytes that sharing saves.
	SavedSize int64
	// CompressedTotalSize, CompressedDiskSize and CompressedSavedSize are the same
	// figures in compressed bytes.
	CompressedTotalSize int64
	CompressedDiskSize  int64
	CompressedSavedSize int64
	// Matrix holds the bytes each pair of images shares: Matrix[i][j] is the size of the
	// layers both Images[i] and Images[j] have; Matrix[i][i] is the image's size.
	Matrix [][]int64
}

// ImageShare is one listed reference with its image's share of the layers.
type ImageShare struct {
	Ref string
	ID  string
	// Size is the image's uncompressed size: the sum of its layers' sizes.
	Size int64
	// SharedSize is the size of the image's layers that some other listed image also
	// has.
	SharedSize int64
	// UniqueSize is the size of the layers no other listed image has: what removing
	// only this image would free (Size minus SharedSize).
	UniqueSize int64
	// CompressedSize, CompressedSharedSize and CompressedUniqueSize are the same
	// figures in compressed bytes.
	CompressedSize       int64
	CompressedSharedSize int64
	CompressedUniqueSize int64
}

// SharedLayer is a layer (chain ID) that two or more listed images have.
type SharedLayer struct {
	ChainID v1.Hash
	DiffID  v1.Hash
	// Index is the layer's position in the images, 0 at the bottom; a chain ID is
	// always at the same position.
	Index          int
	Size           int64
	CompressedSize int64
	// Instruction is the step that made the layer, from the first listed image whose
	// history matches its layers; empty if none does. CreatedBy is that step's raw
	// history text, Comment its comment.
	Instruction string
	CreatedBy   string
	Comment     string
	// Images are the references that have the layer, in the order given.
	Images []string
	// Unlisted is how many unlisted images also have the layer.
	Unlisted int
}

// countFrom counts the owners at or above first (the unlisted images).
func countFrom(owners []int, first int) int {
	n := 0
	for _, u := range owners {
		if u >= first {
			n++
		}
	}
	return n
}

// SameContent is one layer content (diffID) that the listed images hold on two or more
// different parents, so it is stored Copies times.
type SameContent struct {
	DiffID v1.Hash
	// Size is the size of one copy.
	Size           int64
	CompressedSize int64
	// Copies is the number of distinct chain IDs with this content.
	Copies int
	// Images are the references that have the content, in the order given.
	Images []string
}

// DuplicateSize is the bytes stored more than once: Size times (Copies - 1).
func (s SameContent) DuplicateSize() int64 {
	if s.Size == Unknown {
		return Unknown
	}
	return s.Size * int64(s.Copies-1)
}

// layerEntry is one distinct chain ID across the listed images.
type layerEntry struct {
	chainID, diffID v1.Hash
	index           int
	size, csize     int64
	step            Step
	owners          []int // distinct images (indexes into uniq), in listed order
}

// Share works out which layers images share. The images may come from any sources;
// sizes are the layers' own (Unknown sizes make the sums that need them Unknown).
// unlisted are other images of the same store that are not reported on (an engine's
// untagged images): they still hold layers, so a layer one of them has is not unique
// to a listed image, as `docker system df -v` counts it.
func Share(images []Image, unlisted ...Image) Sharing {
	// One entry per distinct image ID; an image without an ID is its own.
	var uniq []int                    // index in images of each distinct image's first reference
	imgOf := make([]int, len(images)) // index in uniq of each reference
	byID := map[string]int{}
	for i, img := range images {
		if j, ok := byID[img.ID]; ok && img.ID != "" {
			imgOf[i] = j
			continue
		}
		byID[img.ID] = len(uniq)
		imgOf[i] = len(uniq)
		uniq = append(uniq, i)
	}

	compressedKnown := len(images) > 0
	for _, img := range images {
		if img.CompressedSize() == Unknown {
			compressedKnown = false
		}
	}

	listed := len(uniq)
	all := append(append([]Image{}, images...), unlisted...)
	for i := range unlisted {
		uniq = append(uniq, len(images)+i)
	}
	chains := make([][]v1.Hash, len(uniq))
	entries := map[v1.Hash]*layerEntry{}
	var order []*layerEntry // first appearance, for stable output
	for u, i := range uniq {
		img := all[i]
		chains[u] = ChainIDs(img.DiffIDs())
		instr := layerInstructions(img)
		for k, c := range chains[u] {
			e := entries[c]
			if e == nil && u >= listed {
				// A layer no listed image has is not reported on.
				continue
			}
			if e == nil {
				l := img.Layers[k]
				e = &layerEntry{chainID: c, diffID: l.DiffID, index: k, size: l.Size, csize: l.CompressedSize}
				entries[c] = e
				order = append(order, e)
			}
			if e.step == (Step{}) && instr != nil {
				e.step = instr[k]
			}
			e.owners = append(e.owners, u)
		}
	}

	refsOf := func(owners []int) []string {
		in := map[int]bool{}
		for _, u := range owners {
			in[u] = true
		}
		var refs []string
		for i, img := range images {
			if in[imgOf[i]] {
				refs = append(refs, img.Ref)
			}
		}
		return refs
	}

	s := Sharing{}
	// Per distinct image, then copied to each of its references.
	per := make([]ImageShare, listed)
	for u, i := range uniq[:listed] {
		img := images[i]
		p := ImageShare{Size: img.Size(), CompressedSize: Unknown, CompressedSharedSize: Unknown, CompressedUniqueSize: Unknown}
		var shared, unique, cshared, cunique int64
		for _, c := range chains[u] {
			e := entries[c]
			if len(e.owners) > 1 {
				shared, cshared = addSize(shared, e.size), addSize(cshared, e.csize)
			} else {
				unique, cunique = addSize(unique, e.size), addSize(cunique, e.csize)
			}
		}
		p.SharedSize, p.UniqueSize = shared, unique
		if compressedKnown {
			p.CompressedSize = addSize(cshared, cunique)
			p.CompressedSharedSize, p.CompressedUniqueSize = cshared, cunique
		}
		per[u] = p
		s.TotalSize = addSize(s.TotalSize, p.Size)
		s.CompressedTotalSize = addSize(s.CompressedTotalSize, p.CompressedSize)
	}
	for i, img := range images {
		p := per[imgOf[i]]
		p.Ref, p.ID = img.Ref, img.ID
		s.Images = append(s.Images, p)
	}

	// Distinct layers, and contents stored under several chain IDs.
	byDiff := map[v1.Hash][]*layerEntry{}
	var diffOrder []v1.Hash
	for _, e := range order {
		s.DiskSize = addSize(s.DiskSize, e.size)
		s.CompressedDiskSize = addSize(s.CompressedDiskSize, e.csize)
		if len(e.owners) > 1 {
			s.Layers = append(s.Layers, SharedLayer{
				ChainID: e.chainID, DiffID: e.diffID, Index: e.index,
				Size: e.size, CompressedSize: e.csize,
				Instruction: e.step.Instruction, CreatedBy: e.step.CreatedBy, Comment: e.step.Comment,
				Images: refsOf(e.owners), Unlisted: countFrom(e.owners, listed),
			})
		}
		if _, ok := byDiff[e.diffID]; !ok {
			diffOrder = append(diffOrder, e.diffID)
		}
		byDiff[e.diffID] = append(byDiff[e.diffID], e)
	}
	s.SavedSize = subSize(s.TotalSize, s.DiskSize)
	s.CompressedSavedSize = subSize(s.CompressedTotalSize, s.CompressedDiskSize)
	if !compressedKnown {
		s.CompressedTotalSize, s.CompressedDiskSize, s.CompressedSavedSize = Unknown, Unknown, Unknown
		for i := range s.Layers {
			s.Layers[i].CompressedSize = Unknown
		}
	}
	sort.SliceStable(s.Layers, func(a, b int) bool { return s.Layers[a].Size > s.Layers[b].Size })

	for _, d := range diffOrder {
		es := byDiff[d]
		if len(es) < 2 || es[0].size == 0 {
			continue
		}
		var owners []int
		for _, e := range es {
			owners = append(owners, e.owners...)
		}
		sc := SameContent{DiffID: d, Size: es[0].size, CompressedSize: Unknown, Copies: len(es), Images: refsOf(owners)}
		if compressedKnown {
			sc.CompressedSize = es[0].csize
		}
		s.SameContent = append(s.SameContent, sc)
	}
	sort.SliceStable(s.SameContent, func(a, b int) bool {
		return s.SameContent[a].DuplicateSize() > s.SameContent[b].DuplicateSize()
	})

	s.Matrix = make([][]int64, len(images))
	for i := range images {
		s.Matrix[i] = make([]int64, len(images))
		for j := range images {
			s.Matrix[i][j] = commonSize(chains[imgOf[i]], chains[imgOf[j]], entries)
		}
	}
	return s
}

// commonSize is the size of the layers two images both have. A chain ID commits to
// everything below it, so two images share exactly the common bottom of their chains.
func commonSize(a, b []v1.Hash, entries map[v1.Hash]*layerEntry) int64 {
	var n int64
	for k := 0; k < len(a) && k < len(b) && a[k] == b[k]; k++ {
		n = addSize(n, entries[a[k]].size)
	}
	return n
}

// layerInstructions returns the step that made each layer, or nil when the history
// does not match the layers.
func layerInstructions(img Image) []Step {
	steps, ok, _ := Steps(img.Config, len(img.Layers))
	if !ok {
		return nil
	}
	out := make([]Step, len(img.Layers))
	for _, st := range steps {
		if st.Layer >= 0 {
			out[st.Layer] = st
		}
	}
	return out
}

// addSize adds two sizes, Unknown if either is.
func addSize(a, b int64) int64 {
	if a == Unknown || b == Unknown {
		return Unknown
	}
	return a + b
}

// subSize subtracts two sizes, Unknown if either is.
func subSize(a, b int64) int64 {
	if a == Unknown || b == Unknown {
		return Unknown
	}
	return a - b
}
