package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultCacheSize is the default cap of the registry metadata cache.
const DefaultCacheSize int64 = 512 << 20

// Cache keeps registry manifests and configs on disk by digest. Both are immutable,
// so an entry never goes stale: a tag that moved points at another digest. Entries are
// checked against their digest on every read (a torn or tampered file is a miss), written
// to a temporary file and renamed into place (two runs sharing the directory never see
// half an entry), and evicted least recently used first when the cache outgrows its cap.
type Cache struct {
	dir     string
	max     int64
	hits    atomic.Int64
	misses  atomic.Int64
	written atomic.Int64
}

// DefaultCacheDir is $XDG_CACHE_HOME/docker-layers, else the user's cache directory
// (~/.cache/docker-layers on Linux).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "docker-layers"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w (set XDG_CACHE_HOME, or use --no-cache)", err)
	}
	return filepath.Join(d, "docker-layers"), nil
}

// OpenCache opens (creating it) the cache in dir, capped at maxBytes (DefaultCacheSize
// when 0 or less).
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheSize
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, fmt.Errorf("registry cache: %w", err)
	}
	return &Cache{dir: dir, max: maxBytes}, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// CacheStats count what a cache served.
type CacheStats struct {
	Hits, Misses, Written int64
}

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Written: c.written.Load()}
}

func (c *Cache) path(d v1.Hash) (string, bool) {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 {
		return "", false
	}
	return filepath.Join(c.dir, "blobs", d.Algorithm, d.Hex), true
}

// Get returns the entry for d if the cache holds it whole (its bytes hash to d) and it is
// at most limit bytes long.
func (c *Cache) Get(d v1.Hash, limit int64) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	p, ok := c.path(d)
	if !ok {
		return nil, false
	}
	b, used, err := readCacheFile(p, limit)
	if err != nil {
		c.misses.Add(1)
		return nil, false
	}
	if h, _, err := v1.SHA256(bytes.NewReader(b)); err != nil || h != d {
		// Torn or tampered: drop it so the next run refetches.
		_ = os.Remove(p)
		c.misses.Add(1)
		return nil, false
	}
	// The modification time records the last use, for eviction, to the minute:
	// setting it is a metadata write, which a warm walk would otherwise pay twice
	// per tag, and eviction needs no finer order than that.
	if now := time.Now(); now.Sub(used) > useResolution {
		_ = os.Chtimes(p, now, now)
	}
	c.hits.Add(1)
	return b, true
}

// useResolution is how precisely the cache records when an entry was last used.
const useResolution = time.Minute

// readCacheFile reads a cache file of at most limit bytes, and says when it was last
// used (its modification time).
func readCacheFile(p string, limit int64) ([]byte, time.Time, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	if info.Size() > limit {
		return nil, time.Time{}, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	// The file's size, plus one byte to see that it ends there: one allocation and
	// one read for the small entries a walk keeps.
	b := make([]byte, info.Size()+1)
	n, err := io.ReadFull(f, b)
	if int64(n) != info.Size() || (err != io.ErrUnexpectedEOF && err != io.EOF) {
		return nil, time.Time{}, fmt.Errorf("%s changed while it was read", p)
	}
	return b[:n], info.ModTime(), nil
}

// Put stores b under d, which must be its digest. Errors are not fatal to a walk: the
// cache is an optimisation.
func (c *Cache) Put(d v1.Hash, b []byte) error {
	if c == nil {
		return nil
	}
	p, ok := c.path(d)
	if !ok {
		return nil
	}
	if h, _, err := v1.SHA256(bytes.NewReader(b)); err != nil || h != d {
		return fmt.Errorf("registry cache: refusing an entry that does not match its digest %s", d)
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+d.Hex[:12]+"-*")
	if err != nil {
		return fmt.Errorf("registry cache: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("registry cache: %w", err)
	}
	// rename is atomic: a concurrent reader sees the old state or the whole entry, and
	// two runs writing the same digest write the same bytes.
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("registry cache: %w", err)
	}
	c.written.Add(1)
	return nil
}

// Prune evicts the least recently used entries until the cache holds at most its cap,
// and removes temporary files a crashed run left behind (older than an hour). It
// returns how many entries it removed.
func (c *Cache) Prune() (int, error) {
	if c == nil {
		return 0, nil
	}
	type entry struct {
		path string
		size int64
		used time.Time
	}
	dir := filepath.Join(c.dir, "blobs", "sha256")
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("registry cache: %w", err)
	}
	var entries []entry
	var total int64
	removed := 0
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			continue // removed meanwhile by another run
		}
		p := filepath.Join(dir, de.Name())
		if !info.Mode().IsRegular() {
			continue
		}
		if de.Name()[0] == '.' {
			if time.Since(info.ModTime()) > time.Hour {
				_ = os.Remove(p)
			}
			continue
		}
		entries = append(entries, entry{path: p, size: info.Size(), used: info.ModTime()})
		total += info.Size()
	}
	if total <= c.max {
		return 0, nil
	}
	sort.Slice(entries, func(a, b int) bool { return entries[a].used.Before(entries[b].used) })
	for _, e := range entries {
		if total <= c.max {
			break
		}
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("registry cache: %w", err)
		}
		total -= e.size
		removed++
	}
	return removed, nil
}

// cacheWriter stores a walk's new entries from one goroutine, off the path of its
// requests: writing an entry (a create and a rename in one directory, which parallel
// writers contend for) was most of a cold walk's own time, and nothing in the walk
// needs an entry on disk before the walk ends. Entries waiting to be written are
// served from memory, so a digest two tags share is fetched once all the same.
type cacheWriter struct {
	c     *Cache
	queue chan cacheEntry
	done  chan struct{}
	close sync.Once

	mu      sync.Mutex
	pending map[v1.Hash][]byte
}

type cacheEntry struct {
	d v1.Hash
	b []byte
}

// newCacheWriter starts the writer of c (nil for a nil cache). At most queued entries
// wait: beyond them Put waits, which bounds what the queue holds to what as many
// resolvers hold themselves.
func newCacheWriter(c *Cache, queued int) *cacheWriter {
	if c == nil {
		return nil
	}
	w := &cacheWriter{c: c, queue: make(chan cacheEntry, queued), done: make(chan struct{}), pending: map[v1.Hash][]byte{}}
	go func() {
		defer close(w.done)
		for e := range w.queue {
			_ = c.Put(e.d, e.b) // an optimisation: a failure costs a refetch next time
			w.mu.Lock()
			delete(w.pending, e.d)
			w.mu.Unlock()
		}
	}()
	return w
}

// Get is the cache's entry for d, from the queue if it is still waiting there.
func (w *cacheWriter) Get(d v1.Hash, limit int64) ([]byte, bool) {
	if w == nil {
		return nil, false
	}
	w.mu.Lock()
	b, ok := w.pending[d]
	w.mu.Unlock()
	if ok && int64(len(b)) <= limit {
		w.c.hits.Add(1)
		return b, true
	}
	return w.c.Get(d, limit)
}

// Put queues b, whose digest the caller has checked to be d.
func (w *cacheWriter) Put(d v1.Hash, b []byte) {
	if w == nil {
		return
	}
	w.mu.Lock()
	_, queued := w.pending[d]
	if !queued {
		w.pending[d] = b
	}
	w.mu.Unlock()
	if !queued {
		w.queue <- cacheEntry{d: d, b: b}
	}
}

// Close writes what is queued and stops the writer; Put must not follow it.
func (w *cacheWriter) Close() {
	if w == nil {
		return
	}
	w.close.Do(func() { close(w.queue) })
	<-w.done
}
