// Package buildcontext reads a build context directory as the builder would send it:
// the entries the Dockerfile's COPY and ADD sources select, minus what .dockerignore
// excludes (with the engine's own pattern matcher), each regular file's content
// hashed. Reading is the cost of a prediction, so only selected files are read, in
// parallel, and cheap modes read only the paths said to have changed.
package buildcontext

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/docker-layers/docker-layers/analyze"
)

// Options change how a context is read.
type Options struct {
	// IgnoreFile is the ignore file to honour; "" for DIR/.dockerignore. The caller
	// picks <Dockerfile>.dockerignore first when it exists, as BuildKit does.
	IgnoreFile string
	// Workers hash files in parallel; 0 for a default from the CPU count.
	Workers int
}

// maxIgnoreFile caps the .dockerignore read.
const maxIgnoreFile = 1 << 20

// Reader reads one context directory.
type Reader struct {
	dir     string
	matcher *patternmatcher.PatternMatcher // nil: nothing ignored
	workers int
}

// New opens a context directory and its ignore file.
func New(dir string, opts Options) (*Reader, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", dir)
	}
	r := &Reader{dir: dir, workers: opts.Workers}
	if r.workers <= 0 {
		r.workers = 4 * runtime.GOMAXPROCS(0)
	}
	ignore := opts.IgnoreFile
	if ignore == "" {
		ignore = filepath.Join(dir, ".dockerignore")
	}
	f, err := os.Open(ignore)
	switch {
	case errors.Is(err, fs.ErrNotExist) && opts.IgnoreFile == "":
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("reading ignore file: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(io.LimitReader(f, maxIgnoreFile))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ignore, err)
	}
	if len(patterns) > 0 {
		if r.matcher, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("%s: %w", ignore, err)
		}
	}
	return r, nil
}

// Ignored reports whether .dockerignore keeps a context path (slash-separated,
// relative) out of the context.
func (r *Reader) Ignored(rel string) bool {
	if r.matcher == nil {
		return false
	}
	ok, _ := r.matcher.MatchesOrParentMatches(filepath.FromSlash(rel))
	return ok
}

// Read reads every entry the sources select (COPY and ADD sources, relative to the
// context; patterns allowed), hashing regular files in parallel while the walk goes on.
func (r *Reader) Read(ctx context.Context, sources []string) (*analyze.Context, error) {
	sel := newSelection(sources)
	h := r.startHashing(ctx)
	var entries []analyze.ContextFile
	add := func(e analyze.ContextFile) {
		if e.Kind == analyze.KindFile {
			h.submit(len(entries), e.Path)
		}
		entries = append(entries, e)
	}
	for _, root := range sel.roots() {
		if err := r.walk(ctx, root, sel, add); err != nil {
			h.wait()
			return nil, err
		}
	}
	if err := h.fill(entries); err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return &analyze.Context{Files: entries}, nil
}

// ReadChanged reads only the listed paths (relative to the context; directories are
// read whole); paths .dockerignore excludes are dropped, paths no longer there are
// kept as deleted.
func (r *Reader) ReadChanged(ctx context.Context, changed []string) (*analyze.Context, error) {
	out := &analyze.Context{Partial: true}
	var entries []analyze.ContextFile
	all := newSelection([]string{"."})
	for _, c := range changed {
		rel := cleanRel(c)
		if rel == "" || r.Ignored(rel) {
			continue
		}
		fi, err := os.Lstat(filepath.Join(r.dir, filepath.FromSlash(rel)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out.Changed = append(out.Changed, rel)
			continue
		case err != nil:
			return nil, fmt.Errorf("build context: %w", err)
		}
		if fi.IsDir() {
			var under []analyze.ContextFile
			if err := r.walk(ctx, rel, all, func(e analyze.ContextFile) { under = append(under, e) }); err != nil {
				return nil, err
			}
			for _, e := range under {
				if e.Kind != analyze.KindDir {
					out.Changed = append(out.Changed, e.Path)
				}
			}
			entries = append(entries, under...)
			continue
		}
		if e, ok := entryOf(rel, fi, r.dir); ok {
			entries = append(entries, e)
			out.Changed = append(out.Changed, rel)
		}
	}
	h := r.startHashing(ctx)
	for i, e := range entries {
		if e.Kind == analyze.KindFile {
			h.submit(i, e.Path)
		}
	}
	if err := h.fill(entries); err != nil {
		return nil, err
	}
	out.Files = entries
	return out, nil
}

// cleanRel is a context-relative path, slash-separated and clean; "" for the root or
// a path outside the context.
func cleanRel(p string) string {
	p = path.Clean(filepath.ToSlash(p))
	if p == "." || p == "/" || strings.HasPrefix(p, "../") || p == ".." {
		return ""
	}
	return strings.TrimPrefix(p, "/")
}

// selection is what a Dockerfile's sources select.
type selection struct {
	literal  []string // clean roots: "." or "src"
	patterns []string // clean patterns: "package*.json"
}

func newSelection(sources []string) selection {
	var s selection
	for _, src := range sources {
		c := path.Clean("/" + filepath.ToSlash(src))
		c = strings.TrimPrefix(c, "/")
		if c == "" {
			c = "."
		}
		if strings.ContainsAny(c, "*?[") {
			s.patterns = append(s.patterns, c)
		} else {
			s.literal = append(s.literal, c)
		}
	}
	return s
}

// roots are the directories (or files) to walk: each literal source, and the
// directory above each pattern's first wildcard, without those inside another.
func (s selection) roots() []string {
	var all []string
	all = append(all, s.literal...)
	for _, p := range s.patterns {
		dir := "."
		parts := strings.Split(p, "/")
		for i, part := range parts {
			if strings.ContainsAny(part, "*?[") {
				if i > 0 {
					dir = strings.Join(parts[:i], "/")
				}
				break
			}
		}
		all = append(all, dir)
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) < len(all[j]) })
	var out []string
	for _, r := range all {
		covered := false
		for _, o := range out {
			if o == "." || r == o || strings.HasPrefix(r, o+"/") {
				covered = true
			}
		}
		if !covered {
			out = append(out, r)
		}
	}
	return out
}

