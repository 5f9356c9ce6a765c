package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/docker-layers/docker-layers/analyze"
)

// Limits on what a walk reads from a registry: metadata only, and never much of it.
const (
	manifestLimit = 4 << 20
	configLimit   = 8 << 20
	// DefaultWalkJobs is how many tags a walk resolves at once (and how many
	// repositories it lists at once) unless told otherwise.
	DefaultWalkJobs = 8
	// DefaultWalkTimeout bounds each HTTP request of a walk.
	DefaultWalkTimeout = 30 * time.Second
	walkPageSize       = 1000
)

// WalkOptions say which part of a registry WalkRegistry reads and how.
type WalkOptions struct {
	// Registry is HOST[:PORT][/NAMESPACE]: the registry, and optionally the repository
	// prefix to keep to. Loopback registries are spoken to over plain HTTP, as docker does.
	Registry string
	// Repo keeps the repositories whose name, with or without the namespace, matches
	// this path.Match pattern ("team/*"); empty keeps all. A pattern without wildcards
	// names one repository, and the catalog is not read at all.
	Repo string
	// Tags keeps the tags matching this path.Match pattern; empty keeps all.
	Tags string
	// Latest, when above 0, keeps only the Latest greatest tags of each repository (after
	// Tags) in version order: runs of digits compare as numbers, so v1.10 > v1.9.
	// Tag lists carry no dates, and reading every config to find them would defeat the
	// point of a cheap walk.
	Latest int
	// Platform picks one image of a multi-platform index; nil means the engine's platform
	// when Daemon answers, else linux/amd64, else the only one. Attestation manifests
	// are never picked.
	Platform *v1.Platform
	Daemon   func() (DaemonClient, error)
	// Jobs bounds the tags resolved at once (and the repositories listed at once);
	// DefaultWalkJobs when 0.
	Jobs int
	// Timeout bounds each HTTP request; DefaultWalkTimeout when 0.
	Timeout time.Duration
	// Cache, when set, holds manifests and configs by digest: a tag whose digest (one
	// HEAD request) is in the cache costs nothing more.
	Cache *Cache

	// Image receives each image as it is read; Skipped each repository or tag that could
	// not be read. Both are called from one goroutine at a time, in the order results
	// arrive (not the catalog's). An error from Image stops the walk.
	Image   func(WalkedImage) error
	Skipped func(WalkError)
	// Progress, when set, is told how the walk is going a few times a second.
	Progress func(WalkProgress)

	transport http.RoundTripper                                // tests: instead of the default
	wait      func(ctx context.Context, d time.Duration) error // tests: instead of sleeping
}

// WalkedImage is one tag, resolved to an image from its manifest and config alone.
type WalkedImage struct {
	// Image has Ref (HOST/REPO:TAG), ID, Config and the layers with their blob digests
	// and compressed sizes; uncompressed sizes are Unknown (they would need the blobs).
	analyze.Image
	Repo, Tag string
	// Digest is what the tag points at (an image manifest, or an index); Platform is
	// the platform picked from an index ("" for a single-platform tag).
	Digest   v1.Hash
	Platform string
	// Blobs are the manifest, index and config digests and sizes, for the tally.
	Blobs analyze.ImageBlobs
	// Cached is true when nothing but the tag's HEAD request was needed.
	Cached bool
}

// WalkError is a repository or tag that a walk skipped.
type WalkError struct {
	Repo string
	Tag  string // empty when the whole repository failed
	Err  error
}

func (e WalkError) Error() string { return e.Err.Error() }

// WalkProgress is how far a walk has got.
type WalkProgress struct {
	Repos, ReposListed int // repositories found, and listed so far
	Tags, TagsDone     int // tags kept, and resolved (or skipped) so far
	Errors             int
	Done               bool
}

// WalkStats describe a finished (or stopped) walk.
type WalkStats struct {
	Repos, Tags, Images, Skipped int
	// Requests counts HTTP attempts (retries included), RateLimited the 429 answers.
	Requests, Retries, RateLimited int64
	// BytesRead is the response bytes read: metadata only.
	BytesRead int64
	Cache     CacheStats
	Elapsed   time.Duration
}

