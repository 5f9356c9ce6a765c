package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"

	"github.com/docker-layers/docker-layers/analyze"
)

// openArchive opens docker-archive:PATH[:NAME:TAG], a `docker save` tar in either
// layout: the classic one (a layer.tar per directory) or the OCI-based one that Docker
// 25+ and the containerd image store write (blobs/sha256/…). Both carry manifest.json,
// which is what this reads. The tar is indexed once by seeking over file contents, so
// opening is quick whatever the archive's size; layers are then streamed from it.
func openArchive(ctx context.Context, r Ref, opts Options) (*Image, error) {
	where := "docker-archive:" + r.Path
	if r.Path == "-" {
		return readArchiveStream(ctx, os.Stdin, r.Tag, where, opts)
	}
	f, err := os.Open(r.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFoundf("%s: no such file", where)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var magic [2]byte
	if _, err := io.ReadFull(f, magic[:]); err == nil && magic == [2]byte{0x1f, 0x8b} {
		// gzip cannot be seeked: read it in one pass, as standard input is.
		defer f.Close()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return readArchiveStream(ctx, f, r.Tag, where, opts)
	}
	img, err := readArchive(ctx, f, r.Tag, where, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return img, nil
}

type tarEntry struct {
	offset, size int64
	link         string // target of a symlink or hardlink, as a clean archive path
}

type archive struct {
	f       *os.File
	entries map[string]tarEntry
	where   string
}

func readArchive(ctx context.Context, f *os.File, tag, where string, opts Options) (*Image, error) {
	a := &archive{f: f, entries: map[string]tarEntry{}, where: where}
	if err := a.index(ctx); err != nil {
		return nil, err
	}
	if _, err := a.lookup("manifest.json"); err != nil {
		if _, err := a.lookup("index.json"); err == nil {
			// `docker buildx build --output type=oci` and skopeo write a layout tar
			// without manifest.json; it is an image all the same.
			img, err := openOCILayout(tarFiles{a}, tag, opts, where, TransportArchive)
			if err != nil {
				return nil, err
			}
			img.Notes = append(img.Notes, fmt.Sprintf("%s holds an OCI image layout, not a docker save archive: read as oci-archive:%s", where, strings.TrimPrefix(where, TransportArchive+":")))
			img.close = f.Close
			return img, nil
		}
	}
	raw, err := a.readFile("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("%s is not a docker save archive: %w", where, err)
	}
	var m tarball.Manifest
	if err := decodeJSON(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", where, err)
	}
	desc, err := pickArchiveImage(m, tag, where)
	if err != nil {
		return nil, err
	}
	rawCfg, err := a.readFile(desc.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the image config: %w", where, err)
	}
	var cfg v1.ConfigFile
	if err := decodeJSON(rawCfg, &cfg); err != nil {
		return nil, fmt.Errorf("%s: parsing the image config: %w", where, err)
	}
	id, _, err := v1.SHA256(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, err
	}
	// The config is named by its digest (<hex>.json, or blobs/sha256/<hex>): the name is
	// the image ID the engine gave it.
	if named, ok := digestInName(desc.Config); ok && named != id {
		return nil, &DigestError{What: where + ": the image config " + desc.Config, Kind: "digest", Want: named, Got: id}
	}
	if err := checkPlatform(&cfg, opts.Platform, where); err != nil {
		return nil, err
	}
	if len(desc.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%s: manifest.json lists %d layers but the config's rootfs has %d diff IDs", where, len(desc.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{
		Image:            analyze.Image{ID: id.String(), Config: &cfg},
		Transport:        TransportArchive,
		LayersCompressed: len(desc.Layers) > 0,
		close:            f.Close,
	}
	reader := &archiveReader{a: a}
	for i, p := range desc.Layers {
		e, err := a.lookup(p)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", where, i, err)
		}
		comp, err := a.compression(e)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", where, i, err)
		}
		l := analyze.Layer{DiffID: cfg.RootFS.DiffIDs[i], Size: analyze.Unknown, CompressedSize: analyze.Unknown}
		stored, _ := digestInName(p)
		if comp != compressionNone {
			l.CompressedSize = e.size
			l.Digest = stored
		} else {
			img.LayersCompressed = false
		}
		img.Layers = append(img.Layers, l)
		reader.layers = append(reader.layers, archiveLayer{entry: e, digest: stored, estargz: comp == compressionGzip && estargzAt(a.section(e))})
	}
	img.reader = reader
	return img, nil
}

