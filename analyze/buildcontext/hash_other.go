//go:build !linux

package buildcontext

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// fileHasher hashes files for one worker, reusing its buffer and digest.
type fileHasher struct {
	dir string
	buf []byte
	sum hash.Hash
}

func newFileHasher(dir string) *fileHasher {
	return &fileHasher{dir: dir, buf: make([]byte, 64<<10), sum: sha256.New()}
}

func (fh *fileHasher) close() {}

// hash stats a file of the context (rel: slash-separated, relative) and hashes it, reading it into the worker's buffer
// (io.CopyBuffer would hand the copy to (*os.File).WriteTo, which allocates a buffer of
// its own for every file) and stopping at the size fstat gave, as tar does, which saves
// the read that would only say EOF.
func (fh *fileHasher) hash(rel string) (hashed, error) {
	p := filepath.Join(fh.dir, filepath.FromSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		return hashed{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return hashed{}, err
	}
	out := hashed{size: fi.Size(), mode: modeBits(fi.Mode())}
	fh.sum.Reset()
	for done := int64(0); done < out.size; {
		n, err := f.Read(fh.buf[:min(int64(len(fh.buf)), out.size-done)])
		fh.sum.Write(fh.buf[:n])
		done += int64(n)
		if errors.Is(err, io.EOF) {
			return hashed{}, fmt.Errorf("%s: shrank while being read", p)
		}
		if err != nil {
			return hashed{}, err
		}
	}
	out.digest = "sha256:" + hex.EncodeToString(fh.sum.Sum(nil))
	return out, nil
}
