package analyze

import (
	"archive/tar"
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
	Digest string
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// ScanLayer reads an uncompressed layer tar once, streaming, and calls fn (if not nil)
// for every entry, with regular files' content digests. It returns the layer's
// uncompressed size as the engine counts it: the sum of the sizes of its regular files,
// each hardlink counted once. With fn nil, contents are skipped, not hashed.
func ScanLayer(r io.Reader, fn func(File) error) (int64, error) {
	tr := tar.NewReader(r)
	var size int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return size, nil
		}
		if err != nil {
			return size, fmt.Errorf("reading layer tar: %w", err)
		}
		f := fileOf(hdr)
		size += f.Size
		if fn != nil && f.Kind == KindFile {
			h := sha256.New()
			if _, err := io.Copy(h, tr); err != nil {
				return size, fmt.Errorf("reading %s in layer tar: %w", f.Path, err)
			}
			f.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		}
		if fn != nil && f.Path != "" {
			if err := fn(f); err != nil {
				return size, err
			}
		}
	}
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
	case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
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
