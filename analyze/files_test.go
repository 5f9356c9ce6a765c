package analyze

import (
	"archive/tar"
	"context"
	"reflect"
	"strings"
	"testing"
)

// replay applies layers (each a list of tar entries) to a new Filesystem, reading each
// through ScanLayer as a source would, and returns the filesystem.
func replay(t *testing.T, digests bool, opts FilesOptions, layers ...[]entry) *Filesystem {
	t.Helper()
	fs := NewFilesystem(len(layers), opts)
	for i, entries := range layers {
		size, err := ScanLayer(context.Background(), tarOf(t, entries...), ScanOptions{SkipDigests: !digests}, func(f File) error { return fs.Apply(i, f) })
		if err != nil {
			t.Fatal(err)
		}
		if got := fs.layers[i].size; got != size {
			t.Errorf("layer %d: filesystem counted %d bytes, the scan %d", i, got, size)
		}
	}
	return fs
}

func reg(name string, size int64) entry { return entry{name: name, typeflag: tar.TypeReg, size: size} }
func dir(name string) entry             { return entry{name: name, typeflag: tar.TypeDir} }
func wh(name string) entry              { return entry{name: name, typeflag: tar.TypeReg} }

func allChanges(int, string) bool { return true }

func wastedByPath(r Files) map[string]WastedPath {
	m := map[string]WastedPath{}
	for _, w := range r.Wasted {
		m[w.Path] = w
	}
	return m
}

func TestWastedDeleteAndOverwriteSeveralTimes(t *testing.T) {
	fs := replay(t, false, FilesOptions{},
		[]entry{dir("app/"), reg("app/big", 1000), reg("app/keep", 7)},
		[]entry{dir("app/"), reg("app/big", 2000)}, // hides 1000
		[]entry{dir("app/"), reg("app/big", 3000)}, // hides 2000
		[]entry{dir("app/"), wh("app/.wh.big")},    // hides 3000
	)
	steps := []Step{{Instruction: "FROM", Layer: 0}, {Instruction: "RUN a", Layer: 1}, {Instruction: "RUN b", Layer: 2}, {Instruction: "RUN rm", Layer: 3}}
	r := fs.Report(steps)
	if r.Size != 6007 || r.WastedSize != 6000 {
		t.Fatalf("size %d wasted %d, want 6007 and 6000", r.Size, r.WastedSize)
	}
	want := WastedPath{Path: "/app/big", Size: 6000, Layers: []int{0, 1, 2}, HiddenBy: 3, HiddenByInstruction: "RUN rm"}
	if got := wastedByPath(r)["/app/big"]; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r.Efficiency < 0.0011 || r.Efficiency > 0.0012 {
		t.Errorf("efficiency %v", r.Efficiency)
	}
}

func TestWastedWhiteoutOfDirectoryFromTwoLayers(t *testing.T) {
	fs := replay(t, false, FilesOptions{Changes: allChanges},
		[]entry{dir("var/"), dir("var/lib/"), dir("var/lib/apt/"), dir("var/lib/apt/lists/"), reg("var/lib/apt/lists/a", 100)},
		[]entry{dir("var/lib/apt/lists/"), reg("var/lib/apt/lists/b", 200), reg("var/lib/apt/lists/a", 50)},
		[]entry{dir("var/lib/apt/"), wh("var/lib/apt/.wh.lists"), reg("etc-keep", 1)},
	)
	r := fs.Report(nil)
	if r.WastedSize != 350 {
		t.Errorf("wasted %d, want 350 (a twice, b once)", r.WastedSize)
	}
	w := wastedByPath(r)
	if got := w["/var/lib/apt/lists/a"]; got.Size != 150 || !reflect.DeepEqual(got.Layers, []int{0, 1}) || got.HiddenBy != 2 {
		t.Errorf("a: %+v", got)
	}
	if got := w["/var/lib/apt/lists/b"]; got.Size != 200 || got.HiddenBy != 2 {
		t.Errorf("b: %+v", got)
	}
	want := FileChange{Path: "/var/lib/apt/lists", Change: FileDeleted, Size: 250}
	if !containsChange(r.Layers[2].Changes, want) {
		t.Errorf("layer 2 changes %+v lack %+v", r.Layers[2].Changes, want)
	}
	// Both layers wrote apt lists: both get the hint.
	var hinted []int
	for _, h := range r.Hints {
		if h.Kind == HintPackageCache && h.Paths[0] == "/var/lib/apt/lists" {
			hinted = append(hinted, h.Layer)
		}
	}
	if !reflect.DeepEqual(hinted, []int{0, 1}) {
		t.Errorf("apt-lists hints on layers %v, want [0 1]: %+v", hinted, r.Hints)
	}
}

func containsChange(cs []FileChange, c FileChange) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func TestWastedOpaqueDirectory(t *testing.T) {
	fs := replay(t, false, FilesOptions{Changes: allChanges},
		[]entry{dir("data/"), reg("data/old", 100), dir("data/sub/"), reg("data/sub/deep", 10)},
		// The layer's own files survive its opaque marker, before or after it in the tar.
		[]entry{dir("data/"), reg("data/new1", 5), wh("data/.wh..wh..opq"), reg("data/new2", 6), dir("data/sub/"), reg("data/sub/x", 1)},
	)
	r := fs.Report(nil)
	if r.WastedSize != 110 {
		t.Errorf("wasted %d, want 110: %+v", r.WastedSize, r.Wasted)
	}
	var visible []string
	fs.root.walk(func(n *node) {
		if n.kind == nFile {
			visible = append(visible, n.path())
		}
	})
	if want := []string{"/data/new1", "/data/new2", "/data/sub/x"}; !reflect.DeepEqual(visible, want) {
		t.Errorf("visible %v, want %v", visible, want)
	}
}

