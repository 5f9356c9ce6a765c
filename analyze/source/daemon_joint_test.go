package source

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// twoEngine answers the engine API for several images by reference, as dockerd would,
// and exports any set of them in one stream, each layer content once.
type twoEngine struct {
	t      *testing.T
	style  saveStyle
	images map[string]*fakeEngine // by reference
	// containerd makes inspect describe images as the containerd image store does, so
	// their sizes are unknown until measured.
	containerd bool
	saves      [][]string // the IDs of each ImageSave call
	saveOpts   []int      // how many options each ImageSave call had
	// refuseJoint fails an export of more than one image; drop leaves the last image
	// out of one.
	refuseJoint, drop bool
	// garble is the name of an export entry whose bytes are replaced by a broken gzip
	// stream, in joint exports.
	garble string
}

// garbled rewrites an export with the entry e.garble broken.
func (e *twoEngine) garbled(b []byte) []byte {
	var out bytes.Buffer
	tr, w := tar.NewReader(bytes.NewReader(b)), tarWriter{t: e.t, tw: tar.NewWriter(&out)}
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		data, _ := io.ReadAll(tr)
		if hdr.Name == e.garble {
			data = append([]byte{0x1f, 0x8b, 8, 0}, bytes.Repeat([]byte{0xff}, len(data))...)
		}
		w.file(hdr.Name, data)
	}
	if err := w.tw.Close(); err != nil {
		e.t.Fatal(err)
	}
	return out.Bytes()
}

func (e *twoEngine) byID(id string) *fakeEngine {
	for _, f := range e.images {
		if f.id() == id {
			return f
		}
	}
	return nil
}

func (e *twoEngine) ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	f, ok := e.images[ref]
	if !ok {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound
	}
	res, err := f.ImageInspect(ctx, ref, opts...)
	if e.containerd {
		res.Descriptor = &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest}
	}
	return res, err
}

func (e *twoEngine) ImageHistory(ctx context.Context, id string, opts ...client.ImageHistoryOption) (client.ImageHistoryResult, error) {
	f := e.byID(id)
	if f == nil {
		return client.ImageHistoryResult{}, cerrdefs.ErrNotFound
	}
	return f.ImageHistory(ctx, id, opts...)
}

func (e *twoEngine) ImageSave(_ context.Context, ids []string, opts ...client.ImageSaveOption) (client.ImageSaveResult, error) {
	e.saves = append(e.saves, ids)
	e.saveOpts = append(e.saveOpts, len(opts))
	if len(ids) > 1 && e.refuseJoint {
		return nil, errors.New("exports of several images are not supported")
	}
	if len(ids) > 1 && e.drop {
		ids = ids[:len(ids)-1]
	}
	var imgs []v1.Image
	var tags []string
	for _, id := range ids {
		f := e.byID(id)
		if f == nil {
			return nil, cerrdefs.ErrNotFound
		}
		imgs = append(imgs, f.img)
		tags = append(tags, fmt.Sprintf("app:%d", len(tags)))
	}
	b, err := os.ReadFile(writeSave(e.t, e.style, tags, imgs...))
	if err != nil {
		return nil, err
	}
	if len(ids) > 1 && e.garble != "" {
		b = e.garbled(b)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (e *twoEngine) ImageList(context.Context, client.ImageListOptions) (client.ImageListResult, error) {
	return client.ImageListResult{}, nil
}

func (e *twoEngine) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Os: "linux", Arch: "amd64"}, nil
}

func (e *twoEngine) DaemonHost() string { return "unix:///fake/docker.sock" }

