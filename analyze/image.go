// Package analyze turns images into plain answers: per-layer sizes and instructions,
// cache reuse between two builds, layers shared between images. It does no I/O of its
// own: sources (package source) read images, and the plugin package prints the results.
package analyze

import (
	"crypto/sha256"
	"encoding/hex"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Unknown marks a size that the source could not tell.
const Unknown int64 = -1

// Layer is one filesystem layer of an image, as a source read it.
type Layer struct {
	// DiffID is the digest of the uncompressed layer tar.
	DiffID v1.Hash
	// Digest is the digest of the compressed blob; zero when the source stores none.
	Digest v1.Hash
	// Size is the uncompressed size: the sum of the sizes of the regular files in the
	// layer, a hardlinked file counted once. Unknown when not measured.
	Size int64
	// CompressedSize is the size of the compressed blob; Unknown when the source
	// stores the layer uncompressed or cannot tell.
	CompressedSize int64
}

// Image is an image's metadata as a source read it.
type Image struct {
	// Ref is the reference as the user gave it.
	Ref string
	// ID is the digest of the image config ("sha256:…"), whatever the source.
	ID string
	// EngineID is the image ID the Docker engine shows (`docker image ls`): the config
	// digest on the classic image store, the index or manifest digest on the containerd
	// image store. Empty for images not read from an engine.
	EngineID string
	// Config is the image config: history, rootfs and runtime config.
	Config *v1.ConfigFile
	// Layers are the filesystem layers, bottom first, in rootfs order.
	Layers []Layer
}

// Size returns the total uncompressed size, or Unknown if any layer's is unknown.
func (img Image) Size() int64 {
	return sumSizes(img.Layers, func(l Layer) int64 { return l.Size })
}

// CompressedSize returns the total compressed size, or Unknown if any layer's is unknown.
func (img Image) CompressedSize() int64 {
	return sumSizes(img.Layers, func(l Layer) int64 { return l.CompressedSize })
}

func sumSizes(layers []Layer, size func(Layer) int64) int64 {
	sizes := make([]int64, len(layers))
	for i, l := range layers {
		sizes[i] = size(l)
	}
	return addSizes(sizes...)
}

// addSizes adds sizes, Unknown if any is: the one place unknown-aware sums are made.
func addSizes(sizes ...int64) int64 {
	var total int64
	for _, s := range sizes {
		if s < 0 {
			return Unknown
		}
		total += s
	}
	return total
}

// subSize subtracts two sizes, Unknown if either is.
func subSize(a, b int64) int64 {
	if a < 0 || b < 0 {
		return Unknown
	}
	return a - b
}

// ChainIDs returns the chain ID of every layer: the identity of a layer together with
// everything below it, which is what an engine stores once and a registry serves once.
// It follows the OCI image spec: ChainID(L0) = DiffID(L0), ChainID(Ln) =
// sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return out
}

// DiffIDs returns the layers' diffIDs in order.
func (img Image) DiffIDs() []v1.Hash {
	out := make([]v1.Hash, len(img.Layers))
	for i, l := range img.Layers {
		out[i] = l.DiffID
	}
	return out
}
