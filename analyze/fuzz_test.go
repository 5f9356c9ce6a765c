package analyze

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func FuzzInstruction(f *testing.F) {
	for _, s := range []string{
		`/bin/sh -c #(nop) COPY file:4c3f0a9d2b1e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a in /app `,
		`|2 A=1 B=2 /bin/sh -c npm ci`,
		`RUN |1 A=b /bin/sh -c npm ci # buildkit`,
		`EXPOSE map[3000/tcp:{} 53/udp:{}]`,
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
