package source

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/docker-layers/docker-layers/analyze"
)

// layerOpener is for sources that can open any one layer's stored blob on its own, so
// several can be read at once.
type layerOpener interface {
	openBlob(ctx context.Context, i int) (b layerBlob, closer func() error, err error)
}

// EntryOptions tune StreamEntries.
type EntryOptions struct {
	// Digests asks for regular files' content digests. Without them contents are not
	// hashed file by file, but still read: every byte is checked against the layer's
	// digests (see scanBlob).
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
				r.err = img.readEntries(ctx, opener, i, opts.Digests, r.batches)
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
func (img *Image) readEntries(ctx context.Context, opener layerOpener, i int, digests bool, out chan<- []analyze.File) error {
	blob, closer, err := opener.openBlob(ctx, i)
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
	_, err = img.streamBlob(ctx, i, blob, !digests, func(f analyze.File) error {
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
func (img *Image) streamInOrder(ctx context.Context, want []int, opts EntryOptions, fn func(int, analyze.File) error) error {
	pending := map[int][]analyze.File{}
	next := 0
	scan := img.ScanLayers
	if d, ok := daemonOf(img); ok {
		scan = func(ctx context.Context, want []int, files bool, fn func(int, LayerScan) error) error {
			return d.scan(ctx, want, files, opts.Digests, fn)
		}
	}
	return scan(ctx, want, true, func(i int, s LayerScan) error {
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

// openBlob opens layer i of a `docker save` archive as stored.
func (r *archiveReader) openBlob(_ context.Context, i int) (layerBlob, func() error, error) {
	l := r.layers[i]
	return layerBlob{r: r.a.section(l.entry), digest: l.digest, size: l.entry.size, estargz: l.estargz}, func() error { return nil }, nil
}

// openBlob opens layer i of an OCI layout or registry image as stored.
func (r v1Reader) openBlob(_ context.Context, i int) (layerBlob, func() error, error) {
	d := r.blobs[i]
	l, err := r.img.LayerByDigest(d.Digest)
	if err != nil {
		return layerBlob{}, nil, fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return layerBlob{}, nil, fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
	}
	return layerBlob{r: rc, digest: d.Digest, size: d.Size, estargz: d.Annotations[annotationEstargzTOC] != ""}, rc.Close, nil
}

// openBlob opens layer i of an OCI layout (a directory or a tar) as stored.
func (r layoutReader) openBlob(_ context.Context, i int) (layerBlob, func() error, error) {
	d := r.blobs[i]
	name, err := blobName(d.Digest)
	if err != nil {
		return layerBlob{}, nil, fmt.Errorf("%s: layer %d: %w", r.l.where, i, err)
	}
	sr, done, err := r.l.files.open(name)
	if err != nil {
		return layerBlob{}, nil, fmt.Errorf("%s: layer %d: %w", r.l.where, i, err)
	}
	estargz := d.Annotations[annotationEstargzTOC] != "" || estargzAt(sr)
	return layerBlob{r: sr, digest: d.Digest, size: d.Size, estargz: estargz}, done, nil
}

// openBlob forwards to the registry reader (progress is reported for sequential reads).
func (p progressReader) openBlob(ctx context.Context, i int) (layerBlob, func() error, error) {
	o, ok := p.inner.(layerOpener)
	if !ok {
		return layerBlob{}, nil, fmt.Errorf("layer %d: this source cannot open one layer on its own", i)
	}
	return o.openBlob(ctx, i)
}