// ErrWalkIncomplete is returned (wrapped) by WalkRegistry when it skipped a repository
// or tag: the results cover the rest. Commands exit 3 for it after printing them.
var ErrWalkIncomplete = errors.New("some repositories or tags could not be read")

type walker struct {
	opts     WalkOptions
	reg      name.Registry
	nameOpts []name.Option
	ns       string
	puller   *remote.Puller
	rt       *retryTransport
	counter  *countingTransport
	platform *v1.Platform
	explicit bool // the platform was asked for
	// engine is the engine's platform, the default for indexes, asked once.
	engine     *v1.Platform
	engineOnce sync.Once

	headHits, headMisses atomic.Int64 // tags whose HEAD found the manifest in the cache, or not
	// store reads and fills opts.Cache (nil without one).
	store *cacheWriter
}

type tagJob struct {
	repo name.Repository
	tag  string
}

type walkResult struct {
	img    *WalkedImage
	err    *WalkError
	listed int // a repository was listed with this many tags kept (-1: not a listing)
}

// WalkRegistry reads the catalog and tag lists of a registry and resolves every kept
// tag to an image from its manifest and config, never a layer blob. A repository or
// tag that fails (missing, refused, malformed) goes to opts.Skipped and the walk goes
// on; the returned error then wraps ErrWalkIncomplete. Other errors (the registry
// cannot be reached or will not list its repositories, ctx ended, opts.Image failed)
// stop the walk.
func WalkRegistry(ctx context.Context, opts WalkOptions) (stats WalkStats, err error) {
	start := time.Now()
	w, err := newWalker(ctx, opts)
	if err != nil {
		return WalkStats{}, err
	}
	defer func() {
		w.store.Close()
		stats.Requests, stats.Retries, stats.RateLimited = w.rt.requests.Load(), w.rt.retries.Load(), w.rt.limited.Load()
		stats.BytesRead = w.counter.n.Load()
		if opts.Cache != nil {
			stats.Cache = opts.Cache.Stats()
		}
		stats.Elapsed = time.Since(start)
	}()

	repos, err := w.repositories(ctx)
	if err != nil {
		return stats, err
	}
	stats.Repos = len(repos)

	walkCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopErr := w.collect(w.start(walkCtx, repos), cancel, &stats)
	// Every resolver has returned: nothing is queued after this.
	w.store.Close()
	if opts.Cache != nil {
		// Eviction is best effort: a failure costs disk, not results.
		_, _ = opts.Cache.Prune()
	}
	switch {
	case stopErr != nil:
		return stats, stopErr
	case ctx.Err() != nil:
		return stats, ctxErr(ctx.Err())
	case stats.Skipped > 0:
		return stats, fmt.Errorf("%s: %d %s: %w", w.where(), stats.Skipped, pluralWord(stats.Skipped, "repository or tag", "repositories or tags"), ErrWalkIncomplete)
	}
	return stats, nil
}

