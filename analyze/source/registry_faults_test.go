package source

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// faultyRegistry serves an in-memory registry holding app:v1 behind fault, which may
// answer a request itself (returning true) instead of the registry.
func faultyRegistry(t *testing.T, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	host, _ := testRegistry(t)
	push(t, host+"/app:v1", randomImage(t, 1))
	target := "http://" + host
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault(w, r) {
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

type openResult struct {
	err     error
	elapsed time.Duration
}

func openWithin(t *testing.T, ref string, opts Options, limit time.Duration) openResult {
	t.Helper()
	done := make(chan openResult, 1)
	go func() {
		start := time.Now()
		img, err := Open(context.Background(), ref, opts)
		if err == nil {
			err = img.MeasureSizes(context.Background())
			img.Close()
		}
		done <- openResult{err, time.Since(start)}
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(limit):
		t.Fatalf("%s: no answer after %s", ref, limit)
	}
	return openResult{}
}

// Issue 12, item 6: a registry that stops answering is an error naming what stalled,
// after the timeout, never a hang.
func TestRegistryStalls(t *testing.T) {
	opts := Options{Timeout: time.Second}
	t.Run("accepts and never answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		}()
		t.Cleanup(func() {
			ln.Close()
			for _, c := range conns {
				c.Close()
			}
		})
		r := openWithin(t, "docker://"+ln.Addr().String()+"/app:v1", opts, 20*time.Second)
		// ggcr tries TLS first on a loopback registry: the handshake is what stalls.
		if r.err == nil || !strings.Contains(r.err.Error(), "stopped answering: no progress for 1s on the TLS handshake with "+ln.Addr().String()) {
			t.Errorf("silent registry: %v", r.err)
		}
		t.Logf("%v (%s)", r.err, r.elapsed.Round(time.Millisecond))
	})
	for name, path := range map[string]string{"manifest": "/manifests/", "layer blob": "/blobs/sha256:"} {
		t.Run("trickles a "+name, func(t *testing.T) {
			var config atomic.Bool
			host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, path) {
					return false
				}
				// The config is a blob too: let the first one through.
				if path == "/blobs/sha256:" && !config.Swap(true) {
					return false
				}
				w.WriteHeader(http.StatusOK)
				for i := 0; i < 100; i++ {
					if _, err := w.Write([]byte("{")); err != nil {
						return true
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return true
					case <-time.After(100 * time.Millisecond):
					}
				}
				return true
			})
			r := openWithin(t, "docker://"+host+"/app:v1", opts, 20*time.Second)
			if r.err == nil || !strings.Contains(r.err.Error(), "no progress for 1s on the body of GET /v2/app/") {
				t.Errorf("trickling registry: %v", r.err)
			}
			t.Logf("%v (%s)", r.err, r.elapsed.Round(time.Millisecond))
		})
	}
}

func TestRegistryRateLimit(t *testing.T) {
	var n atomic.Int32
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") && n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	if r := openWithin(t, "docker://"+host+"/app:v1", Options{}, 20*time.Second); r.err != nil {
		t.Errorf("a short Retry-After is waited out: %v", r.err)
	}
	host = faultyRegistry(t, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	r := openWithin(t, "docker://"+host+"/app:v1", Options{}, 20*time.Second)
	if r.err == nil || !strings.Contains(r.err.Error(), "is rate limiting requests (429): try again in 1h0m0s") {
		t.Errorf("a long Retry-After: %v", r.err)
	}
	t.Logf("%v (%s)", r.err, r.elapsed.Round(time.Millisecond))
}

func TestRegistryManifestCap(t *testing.T) {
	host := faultyRegistry(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for i := 0; i < 40; i++ {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
		}
		return true
	})
	r := openWithin(t, "docker://"+host+"/app:v1", Options{}, 20*time.Second)
	if r.err == nil || !strings.Contains(r.err.Error(), "larger than the 16 MiB") {
		t.Errorf("a 40 MiB manifest: %v", r.err)
	}
	t.Logf("%v (%s)", r.err, r.elapsed.Round(time.Millisecond))
}
