package source

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// An export (`docker save` stream) comes in one of two layouts: the classic one
// (<v1id>/layer.tar in name order, <config>.json, manifest.json) or the OCI one that
// Docker 25+ and the containerd image store write (blobs/sha256/…, layers possibly
// compressed, index.json and manifest.json last). Neither says which layer an entry is
// before it has been read, so both are read the same way: hash each layer-like entry's
// uncompressed bytes and match the result against the wanted diffIDs.

// maxMetadataTotal bounds all the JSON kept while looking for the config (each file is
// bounded by maxMetadataFile).
const maxMetadataTotal = 64 << 20

// exportedImage is what findConfig keeps of an export: the raw image config and, when
// the export holds one (OCI layout), the raw image manifest that names it.
type exportedImage struct {
	config   []byte
	manifest []byte
}

// findConfig reads an export until it holds the config of the image whose engine ID is
// id: the config digest (classic image store) or a manifest or index digest (containerd
// image store, where platform picks from an index; nil means the default). Layer bytes
// are skipped, and reading stops as soon as the config is found.
func findConfig(ctx context.Context, r io.Reader, id string, platform *v1.Platform) (exportedImage, error) {
	want := strings.TrimPrefix(id, "sha256:")
	blobs := map[string][]byte{}
	var kept int64
	tr := tar.NewReader(bufio.NewReaderSize(ctxReader{ctx, r}, 1<<20))
	br := bufio.NewReaderSize(nil, 512)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return exportedImage{}, fmt.Errorf("reading the export: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxMetadataFile || kept+hdr.Size > maxMetadataTotal {
			continue
		}
		name := cleanArchivePath(hdr.Name)
		var key string
		switch {
		case strings.HasPrefix(name, "blobs/sha256/"):
			key = path.Base(name)
		case !strings.Contains(name, "/") && strings.HasSuffix(name, ".json"):
			key = strings.TrimSuffix(name, ".json")
		default:
			continue
		}
		br.Reset(tr)
		if head, _ := br.Peek(1); len(head) == 0 || (head[0] != '{' && head[0] != '[') {
			continue
		}
		raw, err := io.ReadAll(br)
		if err != nil {
			return exportedImage{}, fmt.Errorf("reading %s from the export: %w", name, err)
		}
		// A document named by its digest must be that content.
		if named, ok := digestInName(name); ok {
			if err := checkDigest(raw, named, "the export's "+name); err != nil {
				return exportedImage{}, err
			}
		}
		blobs[key] = raw
		kept += int64(len(raw))
		if img, ok := resolveConfig(blobs, want, platform, 0); ok {
			return img, nil
		}
	}
	// An ID the export does not name: Docker 29 asked for one platform leaves the image
	// index out and lists that platform's manifests in index.json; an engine may also
	// re-encode what it stores. Then index.json decides, else manifest.json's only image.
	if img, ok := resolveConfig(blobs, "index", platform, 0); ok {
		return img, nil
	}
	if m, ok := blobs["manifest"]; ok {
		var entries []struct{ Config string }
		if err := json.Unmarshal(m, &entries); err == nil && len(entries) == 1 {
			key := path.Base(cleanArchivePath(entries[0].Config))
			key = strings.TrimSuffix(key, ".json")
			if img, ok := resolveConfig(blobs, key, platform, 0); ok {
				return img, nil
			}
		}
	}
	return exportedImage{}, fmt.Errorf("the export holds no config for image %s", id)
}

