package bench

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// op is one entry of a generated layer.
type op struct {
	kind byte // 'f' file, 'd' dir, 'w' whiteout, 'o' opaque marker, 'h' hardlink
	path string
	size int64
	link string
}

// genLayer is a generated layer: its history text and entries.
type genLayer struct {
	createdBy string
	ops       []op
}

// genImage writes layers as a classic `docker save` archive at archivePath and, if
// layoutDir is not empty, as an OCI layout with gzip layers. Contents are pseudo-random
// (seeded by layer and path) over 16 letters, so gzip halves them as it does real files.
// Nothing depends on the clock: the same layers always give the same bytes.
func genImage(tb testing.TB, layers []genLayer, archivePath, layoutDir string) {
	tb.Helper()
	tmpDir := tb.TempDir()
	af, err := os.Create(archivePath)
	if err != nil {
		tb.Fatal(err)
	}
	defer af.Close()
	abw := bufio.NewWriterSize(af, 1<<20)
	aw := tar.NewWriter(abw)
	type blob struct {
		digest string
		size   int64
	}
	var layerBlobs []blob
	var diffIDs, names []string
	var history []map[string]any
	if layoutDir != "" {
		must(tb, os.MkdirAll(filepath.Join(layoutDir, "blobs", "sha256"), 0o755))
	}
	for li, l := range layers {
		tmp := filepath.Join(tmpDir, "layer.tar")
		diffID, size := writeLayerTar(tb, li, l.ops, tmp)
		diffIDs = append(diffIDs, "sha256:"+diffID)
		history = append(history, map[string]any{"created": "2026-01-01T00:00:00Z", "created_by": l.createdBy, "comment": "buildkit.dockerfile.v0"})
		name := fmt.Sprintf("%s/layer.tar", diffID)
		names = append(names, name)
		copyInto(tb, aw, name, tmp, size)
		if layoutDir != "" {
			d, n := gzipBlob(tb, tmp, filepath.Join(layoutDir, "blobs", "sha256"))
			layerBlobs = append(layerBlobs, blob{d, n})
		}
		must(tb, os.Remove(tmp))
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config":  map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
	cfgSum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	writeBytes(tb, aw, cfgName, cfg)
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bench:latest"}, "Layers": names}})
	writeBytes(tb, aw, "manifest.json", manifest)
	must(tb, aw.Close())
	must(tb, abw.Flush())
	if layoutDir == "" {
		return
	}
	blobs := filepath.Join(layoutDir, "blobs", "sha256")
	cfgDigest := putBlob(tb, blobs, cfg)
	var ls []map[string]any
	for _, b := range layerBlobs {
		ls = append(ls, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + b.digest, "size": b.size})
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cfgDigest, "size": len(cfg)},
		"layers": ls,
	})
	mDigest := putBlob(tb, blobs, m)
	idx, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + mDigest, "size": len(m),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "bench"}}},
	})
	must(tb, os.WriteFile(filepath.Join(layoutDir, "index.json"), idx, 0o644))
	must(tb, os.WriteFile(filepath.Join(layoutDir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
}

var genTime = time.Unix(1767225600, 0).UTC()

// writeLayerTar writes one layer tar to path and returns its diffID (hex) and size.
func writeLayerTar(tb testing.TB, layer int, ops []op, path string) (string, int64) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	tw := tar.NewWriter(bw)
	buf := make([]byte, 1<<20)
	for _, o := range ops {
		hdr := &tar.Header{Name: o.path, Mode: 0o644, ModTime: genTime}
		switch o.kind {
		case 'f':
			hdr.Typeflag, hdr.Size = tar.TypeReg, o.size
		case 'd':
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		case 'w':
			dir, base := filepath.Split(o.path)
			hdr.Typeflag, hdr.Name = tar.TypeReg, dir+".wh."+base
		case 'o':
			hdr.Typeflag, hdr.Name = tar.TypeReg, o.path+"/.wh..wh..opq"
		case 'h':
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, o.link
		}
		must(tb, tw.WriteHeader(hdr))
		if o.kind == 'f' && o.size > 0 {
			fillContent(tb, tw, layer, o.path, o.size, buf)
		}
	}
	must(tb, tw.Close())
	must(tb, bw.Flush())
	return hex.EncodeToString(h.Sum(nil)), cw.n
}

// fillContent writes size pseudo-random bytes over 16 letters, seeded by layer and path.
func fillContent(tb testing.TB, w io.Writer, layer int, path string, size int64, buf []byte) {
	var seed [32]byte
	s := sha256.Sum256([]byte(fmt.Sprintf("%d %s", layer, path)))
	copy(seed[:], s[:])
	rng := rand.NewChaCha8(seed)
	for size > 0 {
		n := min(int64(len(buf)), size)
		b := buf[:n]
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], rng.Uint64()&0x0f0f0f0f0f0f0f0f|0x6060606060606060)
		}
		for i := len(b) &^ 7; i < len(b); i++ {
			b[i] = 'a'
		}
		if _, err := w.Write(b); err != nil {
			tb.Fatal(err)
		}
		size -= n
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func copyInto(tb testing.TB, tw *tar.Writer, name, path string, size int64) {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	must(tb, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644, ModTime: genTime}))
	if _, err := io.Copy(tw, f); err != nil {
		tb.Fatal(err)
	}
}

func writeBytes(tb testing.TB, tw *tar.Writer, name string, data []byte) {
	must(tb, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644, ModTime: genTime}))
	if _, err := tw.Write(data); err != nil {
		tb.Fatal(err)
	}
}

// gzipBlob compresses path into dir/<digest> and returns the digest (hex) and size.
func gzipBlob(tb testing.TB, path, dir string) (string, int64) {
	in, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	tmp := filepath.Join(dir, "tmp")
	out, err := os.Create(tmp)
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	zw, _ := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	if _, err := io.Copy(zw, bufio.NewReaderSize(in, 1<<20)); err != nil {
		tb.Fatal(err)
	}
	must(tb, zw.Close())
	must(tb, out.Close())
	d := hex.EncodeToString(h.Sum(nil))
	must(tb, os.Rename(tmp, filepath.Join(dir, d)))
	return d, cw.n
}

func putBlob(tb testing.TB, dir string, data []byte) string {
	var h hash.Hash = sha256.New()
	h.Write(data)
	d := hex.EncodeToString(h.Sum(nil))
	must(tb, os.WriteFile(filepath.Join(dir, d), data, 0o644))
	return d
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
