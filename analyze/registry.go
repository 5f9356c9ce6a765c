package analyze

import (
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RegistryTally adds up, one image at a time, what a set of images stores in a
// registry. It keeps one counter per distinct layer and blob, never the images
// themselves, so a walk over 100,000 tags can stream its per-image results and still
// report the totals at the end.
//
// Its compressed figures are Share's: images are told apart by ID (a tag listed twice,
// or two tags of one image, is one image) and layers by chain ID. It adds the
// registry's own view: a registry stores each blob once by digest, whatever the layers
// below it, so its deduplication can save more than chain IDs show.
type RegistryTally struct {
	refs      int
	images    map[string]struct{}
	layers    map[v1.Hash]*tallyLayer // by chain ID
	order     []*tallyLayer           // first appearance, for stable output
	blobs     map[v1.Hash]int64       // layer blobs, configs and manifests by digest
	layerBlob map[v1.Hash]struct{}    // which of blobs are layer blobs
	total     int64                   // compressed size of every distinct image, in full
	unknown   bool                    // some layer had no compressed size
	refBlobs  int64                   // sum over distinct images of their blobs' sizes
}

type tallyLayer struct {
	chainID, diffID, digest v1.Hash
	index                   int
	csize                   int64
	images                  int
	firstRef                string
	instruction             string
}

// ImageBlobs are the registry objects of one image besides its layers.
type ImageBlobs struct {
	// ManifestDigest and ManifestSize are the image manifest's; IndexDigest and
	// IndexSize the index's when the tag names a multi-platform index (zero otherwise).
	ManifestDigest v1.Hash
	ManifestSize   int64
	IndexDigest    v1.Hash
	IndexSize      int64
	// ConfigSize is the size of the config blob (its digest is the image ID).
	ConfigSize int64
}

// ImageTally is what adding one image found, at the moment it was added.
type ImageTally struct {
	// Repeat is true when an image with the same ID was added before (another tag of
	// the same image): it adds nothing to the totals.
	Repeat bool
	// CompressedSize is the sum of the image's layer blob sizes; Unknown when a
	// layer's is.
	CompressedSize int64
	// NewBlobs and NewCompressedSize are the blobs (layers, config, manifests) this
	// image was the first to bring, and their bytes: what the registry stores because of
	// it, given the images added before it. It depends on the order images are added.
	NewBlobs          int
	NewCompressedSize int64
}

// NewRegistryTally returns an empty tally.
func NewRegistryTally() *RegistryTally {
	return &RegistryTally{
		images:    map[string]struct{}{},
		layers:    map[v1.Hash]*tallyLayer{},
		blobs:     map[v1.Hash]int64{},
		layerBlob: map[v1.Hash]struct{}{},
	}
}

// Add counts one image, read from the registry with its blobs.
func (t *RegistryTally) Add(img Image, b ImageBlobs) ImageTally {
	t.refs++
	out := ImageTally{CompressedSize: img.CompressedSize()}
	newBlob := func(d v1.Hash, size int64) {
		if d == (v1.Hash{}) || size < 0 {
			return
		}
		if _, ok := t.blobs[d]; ok {
			return
		}
		t.blobs[d] = size
		out.NewBlobs++
		out.NewCompressedSize += size
	}
	// Manifests and indexes are per tag, counted even for a repeated image.
	newBlob(b.IndexDigest, b.IndexSize)
	newBlob(b.ManifestDigest, b.ManifestSize)
	if _, ok := t.images[img.ID]; ok && img.ID != "" {
		out.Repeat = true
		return out
	}
	t.images[img.ID] = struct{}{}
	if out.CompressedSize == Unknown {
		t.unknown = true
	} else {
		t.total += out.CompressedSize
	}
	if id, err := v1.NewHash(img.ID); err == nil {
		newBlob(id, b.ConfigSize)
		t.refBlobs += max(b.ConfigSize, 0)
	}
	var instr []string
	for k, c := range ChainIDs(img.DiffIDs()) {
		l := img.Layers[k]
		if l.CompressedSize >= 0 {
			t.refBlobs += l.CompressedSize
		}
		if l.Digest != (v1.Hash{}) && l.CompressedSize >= 0 {
			t.layerBlob[l.Digest] = struct{}{}
		}
		newBlob(l.Digest, l.CompressedSize)
		e := t.layers[c]
		if e == nil {
			e = &tallyLayer{chainID: c, diffID: l.DiffID, digest: l.Digest, index: k, csize: l.CompressedSize, firstRef: img.Ref}
			if instr == nil {
				instr = layerSteps(img)
			}
			e.instruction = instr[k]
			t.layers[c] = e
			t.order = append(t.order, e)
		}
		e.images++
	}
	return out
}

// RegistrySharing is the tally's answer.
type RegistrySharing struct {
	// Refs is how many tags were added; Images how many distinct images (by ID) they
	// name; Layers how many distinct layers (by chain ID) those have.
	Refs, Images, Layers int
	// CompressedTotalSize is the sum of the compressed sizes of the distinct images,
	// each in full: what the images would take with no sharing at all.
	CompressedTotalSize int64
	// CompressedDiskSize is the sum of the compressed sizes of the distinct layers by
	// chain ID, and CompressedSavedSize the difference: Share's figures.
	CompressedDiskSize  int64
	CompressedSavedSize int64
	// Blobs is how many distinct blobs the registry keeps for these images (layer
	// blobs, configs, manifests and indexes, each once by digest) and StoredSize their
	// bytes: the registry's real storage for this set.
	Blobs      int
	StoredSize int64
	// LayerBlobs and StoredLayerSize are the layer blobs among them.
	LayerBlobs      int
	StoredLayerSize int64
	// DedupSavedSize is what storing each blob once saves: the layer blobs and configs
	// of every distinct image, each in full, minus the distinct ones.
	DedupSavedSize int64
	// SharedLayers are the layers (by chain ID) that two or more distinct images have,
	// largest first, at most the number asked for.
	SharedLayers []RegistryLayer
}

// RegistryLayer is one layer that several images share.
type RegistryLayer struct {
	ChainID        v1.Hash
	DiffID         v1.Hash
	Digest         v1.Hash
	Index          int
	CompressedSize int64
	// Instruction is the step that made the layer, from the first image added that
	// has it and a history matching its layers; empty if none.
	Instruction string
	// Images is how many distinct images have the layer; FirstRef the first added.
	Images   int
	FirstRef string
	// SavedSize is CompressedSize times (Images - 1): what sharing this layer saves.
	SavedSize int64
}

// Summary returns the totals so far, with at most top shared layers (all when top < 0).
func (t *RegistryTally) Summary(top int) RegistrySharing {
	s := RegistrySharing{Refs: t.refs, Images: len(t.images), Layers: len(t.layers)}
	var disk int64
	unknown := t.unknown
	for _, e := range t.order {
		if e.csize == Unknown {
			unknown = true
		}
		disk += max(e.csize, 0)
		if e.images > 1 {
			s.SharedLayers = append(s.SharedLayers, RegistryLayer{
				ChainID: e.chainID, DiffID: e.diffID, Digest: e.digest, Index: e.index,
				CompressedSize: e.csize, Instruction: e.instruction,
				Images: e.images, FirstRef: e.firstRef,
				SavedSize: mulSize(e.csize, int64(e.images-1)),
			})
		}
	}
	sort.SliceStable(s.SharedLayers, func(a, b int) bool {
		return s.SharedLayers[a].CompressedSize > s.SharedLayers[b].CompressedSize
	})
	if top >= 0 && len(s.SharedLayers) > top {
		s.SharedLayers = s.SharedLayers[:top]
	}
	var configs int64
	for d, size := range t.blobs {
		s.Blobs++
		s.StoredSize += size
		if _, ok := t.layerBlob[d]; ok {
			s.LayerBlobs++
			s.StoredLayerSize += size
		} else if _, ok := t.images[d.String()]; ok {
			configs += size
		}
	}
	s.DedupSavedSize = t.refBlobs - s.StoredLayerSize - configs
	s.CompressedTotalSize, s.CompressedDiskSize = t.total, disk
	s.CompressedSavedSize = t.total - disk
	if unknown {
		s.CompressedTotalSize, s.CompressedDiskSize, s.CompressedSavedSize = Unknown, Unknown, Unknown
	}
	return s
}

// layerSteps is the instruction that made each layer, empty for all when the history
// does not match the layers (Steps says why).
func layerSteps(img Image) []string {
	out := make([]string, len(img.Layers))
	steps, ok, _ := Steps(img.Config, len(img.Layers))
	if !ok {
		return out
	}
	for _, st := range steps {
		if st.Layer >= 0 && st.Layer < len(out) {
			out[st.Layer] = st.Instruction
		}
	}
	return out
}

func mulSize(a, n int64) int64 {
	if a == Unknown {
		return Unknown
	}
	return a * n
}
