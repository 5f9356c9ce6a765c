package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type sharedOptions struct {
	commonOptions
	matrix          bool
	all             bool
	includeDangling bool
	filters         []string
	uncompressed    bool
	containers      bool
	reg             registryOptions
}

func newSharedCommand(e *env) *cobra.Command {
	var opts sharedOptions
	cmd := &cobra.Command{
		Use:   "shared [OPTIONS] IMAGE IMAGE... | --all | --registry HOST[/NAMESPACE]",
		Short: "Show which layers images share, and what each image really costs on disk",
		Long: `Show which layers a set of images share and what each image really costs.

A layer is shared when its chain ID (the layer plus everything below it) is the same
in two images: the engine stores it once and a registry serves it once. An image
named twice (two tags of one image) is one image and shares nothing with itself.

  SIZE     the image's size, all its layers
  SHARED   the size of its layers that some other image also has
  UNIQUE   the size of its layers no other image has: what removing
           only this image would free

With --all, the engine's untagged images count as other images too (they hold
layers), as "docker system df -v" counts them, even when they are not listed.

Totals: the images' sizes added up as "docker image ls" shows them, the bytes the
distinct layers really take, and the difference that sharing saves. Layers with the
same content on different parents are listed apart: the same bytes stored twice.

Sizes are uncompressed; compressed sizes are added when every layer has one.

` + imageRefHelp + `

The engine's images are read from metadata alone (image inspect, and the history
only of the images that name a shared layer's step or whose layer sizes other images
do not tell), so --all over hundreds of images is quick.

With --registry, every tag of a registry (or of a namespace, --repo, --tags, --latest)
is read from its manifest and config, never a layer blob, --jobs at a time; sizes are
compressed, as the registry stores them, and the registry's own storage is added:
each blob once by digest, and what storing it once saves. Manifests and configs are
cached by digest in $XDG_CACHE_HOME/docker-layers, so a rerun sends one HEAD per tag.
--format jsonl streams one object per image as it is read and a summary at the end.
A repository or tag that cannot be read is reported on stderr and skipped; the exit
status is then 3, after the results for the rest.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := opts.reg.check(cmd, args, opts.all); err != nil {
				return err
			}
			if opts.reg.registry != "" {
				return nil
			}
			if opts.format == "jsonl" {
				return usageError(cmd, "--format jsonl needs --registry")
			}
			switch {
			case opts.all && len(args) > 0:
				return usageError(cmd, "--all takes no IMAGE arguments")
			case !opts.all && (opts.includeDangling || len(opts.filters) > 0 || opts.containers):
				return usageError(cmd, "--include-dangling, --filter and --containers need --all")
			case !opts.all && len(args) == 0:
				return usageError(cmd, "requires at least 1 image argument, or --all")
			}
			return nil
		},
		ValidArgsFunction: completeImages(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.reg.registry != "" {
				return runSharedRegistry(cmd, e, opts)
			}
			return runShared(cmd, e, args, opts)
		},
	}
	flags := cmd.Flags()
	addCommonFlags(flags, &opts.commonOptions, "SharedImageRow (one row per image)", "full IDs, instructions and image lists", "the IDs of the images")
	flags.BoolVar(&opts.matrix, "matrix", false, "Also show an image × image table of shared bytes")
	flags.BoolVarP(&opts.all, "all", "a", false, "Every tagged image in the local engine")
	flags.BoolVar(&opts.includeDangling, "include-dangling", false, "With --all: list untagged images too")
	flags.StringArrayVarP(&opts.filters, "filter", "f", nil, `With --all: filter images as "docker image ls" does (e.g. reference=app:*)`)
	addUncompressedFlag(flags, &opts.uncompressed, "each distinct layer blob once")
	flags.BoolVar(&opts.containers, "containers", false, "With --all: also the containers' writable layers (running and stopped), per image and in total")
	addRegistryFlags(flags, &opts.reg)
	completeFlags(cmd)
	return cmd
}

func runShared(cmd *cobra.Command, e *env, refs []string, opts sharedOptions) error {
	r, err := prepareRun(cmd, e, opts.commonOptions, SharedImageRow{})
	if err != nil {
		return err
	}
	defer r.stop()

	var unlisted []string
	if opts.all {
		refs, unlisted, err = source.ListDaemon(r.ctx, r.srcOpts, opts.includeDangling, opts.filters)
		if errorsIs(err, source.ErrUsage) {
			return usageError(cmd, err.Error())
		}
		if err != nil {
			return imageError(cmd, err)
		}
	}
	need := source.Need{Sizes: source.SizesLocal, Steps: sharedSteps(len(refs))}
	if opts.uncompressed {
		need.Sizes = source.SizesAll
	}
	loaded, err := e.load(r.ctx, append(refs, unlisted...), r.srcOpts, need)
	if err != nil {
		return imageError(cmd, err)
	}
	defer loaded.Close()
	images := make([]analyze.Image, len(loaded.Images))
	for i, img := range loaded.Images {
		images[i] = img.Image
	}
	s := analyze.Share(images[:len(refs)], images[len(refs):]...)
	view := newSharedJSON(s, opts.matrix)
	if opts.containers {
		u, err := readWritable(r.ctx, r.srcOpts)
		if err != nil {
			return imageError(cmd, err)
		}
		view.Containers = newWritableJSON(u)
	}
	return render(e.dockerCli.Out(), r.format, view, renderers[sharedJSON]{
		table: writeSharedTables,
		rows:  sharedRows,
		ids:   sharedIDs,
		html:  writeSharedHTML,
	}, r.render)
}

// sharedSteps asks for the histories of the images that name the shared layers' steps,
// the only steps shared shows; the first listed of the images are the listed ones.
func sharedSteps(listed int) func([]*source.Image) []int {
	return func(loaded []*source.Image) []int {
		images := make([]analyze.Image, len(loaded))
		for i, img := range loaded {
			images[i] = img.Image
		}
		return analyze.ShareSteps(images[:listed], images[listed:], func(i int) bool { return !loaded[i].HistoryDeferred() })
	}
}

func writeSharedTable(w io.Writer, v sharedJSON, o renderOpts) error {
	compressed := v.CompressedTotalSize != nil
	// A registry records compressed sizes only: then they lead, and the unknown
	// uncompressed columns are left out.
	uncompressed := v.TotalSize != nil || !compressed
	num := imageNumbers(v)

	var what []string
	if uncompressed {
		what = append(what, "uncompressed")
	}
	if compressed {
		what = append(what, "compressed")
	}
	fmt.Fprintln(w, "Images (sizes "+strings.Join(what, ", then ")+"):")
	t := &table{header: []string{"#", "IMAGE", "ID"}, flex: 1, width: o.width}
	if uncompressed {
		t.header = append(t.header, "SIZE", "SHARED", "UNIQUE")
	}
	if compressed {
		t.header = append(t.header, "COMPRESSED", "SHARED", "UNIQUE")
	}
	for i, im := range v.Images {
		row := []string{num[i], termSafe(im.Image), shortID(im.ID, o.noTrunc)}
		if uncompressed {
			row = append(row, jsonSize(im.Size), jsonSize(im.SharedSize), jsonSize(im.UniqueSize))
		}
		if compressed {
			row = append(row, jsonSize(im.CompressedSize), jsonSize(im.CompressedSharedSize), jsonSize(im.CompressedUniqueSize))
		}
		t.append(row...)
	}
	if err := t.render(w); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(v.Layers) == 0 {
		fmt.Fprintln(w, "Shared layers: none (no layer is in two or more of these images)")
	} else {
		fmt.Fprintln(w, "Shared layers, largest first (same chain ID: stored once):")
		t = &table{width: o.width}
		if uncompressed {
			t.header = append(t.header, "SIZE")
		}
		if compressed {
			t.header = append(t.header, "COMPRESSED")
		}
		t.header = append(t.header, "INSTRUCTION", "IMAGES")
		t.flex = len(t.header) - 2
		for _, l := range v.Layers {
			instr := stepLabel(l.Instruction, l.Comment)
			if instr == "" {
				instr = "?"
			}
			if o.noTrunc && l.CreatedBy != "" {
				instr = strings.Join(strings.Fields(l.CreatedBy), " ")
			} else if !o.noTrunc {
				instr = ellipsis(instr, 60)
			}
			var row []string
			if uncompressed {
				row = append(row, jsonSize(l.Size))
			}
			if compressed {
				row = append(row, jsonSize(l.CompressedSize))
			}
			t.append(append(row, termSafe(instr), imageList(v, num, l, o.noTrunc))...)
		}
		if err := t.render(w); err != nil {
			return err
		}
	}

	if len(v.SameContent) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Same content on different parents (same diffID, stored once per parent):")
		t = &table{header: []string{"SIZE", "COPIES", "STORED TWICE", "DIFF ID", "IMAGES"}, flex: -1}
		for _, c := range v.SameContent {
			dup := "?"
			if c.Size != nil {
				dup = humanSize(*c.Size * int64(c.Copies-1))
			}
			t.append(jsonSize(c.Size), fmt.Sprint(c.Copies), dup, shortID(c.DiffID, o.noTrunc), imageList(v, num, sharedLayerJSON{Images: c.Images}, o.noTrunc))
		}
		if err := t.render(w); err != nil {
			return err
		}
	}

	if v.Matrix != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Shared bytes between images (uncompressed; the diagonal is the image's size):")
		t = &table{header: []string{"#"}, flex: -1}
		for i := range v.Images {
			t.header = append(t.header, num[i])
		}
		for i, row := range v.Matrix {
			cells := []string{num[i]}
			for _, n := range row {
				cells = append(cells, humanSize(n))
			}
			t.append(cells...)
		}
		if err := t.render(w); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	if uncompressed {
		fmt.Fprintf(w, "Total: %s as image ls adds them, %s of distinct layers, %s saved by sharing (uncompressed)\n",
			jsonSize(v.TotalSize), jsonSize(v.DiskSize), jsonSize(v.SavedSize))
	}
	if compressed {
		fmt.Fprintf(w, "Compressed: %s as image ls adds them, %s of distinct layers, %s saved by sharing\n",
			jsonSize(v.CompressedTotalSize), jsonSize(v.CompressedDiskSize), jsonSize(v.CompressedSavedSize))
	}
	switch {
	case v.Registry != nil:
		// --registry reads metadata only, by design: its own block says what it stores.
		writeRegistryStorage(w, v.Registry)
	case !uncompressed:
		fmt.Fprintln(w, "Note: uncompressed sizes are unknown: a registry records only compressed sizes (--uncompressed downloads the layers to measure them)")
	case v.TotalSize == nil:
		fmt.Fprintln(w, "Note: ? = unknown: a registry records only compressed sizes (--uncompressed downloads the layers to measure them)")
	}
	if n := distinctImages(v); n < len(v.Images) {
		fmt.Fprintf(w, "Note: %d references name %s; an image named twice is counted once and shares nothing with itself\n", len(v.Images), plural(n, "image"))
	}
	return nil
}

// imageNumbers numbers the images for the matrix; the references of one image share a
// number.
func imageNumbers(s sharedJSON) []string {
	byID := map[string]string{}
	out := make([]string, len(s.Images))
	for i, im := range s.Images {
		n, ok := byID[im.ID]
		if !ok || im.ID == "" {
			n = fmt.Sprint(len(byID) + 1)
			byID[im.ID] = n
		}
		out[i] = n
	}
	return out
}

func distinctImages(s sharedJSON) int {
	ids := map[string]bool{}
	for _, im := range s.Images {
		ids[im.ID] = true
	}
	return len(ids)
}

// imageList names the images that have a layer: "all N images" when every listed image
// does, else the references, or their numbers in the image table when the names would
// be too long (unless noTrunc); images not listed are counted.
func imageList(s sharedJSON, num []string, l sharedLayerJSON, noTrunc bool) string {
	var out string
	switch names := strings.Join(l.Images, ", "); {
	case len(l.Images) == len(s.Images) && len(l.Images) > 2 && !noTrunc:
		out = "all " + plural(distinctImages(s), "image")
	case noTrunc || len(names) <= 50:
		out = termSafe(names)
	default:
		numOf := map[string]string{}
		for i, im := range s.Images {
			numOf[im.Image] = num[i]
		}
		var nums []string
		seen := map[string]bool{}
		for _, r := range l.Images {
			if n := numOf[r]; !seen[n] {
				seen[n] = true
				nums = append(nums, n)
			}
		}
		out = "#" + strings.Join(nums, ", #")
	}
	if l.Unlisted > 0 {
		out += fmt.Sprintf(" + %s", plural(l.Unlisted, "unlisted image"))
	}
	return out
}

// sharedJSON is `shared --format json`, and the view every shared output is rendered
// from; field names are documented in the README.
type sharedJSON struct {
	Images              []sharedImageJSON `json:"images"`
	Layers              []sharedLayerJSON `json:"layers"`
	SameContent         []sameContentJSON `json:"sameContent"`
	TotalSize           *int64            `json:"totalSize"`
	CompressedTotalSize *int64            `json:"compressedTotalSize,omitempty"`
	DiskSize            *int64            `json:"diskSize"`
	CompressedDiskSize  *int64            `json:"compressedDiskSize,omitempty"`
	SavedSize           *int64            `json:"savedSize"`
	CompressedSavedSize *int64            `json:"compressedSavedSize,omitempty"`
	// Matrix is there with --matrix: matrix[i][j] is the bytes images[i] and images[j]
	// share.
	Matrix [][]int64 `json:"matrix,omitempty"`
	// Containers is there with --containers: the containers' writable layers.
	Containers *writableJSON `json:"containers,omitempty"`
	// Registry is there with --registry: the registry's own storage figures.
	Registry *registryJSON `json:"registry,omitempty"`
	// heat is the same matrix whether or not --matrix asked for it: the HTML page draws
	// it as a heat map.
	heat [][]int64
}

type sharedImageJSON struct {
	Image                string `json:"image"`
	ID                   string `json:"id"`
	Size                 *int64 `json:"size"`
	CompressedSize       *int64 `json:"compressedSize,omitempty"`
	SharedSize           *int64 `json:"sharedSize"`
	CompressedSharedSize *int64 `json:"compressedSharedSize,omitempty"`
	UniqueSize           *int64 `json:"uniqueSize"`
	CompressedUniqueSize *int64 `json:"compressedUniqueSize,omitempty"`
}

type sharedLayerJSON struct {
	ChainID        string   `json:"chainID"`
	DiffID         string   `json:"diffID"`
	Index          int      `json:"index"`
	Size           *int64   `json:"size"`
	CompressedSize *int64   `json:"compressedSize,omitempty"`
	Instruction    string   `json:"instruction"`
	CreatedBy      string   `json:"createdBy"`
	Comment        string   `json:"comment,omitempty"`
	Images         []string `json:"images"`
	// Unlisted counts the engine's unlisted (untagged) images that also have the layer.
	Unlisted int `json:"unlisted,omitempty"`
}

type sameContentJSON struct {
	DiffID         string   `json:"diffID"`
	Size           *int64   `json:"size"`
	CompressedSize *int64   `json:"compressedSize,omitempty"`
	Copies         int      `json:"copies"`
	Images         []string `json:"images"`
}

func newSharedJSON(s analyze.Sharing, matrix bool) sharedJSON {
	v := sharedJSON{
		Images:              []sharedImageJSON{},
		Layers:              []sharedLayerJSON{},
		SameContent:         []sameContentJSON{},
		TotalSize:           bytesOrNil(s.TotalSize),
		CompressedTotalSize: bytesOrNil(s.CompressedTotalSize),
		DiskSize:            bytesOrNil(s.DiskSize),
		CompressedDiskSize:  bytesOrNil(s.CompressedDiskSize),
		SavedSize:           bytesOrNil(s.SavedSize),
		CompressedSavedSize: bytesOrNil(s.CompressedSavedSize),
	}
	for _, im := range s.Images {
		v.Images = append(v.Images, sharedImageJSON{
			Image:                im.Ref,
			ID:                   im.ID,
			Size:                 bytesOrNil(im.Size),
			CompressedSize:       bytesOrNil(im.CompressedSize),
			SharedSize:           bytesOrNil(im.SharedSize),
			CompressedSharedSize: bytesOrNil(im.CompressedSharedSize),
			UniqueSize:           bytesOrNil(im.UniqueSize),
			CompressedUniqueSize: bytesOrNil(im.CompressedUniqueSize),
		})
	}
	for _, l := range s.Layers {
		v.Layers = append(v.Layers, sharedLayerJSON{
			ChainID:        l.ChainID.String(),
			DiffID:         l.DiffID.String(),
			Index:          l.Index,
			Size:           bytesOrNil(l.Size),
			CompressedSize: bytesOrNil(l.CompressedSize),
			Instruction:    l.Instruction,
			CreatedBy:      l.CreatedBy,
			Comment:        l.Comment,
			Images:         l.Images,
			Unlisted:       l.Unlisted,
		})
	}
	for _, c := range s.SameContent {
		v.SameContent = append(v.SameContent, sameContentJSON{
			DiffID:         c.DiffID.String(),
			Size:           bytesOrNil(c.Size),
			CompressedSize: bytesOrNil(c.CompressedSize),
			Copies:         c.Copies,
			Images:         c.Images,
		})
	}
	v.heat = s.Matrix
	if matrix {
		v.Matrix = s.Matrix
	}
	return v
}

// SharedImageRow is what a --format template sees: one row per listed image. Sizes
// are human-readable; *Bytes fields are bytes (-1 when unknown).
type SharedImageRow struct {
	Image                 string
	ID                    string
	Size                  string // uncompressed
	SharedSize            string
	UniqueSize            string
	CompressedSize        string // "?" unless every layer has a compressed size
	CompressedSharedSize  string
	CompressedUniqueSize  string
	Bytes                 int64
	SharedBytes           int64
	UniqueBytes           int64
	CompressedBytes       int64
	CompressedSharedBytes int64
	CompressedUniqueBytes int64
	// Containers and WritableSize (WritableBytes) are, with --containers, how many
	// containers run from the image and their writable layers' total ("?" and -1
	// without --containers).
	Containers    int
	WritableSize  string
	WritableBytes int64
}

func sharedRows(v sharedJSON, o renderOpts) []any {
	rows := make([]any, len(v.Images))
	for i, im := range v.Images {
		rows[i] = SharedImageRow{
			Image:                 im.Image,
			ID:                    shortID(im.ID, o.noTrunc),
			Size:                  jsonSize(im.Size),
			SharedSize:            jsonSize(im.SharedSize),
			UniqueSize:            jsonSize(im.UniqueSize),
			CompressedSize:        jsonSize(im.CompressedSize),
			CompressedSharedSize:  jsonSize(im.CompressedSharedSize),
			CompressedUniqueSize:  jsonSize(im.CompressedUniqueSize),
			Bytes:                 jsonBytes(im.Size),
			SharedBytes:           jsonBytes(im.SharedSize),
			UniqueBytes:           jsonBytes(im.UniqueSize),
			CompressedBytes:       jsonBytes(im.CompressedSize),
			CompressedSharedBytes: jsonBytes(im.CompressedSharedSize),
			CompressedUniqueBytes: jsonBytes(im.CompressedUniqueSize),
		}
		r := rows[i].(SharedImageRow)
		r.Containers, r.WritableBytes = writableOf(v.Containers, im.ID)
		r.WritableSize = humanSize(r.WritableBytes)
		rows[i] = r
	}
	return rows
}

// sharedIDs is what -q prints: each listed image's ID, once.
func sharedIDs(v sharedJSON, o renderOpts) []string {
	var ids []string
	seen := map[string]bool{}
	for _, im := range v.Images {
		if !seen[im.ID] {
			seen[im.ID] = true
			ids = append(ids, shortID(im.ID, o.noTrunc))
		}
	}
	return ids
}
