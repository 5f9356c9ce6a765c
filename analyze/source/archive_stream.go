package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/docker-layers/docker-layers/analyze"
)

// A docker save archive that cannot be seeked — standard input (docker-archive:-) or a
// gzip-compressed file (`docker save app | gzip`, which `docker load` accepts) — is read
// in one pass. Its manifest.json comes last, so every layer is scanned as it passes
// (sizes and entries, digests checked) and kept as that scan, never as bytes; small
// documents are kept, capped, until the manifest says which image and layers are wanted.

// streamedLayer is what one pass learned about a layer-like entry.
type streamedLayer struct {
	diffID     v1.Hash
	stored     v1.Hash // digest of the stored bytes
	storedSize int64
	compressed bool
	scan       LayerScan
}

// readArchiveStream reads a docker save archive from r in one pass.
func readArchiveStream(ctx context.Context, r io.Reader, tag, where string, opts Options) (*Image, error) {
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 1<<20)
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(ctxReader{ctx, zr}, 1<<20)
	}
	s := &archiveStream{where: where, meta: map[string][]byte{}, layers: map[string]*streamedLayer{}, links: map[string]string{}}
	if err := s.read(ctx, br); err != nil {
		if e := ctxErr(err); e != nil {
			return nil, e
		}
		return nil, err
	}
	return s.image(tag, opts)
}

type archiveStream struct {
	where     string
	meta      map[string][]byte
	metaTotal int64
	layers    map[string]*streamedLayer
	links     map[string]string
}

func (s *archiveStream) read(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	entry := bufio.NewReaderSize(nil, 1<<20)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return fmt.Errorf("%s is empty or not a tar archive", s.where)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s is not a readable tar archive: %w", s.where, err)
		}
		name := cleanArchivePath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			s.links[name] = cleanArchivePath(path.Join(path.Dir(name), hdr.Linkname))
			continue
		case tar.TypeLink:
			s.links[name] = cleanArchivePath(hdr.Linkname)
			continue
		case tar.TypeReg:
		default:
			continue
		}
		if analyze.IsSparse(hdr) {
			// docker save writes no sparse file; reading one would read its holes.
			continue
		}
		entry.Reset(tr)
		head, _ := entry.Peek(512)
		comp := sniff(head)
		if comp != compressionNone || hdr.Size >= 1024 && looksLikeTar(head) {
			l, err := scanStreamedLayer(ctx, entry, comp)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", s.where, name, err)
			}
			s.layers[name] = l
			continue
		}
		if hdr.Size > maxMetadataFile || s.metaTotal+hdr.Size > maxMetadataTotal {
			continue
		}
		b, err := io.ReadAll(entry)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", s.where, name, err)
		}
		s.meta[name] = b
		s.metaTotal += int64(len(b))
	}
}

func scanStreamedLayer(ctx context.Context, r io.Reader, comp compression) (*streamedLayer, error) {
	stored := &hashingReader{r: r, h: sha256.New()}
	diffID, scan, err := hashAndScan(ctx, stored, comp, true, true)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, stored); err != nil {
		return nil, err
	}
	return &streamedLayer{diffID: diffID, stored: stored.sum(), storedSize: stored.n, compressed: comp != compressionNone, scan: scan}, nil
}

func (s *archiveStream) resolve(p string) string {
	p = cleanArchivePath(p)
	for hops := 0; hops < 16; hops++ {
		next, ok := s.links[p]
		if !ok {
			return p
		}
		p = next
	}
	return p
}

func (s *archiveStream) image(tag string, opts Options) (*Image, error) {
	raw, ok := s.meta[s.resolve("manifest.json")]
	if !ok {
		return nil, fmt.Errorf("%s is not a docker save archive: manifest.json is missing (an OCI archive must be a file, not a stream)", s.where)
	}
	var m tarball.Manifest
	if err := decodeJSON(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", s.where, err)
	}
	desc, err := pickArchiveImage(m, tag, s.where)
	if err != nil {
		return nil, err
	}
	rawCfg, ok := s.meta[s.resolve(desc.Config)]
	if !ok {
		return nil, fmt.Errorf("%s: the image config %s is missing", s.where, desc.Config)
	}
	var cfg v1.ConfigFile
	if err := decodeJSON(rawCfg, &cfg); err != nil {
		return nil, fmt.Errorf("%s: parsing the image config: %w", s.where, err)
	}
	id, _, _ := v1.SHA256(bytes.NewReader(rawCfg))
	if named, ok := digestInName(desc.Config); ok && named != id {
		return nil, &DigestError{What: s.where + ": the image config " + desc.Config, Kind: "digest", Want: named, Got: id}
	}
	if err := checkPlatform(&cfg, opts.Platform, s.where); err != nil {
		return nil, err
	}
	if len(desc.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%s: manifest.json lists %d layers but the config's rootfs has %d diff IDs", s.where, len(desc.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{
		Image:            analyze.Image{ID: id.String(), Config: &cfg},
		Transport:        TransportArchive,
		LayersCompressed: len(desc.Layers) > 0,
		Notes:            []string{s.where + " was read in one pass (a stream): every layer was scanned as it went by"},
	}
	scans := make([]LayerScan, len(desc.Layers))
	for i, p := range desc.Layers {
		what := fmt.Sprintf("layer %d of %s", i, s.where)
		l, ok := s.layers[s.resolve(p)]
		if !ok {
			return nil, fmt.Errorf("%s: %s is missing from the archive", what, p)
		}
		if named, ok := digestInName(p); ok && named != l.stored {
			return nil, &DigestError{What: what, Kind: "blob digest", Want: named, Got: l.stored}
		}
		if want := cfg.RootFS.DiffIDs[i]; l.diffID != want {
			return nil, &DigestError{What: what, Kind: "diffID", Want: want, Got: l.diffID}
		}
		layer := analyze.Layer{DiffID: l.diffID, Size: l.scan.Size, CompressedSize: analyze.Unknown}
		if l.compressed {
			layer.CompressedSize, layer.Digest = l.storedSize, l.stored
		} else {
			img.LayersCompressed = false
		}
		img.Layers = append(img.Layers, layer)
		scans[i] = l.scan
	}
	img.scanner = scannedLayers(scans)
	return img, nil
}

// scannedLayers serves layers already scanned.
type scannedLayers []LayerScan

func (s scannedLayers) scanLayers(ctx context.Context, want []int, files bool, fn func(int, LayerScan) error) error {
	for _, i := range want {
		if err := ctx.Err(); err != nil {
			return err
		}
		ls := s[i]
		if !files {
			ls.Files = nil
		}
		if err := fn(i, ls); err != nil {
			return err
		}
	}
	return nil
}