// resolveConfig follows an index or manifest held in blobs down to an image config.
// Attestation manifests are never followed (see pickPlatform).
func resolveConfig(blobs map[string][]byte, digestHex string, platform *v1.Platform, depth int) (exportedImage, bool) {
	raw, ok := blobs[digestHex]
	if !ok || depth > 4 {
		return exportedImage{}, false
	}
	var probe struct {
		RootFS    *json.RawMessage `json:"rootfs"`
		Config    *v1.Descriptor   `json:"config"`
		Manifests []v1.Descriptor  `json:"manifests"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return exportedImage{}, false
	}
	switch {
	case probe.RootFS != nil:
		return exportedImage{config: raw}, true
	case probe.Config != nil:
		img, ok := resolveConfig(blobs, probe.Config.Digest.Hex, platform, depth+1)
		if ok && img.manifest == nil {
			img.manifest = raw
		}
		return img, ok
	case len(probe.Manifests) > 0:
		d, err := pickPlatform(&v1.IndexManifest{Manifests: probe.Manifests}, platform, "")
		if err != nil {
			return exportedImage{}, false
		}
		return resolveConfig(blobs, d.Digest.Hex, platform, depth+1)
	}
	return exportedImage{}, false
}

// scanLayers streams the image's export once and scans the wanted layers as they pass.
func (d *daemonImage) scanLayers(ctx context.Context, want []int, files bool, fn func(int, LayerScan) error) error {
	return d.scan(ctx, want, files, true, fn)
}

// scan is scanLayers; with digests false, entries come without content digests (files
// are not hashed one by one; the layers' digests are still checked).
func (d *daemonImage) scan(ctx context.Context, want []int, files, digests bool, fn func(int, LayerScan) error) error {
	wanted := map[v1.Hash][]int{}
	for _, i := range want {
		wanted[d.diffIDs[i]] = append(wanted[d.diffIDs[i]], i)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The clock starts with the request: an engine that stages the whole export before
	// sending its first byte (dockerd 20.10 does) spends most of the time right here.
	counter := &countingReader{}
	stop := startProgress(d.progress, d.where, "exporting from the Docker engine", counter.n.Load)
	defer stop()
	rc, err := d.save(ctx)
	if err != nil {
		return daemonError(d.client, d.where, err)
	}
	defer rc.Close()
	counter.r = rc

	err = scanExport(ctx, counter, wanted, exportLayers(d), files, digests, fn)
	if err != nil {
		if e := ctxErr(err); e != nil {
			return e
		}
		return fmt.Errorf("%s: reading the engine's export: %w", d.where, err)
	}
	return nil
}

// scanExport scans layer-like entries of an export until every wanted diffID is found.
// A layer that known recognises as unwanted passes unread. Entries
// are collected when files is set, with content digests when digests is.
func scanExport(ctx context.Context, r io.Reader, wanted map[v1.Hash][]int, known *knownLayers, files, digests bool, fn func(int, LayerScan) error) error {
	tr := tar.NewReader(bufio.NewReaderSize(ctxReader{ctx, r}, 1<<20))
	br := bufio.NewReaderSize(nil, 1<<20)
	for len(wanted) > 0 {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			continue
		}
		name := cleanArchivePath(hdr.Name)
		if known != nil {
			if dir, ok := legacyMetadata(name); ok && hdr.Size <= maxMetadataFile {
				raw, err := io.ReadAll(tr)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				known.observe(dir, raw)
				continue
			}
			if d, ok := known.layerOf(name); ok {
				if _, ok := wanted[d]; !ok {
					continue
				}
			}
		}
		br.Reset(tr)
		head, _ := br.Peek(512)
		comp := sniff(head)
		if comp == compressionNone {
			// Even an empty layer tar holds its 1024-byte end marker; a compressed blob
			// (the containerd image store exports those) can be a few dozen bytes.
			if hdr.Size < 1024 || !looksLikeTar(head) {
				continue
			}
			// An uncompressed OCI blob is named by its digest, which is its diffID:
			// no need to hash one that is not wanted.
			if strings.HasPrefix(name, "blobs/sha256/") {
				if h, err := v1.NewHash("sha256:" + path.Base(name)); err == nil {
					if _, ok := wanted[h]; !ok {
						continue
					}
				}
			}
		}
		diffID, s, err := hashAndScan(ctx, br, comp, files, digests)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		idxs, ok := wanted[diffID]
		if !ok {
			continue
		}
		delete(wanted, diffID)
		for _, i := range idxs {
			if err := fn(i, s); err != nil {
				return err
			}
		}
	}
	if len(wanted) > 0 {
		var missing []string
		for h := range wanted {
			missing = append(missing, h.String())
		}
		return fmt.Errorf("the export lacks layer(s) %s", strings.Join(missing, ", "))
	}
	return nil
}

// hashAndScan scans one layer blob and returns the digest of its uncompressed bytes.
func hashAndScan(ctx context.Context, r io.Reader, comp compression, files, digests bool) (v1.Hash, LayerScan, error) {
	rc, err := decompress(r, comp)
	if err != nil {
		return v1.Hash{}, LayerScan{}, err
	}
	defer rc.Close()
	h := sha256.New()
	// Every byte goes through h: the tar reader reads past what it skips.
	tee := io.TeeReader(rc, h)
	var s LayerScan
	collect := s.collector(files)
	s.Size, err = analyze.ScanLayer(ctx, tee, analyze.ScanOptions{SkipDigests: !digests}, collect)
	if err != nil {
		return v1.Hash{}, LayerScan{}, err
	}
	// The tar may carry padding after its end marker: it is part of the diffID.
	if _, err := io.Copy(io.Discard, ctxReader{ctx, tee}); err != nil {
		return v1.Hash{}, LayerScan{}, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, s, nil
}

// looksLikeTar is true for a ustar/GNU header or an all-zero block (an empty tar).
func looksLikeTar(head []byte) bool {
	if len(head) >= 262 && string(head[257:262]) == "ustar" {
		return true
	}
	for _, b := range head {
		if b != 0 {
			return false
		}
	}
	return len(head) > 0
}

// ctxErr returns the context error err carries, if any.
func ctxErr(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressDelay is how long a stream runs before progress is shown at all: a quick
// read stays silent.
const progressDelay = time.Second

// startProgress reports read() to report a few times a second once progressDelay has
// passed, and once more, with Done set, when the returned stop is called.
func startProgress(report func(Progress), ref, what string, read func() int64) (stop func()) {
	if report == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var shown atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-time.After(progressDelay):
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			shown.Store(true)
			report(Progress{Ref: ref, What: what, Bytes: read()})
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if shown.Load() {
			report(Progress{Ref: ref, What: what, Bytes: read(), Done: true})
		}
	}
}
