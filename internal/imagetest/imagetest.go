// Package imagetest builds test fixtures in code: layers from file maps and an
// in-memory registry that records the blobs it serves. Only tests import it.
package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// FileTime is the modification time of every file FileLayer writes.
var FileTime = time.Unix(1700000000, 0).UTC()

// FileLayer is a layer of regular files (path → content), in sorted order with fixed
// times, so the same files always make the same layer (same diffID).
func FileLayer(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: FileTime}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Registry is an in-memory registry on 127.0.0.1 that records the blob GETs it serves.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	mu   sync.Mutex
	gets []string
}

// NewRegistry starts a registry that stops when the test ends.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{}
	reg := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			r.mu.Lock()
			r.gets = append(r.gets, req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:])
			r.mu.Unlock()
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Push writes img to the registry as repo:tag over plain HTTP.
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// BlobGets returns the digests of the blobs served so far, in order.
func (r *Registry) BlobGets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.gets...)
}

// Reset forgets the blob GETs so far (pushing may check for blobs).
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gets = nil
}

// Count is how many of the GETs so far were for one of digests.
func (r *Registry) Count(digests ...v1.Hash) int {
	n := 0
	for _, g := range r.BlobGets() {
		for _, d := range digests {
			if g == d.String() {
				n++
			}
		}
	}
	return n
}

// TarHeader is one raw 512-byte tar header, for entries archive/tar does not write (GNU
// and PAX sparse files): name, typeflag, size, the GNU ("ustar  ") or POSIX magic, and
// extra to set other fields before the checksum is computed.
func TarHeader(name string, typeflag byte, size int64, gnu bool, extra func(b []byte)) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typeflag
	if gnu {
		copy(b[257:265], "ustar  \x00")
	} else {
		copy(b[257:265], "ustar\x0000")
	}
	if extra != nil {
		extra(b)
	}
	copy(b[148:156], "        ")
	var sum int
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// Pad512 pads b with zeros to a whole number of 512-byte blocks.
func Pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}
