package analyze

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// FileKind says what a layer entry is.
type FileKind string

// The kinds of layer entries.
const (
	KindFile     FileKind = "file"
	KindDir      FileKind = "dir"
	KindSymlink  FileKind = "symlink"
	KindHardlink FileKind = "hardlink"
	KindWhiteout FileKind = "whiteout" // deletes Path from the layers below
	KindOpaque   FileKind = "opaque"   // hides everything below in directory Path
	KindOther    FileKind = "other"
)

// File is one entry of a layer.
type File struct {
	// Path is absolute and clean: "/app/src/index.js". For a whiteout it is the path
	// deleted; for an opaque marker the directory made opaque.
	Path string
	Kind FileKind
	// Size is the file's size in bytes (regular files only; 0 for every other kind, a
	// hardlink included, so a hardlinked file counts once).
	Size int64
	// Link is a symlink's or hardlink's target.
	Link string
	// Mode is the entry's permission bits (0o755), as the layer tar records them.
	Mode int64
	// Digest is the sha256 of a regular file's content ("sha256:…"), so an edit that
	// keeps the size still shows; empty for other kinds and when sizes alone were asked.
	// For a sparse file it is the sha256 of its stored form (see ScanLayer).
	Digest string
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// emptyDigest is the sha256 of no bytes.
const emptyDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ScanOptions tune ScanLayer.
type ScanOptions struct {
	// Estargz is set for an eStargz layer: its table of contents and prefetch landmarks
	// are entries of the tar but not files of the image, so they are left out.
	Estargz bool
}

// eStargz's own entries, at the root of an eStargz layer.
var estargzEntries = map[string]bool{
	"/stargz.index.json":     true,
	"/.prefetch.landmark":    true,
	"/.no.prefetch.landmark": true,
}

// ScanLayer reads an uncompressed layer tar once, streaming, and calls fn (if not nil)
// for every entry, with regular files' content digests. It returns the layer's
// uncompressed size as the engine counts it: the sum of the sizes of its regular files,
// each hardlink counted once, a sparse file at its full (logical) size. With fn nil,
// contents are skipped, not hashed. It stops when ctx is cancelled, between entries and
// every read.
//
// A sparse file's holes are never read: its Digest is the sha256 of its stored form
// (logical size, sparse map when the header carries it, data fragments), which changes
// whenever its content does, so it is compared only with other sparse files.
func ScanLayer(ctx context.Context, r io.Reader, opts ScanOptions, fn func(File) error) (int64, error) {
	raw := &rawReader{ctx: ctx, r: r}
	tr := tar.NewReader(raw)
	h := sha256.New()
	var sum [sha256.Size]byte
	var size int64
	// A sparse file's stored bytes are hashed as the following Next skips them, so it
	// is handed to fn one entry late.
	var pending *File
	flush := func() error {
		if pending == nil {
			return nil
		}
		f := *pending
		pending = nil
		f.Digest = raw.endCapture()
		return fn(f)
	}
	for {
		if err := ctx.Err(); err != nil {
			return size, err
		}
		hdr, err := tr.Next()
		if err == nil || errors.Is(err, io.EOF) {
			if err := flush(); err != nil {
				return size, err
			}
		}
		if errors.Is(err, io.EOF) {
			return size, nil
		}
		if err != nil {
			if e := ctx.Err(); e != nil {
				return size, e
			}
			return size, fmt.Errorf("reading layer tar: %w", err)
		}
		f := fileOf(hdr)
		if opts.Estargz && estargzEntries[f.Path] {
			continue
		}
		size += f.Size
		if fn == nil || f.Path == "" {
			continue
		}
		if f.Kind == KindFile && IsSparse(hdr) {
			raw.startCapture(hdr)
			pending = &f
			continue
		}
		if f.Kind == KindFile && f.Size == 0 {
			// One string for every empty file: layers of millions of them stay small.
			f.Digest = emptyDigest
		} else if f.Kind == KindFile {
			h.Reset()
			if _, err := io.Copy(h, tr); err != nil {
				if e := ctx.Err(); e != nil {
					return size, e
				}
				return size, fmt.Errorf("reading %s in layer tar: %w", f.Path, err)
			}
			f.Digest = "sha256:" + hex.EncodeToString(h.Sum(sum[:0]))
		}
		if err := fn(f); err != nil {
			return size, err
		}
	}
}

// IsSparse is true for a GNU sparse file, old style (type 'S') or PAX: reading its
// content through archive/tar yields every byte of its holes.
func IsSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func fileOf(hdr *tar.Header) File {
	p := path.Clean("/" + strings.TrimPrefix(hdr.Name, "./"))
	dir, base := path.Split(p)
	switch {
	case base == opaqueMarker:
		return File{Path: path.Clean(dir), Kind: KindOpaque}
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
		// AUFS metadata (.wh..wh.plnk and friends): not part of the filesystem.
		return File{}
	case strings.HasPrefix(base, whiteoutPrefix):
		return File{Path: path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), Kind: KindWhiteout}
	}
	f := File{Path: p, Link: hdr.Linkname, Mode: hdr.Mode & 0o7777}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // archive/tar reads the old TypeRegA as TypeReg
		// A sparse file counts at its logical size (hdr.Size), the size the engine
		// writes out and `ls -l` shows in a container.
		f.Kind, f.Size = KindFile, hdr.Size
	case tar.TypeDir:
		f.Kind = KindDir
	case tar.TypeSymlink:
		f.Kind = KindSymlink
	case tar.TypeLink:
		f.Kind = KindHardlink
	default:
		f.Kind = KindOther
	}
	return f
}
