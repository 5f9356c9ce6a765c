package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/docker-layers/docker-layers/analyze"
)

// layerOpener is for sources that can open any one layer on its own, so several can be
// read at once. r is the uncompressed tar; where the source stores it uncompressed, r
// also seeks, so contents need not be read when only headers are wanted.
type layerOpener interface {
	openLayer(ctx context.Context, i int) (r io.Reader, closer func() error, err error)
}

// EntryOptions tune StreamEntries.
type EntryOptions struct {
	// Digests asks for regular files' content digests; without them a layer stored
	// uncompressed is read by its headers alone (contents are seeked over).
	Digests bool
	// Workers is how many layers are read at once; 0 means one per CPU.
	Workers int
}

// entryBatch is how many entries a reader hands over at once.
const entryBatch = 1024

// StreamEntries reads each layer in want and calls fn with every entry, in layer order
// (want sorted ascending) and tar order within a layer, from one goroutine — what a
// replay of the layers (analyze.Filesystem) needs. Layers are read and decompressed in
// parallel; the entries of a layer read ahead of its turn wait in memory (entries, never
// contents), so memory follows the number of paths.
func (img *Image) StreamEntries(ctx context.Context, want []int, opts EntryOptions, fn func(layer int, f analyze.File) error) error {
	want = append([]int(nil), want...)
	sort.Ints(want)
	for _, i := range want {
		if i < 0 || i >= len(img.Layers) {
			return fmt.Errorf("%s: no layer %d", img.Ref, i)
		}
	}
	if len(want) == 0 {
		return nil
	}
	opener, ok := img.reader.(layerOpener)
	if !ok {
		return img.streamInOrder(ctx, want, opts, fn)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		batches chan []analyze.File
		err     error // set before batches closes
	}
	results := make([]*result, len(want))
	for k := range results {
		results[k] = &result{batches: make(chan []analyze.File, 1<<12)}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sem := make(chan struct{}, workers)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Layers start in order, so the one fn waits for is always running.
		for k, i := range want {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, r := range results[k:] {
					r.err = ctx.Err()
					close(r.batches)
				}
				return
			}
			wg.Add(1)
			go func(r *result, i int) {
				// The slot is freed when fn is done with the layer, not when it is
				// read: layers read ahead wait in memory, so at most `workers` do.
				defer wg.Done()
				r.err = readEntries(ctx, opener, i, opts.Digests, r.batches)
				if r.err != nil {
					r.err = fmt.Errorf("reading layer %d of %s: %w", i, img.Ref, r.err)
				}
				close(r.batches)
			}(results[k], i)
		}
	}()
	for k, i := range want {
		r := results[k]
		for batch := range r.batches {
			for _, f := range batch {
				if err := fn(i, f); err != nil {
					return err
				}
			}
		}
		if r.err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			return r.err
		}
		<-sem
	}
	return nil
}

// readEntries scans one layer into batches of entries.
func readEntries(ctx context.Context, opener layerOpener, i int, digests bool, out chan<- []analyze.File) error {
	r, closer, err := opener.openLayer(ctx, i)
	if err != nil {
		return err
	}
	defer closer()
	batch := make([]analyze.File, 0, entryBatch)
	send := func() error {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = make([]analyze.File, 0, entryBatch)
		return nil
	}
	_, err = analyze.ScanEntries(r, digests, func(f analyze.File) error {
		batch = append(batch, f)
		if len(batch) == entryBatch {
			return send()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(batch) > 0 {
		return send()
	}
	return nil
}

// streamInOrder serves sources that read layers only in their own order (an engine
// export): each layer's entries are kept until the layers below it are handed over.
func (img *Image) streamInOrder(ctx context.Context, want []int, _ EntryOptions, fn func(int, analyze.File) error) error {
	pending := map[int][]analyze.File{}
	next := 0
	return img.ScanLayers(ctx, want, true, func(i int, s LayerScan) error {
		pending[i] = s.Files
		for next < len(want) {
			files, ok := pending[want[next]]
			if !ok {
				return nil
			}
			delete(pending, want[next])
			for _, f := range files {
				if err := fn(want[next], f); err != nil {
					return err
				}
			}
			next++
		}
		return nil
	})
}

// openLayer opens layer i of a `docker save` archive: when it is stored uncompressed,
// a reader that seeks, so a scan without digests reads headers only.
func (r *archiveReader) openLayer(ctx context.Context, i int) (io.Reader, func() error, error) {
	l := r.layers[i]
	if l.compression == compressionNone {
		return &seekingReader{ctx: ctx, ra: r.a.f, base: l.entry.offset, size: l.entry.size}, func() error { return nil }, nil
	}
	rc, err := decompress(bufio.NewReaderSize(r.a.section(l.entry), 1<<20), l.compression)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: layer %d: %w", r.a.where, i, err)
	}
	return ctxReader{ctx, rc}, rc.Close, nil
}

// openLayer opens layer i of an OCI layout or registry image from its stored blob,
// decompressing it here (klauspost/compress) rather than through go-containerregistry.
func (r v1Reader) openLayer(ctx context.Context, i int) (io.Reader, func() error, error) {
	l, err := r.img.LayerByDigest(r.blobs[i].Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("layer %d (%s): %w", i, r.blobs[i].Digest, err)
	}
	blob, err := l.Compressed()
	if err != nil {
		return nil, nil, fmt.Errorf("layer %d (%s): %w", i, r.blobs[i].Digest, err)
	}
	if ra, ok := blob.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		var head [4]byte
		n, _ := ra.ReadAt(head[:], 0)
		if sniff(head[:n]) == compressionNone {
			size, err := ra.Seek(0, io.SeekEnd)
			if err != nil {
				blob.Close()
				return nil, nil, err
			}
			return &seekingReader{ctx: ctx, ra: ra, size: size}, blob.Close, nil
		}
		if _, err := ra.Seek(0, io.SeekStart); err != nil {
			blob.Close()
			return nil, nil, err
		}
	}
	br := bufio.NewReaderSize(blob, 1<<20)
	head, _ := br.Peek(4)
	rc, err := decompress(br, sniff(head))
	if err != nil {
		blob.Close()
		return nil, nil, fmt.Errorf("layer %d (%s): %w", i, r.blobs[i].Digest, err)
	}
	return ctxReader{ctx, rc}, func() error { rc.Close(); return blob.Close() }, nil
}

// seekingReader reads [base, base+size) of ra through a buffer and seeks without I/O,
// so archive/tar skips file contents it is not asked for (it seeks when it can), while
// a run of small entries still costs one read per buffer.
type seekingReader struct {
	ctx        context.Context
	ra         io.ReaderAt
	base, size int64
	pos        int64 // relative to base
	buf        []byte
	bufAt      int64 // position of buf[0], relative to base
}

const seekingBuffer = 256 << 10

func (s *seekingReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if s.pos >= s.size {
		return 0, io.EOF
	}
	if s.pos < s.bufAt || s.pos >= s.bufAt+int64(len(s.buf)) {
		if s.buf == nil {
			s.buf = make([]byte, seekingBuffer)
		}
		s.buf = s.buf[:cap(s.buf)]
		n := int64(len(s.buf))
		if rest := s.size - s.pos; rest < n {
			n = rest
		}
		m, err := s.ra.ReadAt(s.buf[:n], s.base+s.pos)
		s.buf, s.bufAt = s.buf[:m], s.pos
		if m == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos-s.bufAt:])
	s.pos += int64(n)
	return n, nil
}

func (s *seekingReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	s.pos = offset
	return offset, nil
}
