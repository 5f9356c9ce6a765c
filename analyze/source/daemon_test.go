package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// fakeEngine answers the engine API calls for one image, as dockerd would.
type fakeEngine struct {
	t       *testing.T
	img     v1.Image
	sizes   []int64 // the history API's size of each history entry, oldest first
	style   saveStyle
	saves   int // ImageSave calls
	inspErr error
	list    []image.Summary  // what ImageList answers
	listed  []client.Filters // the filters of each ImageList call
}

func (e *fakeEngine) id() string {
	h, _ := e.img.ConfigName()
	return h.String()
}

func (e *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if e.inspErr != nil {
		return client.ImageInspectResult{}, e.inspErr
	}
	cfg, _ := e.img.ConfigFile()
	res := image.InspectResponse{
		ID:           e.id(),
		RepoTags:     []string{ref},
		Created:      cfg.Created.Format(time.RFC3339Nano),
		Architecture: cfg.Architecture,
		Os:           cfg.OS,
		Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
			User: cfg.Config.User, Env: cfg.Config.Env, Cmd: cfg.Config.Cmd, WorkingDir: cfg.Config.WorkingDir,
		}},
		RootFS: image.RootFS{Type: "layers"},
	}
	for _, d := range cfg.RootFS.DiffIDs {
		res.RootFS.Layers = append(res.RootFS.Layers, d.String())
	}
	return client.ImageInspectResult{InspectResponse: res}, nil
}

func (e *fakeEngine) ImageHistory(_ context.Context, id string, _ ...client.ImageHistoryOption) (client.ImageHistoryResult, error) {
	if id != e.id() {
		return client.ImageHistoryResult{}, cerrdefs.ErrNotFound
	}
	cfg, _ := e.img.ConfigFile()
	var res client.ImageHistoryResult
	for i, h := range cfg.History {
		item := image.HistoryResponseItem{ID: "<missing>", Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Comment: h.Comment, Size: e.sizes[i]}
		res.Items = append([]image.HistoryResponseItem{item}, res.Items...)
	}
	res.Items[0].ID = id
	return res, nil
}

func (e *fakeEngine) ImageSave(_ context.Context, ids []string, _ ...client.ImageSaveOption) (client.ImageSaveResult, error) {
	e.saves++
	if len(ids) != 1 || ids[0] != e.id() {
		return nil, fmt.Errorf("unexpected save of %v", ids)
	}
	b, err := os.ReadFile(writeSave(e.t, e.style, []string{"app:v1"}, e.img))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (e *fakeEngine) ImageList(_ context.Context, opts client.ImageListOptions) (client.ImageListResult, error) {
	e.listed = append(e.listed, opts.Filters)
	return client.ImageListResult{Items: e.list}, nil
}

func (e *fakeEngine) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Os: "linux", Arch: "arm64"}, nil
}

func (e *fakeEngine) DaemonHost() string { return "unix:///fake/docker.sock" }