func TestWastedHardlinksCountOnce(t *testing.T) {
	link := func(name, target string) entry { return entry{name: name, typeflag: tar.TypeLink, link: target} }
	fs := replay(t, false, FilesOptions{},
		[]entry{reg("a", 100), link("b", "a"), reg("c", 40), link("d", "c")},
		// a goes, but b still shows its bytes: not waste. c and d both go: 40 once.
		[]entry{wh(".wh.a"), wh(".wh.c"), wh(".wh.d")},
	)
	r := fs.Report(nil)
	if r.Size != 140 || r.WastedSize != 40 {
		t.Fatalf("size %d wasted %d, want 140 and 40: %+v", r.Size, r.WastedSize, r.Wasted)
	}
	if r.Wasted[0].Path != "/c" {
		t.Errorf("wasted at %s, want /c (where the content was stored)", r.Wasted[0].Path)
	}
}

func TestCopyAtAnotherPathIsNotWaste(t *testing.T) {
	fs := replay(t, true, FilesOptions{},
		[]entry{reg("app/lib.so", dupMinSize)},
		[]entry{reg("opt/lib.so", dupMinSize)},
	)
	r := fs.Report(nil)
	if r.WastedSize != 0 {
		t.Errorf("wasted %d, want 0", r.WastedSize)
	}
	if len(r.Hints) != 1 || r.Hints[0].Kind != HintDuplicate || r.Hints[0].Size != dupMinSize || r.Hints[0].Layer != 1 ||
		!reflect.DeepEqual(r.Hints[0].Paths, []string{"/app/lib.so", "/opt/lib.so"}) {
		t.Errorf("hints %+v", r.Hints)
	}
}

func TestBadEntriesAreNotes(t *testing.T) {
	fs := replay(t, false, FilesOptions{},
		[]entry{
			reg("../escape", 3),
			reg("/abs", 4),
			{name: "dev/sda", typeflag: tar.TypeBlock},
			{name: "dangling", typeflag: tar.TypeLink, link: "nowhere"},
		},
	)
	r := fs.Report(nil)
	texts := map[string]string{}
	for _, n := range r.Notes {
		texts[n.Path] = n.Text
	}
	want := map[string]string{
		"/escape":   `name with .. "../escape"`,
		"/abs":      `absolute name "/abs"`,
		"/dev/sda":  "device node",
		"/dangling": "hardlink to missing target /nowhere",
	}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("notes %v, want %v", texts, want)
	}
}

func TestIgnoreLeavesPathsOutOfTheFigure(t *testing.T) {
	fs := replay(t, false, FilesOptions{Ignore: func(p string) bool { return strings.HasPrefix(p, "/tmp/") }},
		[]entry{reg("tmp/x", 10), reg("y", 5)},
		[]entry{wh("tmp/.wh.x"), wh(".wh.y")},
	)
	if r := fs.Report(nil); r.WastedSize != 5 {
		t.Errorf("wasted %d, want 5", r.WastedSize)
	}
}

func TestLayerChanges(t *testing.T) {
	fs := replay(t, false, FilesOptions{Changes: allChanges},
		[]entry{dir("app/"), reg("app/a", 1), reg("app/b", 2)},
		[]entry{dir("app/"), reg("app/a", 3), reg("app/c", 4), wh("app/.wh.b")},
	)
	r := fs.Report(nil)
	want := []FileChange{
		{Path: "/app/c", Change: FileAdded, Size: 4},
		{Path: "/app/a", Change: FileModified, Size: 3},
		{Path: "/app/b", Change: FileDeleted, Size: 2},
	}
	if !reflect.DeepEqual(r.Layers[1].Changes, want) {
		t.Errorf("changes %+v, want %+v", r.Layers[1].Changes, want)
	}
}

func TestApplyOutOfOrder(t *testing.T) {
	fs := NewFilesystem(2, FilesOptions{})
	if err := fs.Apply(1, File{Path: "/a", Kind: KindFile}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Apply(0, File{Path: "/a", Kind: KindFile}); err == nil {
		t.Error("layer 0 after layer 1 accepted")
	}
}

func TestDiffFilesystemsByDigest(t *testing.T) {
	build := func(content string, extra ...entry) *Filesystem {
		fs := NewFilesystem(1, FilesOptions{})
		fs.Apply(0, File{Path: "/app", Kind: KindDir, Mode: 0o755})
		fs.Apply(0, File{Path: "/app/same-size", Kind: KindFile, Size: 3, Digest: digestOf(content)})
		for _, e := range extra {
			fs.Apply(0, File{Path: "/" + e.name, Kind: KindFile, Size: e.size, Digest: digestOf("")})
		}
		return fs
	}
	got := DiffFilesystems(build("abc", reg("gone", 1)), build("abd", reg("new", 2)))
	want := []PathDiff{
		{Path: "/app/same-size", Change: FileModified, OldKind: KindFile, NewKind: KindFile, OldSize: 3, NewSize: 3},
		{Path: "/gone", Change: FileDeleted, OldKind: KindFile, OldSize: 1},
		{Path: "/new", Change: FileAdded, NewKind: KindFile, NewSize: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := DiffFilesystems(build("abc"), build("abc")); len(got) != 0 {
		t.Errorf("same images differ: %+v", got)
	}
}