// selects reports whether a path is, or lies under, a selected source.
func (s selection) selects(rel string) bool {
	for _, l := range s.literal {
		if l == "." || rel == l || strings.HasPrefix(rel, l+"/") {
			return true
		}
	}
	for _, p := range s.patterns {
		for q := rel; q != "."; q = path.Dir(q) {
			if ok, _ := path.Match(p, q); ok {
				return true
			}
		}
	}
	return false
}

// within reports whether a directory may hold selected paths.
func (s selection) within(rel string) bool {
	if s.selects(rel) {
		return true
	}
	for _, l := range s.literal {
		if strings.HasPrefix(l, rel+"/") {
			return true
		}
	}
	for _, p := range s.patterns {
		if strings.HasPrefix(p, rel+"/") || len(strings.Split(p, "/")) > len(strings.Split(rel, "/")) {
			return true
		}
	}
	return false
}

func (r *Reader) walk(ctx context.Context, root string, sel selection, add func(analyze.ContextFile)) error {
	start := filepath.Join(r.dir, filepath.FromSlash(root))
	if _, err := os.Lstat(start); errors.Is(err, fs.ErrNotExist) {
		return nil // the builder reports a missing source; nothing to read here
	}
	exclusions := r.matcher != nil && r.matcher.Exclusions()
	if !exclusions && r.Ignored(root) {
		return nil
	}
	// Without exclusions ("!pattern") an ignored directory is skipped whole, so every
	// path reached has no ignored parent and only the path itself needs matching.
	ignored := r.Ignored
	if r.matcher != nil && !exclusions {
		ignored = func(rel string) bool {
			ok, _, _ := r.matcher.MatchesUsingParentResults(rel, patternmatcher.MatchInfo{})
			return ok
		}
	}
	prefix := filepath.Clean(r.dir) + string(filepath.Separator)
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, ok := strings.CutPrefix(p, prefix)
		if !ok {
			return nil // the context root itself
		}
		rel = filepath.ToSlash(rel)
		if ignored(rel) {
			if d.IsDir() && !exclusions {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() && !sel.within(rel) {
			return filepath.SkipDir
		}
		if !sel.selects(rel) {
			return nil
		}
		switch {
		case d.IsDir():
			// A copy makes its directories; the files under them tell their content.
			add(analyze.ContextFile{Path: rel, Kind: analyze.KindDir})
			return nil
		case d.Type().IsRegular():
			// The hashing workers stat the file they open: the walk only lists.
			add(analyze.ContextFile{Path: rel, Kind: analyze.KindFile})
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if e, ok := entryOf(rel, fi, r.dir); ok {
			add(e)
		}
		return nil
	})
}

// entryOf is a context entry without its digest; false for sockets, devices and the
// like, which the builders do not copy as files.
func entryOf(rel string, fi fs.FileInfo, dir string) (analyze.ContextFile, bool) {
	e := analyze.ContextFile{Path: rel, Mode: modeBits(fi.Mode())}
	switch {
	case fi.Mode().IsRegular():
		e.Kind, e.Size = analyze.KindFile, fi.Size()
	case fi.IsDir():
		e.Kind = analyze.KindDir
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Kind = analyze.KindSymlink
		link, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return e, false
		}
		e.Link = link
	default:
		return e, false
	}
	return e, true
}

