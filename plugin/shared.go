package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type sharedOptions struct {
	format          string
	noTrunc         bool
	matrix          bool
	platform        string
	all             bool
	includeDangling bool
	filters         []string
	uncompressed    bool
	containers      bool
}

func newSharedCommand(dockerCli command.Cli) *cobra.Command {
	var opts sharedOptions
	cmd := &cobra.Command{
		Use:   "shared [OPTIONS] IMAGE IMAGE... | --all",
		Short: "Show which layers images share, and what each image really costs on disk",
		Long: `Show which layers a set of images share and what each image really costs.

A layer is shared when its chain ID (the layer plus everything below it) is the same
in two images: the engine stores it once and a registry serves it once. An image
named twice (two tags of one image) is one image and shares nothing with itself.

  SIZE     the image's size, all its layers
  SHARED   the size of its layers that some other listed image also has
  UNIQUE   the size of its layers no other listed image has: what removing
           only this image would free

Totals: the images' sizes added up as "docker image ls" shows them, the bytes the
distinct layers really take, and the difference that sharing saves. Layers with the
same content on different parents are listed apart: the same bytes stored twice.

Sizes are uncompressed; compressed sizes are added when every layer has one.

IMAGE is one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry (manifest and config only)
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout

The engine's images are read from metadata alone (inspect and history, as
"docker history" does), so --all over hundreds of images is quick.`,
		Args: func(cmd *cobra.Command, args []string) error {
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
		RunE: func(cmd *cobra.Command, args []string) error {
			return runShared(cmd, dockerCli, args, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", formatHelp+" (the template runs once per image, over SharedImageRow)")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output: full IDs, instructions and image lists")
	flags.BoolVar(&opts.matrix, "matrix", false, "Also show an image × image table of shared bytes")
	flags.BoolVarP(&opts.all, "all", "a", false, "Every tagged image in the local engine")
	flags.BoolVar(&opts.includeDangling, "include-dangling", false, "With --all: untagged images too")
	flags.StringArrayVarP(&opts.filters, "filter", "f", nil, `With --all: filter images as "docker image ls" does (e.g. reference=app:*)`)
	flags.BoolVar(&opts.uncompressed, "uncompressed", false, "For docker:// images, download each distinct layer blob once to measure uncompressed sizes (nothing is kept on disk)")
	flags.BoolVar(&opts.containers, "containers", false, "With --all: also the containers' writable layers (running and stopped), per image and in total")
	addPlatformFlag(flags, &opts.platform)
	return cmd
}

func runShared(cmd *cobra.Command, dockerCli command.Cli, refs []string, opts sharedOptions) error {
	format, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, opts.format, opts.platform)
	if err != nil {
		return err
	}
	defer stop()

	if opts.all {
		refs, err = source.ListDaemon(ctx, srcOpts, opts.includeDangling, opts.filters)
		if errorsIs(err, source.ErrUsage) {
			return usageError(cmd, err.Error())
		}
		if err != nil {
			return imageError(cmd, err)
		}
	}
	images, err := openShared(ctx, refs, srcOpts, opts.uncompressed)
	if err != nil {
		return imageError(cmd, err)
	}
	s := analyze.Share(images)
	var writable *writableJSON
	if opts.containers {
		u, err := readWritable(ctx, srcOpts)
		if err != nil {
			return imageError(cmd, err)
		}
		writable = newWritableJSON(u)
	}

	out := dockerCli.Out()
	switch {
	case format.json:
		v := newSharedJSON(s, opts.matrix)
		v.Containers = writable
		return writeJSON(out, v)
	case format.tmpl != nil:
		return format.writeTemplate(out, sharedRows(s, opts, writable))
	}
	if err := writeSharedTable(out, s, opts); err != nil {
		return err
	}
	if writable != nil {
		return writeWritableTable(out, writable, opts.noTrunc)
	}
	return nil
}

// openWorkers bounds how many images are opened at once: an engine answers several
// metadata requests in parallel, and --all may list hundreds of images.
const openWorkers = 8

// openShared opens every image (metadata only where the source has sizes, as the engine
// does) and fills in unknown uncompressed sizes, reading each distinct layer content
// once across all the images: a shared layer is not read again for every image that
// has it. Registry layers are downloaded for that only when download is true.
func openShared(ctx context.Context, refs []string, opts source.Options, download bool) ([]analyze.Image, error) {
	opened := make([]*source.Image, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(openWorkers, len(refs)) {
		wg.Go(func() {
			for i := range next {
				opened[i], errs[i] = source.Open(ctx, refs[i], opts)
			}
		})
	}
	for i := range refs {
		next <- i
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, img := range opened {
			if img != nil {
				img.Close()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	sizes := source.Sizes{}
	for _, img := range opened {
		if img.Remote && !download {
			continue
		}
		if err := sizes.Measure(ctx, img); err != nil {
			return nil, err
		}
	}
	images := make([]analyze.Image, len(opened))
	for i, img := range opened {
		images[i] = img.Image
	}
	return images, nil
}

// compressedKnown reports whether the compressed figures are there to show.
func compressedKnown(s analyze.Sharing) bool {
	return s.CompressedTotalSize != analyze.Unknown
}

func writeSharedTable(w io.Writer, s analyze.Sharing, opts sharedOptions) error {
	compressed := compressedKnown(s)
	num := imageNumbers(s)

	fmt.Fprintln(w, "Images (sizes uncompressed"+ifStr(compressed, ", then compressed")+"):")
	t := &table{header: []string{"#", "IMAGE", "ID", "SIZE", "SHARED", "UNIQUE"}}
	if compressed {
		t.header = append(t.header, "COMPRESSED", "SHARED", "UNIQUE")
	}
	for i, im := range s.Images {
		row := []string{num[i], im.Ref, shortID(im.ID, opts.noTrunc), humanSize(im.Size), humanSize(im.SharedSize), humanSize(im.UniqueSize)}
		if compressed {
			row = append(row, humanSize(im.CompressedSize), humanSize(im.CompressedSharedSize), humanSize(im.CompressedUniqueSize))
		}
		t.append(row...)
	}
	if err := t.render(w); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(s.Layers) == 0 {
		fmt.Fprintln(w, "Shared layers: none (no layer is in two or more of these images)")
	} else {
		fmt.Fprintln(w, "Shared layers, largest first (same chain ID: stored once):")
		t = &table{header: []string{"SIZE", "INSTRUCTION", "IMAGES"}}
		if compressed {
			t.header = []string{"SIZE", "COMPRESSED", "INSTRUCTION", "IMAGES"}
		}
		for _, l := range s.Layers {
			instr := l.Instruction
			if instr == "" && l.Comment != "" {
				instr = "(" + l.Comment + ")"
			}
			if instr == "" {
				instr = "?"
			}
			if opts.noTrunc && l.CreatedBy != "" {
				instr = strings.Join(strings.Fields(l.CreatedBy), " ")
			} else if !opts.noTrunc {
				instr = ellipsis(instr, 60)
			}
			row := []string{humanSize(l.Size)}
			if compressed {
				row = append(row, humanSize(l.CompressedSize))
			}
			t.append(append(row, instr, imageList(s, num, l.Images, opts.noTrunc))...)
		}
		if err := t.render(w); err != nil {
			return err
		}
	}

	if len(s.SameContent) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Same content on different parents (same diffID, stored once per parent):")
		t = &table{header: []string{"SIZE", "COPIES", "STORED TWICE", "DIFF ID", "IMAGES"}}
		for _, c := range s.SameContent {
			t.append(humanSize(c.Size), fmt.Sprint(c.Copies), humanSize(c.DuplicateSize()), shortID(c.DiffID.String(), opts.noTrunc), imageList(s, num, c.Images, opts.noTrunc))
		}
		if err := t.render(w); err != nil {
			return err
		}
	}

	if opts.matrix {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Shared bytes between images (uncompressed; the diagonal is the image's size):")
		t = &table{header: []string{"#"}}
		for i := range s.Images {
			t.header = append(t.header, num[i])
		}
		for i, row := range s.Matrix {
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
	fmt.Fprintf(w, "Total: %s as image ls adds them, %s of distinct layers, %s saved by sharing (uncompressed)\n",
		humanSize(s.TotalSize), humanSize(s.DiskSize), humanSize(s.SavedSize))
	if compressed {
		fmt.Fprintf(w, "Compressed: %s as image ls adds them, %s of distinct layers, %s saved by sharing\n",
			humanSize(s.CompressedTotalSize), humanSize(s.CompressedDiskSize), humanSize(s.CompressedSavedSize))
	}
	if s.TotalSize == analyze.Unknown {
		fmt.Fprintln(w, "Note: ? = unknown: a registry records only compressed sizes (--uncompressed downloads the layers to measure them)")
	}
	if n := distinctImages(s); n < len(s.Images) {
		fmt.Fprintf(w, "Note: %d references name %d images; an image named twice is counted once and shares nothing with itself\n", len(s.Images), n)
	}
	return nil
}

// imageNumbers numbers the images for the matrix; the references of one image share a
// number.
func imageNumbers(s analyze.Sharing) []string {
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

func distinctImages(s analyze.Sharing) int {
	ids := map[string]bool{}
	for _, im := range s.Images {
		ids[im.ID] = true
	}
	return len(ids)
}

// imageList names the images that have a layer: "all N" when every listed image does,
// else the references, or their numbers in the image table when the names would be
// too long (unless noTrunc).
func imageList(s analyze.Sharing, num, refs []string, noTrunc bool) string {
	if len(refs) == len(s.Images) && len(refs) > 2 && !noTrunc {
		return fmt.Sprintf("all %d", len(refs))
	}
	names := strings.Join(refs, ", ")
	if noTrunc || len(names) <= 50 {
		return names
	}
	numOf := map[string]string{}
	for i, im := range s.Images {
		numOf[im.Ref] = num[i]
	}
	var nums []string
	seen := map[string]bool{}
	for _, r := range refs {
		if n := numOf[r]; !seen[n] {
			seen[n] = true
			nums = append(nums, n)
		}
	}
	return "#" + strings.Join(nums, ", #")
}

func ifStr(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// sharedJSON is `shared --format json`; field names are documented in the README.
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
	Size           *int64   `json:"size"`
	CompressedSize *int64   `json:"compressedSize,omitempty"`
	Instruction    string   `json:"instruction"`
	Images         []string `json:"images"`
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
			Size:           bytesOrNil(l.Size),
			CompressedSize: bytesOrNil(l.CompressedSize),
			Instruction:    l.Instruction,
			Images:         l.Images,
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
	// containers run from the image and their writable layers' total.
	Containers    int
	WritableSize  string
	WritableBytes int64
}

func sharedRows(s analyze.Sharing, opts sharedOptions, writable *writableJSON) []any {
	rows := make([]any, len(s.Images))
	for i, im := range s.Images {
		r := SharedImageRow{
			Image:                 im.Ref,
			ID:                    shortID(im.ID, opts.noTrunc),
			Size:                  humanSize(im.Size),
			SharedSize:            humanSize(im.SharedSize),
			UniqueSize:            humanSize(im.UniqueSize),
			CompressedSize:        humanSize(im.CompressedSize),
			CompressedSharedSize:  humanSize(im.CompressedSharedSize),
			CompressedUniqueSize:  humanSize(im.CompressedUniqueSize),
			Bytes:                 im.Size,
			SharedBytes:           im.SharedSize,
			UniqueBytes:           im.UniqueSize,
			CompressedBytes:       im.CompressedSize,
			CompressedSharedBytes: im.CompressedSharedSize,
			CompressedUniqueBytes: im.CompressedUniqueSize,
		}
		r.Containers, r.WritableBytes = writableOf(writable, im.ID)
		r.WritableSize = humanSize(r.WritableBytes)
		rows[i] = r
	}
	return rows
}
