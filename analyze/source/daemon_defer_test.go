package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/docker-layers/docker-layers/analyze"
)

// step is one history entry of a storeImage: a layer (diff names its content) or, with
// diff empty, a metadata step.
type step struct {
	diff      string
	size      int64
	createdBy string
}

// storeEngine is a classic-store engine holding several images, counting the calls it
// answers.
type storeEngine struct {
	fakeEngine
	images map[string][]step // by name
	// size, when set, is what inspect reports as an image's size instead of the sum
	// of its layers'.
	size map[string]int64
	// failHistory names an image whose history the engine fails to send.
	failHistory string

	mu      sync.Mutex
	inspect int
	history map[string]int
}

func diffOf(name string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(name))) }

func idOf(name string) string { return diffOf("image " + name) }

func (e *storeEngine) find(ref string) (string, bool) {
	for name := range e.images {
		if ref == name || ref == idOf(name) {
			return name, true
		}
	}
	return "", false
}

func (e *storeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	e.mu.Lock()
	e.inspect++
	e.mu.Unlock()
	name, ok := e.find(ref)
	if !ok {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound
	}
	res := image.InspectResponse{ID: idOf(name), Os: "linux", Architecture: "amd64", RootFS: image.RootFS{Type: "layers"}}
	for _, s := range e.images[name] {
		if s.diff != "" {
			res.RootFS.Layers = append(res.RootFS.Layers, diffOf(s.diff))
			res.Size += s.size
		}
	}
	if n, ok := e.size[name]; ok {
		res.Size = n
	}
	return client.ImageInspectResult{InspectResponse: res}, nil
}

func (e *storeEngine) ImageHistory(_ context.Context, ref string, _ ...client.ImageHistoryOption) (client.ImageHistoryResult, error) {
	name, ok := e.find(ref)
	if !ok || name == e.failHistory {
		return client.ImageHistoryResult{}, cerrdefs.ErrNotFound
	}
	e.mu.Lock()
	e.history[name]++
	e.mu.Unlock()
	var res client.ImageHistoryResult
	for i, s := range e.images[name] {
		item := image.HistoryResponseItem{ID: "<missing>", Created: 1700000000 + int64(i), CreatedBy: s.createdBy, Size: s.size}
		res.Items = append([]image.HistoryResponseItem{item}, res.Items...)
	}
	return res, nil
}

// sharedStore is a base, images built on it, and one built on one of them: only
// "big" has two layers no other image sizes.
func sharedStore() map[string][]step {
	base := []step{{"base", 1000, "/bin/sh -c #(nop) ADD file:1 in / "}, {"", 0, "/bin/sh -c #(nop)  CMD [\"sh\"]"}}
	with := func(s []step, more ...step) []step { return append(append([]step{}, s...), more...) }
	app := with(base, step{"app", 30, "COPY app /app # buildkit"})
	big := with(base, step{"lib", 200, "COPY lib /lib # buildkit"}, step{"big", 5, "COPY big /big # buildkit"})
	return map[string][]step{
		"base":   base,
		"app":    app,
		"tool":   with(base, step{"tool", 7, "COPY tool /tool # buildkit"}),
		"big":    big,
		"bigger": with(big, step{"", 0, "ENV X=1"}, step{"bigger", 11, "COPY x /x # buildkit"}),
		"app2":   with(app, step{"app2", 0, "WORKDIR /srv"}),
	}
}

var sharedRefs = []string{"app", "app2", "base", "big", "bigger", "tool"}

func (e *storeEngine) opts() Options {
	return Options{Daemon: func() (DaemonClient, error) { return e, nil }}
}

func newStoreEngine(t *testing.T, images map[string][]step) *storeEngine {
	return &storeEngine{fakeEngine: fakeEngine{t: t}, images: images, history: map[string]int{}}
}

