package plugin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// registryOptions are the flags of a walk over a whole registry (`shared --registry`).
type registryOptions struct {
	registry string
	repo     string
	tags     string
	latest   int
	jobs     int
	noCache  bool
	// cacheSize is the cache's cap, as --cache-size reads it ("2GB"); empty for the default.
	cacheSize string
}

func addRegistryFlags(flags *pflag.FlagSet, o *registryOptions) {
	if f := flags.Lookup("format"); f != nil {
		f.Usage = strings.Replace(f.Usage, `"json",`, `"json", "jsonl" (with --registry: an object per image as it is read),`, 1)
	}
	flags.StringVar(&o.registry, "registry", "", "Every image in a registry: HOST[:PORT][/NAMESPACE] (manifests and configs only, never layer blobs)")
	flags.StringVar(&o.repo, "repo", "", `With --registry: only repositories matching this pattern ("team/*"); without wildcards, just that repository (no catalog needed)`)
	flags.StringVar(&o.tags, "tags", "", `With --registry: only tags matching this pattern ("v1.*")`)
	flags.IntVar(&o.latest, "latest", 0, "With --registry: only the N greatest tags of each repository, in version order")
	flags.IntVar(&o.jobs, "jobs", source.DefaultWalkJobs, "With --registry: tags read at once")
	flags.BoolVar(&o.noCache, "no-cache", false, "With --registry: neither read nor fill the metadata cache ($XDG_CACHE_HOME/docker-layers)")
	flags.StringVar(&o.cacheSize, "cache-size", "512MB", "With --registry: the metadata cache's cap; least recently used entries go first (about 10kB per tag)")
}

// check says which flags need --registry, or clash with it.
func (o registryOptions) check(cmd *cobra.Command, args []string, all bool) error {
	if o.registry == "" {
		for _, f := range []string{"repo", "tags", "latest", "jobs", "no-cache", "cache-size"} {
			if cmd.Flags().Changed(f) {
				return usageError(cmd, "--"+f+" needs --registry")
			}
		}
		return nil
	}
	switch {
	case len(args) > 0 || all:
		return usageError(cmd, "--registry takes no IMAGE arguments and no --all")
	case o.tags != "" && o.latest > 0:
		return usageError(cmd, "--tags and --latest: choose one")
	case o.latest < 0 || cmd.Flags().Changed("latest") && o.latest == 0:
		return usageError(cmd, "--latest needs a number of tags, 1 or more")
	case o.jobs < 1 || o.jobs > 64:
		return usageError(cmd, "--jobs must be between 1 and 64")
	}
	if n, err := units.FromHumanSize(o.cacheSize); err != nil || n < 1<<20 {
		return usageError(cmd, fmt.Sprintf("invalid --cache-size %q: want a size of at least 1MB, such as 2GB", o.cacheSize))
	}
	return nil
}

// walkOptions turns the flags into a walk, with the cache unless --no-cache.
func (o registryOptions) walkOptions(srcOpts source.Options) (source.WalkOptions, error) {
	w := source.WalkOptions{
		Registry: o.registry, Repo: o.repo, Tags: o.tags, Latest: o.latest,
		Platform: srcOpts.Platform, Daemon: srcOpts.Daemon, Jobs: o.jobs, Timeout: srcOpts.Timeout,
	}
	if !o.noCache {
		dir, err := source.DefaultCacheDir()
		if err != nil {
			return w, err
		}
		size, _ := units.FromHumanSize(o.cacheSize) // checked with the flags
		if w.Cache, err = source.OpenCache(dir, size); err != nil {
			return w, err
		}
	}
	return w, nil
}