// twoImages are app:v1 and app:v2 on one base of two layers; v2 has an empty layer twice
// (two WORKDIR steps: one content at two indexes).
func twoImages(t *testing.T, style saveStyle) *twoEngine {
	t.Helper()
	base := []map[string]string{{"etc/os": "base\n", "bin/sh": "#!\n"}, {"usr/lib/big": strings.Repeat("x", 5000)}}
	build := func(own ...map[string]string) *fakeEngine {
		img := empty.Image
		var sizes []int64
		for _, files := range append(slices.Clone(base), own...) {
			var err error
			img, err = mutate.Append(img, mutate.Addendum{Layer: imagetest.FileLayer(t, files), History: v1.History{CreatedBy: "RUN step # buildkit"}})
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, c := range files {
				n += int64(len(c))
			}
			sizes = append(sizes, n)
		}
		cfg, _ := img.ConfigFile()
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", "amd64"
		img, err := mutate.ConfigFile(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return &fakeEngine{t: t, img: img, sizes: sizes, style: style}
	}
	return &twoEngine{t: t, style: style, images: map[string]*fakeEngine{
		"app:v1": build(map[string]string{"app/index.js": "v1\n"}),
		"app:v2": build(map[string]string{"app/index.js": "v2!\n"}, map[string]string{}, map[string]string{}),
	}}
}

func loadTwo(t *testing.T, e *twoEngine, need Need) (*Loaded, error) {
	t.Helper()
	return Load(context.Background(), nil, []string{"app:v1", "app:v2"}, Options{Daemon: func() (DaemonClient, error) { return e, nil }}, need)
}

// entryList lists a layer's entries as "path:size".
func entryList(files []analyze.File) string {
	var out []string
	for _, f := range files {
		out = append(out, fmt.Sprintf("%s:%d", f.Path, f.Size))
	}
	return strings.Join(out, " ")
}

// Two images of one engine are read from one export, which sends their shared layers
// once; each image gets the entries of the layers it asked for, a shared one included.
func TestLoadJointExport(t *testing.T) {
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			e := twoImages(t, style)
			l, err := loadTwo(t, e, Need{
				Sizes: SizesLocal,
				Files: func([]*Image) [][]int { return [][]int{{1, 2}, {1, 2, 4}} },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if len(e.saves) != 1 || len(e.saves[0]) != 2 {
				t.Fatalf("exports %v, want one of both images", e.saves)
			}
			for k, want := range []map[int]string{
				{1: "/usr/lib/big:5000", 2: "/app/index.js:3"},
				{1: "/usr/lib/big:5000", 2: "/app/index.js:4", 4: ""},
			} {
				got := map[int]string{}
				for i, files := range l.Files[k] {
					got[i] = entryList(files)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("image %d: files %v, want %v", k, got, want)
				}
			}
		})
	}
}

// On the containerd image store sizes are unknown until measured: one export measures
// both images, a content they share and one an image has twice once each, and asks the
// engine for the platform the images were inspected for.
func TestLoadJointExportMeasures(t *testing.T) {
	e := twoImages(t, containerdSave)
	e.containerd = true
	l, err := loadTwo(t, e, Need{Sizes: SizesLocal})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Opening reads each image's config from an export of its own.
	if len(e.saves) != 3 || len(e.saves[2]) != 2 {
		t.Fatalf("exports %v, want one per image to open it, then one of both", e.saves)
	}
	if e.saveOpts[2] != 1 {
		t.Errorf("the joint export had %d options, want the platform", e.saveOpts[2])
	}
	for k, want := range []string{"[8 5000 3]", "[8 5000 4 0 0]"} {
		if got := fmt.Sprint(layerSizes(l.Images[k])); got != want {
			t.Errorf("image %d sizes %s, want %s", k, got, want)
		}
	}
}