// loadBoth loads refs with every history read, and again with histories deferred and
// the steps share shows asked for; both must give the same images' sizes and the same
// sharing report.
func loadBoth(t *testing.T, images map[string][]step, size map[string]int64) (full, lazy *Loaded, e *storeEngine) {
	t.Helper()
	eFull := newStoreEngine(t, images)
	full, err := Load(context.Background(), nil, sharedRefs, eFull.opts(), Need{})
	if err != nil {
		t.Fatal(err)
	}
	e = newStoreEngine(t, images)
	e.size = size
	lazy, err = Load(context.Background(), nil, sharedRefs, e.opts(), Need{Steps: func(imgs []*Image) []int {
		all := make([]analyze.Image, len(imgs))
		for i, img := range imgs {
			all[i] = img.Image
		}
		return analyze.ShareSteps(all, nil, func(i int) bool { return !imgs[i].HistoryDeferred() })
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range sharedRefs {
		if got, want := sizesOf(lazy.Images[i]), sizesOf(full.Images[i]); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: layer sizes %v, want %v (from its history)", sharedRefs[i], got, want)
		}
	}
	if got, want := analyze.Share(imagesOf(lazy)), analyze.Share(imagesOf(full)); !reflect.DeepEqual(got, want) {
		t.Errorf("sharing differs with deferred histories:\n got %+v\nwant %+v", got, want)
	}
	return full, lazy, e
}

func sizesOf(img *Image) []int64 {
	var out []int64
	for _, l := range img.Layers {
		out = append(out, l.Size)
	}
	return out
}

func imagesOf(l *Loaded) []analyze.Image {
	out := make([]analyze.Image, len(l.Images))
	for i, img := range l.Images {
		out[i] = img.Image
	}
	return out
}

func TestDeferredHistorySizes(t *testing.T) {
	_, lazy, e := loadBoth(t, sharedStore(), nil)
	if e.inspect != len(sharedRefs) {
		t.Errorf("%d inspects for %d images", e.inspect, len(sharedRefs))
	}
	// base, app, tool and app2 are sized from the images' own sizes; big has two
	// unknown layers, so its history is read, and bigger is sized from it. The shared
	// layers' steps come from the first listed image that has each: app (base layer)
	// and big (lib, big).
	want := map[string]int{"big": 1, "app": 1}
	if !reflect.DeepEqual(e.history, want) {
		t.Errorf("histories read: %v, want %v", e.history, want)
	}
	for i, ref := range sharedRefs {
		if got := lazy.Images[i].HistoryDeferred(); got != (want[ref] == 0) {
			t.Errorf("%s: HistoryDeferred %v", ref, got)
		}
	}
}

func TestDeferredHistorySizesDoNotAddUp(t *testing.T) {
	// An engine whose image sizes are not the sums of its layers' sizes: app's is
	// smaller than the base layer it has (its own layer cannot be derived); or every
	// image's is one byte more (app's own layer would be derived one byte too big).
	// A history read shows it, and then every history is read: the sizes are the
	// histories' (loadBoth checks them).
	inflated := map[string]int64{}
	for name, steps := range sharedStore() {
		for _, s := range steps {
			inflated[name] += s.size
		}
		inflated[name]++
	}
	for name, size := range map[string]map[string]int64{"smaller": {"app": 10}, "inflated": inflated} {
		t.Run(name, func(t *testing.T) {
			_, lazy, e := loadBoth(t, sharedStore(), size)
			if len(e.history) != len(sharedRefs) {
				t.Errorf("histories read: %v, want every image's", e.history)
			}
			for i, img := range lazy.Images {
				if img.HistoryDeferred() {
					t.Errorf("%s: history not read", sharedRefs[i])
				}
			}
		})
	}
}

func TestDeferredHistoryEveryImageAlone(t *testing.T) {
	// No layer in common: every image's single layer comes from its own size, and no
	// step is shown, so no history is read.
	images := map[string][]step{}
	for _, ref := range sharedRefs {
		images[ref] = []step{{ref, int64(len(ref)), "ADD " + ref}}
	}
	_, _, e := loadBoth(t, images, nil)
	if len(e.history) != 0 {
		t.Errorf("histories read: %v, want none", e.history)
	}
}

func TestDeferredHistoryError(t *testing.T) {
	// big's history is needed for its sizes, base's for a step: an image removed
	// between inspect and history is an error either way.
	for _, gone := range []string{"big", "base"} {
		e := newStoreEngine(t, sharedStore())
		e.failHistory = gone
		_, err := Load(context.Background(), nil, []string{"base", "big"}, e.opts(), Need{Steps: func([]*Image) []int { return []int{0} }})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s gone: %v, want a not-found error", gone, err)
		}
	}
	e := newStoreEngine(t, sharedStore())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, nil, []string{"base", "big"}, e.opts(), Need{Steps: func([]*Image) []int { return nil }}); err == nil {
		t.Fatal("no error when cancelled")
	}
}
