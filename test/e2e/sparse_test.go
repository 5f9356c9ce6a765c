//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// sparseLayer is a layer tar holding /big, logical size logical, whose only data is
// tail at its end, written as a PAX (GNU 1.0) or an old GNU ('S') sparse entry, plus
// /small, a regular 2-byte file.
func sparseLayer(logical int64, tail string, gnu bool) []byte {
	var out []byte
	if gnu {
		out = append(out, imagetest.TarHeader("big", 'S', int64(len(tail)), true, func(b []byte) {
			copy(b[386:398], fmt.Sprintf("%011o\x00", logical-int64(len(tail))))
			copy(b[398:410], fmt.Sprintf("%011o\x00", len(tail)))
			copy(b[483:495], fmt.Sprintf("%011o\x00", logical))
		})...)
		out = append(out, imagetest.Pad512([]byte(tail))...)
	} else {
		rec := func(k, v string) string {
			s := " " + k + "=" + v + "\n"
			n := len(s) + 1
			for len(fmt.Sprint(n))+len(s) != n {
				n++
			}
			return fmt.Sprint(n) + s
		}
		records := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", "big") + rec("GNU.sparse.realsize", fmt.Sprint(logical))
		out = append(out, imagetest.TarHeader("PaxHeaders/big", 'x', int64(len(records)), false, nil)...)
		out = append(out, imagetest.Pad512([]byte(records))...)
		m := imagetest.Pad512([]byte(fmt.Sprintf("1\n%d\n%d\n", logical-int64(len(tail)), len(tail))))
		out = append(out, imagetest.TarHeader("GNUSparseFile.0/big", '0', int64(len(m)+len(tail)), false, nil)...)
		out = append(out, m...)
		out = append(out, imagetest.Pad512([]byte(tail))...)
	}
	out = append(out, imagetest.TarHeader("small", '0', 2, gnu, nil)...)
	out = append(out, imagetest.Pad512([]byte("ok"))...)
	return append(out, make([]byte, 1024)...)
}

// writeClassicSave writes a one-layer docker save archive (classic layout) tagged tag.
func writeClassicSave(t *testing.T, layer []byte, tag string) string {
	t.Helper()
	sum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]string{{"created_by": "sparse file"}},
	})
	cfgSum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": []string{"l/layer.tar"}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"l/layer.tar", layer}, {cfgName, cfg}, {"manifest.json", manifest}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	tw.Close()
	path := filepath.Join(t.TempDir(), "sparse.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The engine's figure for a sparse file (issue 12, item 1): `docker load` an archive
// whose layer holds a 64 MiB sparse file and compare `docker history` with ours.
func TestSparseFileSizeAgreesWithEngine(t *testing.T) {
	const logical = 64 << 20
	for name, gnu := range map[string]bool{"pax": false, "gnu": true} {
		t.Run(name, func(t *testing.T) {
			tag := "e2e/sparse:" + name
			archive := writeClassicSave(t, sparseLayer(logical, "tail", gnu), tag)
			ours := inspectJSON(t, "docker-archive:"+archive)
			t.Logf("ours: %d bytes uncompressed", ours.Size)
			if ours.Size != logical+2 {
				t.Errorf("our size %d, want the logical size %d", ours.Size, logical+2)
			}
			out, errOut, err := dockerEnv(t, nil, "load", "-i", archive)
			if err != nil {
				// The engine may not unpack every sparse kind: say what it answered.
				t.Logf("docker load refused the %s sparse layer: %s%s", name, strings.TrimSpace(out), strings.TrimSpace(errOut))
				return
			}
			hist := engineHistory(t, tag)
			t.Logf("engine: docker history says %d bytes", hist[len(hist)-1].size)
			want := ours.Size
			if containerdStore() {
				// Snapshot disk use (see store_test.go): the containerd store's applier
				// writes the file out whole, in 4 KiB blocks, plus the snapshot's root
				// directory; a GNU sparse entry it leaves unpacked, and says 0.
				want = (ours.Size+fsBlock-1)/fsBlock*fsBlock + fsBlock
				if gnu {
					want = 0
				}
			}
			if hist[len(hist)-1].size != want {
				t.Errorf("docker history %d bytes, want %d (ours %d)", hist[len(hist)-1].size, want, ours.Size)
			}
			docker(t, "rmi", tag)
		})
	}
}
