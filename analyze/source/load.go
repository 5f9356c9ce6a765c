package source

import (
	"context"
	"fmt"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// SizeNeed says which unknown uncompressed layer sizes Load measures.
type SizeNeed int

const (
	// SizesNone reads metadata only.
	SizesNone SizeNeed = iota
	// SizesLocal measures the sizes a source does not record, unless reading the layers
	// would download them (Image.Remote).
	SizesLocal
	// SizesAll measures every unknown size, downloading registry blobs if need be.
	SizesAll
)

// Need declares what a command reads beyond the images' metadata.
type Need struct {
	Sizes SizeNeed
	// Files, when set, is called once every image is open and returns, per image, the
	// layer indexes whose entries to read (nil or empty for none).
	Files func(images []*Image) [][]int
	// Entry, when set, receives each entry of those layers as it is read instead of
	// Load keeping them (streaming commands); it may be called from several goroutines
	// for different layers at once.
	Entry func(image, layer int, f analyze.File) error
	// Replay, when set, receives the entries of the layers Files names instead of Entry
	// or Loaded.Files: each image's bottom layer first, in tar order, from one
	// goroutine — what replaying layers as a filesystem needs (analyze.Filesystem).
	// Layers are read several at a time (see Image.StreamEntries); images of one engine
	// export (see readJointly) interleave, others come image after image.
	Replay func(image, layer int, f analyze.File) error
	// ReplayDigests asks Replay's entries to carry content digests; without them files
	// are not hashed one by one (the layer digests are still checked).
	ReplayDigests bool
	// Steps, when set, says the command needs the history (the steps that made the
	// layers) of some images only. Engine images on the classic store are then opened
	// from inspect alone, their layer sizes are worked out from the engine's figures for
	// other images where they can be (see sizeDeferred), and Steps is called with
	// every image open: it returns the indexes of the images whose history to read
	// (Image.HistoryDeferred tells which are still unread). It is called again after
	// they are read, until it names no unread one.
	Steps func(images []*Image) []int
}

// Loaded is what Load read. Close it when done.
type Loaded struct {
	// Images are the opened images, in the order of the references.
	Images []*Image
	// Files holds, per image, the entries of the layers Need.Files named (layer index →
	// entries in tar order), unless Need.Entry took them.
	Files []map[int][]analyze.File
	// Downloaded is how many bytes reading each image's layers downloaded (registries).
	Downloaded []int64
}

// Close releases every image.
func (l *Loaded) Close() {
	for _, img := range l.Images {
		if img != nil {
			img.Close()
		}
	}
}

// Opener opens one reference: Open, or in tests a function handing out images built in
// code.
type Opener func(ctx context.Context, ref string, opts Options) (*Image, error)

// openWorkers bounds how many images are opened at once: an engine answers several
// metadata requests in parallel, and a command may list hundreds of images.
const openWorkers = 8

// Load is the one way commands read images: it opens every reference (in parallel),
// then reads, in one pass over each image, the layers whose uncompressed sizes need
// measuring (each distinct content once across all the images) and the layers whose
// entries the command asked for; images of one engine are read from one export of them
// all. On error nothing stays open.
func Load(ctx context.Context, open Opener, refs []string, opts Options, need Need) (*Loaded, error) {
	if open == nil {
		open = Open
	}
	// A malformed reference is a usage error before anything is read.
	for _, ref := range refs {
		if _, err := ParseRef(ref); err != nil {
			return nil, err
		}
	}
	l := &Loaded{
		Images:     make([]*Image, len(refs)),
		Files:      make([]map[int][]analyze.File, len(refs)),
		Downloaded: make([]int64, len(refs)),
	}
	opts.deferHistory = need.Steps != nil
	if err := l.openAll(ctx, open, refs, opts); err != nil {
		l.Close()
		return nil, err
	}
	if need.Steps != nil {
		if err := l.readSteps(ctx, need.Steps); err != nil {
			l.Close()
			return nil, err
		}
	}
	var files [][]int
	if need.Files != nil {
		files = need.Files(l.Images)
	}
	sizes := Sizes{}
	for _, img := range l.Images {
		sizes.Known(img)
	}
	keepOf := func(k int) []int {
		if k < len(files) {
			return files[k]
		}
		return nil
	}
	done, err := l.readJointly(ctx, keepOf, sizes, need)
	if err != nil {
		l.Close()
		return nil, err
	}
	for k, img := range l.Images {
		if done[k] {
			continue
		}
		p := planLayers(img, keepOf(k), sizes, need)
		if len(p.replay) > 0 {
			if err := l.replay(ctx, k, img, p.replay, sizes, need); err != nil {
				l.Close()
				return nil, err
			}
		}
		if err := l.read(ctx, k, img, p.want, p.keep, sizes, need.Entry); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *Loaded) openAll(ctx context.Context, open Opener, refs []string, opts Options) error {
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(openWorkers, len(refs)) {
		wg.Go(func() {
			for i := range next {
				l.Images[i], errs[i] = open(ctx, refs[i], opts)
			}
		})
	}
	for i := range refs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readSteps sizes the images opened without their history, then reads the histories
// steps asks for. Should one history read show that the engine's image sizes are not
// its layers' sizes added up, every history is read: derived sizes would be wrong.
func (l *Loaded) readSteps(ctx context.Context, steps func([]*Image) []int) error {
	addsUp, err := sizeDeferred(ctx, l.Images)
	if err != nil {
		return err
	}
	for {
		var unread []*Image
		for _, i := range steps(l.Images) {
			if i >= 0 && i < len(l.Images) && l.Images[i].HistoryDeferred() && !slices.Contains(unread, l.Images[i]) {
				unread = append(unread, l.Images[i])
			}
		}
		if len(unread) == 0 {
			break
		}
		ok, err := readHistories(ctx, unread)
		if err != nil {
			return err
		}
		addsUp = addsUp && ok
	}
	if !addsUp {
		return readDeferred(ctx, l.Images)
	}
	return nil
}

// layerPlan is what Load reads of one image: the layers to scan (want: to measure, or
// to keep the entries of, keep ⊆ want) and the layers whose entries go to Need.Replay in
// order (replay, which also measures them).
type layerPlan struct {
	want, keep, replay []int
}

func (p layerPlan) empty() bool { return len(p.want) == 0 && len(p.replay) == 0 }

// planLayers decides what to read of img: the sizes need asks for that sizes does not
// know yet, and the layers keep names.
func planLayers(img *Image, keep []int, sizes Sizes, need Need) layerPlan {
	var want []int
	if measure := need.Sizes == SizesAll || (need.Sizes == SizesLocal && !img.Remote); measure {
		want = sizes.Missing(img)
	}
	if need.Replay != nil && len(keep) > 0 {
		want = slices.DeleteFunc(want, func(i int) bool { return slices.Contains(keep, i) })
		return layerPlan{want: want, replay: keep}
	}
	for _, i := range keep {
		if !slices.Contains(want, i) {
			want = append(want, i)
		}
	}
	return layerPlan{want: want, keep: keep}
}

// read scans the layers want of image k once: a layer read for its entries has its size
// measured too, whatever the source.
func (l *Loaded) read(ctx context.Context, k int, img *Image, want, keep []int, sizes Sizes, entry func(int, int, analyze.File) error) error {
	if len(want) == 0 {
		return nil
	}
	before := img.BytesDownloaded()
	err := img.ScanLayers(ctx, want, len(keep) > 0, func(i int, s LayerScan) error {
		sizes.Record(img, i, s.Size)
		if !slices.Contains(keep, i) {
			return nil
		}
		return l.keepFiles(k, i, s.Files, entry)
	})
	l.Downloaded[k] = img.BytesDownloaded() - before
	return err
}

// keepFiles hands layer i of image k's entries to entry, or keeps them in l.Files.
func (l *Loaded) keepFiles(k, i int, files []analyze.File, entry func(int, int, analyze.File) error) error {
	if entry == nil {
		if l.Files[k] == nil {
			l.Files[k] = map[int][]analyze.File{}
		}
		l.Files[k][i] = files
		if files == nil {
			l.Files[k][i] = []analyze.File{}
		}
		return nil
	}
	for _, f := range files {
		if err := entry(k, i, f); err != nil {
			return err
		}
	}
	return nil
}

// TransportImage names images handed in as go-containerregistry values (tests, tools).
const TransportImage = "image"

// FromV1 wraps a go-containerregistry image, such as one built in code, as a source
// image named ref.
func FromV1(img v1.Image, ref string) (*Image, error) {
	out, err := fromV1(img, TransportImage)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	out.Ref = ref
	return out, nil
}