// modeBits is a file mode as a tar header records it: permissions and the
// setuid, setgid and sticky bits.
func modeBits(m fs.FileMode) int64 {
	bits := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// hasher stats and hashes files on worker goroutines as they are submitted, so the
// walk only lists directories. Files go to the workers in batches, and each worker
// writes what it learns into the file's own slot: no lock and no map per file.
type hasher struct {
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	jobs   chan []hashJob
	batch  []hashJob
	slots  hashResults
	wg     sync.WaitGroup
	mu     sync.Mutex // guards err
	err    error
}

// hashBatch is how many files go to a worker at once; slotChunk how many results are
// allocated at once (chunks, so that a slot never moves while a worker writes it).
const (
	hashBatch = 32
	slotChunk = 1024
)

type hashJob struct {
	path string
	out  *hashed
}

// hashed is what a worker learnt of a regular file.
type hashed struct {
	size, mode int64
	digest     string
}

// hashResults are the workers' results by submission index.
type hashResults [][]hashed

func (r hashResults) at(i int) hashed { return r[i/slotChunk][i%slotChunk] }

func (r *Reader) startHashing(ctx context.Context) *hasher {
	h := &hasher{dir: r.dir, jobs: make(chan []hashJob, 2*r.workers)}
	h.ctx, h.cancel = context.WithCancel(ctx)
	for range r.workers {
		h.wg.Add(1)
		go h.work()
	}
	return h
}

func (h *hasher) work() {
	defer h.wg.Done()
	fh := newFileHasher(h.dir)
	defer fh.close()
	for batch := range h.jobs {
		for _, j := range batch {
			if h.ctx.Err() != nil {
				break
			}
			f, err := fh.hash(j.path)
			if err != nil {
				h.fail(err)
				break
			}
			*j.out = f
		}
	}
}

func (h *hasher) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
		h.cancel()
	}
}

// submit queues the file of entry index; after an error or cancellation it drops it.
func (h *hasher) submit(index int, path string) {
	for index/slotChunk >= len(h.slots) {
		h.slots = append(h.slots, make([]hashed, slotChunk))
	}
	h.batch = append(h.batch, hashJob{path, &h.slots[index/slotChunk][index%slotChunk]})
	if len(h.batch) == hashBatch {
		h.flush()
	}
}

func (h *hasher) flush() {
	if len(h.batch) == 0 {
		return
	}
	select {
	case h.jobs <- h.batch:
	case <-h.ctx.Done():
	}
	h.batch = make([]hashJob, 0, hashBatch)
}

// wait ends the queue and returns what was learnt of each submitted file, by index.
func (h *hasher) wait() (hashResults, error) {
	h.flush()
	close(h.jobs)
	h.wg.Wait()
	defer h.cancel()
	if h.err != nil {
		return nil, fmt.Errorf("build context: %w", h.err)
	}
	if err := h.ctx.Err(); err != nil {
		return nil, err
	}
	return h.slots, nil
}

// fill waits for the hashing of entries' files (submitted by their index in entries)
// and writes each one's size, mode and digest in place.
func (h *hasher) fill(entries []analyze.ContextFile) error {
	files, err := h.wait()
	if err != nil {
		return err
	}
	for i := range entries {
		if entries[i].Kind == analyze.KindFile {
			f := files.at(i)
			entries[i].Size, entries[i].Mode, entries[i].Digest = f.size, f.mode, f.digest
		}
	}
	return nil
}

// GitChanged lists the context's files that differ from a git revision: tracked files
// changed since rev (`git diff --name-only --relative rev`, deleted ones included) and
// untracked files that are not git-ignored, relative to dir.
func GitChanged(ctx context.Context, dir, rev string) ([]string, error) {
	if strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("--since %q: a revision, not an option", rev)
	}
	run := func(args ...string) ([]string, error) {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "-c", "core.quotepath=off"}, args...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			return nil, fmt.Errorf("git %s: %s", args[0], firstLine(msg))
		}
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				lines = append(lines, l)
			}
		}
		return lines, sc.Err()
	}
	changed, err := run("diff", "--name-only", "--relative", rev, "--")
	if err != nil {
		return nil, err
	}
	untracked, err := run("ls-files", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	return append(changed, untracked...), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