// A replay gets each image's layers bottom first, the layers they share included, from
// one export.
func TestLoadJointReplay(t *testing.T) {
	e := twoImages(t, classicSave)
	got := make([][]string, 2)
	last := []int{-1, -1}
	l, err := loadTwo(t, e, Need{
		Files: func(images []*Image) [][]int { return [][]int{{2, 1, 0}, {0, 1, 2, 3, 4}} },
		Replay: func(k, layer int, f analyze.File) error {
			if layer < last[k] {
				t.Errorf("image %d: layer %d after layer %d", k, layer, last[k])
			}
			last[k] = layer
			got[k] = append(got[k], fmt.Sprintf("%d%s", layer, f.Path))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if len(e.saves) != 1 {
		t.Errorf("exports %v, want one", e.saves)
	}
	want := [][]string{
		{"0/bin/sh", "0/etc/os", "1/usr/lib/big", "2/app/index.js"},
		{"0/bin/sh", "0/etc/os", "1/usr/lib/big", "2/app/index.js"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
}

// An export that lacks a layer fails naming the image that waits for it; an engine that
// refuses a joint export has each image read from an export of its own, whose errors
// say which image is missing.
func TestLoadJointExportErrors(t *testing.T) {
	need := Need{Files: func([]*Image) [][]int { return [][]int{{2}, {2}} }}

	e := twoImages(t, classicSave)
	e.drop = true
	_, err := loadTwo(t, e, need)
	if err == nil || !strings.HasPrefix(err.Error(), "app:v2: reading the engine's export: the export lacks layer(s) sha256:") {
		t.Errorf("a layer missing: %v", err)
	}

	e = twoImages(t, classicSave)
	e.refuseJoint = true
	l, err := loadTwo(t, e, need)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.saves) != 3 || len(e.saves[1]) != 1 || len(e.saves[2]) != 1 {
		t.Errorf("exports %v, want a refused joint one, then one per image", e.saves)
	}
	if got := entryList(l.Files[1][2]); got != "/app/index.js:4" {
		t.Errorf("files of v2 from its own export: %s", got)
	}
	l.Close()

	e = twoImages(t, classicSave)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Load(ctx, nil, []string{"app:v1", "app:v2"}, Options{Daemon: func() (DaemonClient, error) { return e, nil }}, Need{
		Files: func([]*Image) [][]int {
			cancel() // Ctrl-C once the images are open
			return [][]int{{2}, {2}}
		},
	})
	if err != context.Canceled {
		t.Errorf("cancelled: %v, want context.Canceled as it is", err)
	}
}

// Entries streamed from an engine export carry content digests only when asked: files
// --wasted needs none, and hashing every file would double the work on every byte.
func TestDaemonEntriesDigestsOnlyWhenAsked(t *testing.T) {
	for _, digests := range []bool{false, true} {
		e := twoImages(t, classicSave)
		var got []string
		l, err := loadTwo(t, e, Need{
			Files: func([]*Image) [][]int { return [][]int{{2}, {2}} },
			Replay: func(k, _ int, f analyze.File) error {
				got = append(got, fmt.Sprintf("%d%s:%t", k, f.Path, f.Digest != ""))
				return nil
			},
			ReplayDigests: digests,
		})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		img := openFake(t, e.images["app:v1"], "app:v1")
		err = img.StreamEntries(context.Background(), []int{2}, EntryOptions{Digests: digests}, func(_ int, f analyze.File) error {
			got = append(got, fmt.Sprintf("one%s:%t", f.Path, f.Digest != ""))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got) // the two images' layers come in the export's order
		want := fmt.Sprintf("[0/app/index.js:%[1]t 1/app/index.js:%[1]t one/app/index.js:%[1]t]", digests)
		if fmt.Sprint(got) != want {
			t.Errorf("digests %t: entries %v, want %s", digests, got, want)
		}
	}
}

// On the containerd image store, the engine's manifest names each layer's compressed
// blob: a blob no image wants passes unread (here a broken one, which a read would fail
// on), and a wanted one is still read and checked against its diffID.
func TestScanExportSkipsUnwantedBlobs(t *testing.T) {
	e := twoImages(t, containerdSave)
	e.garble = "blobs/sha256/"
	layers, _ := e.images["app:v1"].img.Layers()
	d := &daemonImage{}
	for _, l := range layers {
		diffID, _ := l.DiffID()
		digest, _ := l.Digest()
		d.diffIDs, d.blobs = append(d.diffIDs, diffID), append(d.blobs, digest)
	}
	e.garble += d.blobs[1].Hex
	rc, err := e.ImageSave(context.Background(), []string{e.images["app:v1"].id(), e.images["app:v2"].id()})
	if err != nil {
		t.Fatal(err)
	}
	export, _ := io.ReadAll(rc)
	for _, c := range []struct {
		want int
		err  string
	}{
		{2, ""},
		{1, "blobs/sha256/" + d.blobs[1].Hex + ": reading layer tar"},
	} {
		found := 0
		err := scanExport(context.Background(), bytes.NewReader(export), map[v1.Hash][]int{d.diffIDs[c.want]: {c.want}}, exportLayers(d), true, false, func(i int, s LayerScan) error {
			found++
			return nil
		})
		if c.err == "" && (err != nil || found != 1) {
			t.Errorf("layer %d: err %v, found %d", c.want, err, found)
		}
		if c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)) {
			t.Errorf("layer %d: err %v, want %s…", c.want, err, c.err)
		}
	}
}

func TestNameImages(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"a:1"}, "a:1"},
		{[]string{"a:1", "b:2"}, "a:1, b:2"},
		{[]string{"a:1", "b:2", "c:3"}, "a:1 and 2 other images"},
	} {
		if got := nameImages(c.names); got != c.want {
			t.Errorf("nameImages(%v) = %q, want %q", c.names, got, c.want)
		}
	}
}