// start runs the walk's workers: Jobs listers read tag lists and queue the kept tags,
// Jobs resolvers read them; results closes when all are done.
func (w *walker) start(ctx context.Context, repos []string) <-chan walkResult {
	results := make(chan walkResult, w.opts.Jobs*2)
	tags := make(chan tagJob, w.opts.Jobs*4)
	repoCh := make(chan string)
	var listers, resolvers sync.WaitGroup
	go func() {
		defer close(repoCh)
		for _, r := range repos {
			select {
			case repoCh <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range w.opts.Jobs {
		listers.Go(func() { w.listRepos(ctx, repoCh, tags, results) })
		resolvers.Go(func() { w.resolveTags(ctx, tags, results) })
	}
	go func() {
		listers.Wait()
		close(tags)
		resolvers.Wait()
		close(results)
	}()
	return results
}

// collect hands the results to the caller's callbacks, one at a time, and reports
// progress; it returns the error of opts.Image, after which it only drains.
func (w *walker) collect(results <-chan walkResult, cancel context.CancelFunc, stats *WalkStats) error {
	opts := w.opts
	prog := WalkProgress{Repos: stats.Repos}
	var tick <-chan time.Time
	if opts.Progress != nil {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	var stopErr error
	for {
		var r walkResult
		var ok bool
		select {
		case <-tick:
			opts.Progress(prog)
			continue
		case r, ok = <-results:
		}
		if !ok {
			break
		}
		switch {
		case r.listed >= 0:
			prog.ReposListed++
			prog.Tags += r.listed
			stats.Tags += r.listed
		case r.err != nil:
			prog.Errors++
			stats.Skipped++
			if r.err.Tag != "" {
				prog.TagsDone++
			}
			if opts.Skipped != nil && stopErr == nil {
				opts.Skipped(*r.err)
			}
		case r.img != nil:
			prog.TagsDone++
			stats.Images++
			if opts.Image != nil && stopErr == nil {
				if stopErr = opts.Image(*r.img); stopErr != nil {
					cancel()
				}
			}
		}
	}
	if opts.Progress != nil {
		prog.Done = true
		opts.Progress(prog)
	}
	return stopErr
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func newWalker(ctx context.Context, opts WalkOptions) (*walker, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultWalkJobs
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWalkTimeout
	}
	if opts.Latest < 0 {
		return nil, usageErrorf("--latest must be 1 or more")
	}
	for _, p := range []string{opts.Repo, opts.Tags} {
		if _, err := path.Match(p, ""); err != nil {
			return nil, usageErrorf("%q: not a valid pattern: %v", p, err)
		}
	}
	host, ns, _ := strings.Cut(strings.TrimSuffix(opts.Registry, "/"), "/")
	if host == "" {
		return nil, usageErrorf("--registry needs a host: HOST[:PORT][/NAMESPACE]")
	}
	var nopts []name.Option
	if isLoopback(host) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, append(nopts, name.StrictValidation)...)
	if err != nil {
		return nil, usageErrorf("--registry %s: %v", opts.Registry, err)
	}
	base := opts.transport
	if base == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		// Keep-alive for every worker: a walk is thousands of small requests.
		t.MaxIdleConnsPerHost = max(2*opts.Jobs, 16)
		base = t
	}
	counter := &countingTransport{base: capTransport{base: base}}
	rt := newRetryTransport(counter, opts.Timeout)
	if opts.wait != nil {
		rt.wait = opts.wait
	}
	puller, err := remote.NewPuller(
		remote.WithTransport(newPingCache(rt)),
		remote.WithAuthFromKeychain(authn.NewMultiKeychain(cliConfigKeychain{}, authn.DefaultKeychain)),
		remote.WithUserAgent("docker-layers"),
		remote.WithJobs(opts.Jobs),
		remote.WithPageSize(walkPageSize),
		// Our transport retries, honouring Retry-After; ggcr's own would retry again.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(func(error) bool { return false }),
	)
	if err != nil {
		return nil, err
	}
	w := &walker{opts: opts, reg: reg, nameOpts: nopts, ns: strings.Trim(ns, "/"), puller: puller, rt: rt, counter: counter}
	w.store = newCacheWriter(opts.Cache, opts.Jobs)
	w.platform, w.explicit = opts.Platform, opts.Platform != nil
	return w, nil
}

func (w *walker) where() string { return w.reg.RegistryStr() }

// repositories lists the repositories to walk: the catalog, filtered; or the one the
// pattern names.
func (w *walker) repositories(ctx context.Context) ([]string, error) {
	if w.opts.Repo != "" && !hasMeta(w.opts.Repo) {
		r := w.opts.Repo
		if w.ns != "" && !strings.HasPrefix(r, w.ns+"/") {
			r = w.ns + "/" + r
		}
		return []string{r}, nil
	}
	cat, err := w.puller.Catalogger(ctx, w.reg)
	if err != nil {
		return nil, w.catalogError(err)
	}
	var repos []string
	for cat.HasNext() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := cat.Next(ctx)
		if err != nil {
			return nil, w.catalogError(err)
		}
		for _, r := range page.Repos {
			if w.keepRepo(r) {
				repos = append(repos, r)
			}
		}
	}
	sort.Strings(repos)
	return repos, nil
}

func (w *walker) catalogError(err error) error {
	if e := ctxErr(err); e != nil {
		return e
	}
	e := registryError(w.reg.Repo("_catalog").Tag("latest"), "docker://"+w.reg.RegistryStr(), err)
	if errors.Is(e, ErrNotFound) {
		return fmt.Errorf("the registry %s does not list its repositories (no catalog API): name one with --repo", w.reg.RegistryStr())
	}
	return fmt.Errorf("listing the repositories of %s: %w", w.reg.RegistryStr(), e)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func (w *walker) keepRepo(r string) bool {
	rel := r
	if w.ns != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(r, w.ns+"/"); !ok {
			return false
		}
	}
	if w.opts.Repo == "" {
		return true
	}
	a, _ := path.Match(w.opts.Repo, r)
	b, _ := path.Match(w.opts.Repo, rel)
	return a || b
}

func (w *walker) listRepos(ctx context.Context, repos <-chan string, tags chan<- tagJob, results chan<- walkResult) {
	for r := range repos {
		repo, err := name.NewRepository(w.reg.Name()+"/"+r, w.nameOpts...)
		var kept []string
		if err != nil {
			err = fmt.Errorf("%s: not a repository name: %v", r, err)
		} else {
			kept, err = w.listTags(ctx, repo)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			err = w.timeoutError("docker://"+w.reg.Name()+"/"+r, err)
			send(ctx, results, walkResult{err: &WalkError{Repo: r, Err: err}, listed: -1})
			continue
		}
		if !send(ctx, results, walkResult{listed: len(kept)}) {
			return
		}
		for _, t := range kept {
			select {
			case tags <- tagJob{repo: repo, tag: t}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// timeoutError words a request that ran out of time (the walk itself goes on).
func (w *walker) timeoutError(where string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: the registry %s did not answer within %s", where, w.reg.RegistryStr(), w.opts.Timeout)
	}
	return err
}

func send(ctx context.Context, ch chan<- walkResult, r walkResult) bool {
	select {
	case ch <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

// listTags reads a repository's tag list, page by page, and keeps what the options ask.
func (w *walker) listTags(ctx context.Context, repo name.Repository) ([]string, error) {
	where := "docker://" + repo.String()
	l, err := w.puller.Lister(ctx, repo)
	if err != nil {
		return nil, registryError(repo.Tag("latest"), where, err)
	}
	var kept []string
	for l.HasNext() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := l.Next(ctx)
		if err != nil {
			return nil, registryError(repo.Tag("latest"), where, err)
		}
		for _, t := range page.Tags {
			if ok, _ := path.Match(w.opts.Tags, t); w.opts.Tags == "" || ok {
				kept = append(kept, t)
			}
		}
	}
	sort.Slice(kept, func(a, b int) bool { return versionLess(kept[a], kept[b]) })
	if w.opts.Latest > 0 && len(kept) > w.opts.Latest {
		kept = kept[len(kept)-w.opts.Latest:]
	}
	return kept, nil
}

// versionLess orders tags as versions: runs of digits compare as numbers.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := unicode.IsDigit(rune(a[0])), unicode.IsDigit(rune(b[0]))
		if da && db {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			na, nb = strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func (w *walker) resolveTags(ctx context.Context, tags <-chan tagJob, results chan<- walkResult) {
	for j := range tags {
		img, err := w.resolve(ctx, j.repo, j.tag)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			err = w.timeoutError("docker://"+j.repo.Tag(j.tag).String(), err)
			if !send(ctx, results, walkResult{err: &WalkError{Repo: j.repo.RepositoryStr(), Tag: j.tag, Err: err}, listed: -1}) {
				return
			}
			continue
		}
		if !send(ctx, results, walkResult{img: img, listed: -1}) {
			return
		}
	}
}

// manifestSniff is enough of a manifest or index to tell which it is.
type manifestSniff struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	Manifests     json.RawMessage `json:"manifests"`
	Config        json.RawMessage `json:"config"`
}

// resolve reads one tag: its manifest (through the index for multi-platform tags) and
// config, from the cache when the digest is there.
func (w *walker) resolve(ctx context.Context, repo name.Repository, tag string) (*WalkedImage, error) {
	ref := repo.Tag(tag)
	where := "docker://" + ref.String()
	out := &WalkedImage{Repo: repo.RepositoryStr(), Tag: tag}
	out.Ref = ref.String()

	top, digest, cached, err := w.topManifest(ctx, ref)
	if err != nil {
		return nil, registryError(ref, where, err)
	}
	out.Digest = digest
	body, mdigest, hit, err := w.throughIndex(ctx, repo, ref, top, digest, out)
	if err != nil {
		return nil, err
	}
	fetched := !cached || !hit
	m, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: malformed manifest %s: %w", where, mdigest, err)
	}
	out.Blobs.ManifestDigest, out.Blobs.ManifestSize = mdigest, int64(len(body))
	cfgBytes, cfgHit, err := w.blob(ctx, repo, m.Config.Digest, m.Config.Size, configLimit, false)
	if err != nil {
		return nil, registryError(ref, where, err)
	}
	out.Cached = !fetched && cfgHit
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: malformed config %s: %w", where, m.Config.Digest, err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%s: the manifest lists %d layers but the config's rootfs has %d diff IDs", where, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	out.ID, out.Config = m.Config.Digest.String(), cfg
	out.Blobs.ConfigSize = int64(len(cfgBytes))
	out.Layers = make([]analyze.Layer, len(m.Layers))
	for i, d := range m.Layers {
		l := analyze.Layer{DiffID: cfg.RootFS.DiffIDs[i], Digest: d.Digest, Size: analyze.Unknown, CompressedSize: d.Size}
		if !isCompressed(d.MediaType) || d.Size < 0 {
			l.CompressedSize = analyze.Unknown
		}
		out.Layers[i] = l
	}
	return out, nil
}

// throughIndex returns the image manifest a tag's manifest stands for: itself, or for
// an index the platform's manifest (recording the index and platform in out). hit is
// false when that manifest had to be fetched.
func (w *walker) throughIndex(ctx context.Context, repo name.Repository, ref name.Tag, body []byte, digest v1.Hash, out *WalkedImage) ([]byte, v1.Hash, bool, error) {
	where := "docker://" + ref.String()
	kind, err := sniffManifest(body)
	if err != nil {
		return nil, digest, false, fmt.Errorf("%s: %s: %w", where, digest, err)
	}
	if !kind.isIndex {
		return body, digest, true, nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(body))
	if err != nil {
		return nil, digest, false, fmt.Errorf("%s: malformed index %s: %w", where, digest, err)
	}
	d, err := w.pick(ctx, im, where)
	if err != nil {
		return nil, digest, false, err
	}
	out.Blobs.IndexDigest, out.Blobs.IndexSize = digest, int64(len(body))
	out.Platform = platformString(d.Platform)
	child, hit, err := w.blob(ctx, repo, d.Digest, d.Size, manifestLimit, true)
	if err != nil {
		return nil, d.Digest, false, registryError(ref, where, err)
	}
	if kind, err = sniffManifest(child); err != nil || kind.isIndex {
		return nil, d.Digest, false, fmt.Errorf("%s: %s: an index inside an index, or not a manifest: not supported", where, d.Digest)
	}
	return child, d.Digest, hit, nil
}

type sniffed struct{ isIndex bool }

func sniffManifest(b []byte) (sniffed, error) {
	var s manifestSniff
	if err := json.Unmarshal(b, &s); err != nil {
		return sniffed{}, fmt.Errorf("malformed manifest: %w", err)
	}
	switch {
	case s.SchemaVersion == 1:
		return sniffed{}, errors.New("a schema 1 manifest (deprecated since 2017): not supported")
	case s.MediaType.IsIndex() || (s.MediaType == "" && s.Manifests != nil && s.Config == nil):
		return sniffed{isIndex: true}, nil
	case s.MediaType.IsImage() || (s.MediaType == "" && s.Config != nil):
		return sniffed{}, nil
	}
	return sniffed{}, fmt.Errorf("not an image manifest or index (media type %q)", s.MediaType)
}

// topManifest reads what a tag points at. With a cache it asks for the digest first
// (HEAD) and reads the cache; without one, or on a miss, it GETs the manifest.
func (w *walker) topManifest(ctx context.Context, ref name.Tag) (body []byte, digest v1.Hash, cached bool, err error) {
	if c := w.opts.Cache; c != nil && w.headFirst() {
		d, err := w.puller.Head(ctx, ref)
		if err != nil {
			return nil, v1.Hash{}, false, err
		}
		if b, ok := w.store.Get(d.Digest, manifestLimit); ok {
			w.headHits.Add(1)
			return b, d.Digest, true, nil
		}
		w.headMisses.Add(1)
	}
	desc, err := w.puller.Get(ctx, ref)
	if err != nil {
		return nil, v1.Hash{}, false, err
	}
	if len(desc.Manifest) > manifestLimit {
		return nil, v1.Hash{}, false, fmt.Errorf("the manifest is %d bytes, more than %d", len(desc.Manifest), manifestLimit)
	}
	// ggcr checks the body against the registry's Docker-Content-Digest header; the
	// cache checks it against the digest again on every read.
	if h, _, err := v1.SHA256(bytes.NewReader(desc.Manifest)); err == nil && h == desc.Digest {
		w.store.Put(desc.Digest, desc.Manifest)
	}
	return desc.Manifest, desc.Digest, false, nil
}

// headFirst says whether to ask a tag's digest before reading its manifest. It pays
// when the cache has the manifest (a HEAD instead of two or three GETs, and registries
// such as Docker Hub do not count HEADs against pull limits); on a cold cache it is one
// request more per tag, so once most HEADs have missed, the walk GETs directly.
func (w *walker) headFirst() bool {
	hits, misses := w.headHits.Load(), w.headMisses.Load()
	return misses < 32 || hits*4 >= misses
}

// blob reads a manifest (by digest) or config blob, from the cache if it is there; the
// bytes are checked against d either way.
func (w *walker) blob(ctx context.Context, repo name.Repository, d v1.Hash, size, limit int64, manifest bool) ([]byte, bool, error) {
	if size > limit {
		return nil, false, fmt.Errorf("%s is %d bytes, more than %d", d, size, limit)
	}
	if b, ok := w.store.Get(d, limit); ok {
		return b, true, nil
	}
	var b []byte
	if manifest {
		desc, err := w.puller.Get(ctx, repo.Digest(d.String()))
		if err != nil {
			return nil, false, err
		}
		b = desc.Manifest
	} else {
		l, err := w.puller.Layer(ctx, repo.Digest(d.String()))
		if err != nil {
			return nil, false, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, false, err
		}
		b, err = io.ReadAll(io.LimitReader(rc, limit+1))
		rc.Close()
		if err != nil {
			return nil, false, err
		}
	}
	if int64(len(b)) > limit {
		return nil, false, fmt.Errorf("%s is more than %d bytes", d, limit)
	}
	if h, _, err := v1.SHA256(bytes.NewReader(b)); err != nil || h != d {
		return nil, false, fmt.Errorf("%s: the registry sent bytes with another digest (%s)", d, h)
	}
	w.store.Put(d, b)
	return b, false, nil
}

// pick chooses the manifest of an index as openRegistry does: the asked platform, else
// the engine's (as a default, not a demand), else linux/amd64 or the only one.
func (w *walker) pick(ctx context.Context, im *v1.IndexManifest, where string) (v1.Descriptor, error) {
	platform := w.platform
	if !w.explicit {
		// Asked once, at the first index: a walk of single-platform tags never
		// touches the engine.
		w.engineOnce.Do(func() { w.engine = enginePlatform(ctx, Options{Daemon: w.opts.Daemon}) })
		platform = w.engine
	}
	return pickWithDefault(im, platform, !w.explicit, where)
}

// SourceImage is the walked image as a source image, for commands that take images
// from the load step (such as `check`, which applies its rules image by image as the
// walk reads them). It carries metadata only: reading its layers' contents is refused,
// since a walk never downloads a layer blob.
func (img WalkedImage) SourceImage() *Image {
	out := &Image{Image: img.Image, Transport: TransportRegistry, LayersCompressed: true, Remote: true}
	for _, l := range img.Layers {
		if l.CompressedSize == analyze.Unknown {
			out.LayersCompressed = false
		}
	}
	return out
}
