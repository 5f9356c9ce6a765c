package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func FuzzInstruction(f *testing.F) {
	for _, s := range []string{
		`/bin/sh -c #(nop) COPY file:4c3f0a9d2b1e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a in /app `,
		`|2 A=1 B=2 /bin/sh -c npm ci`,
		`RUN |1 A=b /bin/sh -c npm ci # buildkit`,
		`EXPOSE map[3000/tcp:{} 53/udp:{}]`,
		`EXPOSE [3000/tcp 53/udp]`,
		"RUN /bin/sh -c a\n\tb # buildkit",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Instruction(s)
		if strings.ContainsAny(got, "\n\t") {
			t.Errorf("Instruction(%q) = %q keeps line breaks or tabs", s, got)
		}
	})
}

func FuzzScanLayer(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
	f.Add(paxSparse("hello"))
	f.Add(gnuSparse("hello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sum int64
		size, err := ScanLayer(context.Background(), bytes.NewReader(data), ScanOptions{}, func(file File) error {
			if file.Size < 0 || !strings.HasPrefix(file.Path, "/") {
				t.Errorf("bad entry %+v", file)
			}
			sum += file.Size
			return nil
		})
		if err == nil && size != sum {
			t.Errorf("size %d, entries add to %d", size, sum)
		}
	})
}

// FuzzHistory feeds an arbitrary image config (as a source would decode it) and layer
// count to the history↔layer mapping and to inspect: an error is fine, a panic is not.
func FuzzHistory(f *testing.F) {
	f.Add([]byte(`{"history":[{"created_by":"ADD x /"},{"created_by":"ENV A=1","empty_layer":true},{"created_by":"RUN make # buildkit"}],"rootfs":{"diff_ids":[]}}`), 2)
	f.Add([]byte(`{"history":[{"empty_layer":true},{"empty_layer":true}]}`), 1)
	f.Add([]byte(`{}`), 0)
	f.Fuzz(func(t *testing.T, raw []byte, layers int) {
		if layers < 0 || layers > 1000 {
			return
		}
		var cfg v1.ConfigFile
		if json.Unmarshal(raw, &cfg) != nil {
			return
		}
		steps, _, _ := Steps(&cfg, layers)
		for _, s := range steps {
			_ = Instruction(s.CreatedBy)
		}
		img := Image{Config: &cfg}
		for i := 0; i < layers; i++ {
			img.Layers = append(img.Layers, Layer{Size: Unknown, CompressedSize: Unknown})
		}
		_ = Inspect(img)
	})
}
