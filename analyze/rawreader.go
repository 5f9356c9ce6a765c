package analyze

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
)

// rawReader is what archive/tar reads a layer from. It checks ctx on every read, and
// it is an io.Seeker so that tar skips an entry's stored bytes with Seek(n, SeekCurrent):
// the skip is a read (the bytes still pass through, and whoever hashes the stream sees
// them), and for a sparse file being hashed it tells exactly how many stored bytes the
// entry has left, which the tar header does not say.
type rawReader struct {
	ctx context.Context
	r   io.Reader
	n   int64 // bytes read so far

	capture hash.Hash // the sparse file being hashed, or nil
	left    int64     // stored bytes of it still to capture; -1 until tar says
	sum     string    // digest of the last sparse file captured
}

func (s *rawReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if s.capture != nil {
		switch {
		case s.left > 0:
			p = p[:min(int64(len(p)), s.left)]
		case s.left < 0 && len(p) == 1:
			// tar reads an entry's last stored byte alone; with one byte stored it
			// never seeks first.
			s.left = 1
		default:
			s.stopCapture()
		}
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.capture != nil {
		s.capture.Write(p[:n])
		if s.left -= int64(n); s.left == 0 {
			s.stopCapture()
		}
	}
	return n, err
}

// Seek moves forward only, by reading: tar calls Seek(0, SeekCurrent) to learn whether
// seeking works, then Seek(n-1, SeekCurrent) to skip all but the last stored byte.
func (s *rawReader) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return s.n, errors.New("layer stream: only forward skips")
	}
	if offset == 0 {
		return s.n, nil
	}
	if s.capture != nil {
		s.left = offset + 1
	}
	if _, err := io.CopyN(io.Discard, readOnly{s}, offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return s.n, err
	}
	return s.n, nil
}

type readOnly struct{ io.Reader }

// startCapture begins hashing a sparse file's stored form: its logical size, the sparse
// map when PAX records carry it, then its stored bytes as tar skips them.
func (s *rawReader) startCapture(hdr *tar.Header) {
	h := sha256.New()
	fmt.Fprintf(h, "sparse\x00%d\x00", hdr.Size)
	keys := make([]string, 0, len(hdr.PAXRecords))
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") && k != "GNU.sparse.name" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, hdr.PAXRecords[k])
	}
	s.capture, s.left = h, -1
	s.sum = ""
}

func (s *rawReader) stopCapture() {
	if s.capture != nil {
		s.sum = "sha256:" + hex.EncodeToString(s.capture.Sum(nil))
	}
	s.capture = nil
}

// endCapture returns the digest of the sparse file last captured.
func (s *rawReader) endCapture() string {
	s.stopCapture()
	return s.sum
}