// runSharedRegistry is `shared --registry`: every kept tag of a registry, read from
// manifests and configs; --format jsonl streams one object per image as it is read.
func runSharedRegistry(cmd *cobra.Command, e *env, opts sharedOptions) error {
	jsonl := opts.format == "jsonl"
	common := opts.commonOptions
	if jsonl {
		common.format = "table"
	}
	r, err := prepareRun(cmd, e, common, SharedImageRow{})
	if err != nil {
		return err
	}
	defer r.stop()
	if opts.uncompressed {
		return usageError(cmd, "--uncompressed would download every layer blob of the registry: not with --registry")
	}
	wopts, err := opts.reg.walkOptions(r.srcOpts)
	if err != nil {
		return imageError(cmd, err)
	}
	stderr := e.dockerCli.Err()
	wopts.Skipped = reportSkipped(cmd, stderr)
	if stderr != nil && stderr.IsTerminal() {
		wopts.Progress = func(p source.WalkProgress) {
			end := ""
			if p.Done {
				end = "\n"
			}
			fmt.Fprintf(stderr, "\r\033[K%s: %d/%d repositories listed, %d/%d tags read, %s%s",
				termSafe(opts.reg.registry), p.ReposListed, p.Repos, p.TagsDone, p.Tags, plural(p.Errors, "error"), end)
		}
	}
	tally := analyze.NewRegistryTally()

	if jsonl {
		return walkJSONL(cmd, e, r, wopts, tally)
	}
	var images []analyze.Image
	wopts.Image = func(img source.WalkedImage) error {
		tally.Add(img.Image, img.Blobs)
		img.Config = compactConfig(img.Config)
		images = append(images, img.Image)
		return nil
	}
	stats, werr := source.WalkRegistry(r.ctx, wopts)
	if werr != nil && !errorsIs(werr, source.ErrWalkIncomplete) {
		return walkError(cmd, werr)
	}
	sort.SliceStable(images, func(a, b int) bool { return images[a].Ref < images[b].Ref })
	view := newSharedJSON(analyze.Share(images), opts.matrix)
	view.Registry = newRegistryJSON(opts.reg.registry, tally.Summary(registryTopLayers), stats)
	if err := render(e.dockerCli.Out(), r.format, view, renderers[sharedJSON]{
		table: writeSharedTable,
		rows:  sharedRows,
		ids:   sharedIDs,
		html:  writeSharedHTML,
	}, r.render); err != nil {
		return err
	}
	return walkError(cmd, werr)
}

// registryTopLayers is how many shared layers the registry summary lists.
const registryTopLayers = 20

// compactConfig keeps what Share reads of a config (the history, to name the steps
// that made shared layers) and drops the rest, so thousands of images stay small.
func compactConfig(c *v1.ConfigFile) *v1.ConfigFile {
	if c == nil {
		return nil
	}
	return &v1.ConfigFile{History: c.History, RootFS: c.RootFS}
}

// walkJSONL streams the walk: an "image" object per image as it is read, a "skipped"
// object per repository or tag that could not be, and a "summary" object at the end.
// Only the tally's per-layer counters are kept, so memory does not grow with the
// number of tags beyond them.
func walkJSONL(cmd *cobra.Command, e *env, r *run, wopts source.WalkOptions, tally *analyze.RegistryTally) error {
	if r.render.output == "" {
		return writeJSONL(cmd, e.dockerCli.Out(), r, wopts, tally)
	}
	f, err := createOutput(r.render.output)
	if err != nil {
		return err
	}
	werr := writeJSONL(cmd, f, r, wopts, tally)
	// The lines written stand even when the walk skipped tags or stopped early (exit 3
	// or 130 says so): the --output file keeps them.
	if err := f.finish(nil); err != nil {
		return err
	}
	return werr
}

