package source

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// Images are untrusted input. Every byte a source reads is checked against the digest
// that names it: metadata (index, manifests, configs) when read, a layer's stored blob
// and its uncompressed tar (the diffID) as the layer is streamed. Every metadata read is
// capped, and a JSON document must be one value with nothing after it.

// maxMetadataFile bounds one metadata document (an index, manifest or config, a
// docker save manifest.json) in every source.
const maxMetadataFile = 16 << 20

// DigestError is a layer or blob whose bytes do not match the digest that names it.
type DigestError struct {
	// What names the content: "layer 2 of docker-archive:app.tar", "the config of …".
	What string
	// Kind is "diffID" (uncompressed layer), "blob digest" (stored bytes) or "digest".
	Kind string
	Want v1.Hash
	Got  v1.Hash
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s does not match its %s: expected %s, read %s", e.What, e.Kind, e.Want, e.Got)
}

// decodeJSON decodes one JSON value and refuses anything after it but white space.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the JSON value (at byte %d)", dec.InputOffset())
	}
	return nil
}

// readCapped reads r to its end, failing past limit bytes.
func readCapped(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than the %d MiB a metadata document may have", what, limit>>20)
	}
	return b, nil
}

// checkDigest verifies that raw is the content want names (sha256 only, as OCI
// layouts and registries use).
func checkDigest(raw []byte, want v1.Hash, what string) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("%s: unsupported digest algorithm %q", what, want.Algorithm)
	}
	sum := sha256.Sum256(raw)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if got != want {
		return &DigestError{What: what, Kind: "digest", Want: want, Got: got}
	}
	return nil
}

// layerBlob is one layer as its source stores it, open for reading.
type layerBlob struct {
	// r yields the stored bytes: gzip, zstd (both sniffed) or a plain tar.
	r io.Reader
	// digest names the stored bytes; zero when the source names the layer only by its
	// diffID (a classic docker save layer.tar).
	digest v1.Hash
	// size is the stored size the source records, or -1.
	size int64
	// estargz is set for an eStargz blob (its TOC is not part of the image's files).
	estargz bool
}

// scanBlob streams one stored layer: it decompresses it, scans its tar, reads it to
// the end and checks both the stored bytes (against the blob digest) and the
// uncompressed tar (against the config's diffID) before anything it read is used.
func (img *Image) scanBlob(ctx context.Context, i int, b layerBlob, files bool) (LayerScan, error) {
	var s LayerScan
	collect := s.collector(files)
	size, err := img.streamBlob(ctx, i, b, false, collect)
	if err != nil {
		return LayerScan{}, err
	}
	s.Size = size
	return s, nil
}

// streamBlob is scanBlob calling fn with each entry as it is read (content digests
// unless skipDigests). An entry handed over is not yet verified: a caller must drop
// what it built when streamBlob fails.
func (img *Image) streamBlob(ctx context.Context, i int, b layerBlob, skipDigests bool, fn func(analyze.File) error) (int64, error) {
	what := fmt.Sprintf("layer %d of %s", i, img.Ref)
	stored := &hashingReader{r: b.r}
	if b.digest != (v1.Hash{}) {
		// A classic docker save layer.tar has no blob digest: its bytes are the tar,
		// checked against the diffID below, so they are not hashed twice.
		stored.h = sha256.New()
	}
	br := bufio.NewReaderSize(ctxReader{ctx, stored}, 1<<20)
	head, _ := br.Peek(4)
	rc, err := decompress(br, sniff(head))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", what, err)
	}
	defer rc.Close()
	tarBytes := &hashingReader{r: rc, h: sha256.New()}
	size, err := analyze.ScanLayer(ctx, tarBytes, analyze.ScanOptions{Estargz: b.estargz, SkipDigests: skipDigests}, fn)
	if err == nil {
		// What follows the tar's end marker (padding, a compressed stream's trailer and
		// checksum) is part of both digests.
		_, err = io.Copy(io.Discard, ctxReader{ctx, tarBytes})
	}
	if err == nil {
		_, err = io.Copy(io.Discard, br)
	}
	if err != nil {
		if e := ctxErr(err); e != nil {
			return 0, e
		}
		// Bytes that do not decompress or untar are most likely not the blob named:
		// say so when the digest shows it.
		// (Only when every stored byte could be read: a stalled or cut download
		// is reported as such.)
		var stall *StallError
		if b.digest != (v1.Hash{}) && !errors.As(err, &stall) {
			_, derr := io.Copy(io.Discard, ctxReader{ctx, stored})
			// go-containerregistry's own check fails the last read of a registry blob.
			complete := derr == nil || strings.Contains(derr.Error(), "error verifying")
			if complete && (b.size < 0 || stored.n == b.size) {
				if got := stored.sum(); got != b.digest {
					return 0, &DigestError{What: what, Kind: "blob digest", Want: b.digest, Got: got}
				}
			}
		}
		return 0, fmt.Errorf("reading %s: %w", what, err)
	}
	if b.size >= 0 && stored.n != b.size {
		return 0, fmt.Errorf("reading %s: its blob is %d bytes, the manifest says %d", what, stored.n, b.size)
	}
	if b.digest != (v1.Hash{}) {
		if got := stored.sum(); got != b.digest {
			return 0, &DigestError{What: what, Kind: "blob digest", Want: b.digest, Got: got}
		}
	}
	if want := img.Layers[i].DiffID; want != (v1.Hash{}) {
		if got := tarBytes.sum(); got != want {
			return 0, &DigestError{What: what, Kind: "diffID", Want: want, Got: got}
		}
	}
	return size, nil
}

type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if r.h != nil {
		r.h.Write(p[:n])
	}
	r.n += int64(n)
	return n, err
}

func (r *hashingReader) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(r.h.Sum(nil))}
}

// isEstargzFooter is true when tail, a blob's last bytes, ends with an eStargz (or
// legacy stargz) footer: an empty gzip member whose extra field holds the TOC offset as
// 16 hex digits followed by "STARGZ".
func isEstargzFooter(tail []byte) bool {
	i := bytes.LastIndex(tail, []byte("STARGZ"))
	if i < 16 || !bytes.Contains(tail[:i], []byte{0x1f, 0x8b}) {
		return false
	}
	for _, c := range tail[i-16 : i] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// annotationEstargzTOC marks an eStargz layer in a manifest.
const annotationEstargzTOC = "containerd.io/snapshot/stargz/toc.digest"

// estargzAt tells whether the stored blob in sr is eStargz, from its footer.
func estargzAt(sr *io.SectionReader) bool {
	const footer = 64
	n := min(sr.Size(), footer)
	tail := make([]byte, n)
	if _, err := sr.ReadAt(tail, sr.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return isEstargzFooter(tail)
}
