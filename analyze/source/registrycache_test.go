package source

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func digestOf(t *testing.T, b []byte) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCacheVerifiesEntries(t *testing.T) {
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(`{"schemaVersion":2}`)
	d := digestOf(t, b)
	if err := c.Put(d, []byte("other bytes")); err == nil {
		t.Error("Put stored bytes under another digest")
	}
	if err := c.Put(d, b); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get(d, 1<<20); !ok || !bytes.Equal(got, b) {
		t.Fatalf("Get: %q %v", got, ok)
	}
	if _, ok := c.Get(d, 4); ok {
		t.Error("Get returned an entry over the limit")
	}
	// A torn or tampered entry is a miss, and is dropped.
	p, _ := c.path(d)
	if err := os.WriteFile(p, b[:5], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(d, 1<<20); ok {
		t.Error("Get returned a torn entry")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the torn entry is still there: %v", err)
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 2 || s.Written != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestCacheConcurrentRuns(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for run := range 4 {
		wg.Go(func() {
			c, err := OpenCache(dir, 0)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range 50 {
				b := []byte(fmt.Sprintf("entry %d", i))
				d := digestOf(t, b)
				if err := c.Put(d, b); err != nil {
					t.Errorf("run %d: %v", run, err)
				}
				if got, ok := c.Get(d, 1<<20); !ok || !bytes.Equal(got, b) {
					t.Errorf("run %d: entry %d: %q %v", run, i, got, ok)
				}
			}
		})
	}
	wg.Wait()
	left, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", ".tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestCachePrunesLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(dir, 250)
	if err != nil {
		t.Fatal(err)
	}
	var ds []v1.Hash
	for i := range 5 {
		b := bytes.Repeat([]byte{byte('a' + i)}, 100)
		d := digestOf(t, b)
		if err := c.Put(d, b); err != nil {
			t.Fatal(err)
		}
		p, _ := c.path(d)
		when := time.Now().Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(p, when, when)
		ds = append(ds, d)
	}
	// Using the oldest entry makes it the most recent.
	if _, ok := c.Get(ds[0], 1<<20); !ok {
		t.Fatal("entry 0 missing")
	}
	stale := filepath.Join(dir, "blobs", "sha256", ".tmp-crashed")
	os.WriteFile(stale, []byte("x"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)

	n, err := c.Prune()
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want 3 (500 bytes down to 250)", n, err)
	}
	for i, d := range ds {
		_, ok := c.Get(d, 1<<20)
		if want := i == 0 || i == 4; ok != want {
			t.Errorf("entry %d kept %v, want %v", i, ok, want)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a crashed run's temporary file was kept")
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, err := DefaultCacheDir(); err != nil || d != "/x/cache/docker-layers" {
		t.Errorf("got %q %v", d, err)
	}
}

// A walk's writer serves what it has queued, writes it all by Close, and a read
// records the use only when the last one is over useResolution old.
func TestCacheWriter(t *testing.T) {
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w := newCacheWriter(c, 1)
	var ds []v1.Hash
	for i := range 20 {
		b := []byte(fmt.Sprintf(`{"entry":%d}`, i))
		d := digestOf(t, b)
		w.Put(d, b)
		w.Put(d, b) // a digest two tags share is queued once
		if got, ok := w.Get(d, 1<<20); !ok || !bytes.Equal(got, b) {
			t.Fatalf("entry %d: %q %v right after Put", i, got, ok)
		}
		ds = append(ds, d)
	}
	w.Close()
	w.Close()
	if s := c.Stats(); s.Written != 20 {
		t.Errorf("%d entries written, want 20", s.Written)
	}
	p, _ := c.path(ds[0])
	recent := time.Now().Add(-useResolution / 2).Truncate(time.Second)
	os.Chtimes(p, recent, recent)
	if _, ok := c.Get(ds[0], 1<<20); !ok {
		t.Fatal("entry 0 missing after Close")
	}
	if info, err := os.Stat(p); err != nil || !info.ModTime().Equal(recent) {
		t.Errorf("a use %v ago was recorded again", useResolution/2)
	}
	var nilWriter *cacheWriter
	nilWriter.Put(ds[0], nil)
	if _, ok := nilWriter.Get(ds[0], 1<<20); ok {
		t.Error("a walk without a cache found an entry")
	}
	nilWriter.Close()
}