func writeJSONL(cmd *cobra.Command, out io.Writer, r *run, wopts source.WalkOptions, tally *analyze.RegistryTally) error {
	bw := bufio.NewWriter(out)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	wopts.Image = func(img source.WalkedImage) error {
		t := tally.Add(img.Image, img.Blobs)
		if err := enc.Encode(newRegistryImageJSON(img, t)); err != nil {
			return err
		}
		// A line per image as it is read: flush unless more are queued right behind.
		return bw.Flush()
	}
	skipped := wopts.Skipped
	wopts.Skipped = func(we source.WalkError) {
		skipped(we)
		_ = enc.Encode(registrySkippedJSON{Type: "skipped", Repository: we.Repo, Tag: we.Tag, Error: we.Error()})
	}
	stats, werr := source.WalkRegistry(r.ctx, wopts)
	if werr != nil && !errorsIs(werr, source.ErrWalkIncomplete) {
		_ = bw.Flush()
		return walkError(cmd, werr)
	}
	sum := newRegistryJSON("", tally.Summary(registryTopLayers), stats)
	sum.Type = "summary"
	if err := enc.Encode(sum); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return walkError(cmd, werr)
}

// reportSkipped says on stderr, a line each, what a walk skipped.
func reportSkipped(cmd *cobra.Command, stderr io.Writer) func(source.WalkError) {
	return func(we source.WalkError) {
		fmt.Fprintf(stderr, "%s: skipped: %s\n", cmd.CommandPath(), termSafe(we.Error()))
	}
}