// digestInName reads the digest a content-addressed file name carries:
// blobs/sha256/<hex> or <hex>.json.
func digestInName(p string) (v1.Hash, bool) {
	p = cleanArchivePath(p)
	hexPart := strings.TrimSuffix(path.Base(p), ".json")
	if !strings.HasPrefix(p, "blobs/sha256/") && !(strings.HasSuffix(p, ".json") && path.Dir(p) == ".") {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash("sha256:" + hexPart)
	return h, err == nil
}

// index records where each file's content starts, seeking over contents.
func (a *archive) index(ctx context.Context) error {
	var magic [2]byte
	if _, err := io.ReadFull(a.f, magic[:]); err == nil && magic == [2]byte{0x1f, 0x8b} {
		return fmt.Errorf("%s is gzip-compressed: an OCI archive is read in place, decompress it first (gunzip)", a.where)
	}
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr := tar.NewReader(a.f)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s is not a readable tar archive: %w", a.where, err)
		}
		p := cleanArchivePath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
			if analyze.IsSparse(hdr) {
				// Its stored bytes are not its content: no archive writer uses it.
				continue
			}
			off, err := a.f.Seek(0, io.SeekCurrent)
			if err != nil {
				return err
			}
			a.entries[p] = tarEntry{offset: off, size: hdr.Size}
		case tar.TypeSymlink:
			a.entries[p] = tarEntry{link: cleanArchivePath(path.Join(path.Dir(p), hdr.Linkname))}
		case tar.TypeLink:
			a.entries[p] = tarEntry{link: cleanArchivePath(hdr.Linkname)}
		}
	}
	if len(a.entries) == 0 {
		return fmt.Errorf("%s is empty or not a tar archive", a.where)
	}
	return nil
}

func cleanArchivePath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (a *archive) lookup(p string) (tarEntry, error) {
	p = cleanArchivePath(p)
	for hops := 0; hops < 16; hops++ {
		e, ok := a.entries[p]
		if !ok {
			return tarEntry{}, fmt.Errorf("%s is missing from the archive", p)
		}
		if e.link == "" {
			return e, nil
		}
		p = e.link
	}
	return tarEntry{}, fmt.Errorf("%s: too many links", p)
}

func (a *archive) section(e tarEntry) *io.SectionReader {
	return io.NewSectionReader(a.f, e.offset, e.size)
}

// readFile reads a metadata file of the archive, capped at maxMetadataFile.
func (a *archive) readFile(p string) ([]byte, error) {
	e, err := a.lookup(p)
	if err != nil {
		return nil, err
	}
	if e.size > maxMetadataFile {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d MiB a metadata document may have", p, e.size, maxMetadataFile>>20)
	}
	return io.ReadAll(a.section(e))
}

type compression int

const (
	compressionNone compression = iota
	compressionGzip
	compressionZstd
)

func (a *archive) compression(e tarEntry) (compression, error) {
	var head [4]byte
	n, err := a.section(e).ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return compressionNone, err
	}
	return sniff(head[:n]), nil
}

func sniff(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return compressionGzip
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return compressionZstd
	}
	return compressionNone
}

// pickArchiveImage chooses the manifest.json entry tagged tag; with no tag, the only one.
func pickArchiveImage(m tarball.Manifest, tag, where string) (tarball.Descriptor, error) {
	var all []string
	for _, d := range m {
		all = append(all, d.RepoTags...)
	}
	sort.Strings(all)
	if tag != "" {
		want := normalizeTag(tag)
		for _, d := range m {
			for _, t := range d.RepoTags {
				if t == tag || normalizeTag(t) == want {
					return d, nil
				}
			}
		}
		return tarball.Descriptor{}, notFoundf("%s has no image tagged %s (it has: %s)", where, tag, strings.Join(all, ", "))
	}
	switch len(m) {
	case 0:
		return tarball.Descriptor{}, notFoundf("%s holds no image", where)
	case 1:
		return m[0], nil
	}
	return tarball.Descriptor{}, usageErrorf("%s holds %d images, name one as %s:NAME:TAG (it has: %s)", where, len(m), where, strings.Join(all, ", "))
}

func normalizeTag(s string) string {
	t, err := name.NewTag(s)
	if err != nil {
		return s
	}
	return t.Name()
}

type archiveLayer struct {
	entry   tarEntry
	digest  v1.Hash // from a blobs/sha256/<hex> name; zero for a classic layer.tar
	estargz bool
}

type archiveReader struct {
	a      *archive
	layers []archiveLayer
}

func (r *archiveReader) readLayers(ctx context.Context, want []int, fn func(int, layerBlob) error) error {
	// Read in archive order, so a disk reads the file front to back.
	order := append([]int(nil), want...)
	sort.SliceStable(order, func(x, y int) bool {
		return r.layers[order[x]].entry.offset < r.layers[order[y]].entry.offset
	})
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		l := r.layers[i]
		if err := fn(i, layerBlob{r: r.a.section(l.entry), digest: l.digest, size: l.entry.size, estargz: l.estargz}); err != nil {
			return err
		}
	}
	return nil
}

func decompress(r io.Reader, c compression) (io.ReadCloser, error) {
	switch c {
	case compressionGzip:
		return gzip.NewReader(r)
	case compressionZstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}