// engineImage is a random image whose history has a step per letter of steps: L makes a
// layer, E is an empty RUN (BuildKit records a RUN that changed nothing as empty), M a
// metadata-only ENV.
func engineImage(t *testing.T, steps string) v1.Image {
	t.Helper()
	img := randomImage(t, strings.Count(steps, "L"))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.History = nil
	for i, k := range steps {
		by := fmt.Sprintf("RUN step %d # buildkit", i)
		if k == 'M' {
			by = fmt.Sprintf("ENV STEP=%d", i)
		}
		cfg.History = append(cfg.History, v1.History{
			CreatedBy:  by,
			Created:    v1.Time{Time: time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC)},
			EmptyLayer: k != 'L',
		})
	}
	cfg.Config.WorkingDir = "/app"
	cfg.Config.Cmd = []string{"node", "index.js"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func openFake(t *testing.T, e *fakeEngine, ref string) *Image {
	t.Helper()
	img, err := Open(context.Background(), ref, Options{Daemon: func() (DaemonClient, error) { return e, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerSizes(img *Image) []int64 {
	var out []int64
	for _, l := range img.Layers {
		out = append(out, l.Size)
	}
	return out
}

func TestDaemonFastPath(t *testing.T) {
	e := &fakeEngine{t: t, img: engineImage(t, "LELML"), sizes: []int64{100, 0, 200, 0, 300}}
	img := openFake(t, e, "app:v1")
	if e.saves != 0 {
		t.Errorf("the fast path exported the image %d times, want none", e.saves)
	}
	if img.ID != e.id() || img.Transport != TransportDaemon || img.Ref != "app:v1" {
		t.Errorf("got ID %s transport %s ref %s", img.ID, img.Transport, img.Ref)
	}
	if got, want := fmt.Sprint(layerSizes(img)), "[100 200 300]"; got != want {
		t.Errorf("sizes %s, want %s", got, want)
	}
	cfg, _ := e.img.ConfigFile()
	if fmt.Sprint(img.DiffIDs()) != fmt.Sprint(cfg.RootFS.DiffIDs) {
		t.Errorf("diffIDs %v, want %v", img.DiffIDs(), cfg.RootFS.DiffIDs)
	}
	steps, ok, reason := analyze.Steps(img.Config, len(img.Layers))
	if !ok {
		t.Fatal(reason)
	}
	for i, s := range steps {
		if s.EmptyLayer != cfg.History[i].EmptyLayer || s.CreatedBy != cfg.History[i].CreatedBy || !s.Created.Equal(cfg.History[i].Created.Time) {
			t.Errorf("step %d = %+v, want %+v", i, s, cfg.History[i])
		}
	}
	if img.Config.Config.WorkingDir != "/app" || fmt.Sprint(img.Config.Config.Cmd) != "[node index.js]" {
		t.Errorf("runtime config %+v", img.Config.Config)
	}
	if img.Image.Size() != 600 {
		t.Errorf("total %d, want 600", img.Image.Size())
	}
}

// A zero-sized layer among zero-sized RUN steps that made none: only the config can tell
// which is which, so it is read from the export.
func TestDaemonSlowPathReadsConfigFromExport(t *testing.T) {
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			e := &fakeEngine{t: t, style: style, img: engineImage(t, "LELLE"), sizes: []int64{100, 0, 0, 300, 0}}
			img := openFake(t, e, "docker-daemon:app:v1")
			if e.saves != 1 {
				t.Errorf("exports = %d, want 1", e.saves)
			}
			if got, want := fmt.Sprint(layerSizes(img)), "[100 0 300]"; got != want {
				t.Errorf("sizes %s, want %s", got, want)
			}
			if got, want := stepLayers(t, img), "[0 -1 1 2 -1]"; got != want {
				t.Errorf("step layers %s, want %s", got, want)
			}
		})
	}
}

func TestDaemonScanLayersFromExport(t *testing.T) {
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			e := &fakeEngine{t: t, style: style, img: engineImage(t, "LLLL"), sizes: []int64{1, 2, 3, 4}}
			img := openFake(t, e, "app:v1")
			layers, _ := e.img.Layers()
			want := map[int]int64{}
			for _, i := range []int{3, 1} {
				s, err := ScanLayer(context.Background(), readerOf(t, layers[i]), false)
				if err != nil {
					t.Fatal(err)
				}
				want[i] = s.Size
			}
			got := map[int]int64{}
			err := img.ScanLayers(context.Background(), []int{3, 1}, true, func(i int, s LayerScan) error {
				if len(s.Files) == 0 {
					t.Errorf("layer %d: no files listed", i)
				}
				got[i] = s.Size
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("scanned %v, want %v", got, want)
			}
			if e.saves != 1 {
				t.Errorf("exports = %d, want 1 (one stream for all layers)", e.saves)
			}
		})
	}
}

// Zero-sized layers (WORKDIR) among metadata steps: the metadata steps cannot be layers,
// so the history alone decides, with no export.
func TestDaemonFastPathZeroSizedLayers(t *testing.T) {
	e := &fakeEngine{t: t, img: engineImage(t, "LLMLM"), sizes: []int64{100, 0, 0, 0, 0}}
	img := openFake(t, e, "app:v1")
	if e.saves != 0 {
		t.Errorf("exported %d times, want none", e.saves)
	}
	if got, want := fmt.Sprint(layerSizes(img)), "[100 0 0]"; got != want {
		t.Errorf("sizes %s, want %s", got, want)
	}
	if got, want := stepLayers(t, img), "[0 1 -1 2 -1]"; got != want {
		t.Errorf("step layers %s, want %s", got, want)
	}
}

