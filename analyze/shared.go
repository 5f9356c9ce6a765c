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
	b := newSharing(images, unlisted)
	s := Sharing{}
	b.imageShares(&s)
	b.layers(&s)
	b.sameContent(&s)
	b.matrix(&s)
	return s
}

// sharing is the state Share works from: the distinct images, their chains, and one
// entry per distinct layer.
type sharing struct {
	images []Image
	// uniq holds, per distinct image, the index (in images, then unlisted) of its first
	// reference; the first listed of them are the listed images.
	uniq   []int
	listed int
	// imgOf is the index in uniq of each listed reference.
	imgOf   []int
	chains  [][]v1.Hash
	entries map[v1.Hash]*layerEntry
	order   []*layerEntry // first appearance, for stable output
	// compressedKnown is true when every listed image has compressed sizes.
	compressedKnown bool
}

func newSharing(images, unlisted []Image) *sharing {
	b := &sharing{images: images, imgOf: make([]int, len(images)), entries: map[v1.Hash]*layerEntry{}}
	// One entry per distinct image ID; an image without an ID is its own.
	byID := map[string]int{}
	for i, img := range images {
		if j, ok := byID[img.ID]; ok && img.ID != "" {
			b.imgOf[i] = j
			continue
		}
		byID[img.ID] = len(b.uniq)
		b.imgOf[i] = len(b.uniq)
		b.uniq = append(b.uniq, i)
	}
	b.compressedKnown = len(images) > 0
	for _, img := range images {
		if img.CompressedSize() == Unknown {
			b.compressedKnown = false
		}
	}
	b.listed = len(b.uniq)
	all := append(append([]Image{}, images...), unlisted...)
	for i := range unlisted {
		b.uniq = append(b.uniq, len(images)+i)
	}
	b.chains = make([][]v1.Hash, len(b.uniq))
	for u, i := range b.uniq {
		b.addImage(u, all[i])
	}
	return b
}

// addImage records the layers of distinct image u.
func (b *sharing) addImage(u int, img Image) {
	b.chains[u] = ChainIDs(img.DiffIDs())
	hist := img.History()
	for k, c := range b.chains[u] {
		e := b.entries[c]
		if e == nil && u >= b.listed {
			// A layer no listed image has is not reported on.
			continue
		}
		if e == nil {
			l := img.Layers[k]
			e = &layerEntry{chainID: c, diffID: l.DiffID, index: k, size: l.Size, csize: l.CompressedSize}
			b.entries[c] = e
			b.order = append(b.order, e)
		}
		if e.step == (Step{}) && hist.Matched {
			e.step = hist.LayerStep(k)
		}
		e.owners = append(e.owners, u)
	}
}

// refsOf names the listed references of the owners, in the order given.
func (b *sharing) refsOf(owners []int) []string {
	in := map[int]bool{}
	for _, u := range owners {
		in[u] = true
	}
	var refs []string
	for i, img := range b.images {
		if in[b.imgOf[i]] {
			refs = append(refs, img.Ref)
		}
	}
	return refs
}

// imageShares fills each reference's figures (those of its image) and the totals.
func (b *sharing) imageShares(s *Sharing) {
	per := make([]ImageShare, b.listed)
	for u, i := range b.uniq[:b.listed] {
		p := ImageShare{Size: b.images[i].Size(), CompressedSize: Unknown, CompressedSharedSize: Unknown, CompressedUniqueSize: Unknown}
		var shared, unique, cshared, cunique int64
		for _, c := range b.chains[u] {
			e := b.entries[c]
			if len(e.owners) > 1 {
				shared, cshared = addSizes(shared, e.size), addSizes(cshared, e.csize)
			} else {
				unique, cunique = addSizes(unique, e.size), addSizes(cunique, e.csize)
			}
		}
		p.SharedSize, p.UniqueSize = shared, unique
		if b.compressedKnown {
			p.CompressedSize = addSizes(cshared, cunique)
			p.CompressedSharedSize, p.CompressedUniqueSize = cshared, cunique
		}
		per[u] = p
		s.TotalSize = addSizes(s.TotalSize, p.Size)
		s.CompressedTotalSize = addSizes(s.CompressedTotalSize, p.CompressedSize)
	}
	for i, img := range b.images {
		p := per[b.imgOf[i]]
		p.Ref, p.ID = img.Ref, img.ID
		s.Images = append(s.Images, p)
	}
}

