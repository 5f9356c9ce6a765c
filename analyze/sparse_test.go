package analyze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// A terabyte of logical size in a few blocks: archive/tar writes no sparse files, so the
// tests write the blocks themselves.
const tera = int64(1) << 40

func base256(b []byte, n int64) {
	for i := len(b) - 1; i > 0; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	b[0] = 0x80
}

// paxSparse is a layer holding /big, a PAX (GNU 1.0) sparse file of logical size tera
// whose only data is tail, at its end.
func paxSparse(tail string) []byte {
	rec := func(k, v string) string {
		s := " " + k + "=" + v + "\n"
		n := len(s) + 1
		for len(fmt.Sprint(n))+len(s) != n {
			n++
		}
		return fmt.Sprint(n) + s
	}
	records := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", "big") + rec("GNU.sparse.realsize", fmt.Sprint(tera))
	var out []byte
	out = append(out, imagetest.TarHeader("PaxHeaders/big", 'x', int64(len(records)), false, nil)...)
	out = append(out, imagetest.Pad512([]byte(records))...)
	sparseMap := imagetest.Pad512([]byte(fmt.Sprintf("1\n%d\n%d\n", tera-int64(len(tail)), len(tail))))
	out = append(out, imagetest.TarHeader("GNUSparseFile.0/big", '0', int64(len(sparseMap)+len(tail)), false, nil)...)
	out = append(out, sparseMap...)
	out = append(out, imagetest.Pad512([]byte(tail))...)
	out = append(out, imagetest.TarHeader("after", '0', 2, false, nil)...)
	out = append(out, imagetest.Pad512([]byte("ok"))...)
	return append(out, make([]byte, 1024)...)
}

// gnuSparse is the same as an old-style GNU sparse entry (type 'S').
func gnuSparse(tail string) []byte {
	var out []byte
	out = append(out, imagetest.TarHeader("big", 'S', int64(len(tail)), true, func(b []byte) {
		base256(b[386:398], tera-int64(len(tail))) // first sparse entry: offset
		copy(b[398:410], fmt.Sprintf("%011o\x00", len(tail)))
		base256(b[483:495], tera) // real size
	})...)
	out = append(out, imagetest.Pad512([]byte(tail))...)
	out = append(out, imagetest.TarHeader("after", '0', 2, true, nil)...)
	out = append(out, imagetest.Pad512([]byte("ok"))...)
	return append(out, make([]byte, 1024)...)
}

func scanWithin(t *testing.T, ctx context.Context, layer []byte) (int64, []File, error) {
	t.Helper()
	type result struct {
		size  int64
		files []File
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.size, r.err = ScanLayer(ctx, bytes.NewReader(layer), ScanOptions{}, func(f File) error {
			r.files = append(r.files, f)
			return nil
		})
		done <- r
	}()
	select {
	case r := <-done:
		return r.size, r.files, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("scanning a sparse file reads its holes: no answer after 20s")
	}
	return 0, nil, nil
}

// Issue 12, item 1: a terabyte sparse file must be neither read hole by hole nor
// counted as 0 B; its size is its logical size, the size the engine writes out.
func TestScanLayerSparseFiles(t *testing.T) {
	for name, layer := range map[string]func(string) []byte{"pax": paxSparse, "gnu": gnuSparse} {
		t.Run(name, func(t *testing.T) {
			size, files, err := scanWithin(t, context.Background(), layer("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if size != tera+2 {
				t.Errorf("size %d, want %d", size, tera+2)
			}
			if len(files) != 2 || files[0].Path != "/big" || files[0].Kind != KindFile || files[0].Size != tera || files[1].Path != "/after" {
				t.Fatalf("files %+v", files)
			}
			if !strings.HasPrefix(files[0].Digest, "sha256:") || files[1].Digest != digestOf("ok") {
				t.Errorf("digests %q %q", files[0].Digest, files[1].Digest)
			}
			_, again, _ := scanWithin(t, context.Background(), layer("hello"))
			_, edited, _ := scanWithin(t, context.Background(), layer("hellp"))
			if again[0].Digest != files[0].Digest || edited[0].Digest == files[0].Digest {
				t.Errorf("sparse digests: same content %s / %s, edited %s", files[0].Digest, again[0].Digest, edited[0].Digest)
			}
		})
	}
}

func TestScanLayerStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := scanWithin(t, ctx, paxSparse("x"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
}