func TestDaemonErrors(t *testing.T) {
	e := &fakeEngine{t: t, img: engineImage(t, "L"), sizes: []int64{1}, inspErr: cerrdefs.ErrNotFound}
	_, err := Open(context.Background(), "nosuch:v1", Options{Daemon: func() (DaemonClient, error) { return e, nil }})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nosuch:v1: no such image in the Docker engine") {
		t.Errorf("not found: %v", err)
	}

	// A real client pointed at a socket that does not exist.
	sock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	c, err := client.New(client.WithHost(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = Open(context.Background(), "app:v1", Options{Daemon: func() (DaemonClient, error) { return c, nil }})
	if err == nil || !strings.Contains(err.Error(), "app:v1: cannot connect to the Docker engine at "+sock) || strings.Contains(err.Error(), "\n") {
		t.Errorf("no engine: %v", err)
	}

	if _, err := Open(context.Background(), "app:v1", Options{}); !errors.Is(err, ErrUsage) {
		t.Errorf("no daemon configured: %v", err)
	}
}

func TestFindConfigStopsEarly(t *testing.T) {
	e := &fakeEngine{t: t, style: classicSave, img: engineImage(t, "LL")}
	rc, _ := e.ImageSave(context.Background(), []string{e.id()})
	exp, err := findConfig(context.Background(), rc, e.id(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.img.RawConfigFile()
	if !bytes.Equal(exp.config, want) {
		t.Errorf("config differs")
	}
}

// stepLayers is the layer each history step made ("-1" for none), as "[0 -1 1]".
func stepLayers(t *testing.T, img *Image) string {
	t.Helper()
	steps, ok, reason := analyze.Steps(img.Config, len(img.Layers))
	if !ok {
		t.Fatal(reason)
	}
	var layerOf []int
	for _, s := range steps {
		layerOf = append(layerOf, s.Layer)
	}
	return fmt.Sprint(layerOf)
}

// tinyLayersImage has layers whose compressed blobs are far under 1 KiB, as the
// containerd image store exports them: a small COPY (720 bytes there) and a WORKDIR
// layer (92 bytes), on a base large enough to look like a real one.
func tinyLayersImage(t *testing.T) v1.Image {
	t.Helper()
	img := randomImage(t, 1)
	for _, files := range []map[string]string{
		{"app/index.js": "console.log(\"hello, world\")\n", "app/package.json": "{}\n"},
		{}, // WORKDIR: an empty tar
	} {
		var err error
		img, err = mutate.AppendLayers(img, imagetest.FileLayer(t, files))
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.History = []v1.History{{CreatedBy: "ADD rootfs.tar /"}, {CreatedBy: "COPY . . # buildkit"}, {CreatedBy: "WORKDIR /app"}}
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The containerd image store exports compressed blobs: a layer's blob can be a few
// dozen bytes, and must still be found (an uncompressed layer tar is never under 1 KiB).
func TestDaemonScanTinyCompressedLayers(t *testing.T) {
	for name, style := range map[string]saveStyle{"classic": classicSave, "oci": ociSave, "containerd": containerdSave} {
		t.Run(name, func(t *testing.T) {
			src := tinyLayersImage(t)
			layers, _ := src.Layers()
			if c, _ := layers[2].Size(); style == containerdSave && c >= 1024 {
				t.Fatalf("the WORKDIR blob is %d bytes: not a tiny blob", c)
			}
			e := &fakeEngine{t: t, style: style, img: src, sizes: []int64{2048, 50, 0}}
			img := openFake(t, e, "app:v1")
			got := map[int]int{}
			err := img.ScanLayers(context.Background(), []int{0, 1, 2}, true, func(i int, s LayerScan) error {
				got[i] = len(s.Files)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got[1] != 2 || got[2] != 0 || len(got) != 3 {
				t.Errorf("files per layer %v, want layer 1 with 2 files and an empty layer 2", got)
			}
		})
	}
}
