package source

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// bigArchive writes a classic `docker save` archive of layers×layerMB MB of files,
// without holding any layer in memory: each layer is streamed into the archive while
// its diffID is computed.
func bigArchive(b *testing.B, layers, layerMB int) string {
	b.Helper()
	dir := b.TempDir()
	path := filepath.Join(dir, "big.tar")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	cfg := v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
	var desc tarball.Descriptor
	for l := 0; l < layers; l++ {
		// The layer tar: layerMB files of 1 MB each.
		pr, pw := io.Pipe()
		go func() {
			ltw := tar.NewWriter(pw)
			for n := 0; n < layerMB; n++ {
				ltw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/%d/%d", l, n), Typeflag: tar.TypeReg, Size: int64(len(chunk)), Mode: 0o644})
				ltw.Write(chunk)
			}
			pw.CloseWithError(ltw.Close())
		}()
		tmp := filepath.Join(dir, "layer.tmp")
		lf, _ := os.Create(tmp)
		diffID, size, err := v1.SHA256(io.TeeReader(pr, lf))
		lf.Close()
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%s/layer.tar", diffID.Hex[:16])
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644})
		lf, _ = os.Open(tmp)
		io.Copy(tw, lf)
		lf.Close()
		os.Remove(tmp)
		desc.Layers = append(desc.Layers, name)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		cfg.History = append(cfg.History, v1.History{CreatedBy: fmt.Sprintf("RUN make layer %d # buildkit", l)})
	}
	rawCfg, _ := json.Marshal(cfg)
	desc.Config = "config.json"
	desc.RepoTags = []string{"big:latest"}
	m, _ := json.Marshal(tarball.Manifest{desc})
	for name, data := range map[string][]byte{"config.json": rawCfg, "manifest.json": m} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644})
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkArchiveInspect measures opening a 1 GiB docker save archive and measuring
// every layer (what `inspect docker-archive:…` does), and the heap it needs.
func BenchmarkArchiveInspect(b *testing.B) {
	const layers, layerMB = 4, 256
	path := bigArchive(b, layers, layerMB)
	benchmarkInspect(b, "docker-archive:"+path, layers*layerMB<<20)
}

// benchmarkInspect opens ref and measures every layer b.N times, reporting throughput
// over total bytes and the peak heap seen while layers stream.
func benchmarkInspect(b *testing.B, ref string, total int64) {
	ctx := context.Background()
	b.SetBytes(total)
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		img, err := Open(ctx, ref, Options{})
		if err != nil {
			b.Fatal(err)
		}
		all := make([]int, len(img.Layers))
		for i := range all {
			all[i] = i
		}
		if err := img.ScanLayers(ctx, all, false, func(int, LayerScan) error {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		img.Close()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkLayoutInspect measures inspect of an OCI layout whose 512 MiB of layers are
// gzip-compressed blobs: decompression is the cost here.
func BenchmarkLayoutInspect(b *testing.B) {
	const layers, layerMB = 2, 256
	dir := b.TempDir()
	img := empty.Image
	for l := 0; l < layers; l++ {
		l := l
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			pr, pw := io.Pipe()
			go func() {
				tw := tar.NewWriter(pw)
				chunk := make([]byte, 1<<20)
				for n := 0; n < layerMB; n++ {
					for i := range chunk {
						chunk[i] = byte((i * (n + l + 3)) >> 3)
					}
					tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/%d/%d", l, n), Typeflag: tar.TypeReg, Size: int64(len(chunk)), Mode: 0o644})
					tw.Write(chunk)
				}
				pw.CloseWithError(tw.Close())
			}()
			return pr, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "RUN make # buildkit"}}); err != nil {
			b.Fatal(err)
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "big"})); err != nil {
		b.Fatal(err)
	}
	benchmarkInspect(b, "oci:"+dir+":big", layers*layerMB<<20)
}