// walkError gives a walk's error its exit code: 3 when some repositories or tags were
// skipped (the output covers the rest) or the registry could not be walked at all.
func walkError(cmd *cobra.Command, err error) error {
	switch {
	case err == nil:
		return nil
	case errorsIs(err, source.ErrWalkIncomplete):
		return cli.StatusError{StatusCode: ExitImage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
	}
	return imageError(cmd, err)
}

// registryImageJSON is one line of `shared --registry --format jsonl`.
type registryImageJSON struct {
	Type       string `json:"type"` // "image"
	Image      string `json:"image"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
	Platform   string `json:"platform,omitempty"`
	ID         string `json:"id"`
	Layers     int    `json:"layers"`
	// CompressedSize is the sum of the image's layer blobs.
	CompressedSize *int64 `json:"compressedSize"`
	// Repeat is true when an earlier line had the same image (another tag of it).
	Repeat bool `json:"repeat,omitempty"`
	// NewBlobs and NewCompressedSize are the blobs this image was the first in the walk
	// to bring, and their bytes (they depend on the order images were read).
	NewBlobs          int   `json:"newBlobs"`
	NewCompressedSize int64 `json:"newCompressedSize"`
	// Cached is true when the tag cost one HEAD request (its digest was cached).
	Cached bool `json:"cached,omitempty"`
}

func newRegistryImageJSON(img source.WalkedImage, t analyze.ImageTally) registryImageJSON {
	return registryImageJSON{
		Type: "image", Image: img.Ref, Repository: img.Repo, Tag: img.Tag,
		Digest: img.Digest.String(), Platform: img.Platform, ID: img.ID, Layers: len(img.Layers),
		CompressedSize: bytesOrNil(t.CompressedSize), Repeat: t.Repeat,
		NewBlobs: t.NewBlobs, NewCompressedSize: t.NewCompressedSize, Cached: img.Cached,
	}
}

type registrySkippedJSON struct {
	Type       string `json:"type"` // "skipped"
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Error      string `json:"error"`
}

// registryJSON is the registry's own storage figures: the "registry" object of `shared
// --registry --format json`, and the last line of --format jsonl.
type registryJSON struct {
	Type     string `json:"type,omitempty"` // "summary" in jsonl
	Registry string `json:"registry,omitempty"`
	// Repositories and Tags were walked; Skipped could not be read; Images are the
	// distinct images (by ID) the tags name.
	Repositories int `json:"repositories"`
	Tags         int `json:"tags"`
	Skipped      int `json:"skipped"`
	Images       int `json:"images"`
	Layers       int `json:"layers"`
	// Compressed figures as `shared` reports them: each distinct image in full,
	// distinct layers by chain ID, and the difference.
	CompressedTotalSize *int64 `json:"compressedTotalSize"`
	CompressedDiskSize  *int64 `json:"compressedDiskSize"`
	CompressedSavedSize *int64 `json:"compressedSavedSize"`
	// Blobs and StoredSize are what the registry keeps for these tags: each blob
	// (layer, config, manifest, index) once by digest. LayerBlobs and StoredLayerSize
	// are the layer blobs among them; DedupSavedSize what storing each blob once saves.
	Blobs           int   `json:"blobs"`
	StoredSize      int64 `json:"storedSize"`
	LayerBlobs      int   `json:"layerBlobs"`
	StoredLayerSize int64 `json:"storedLayerSize"`
	DedupSavedSize  int64 `json:"dedupSavedSize"`
	// SharedLayers are the largest layers that two or more images have (at most 20).
	SharedLayers []registryLayerJSON `json:"sharedLayers"`
	// Walk is how the walk went: requests sent, cache use, time.
	Walk registryWalkJSON `json:"walk"`
}

type registryLayerJSON struct {
	ChainID        string `json:"chainID"`
	Digest         string `json:"digest"`
	Index          int    `json:"index"`
	CompressedSize *int64 `json:"compressedSize"`
	Instruction    string `json:"instruction"`
	Images         int    `json:"images"`
	FirstImage     string `json:"firstImage"`
	SavedSize      *int64 `json:"savedSize"`
}

type registryWalkJSON struct {
	Requests    int64   `json:"requests"`
	Retries     int64   `json:"retries"`
	RateLimited int64   `json:"rateLimited"`
	BytesRead   int64   `json:"bytesRead"`
	CacheHits   int64   `json:"cacheHits"`
	Seconds     float64 `json:"seconds"`
}

func newRegistryJSON(registry string, s analyze.RegistrySharing, st source.WalkStats) *registryJSON {
	v := &registryJSON{
		Registry: registry, Repositories: st.Repos, Tags: s.Refs, Skipped: st.Skipped, Images: s.Images, Layers: s.Layers,
		CompressedTotalSize: bytesOrNil(s.CompressedTotalSize),
		CompressedDiskSize:  bytesOrNil(s.CompressedDiskSize),
		CompressedSavedSize: bytesOrNil(s.CompressedSavedSize),
		Blobs:               s.Blobs, StoredSize: s.StoredSize, LayerBlobs: s.LayerBlobs,
		StoredLayerSize: s.StoredLayerSize, DedupSavedSize: s.DedupSavedSize,
		SharedLayers: []registryLayerJSON{},
		Walk: registryWalkJSON{
			Requests: st.Requests, Retries: st.Retries, RateLimited: st.RateLimited, BytesRead: st.BytesRead,
			CacheHits: st.Cache.Hits, Seconds: st.Elapsed.Round(time.Millisecond).Seconds(),
		},
	}
	for _, l := range s.SharedLayers {
		v.SharedLayers = append(v.SharedLayers, registryLayerJSON{
			ChainID: l.ChainID.String(), Digest: l.Digest.String(), Index: l.Index,
			CompressedSize: bytesOrNil(l.CompressedSize), Instruction: l.Instruction,
			Images: l.Images, FirstImage: l.FirstRef, SavedSize: bytesOrNil(l.SavedSize),
		})
	}
	return v
}

// writeRegistryStorage is the table's last block for `shared --registry`.
func writeRegistryStorage(w io.Writer, v *registryJSON) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Registry %s: %s in %s, %s, %s (%s skipped)\n", termSafe(v.Registry),
		plural(v.Tags, "tag"), repositories(v.Repositories), plural(v.Images, "distinct image"), plural(v.Layers, "distinct layer"), fmt.Sprint(v.Skipped))
	fmt.Fprintf(w, "Registry storage (compressed): %s in %s (%s of layer blobs); storing each blob once saves %s\n",
		humanSize(v.StoredSize), plural(v.Blobs, "blob"), humanSize(v.StoredLayerSize), humanSize(v.DedupSavedSize))
}

func repositories(n int) string {
	if n == 1 {
		return "1 repository"
	}
	return fmt.Sprintf("%d repositories", n)
}
