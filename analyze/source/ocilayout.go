package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// An OCI image layout is read the same way wherever its files are, a directory (oci:)
// or a tar (oci-archive:, or a docker-archive: that turns out to hold a layout): every
// document is capped and checked against its digest as it is read, and layers are
// streamed from their blobs.

// layoutFiles are the files of an OCI image layout.
type layoutFiles interface {
	// open returns a file of the layout ("index.json", "blobs/sha256/…") and a
	// function that releases it.
	open(name string) (*io.SectionReader, func() error, error)
}

// dirFiles is a layout in a directory.
type dirFiles string

func (d dirFiles) open(name string) (*io.SectionReader, func() error, error) {
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s is missing", name)
		}
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", name)
	}
	return io.NewSectionReader(f, 0, st.Size()), f.Close, nil
}

// tarFiles is a layout packed in a tar, indexed.
type tarFiles struct{ a *archive }

func (t tarFiles) open(name string) (*io.SectionReader, func() error, error) {
	e, err := t.a.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	return t.a.section(e), func() error { return nil }, nil
}

// errNoIndex marks a layout without index.json.
var errNoIndex = errors.New("no index.json")

type ociLayout struct {
	files layoutFiles
	where string
}

func blobName(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" {
		return "", fmt.Errorf("unsupported digest algorithm %q", h.Algorithm)
	}
	return "blobs/sha256/" + h.Hex, nil
}

// readBlob reads the metadata document d names, capped and checked against d's
// size and digest.
func (l *ociLayout) readBlob(d v1.Descriptor, what string) ([]byte, error) {
	name, err := blobName(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", l.where, what, err)
	}
	if d.Size > maxMetadataFile {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d MiB a metadata document may have", l.where, what, d.Size, maxMetadataFile>>20)
	}
	sr, done, err := l.files.open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", l.where, what, err)
	}
	defer done()
	if sr.Size() != d.Size {
		return nil, fmt.Errorf("%s: %s %s is %d bytes, its descriptor says %d", l.where, what, d.Digest, sr.Size(), d.Size)
	}
	raw, err := readCapped(sr, maxMetadataFile, what)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.where, err)
	}
	if err := checkDigest(raw, d.Digest, l.where+": "+what); err != nil {
		return nil, err
	}
	return raw, nil
}

// openOCILayout opens the image tag names in a layout (with no tag, the only one).
func openOCILayout(files layoutFiles, tag string, opts Options, where, transport string) (*Image, error) {
	l := &ociLayout{files: files, where: where}
	sr, done, err := files.open("index.json")
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w: %w", where, err, errNoIndex)
	}
	raw, err := readCapped(sr, maxMetadataFile, "index.json")
	done()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var im v1.IndexManifest
	if err := decodeJSON(raw, &im); err != nil {
		return nil, fmt.Errorf("%s: index.json: %w", where, err)
	}
	desc, err := pickTagged(im.Manifests, tag, where)
	if err != nil {
		return nil, err
	}
	for depth := 0; depth < 4; depth++ {
		switch {
		case desc.MediaType.IsImage():
			return l.image(desc, opts.Platform, transport)
		case desc.MediaType.IsIndex():
			raw, err := l.readBlob(desc, "index")
			if err != nil {
				return nil, err
			}
			var child v1.IndexManifest
			if err := decodeJSON(raw, &child); err != nil {
				return nil, fmt.Errorf("%s: index %s: %w", where, desc.Digest, err)
			}
			if desc, err = pickPlatform(&child, opts.Platform, where); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: %s is a %s, not an image", where, desc.Digest, desc.MediaType)
		}
	}
	return nil, fmt.Errorf("%s: indexes nested too deep", where)
}

func (l *ociLayout) image(desc v1.Descriptor, platform *v1.Platform, transport string) (*Image, error) {
	raw, err := l.readBlob(desc, "manifest")
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := decodeJSON(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", l.where, desc.Digest, err)
	}
	rawCfg, err := l.readBlob(m.Config, "config")
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := decodeJSON(rawCfg, &cfg); err != nil {
		return nil, fmt.Errorf("%s: config %s: %w", l.where, m.Config.Digest, err)
	}
	if err := checkPlatform(&cfg, platform, l.where); err != nil {
		return nil, err
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%s: the manifest lists %d layers but the config's rootfs has %d diff IDs", l.where, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{
		Image:            analyze.Image{ID: m.Config.Digest.String(), Config: &cfg},
		Transport:        transport,
		LayersCompressed: true,
		reader:           layoutReader{l: l, blobs: m.Layers},
	}
	for i, d := range m.Layers {
		layer := analyze.Layer{DiffID: cfg.RootFS.DiffIDs[i], Digest: d.Digest, Size: analyze.Unknown, CompressedSize: d.Size}
		if !isCompressed(d.MediaType) {
			layer.CompressedSize = analyze.Unknown
			img.LayersCompressed = false
		}
		img.Layers = append(img.Layers, layer)
	}
	return img, nil
}

// checkPlatform refuses an image that is not for the platform asked for: a source
// with one platform must not answer for another.
func checkPlatform(cfg *v1.ConfigFile, want *v1.Platform, where string) error {
	if want == nil {
		return nil
	}
	have := cfg.Platform()
	if have == nil || have.OS == "" && have.Architecture == "" {
		return nil
	}
	if !have.Satisfies(*want) {
		return notFoundf("%s has no image for platform %s (it is %s)", where, platformString(want), platformString(have))
	}
	return nil
}

type layoutReader struct {
	l     *ociLayout
	blobs []v1.Descriptor
}

func (r layoutReader) readLayers(ctx context.Context, want []int, fn func(int, layerBlob) error) error {
	return eachLayer(ctx, want, func(i int) error { return r.readLayer(i, fn) })
}

func (r layoutReader) readLayer(i int, fn func(int, layerBlob) error) error {
	d := r.blobs[i]
	name, err := blobName(d.Digest)
	if err != nil {
		return fmt.Errorf("%s: layer %d: %w", r.l.where, i, err)
	}
	sr, done, err := r.l.files.open(name)
	if err != nil {
		return fmt.Errorf("%s: layer %d: %w", r.l.where, i, err)
	}
	defer done()
	estargz := d.Annotations[annotationEstargzTOC] != "" || estargzAt(sr)
	return fn(i, layerBlob{r: sr, digest: d.Digest, size: d.Size, estargz: estargz})
}