// layers lists the shared layers, largest first, and what the distinct layers take.
func (b *sharing) layers(s *Sharing) {
	for _, e := range b.order {
		s.DiskSize = addSizes(s.DiskSize, e.size)
		s.CompressedDiskSize = addSizes(s.CompressedDiskSize, e.csize)
		if len(e.owners) > 1 {
			s.Layers = append(s.Layers, SharedLayer{
				ChainID: e.chainID, DiffID: e.diffID, Index: e.index,
				Size: e.size, CompressedSize: e.csize,
				Instruction: e.step.Instruction, CreatedBy: e.step.CreatedBy, Comment: e.step.Comment,
				Images: b.refsOf(e.owners), Unlisted: countFrom(e.owners, b.listed),
			})
		}
	}
	s.SavedSize = subSize(s.TotalSize, s.DiskSize)
	s.CompressedSavedSize = subSize(s.CompressedTotalSize, s.CompressedDiskSize)
	if !b.compressedKnown {
		s.CompressedTotalSize, s.CompressedDiskSize, s.CompressedSavedSize = Unknown, Unknown, Unknown
		for i := range s.Layers {
			s.Layers[i].CompressedSize = Unknown
		}
	}
	sort.SliceStable(s.Layers, func(i, j int) bool { return s.Layers[i].Size > s.Layers[j].Size })
}

// sameContent lists the contents stored under several chain IDs.
func (b *sharing) sameContent(s *Sharing) {
	byDiff := map[v1.Hash][]*layerEntry{}
	var diffOrder []v1.Hash
	for _, e := range b.order {
		if _, ok := byDiff[e.diffID]; !ok {
			diffOrder = append(diffOrder, e.diffID)
		}
		byDiff[e.diffID] = append(byDiff[e.diffID], e)
	}
	for _, d := range diffOrder {
		es := byDiff[d]
		if len(es) < 2 || es[0].size == 0 {
			continue
		}
		var owners []int
		for _, e := range es {
			owners = append(owners, e.owners...)
		}
		sc := SameContent{DiffID: d, Size: es[0].size, CompressedSize: Unknown, Copies: len(es), Images: b.refsOf(owners)}
		if b.compressedKnown {
			sc.CompressedSize = es[0].csize
		}
		s.SameContent = append(s.SameContent, sc)
	}
	sort.SliceStable(s.SameContent, func(i, j int) bool {
		return s.SameContent[i].DuplicateSize() > s.SameContent[j].DuplicateSize()
	})
}

// matrix fills the bytes each pair of listed references shares. A chain ID commits to
// everything below it, so two images share exactly the common bottom of their chains:
// the size of that bottom, summed once per image (bottom[u][k] is the size of layers
// 0…k-1 of image u). Layers are compared by their entries, not their hashes: hundreds
// of images make tens of thousands of pairs.
func (b *sharing) matrix(s *Sharing) {
	n := len(b.images)
	layers := make([][]*layerEntry, b.listed)
	bottom := make([][]int64, b.listed)
	for u := range b.listed {
		layers[u] = make([]*layerEntry, len(b.chains[u]))
		bottom[u] = make([]int64, len(b.chains[u])+1)
		for k, c := range b.chains[u] {
			e := b.entries[c]
			layers[u][k] = e
			bottom[u][k+1] = addSizes(bottom[u][k], e.size)
		}
	}
	common := make([][]int64, b.listed)
	for u := range b.listed {
		common[u] = make([]int64, b.listed)
		for v := range u + 1 {
			k := 0
			for k < len(layers[u]) && k < len(layers[v]) && layers[u][k] == layers[v][k] {
				k++
			}
			common[u][v] = bottom[u][k]
			common[v][u] = bottom[u][k]
		}
	}
	s.Matrix = make([][]int64, n)
	for i := range n {
		s.Matrix[i] = make([]int64, n)
		for j := range n {
			s.Matrix[i][j] = common[b.imgOf[i]][b.imgOf[j]]
		}
	}
}
