package analyze

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// content names a layer content: its diffID is the digest of name.
func content(t *testing.T, name string) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(strings.NewReader(name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// crafted builds an image from "name:size" layers, bottom first, each made by a
// RUN step named after its content; the ID derives from the layers unless id is given.
func crafted(t *testing.T, ref, id string, layers ...Layer) Image {
	t.Helper()
	cfg := &v1.ConfigFile{}
	var key []string
	for _, l := range layers {
		cfg.History = append(cfg.History, v1.History{CreatedBy: "/bin/sh -c make " + l.DiffID.Hex[:6]})
		key = append(key, l.DiffID.String())
	}
	if id == "" {
		id = content(t, strings.Join(key, ",")).String()
	}
	return Image{Ref: ref, ID: id, Config: cfg, Layers: layers}
}

func lay(t *testing.T, name string, size int64) Layer {
	return Layer{DiffID: content(t, name), Size: size, CompressedSize: Unknown}
}

func zlay(t *testing.T, name string, size, csize int64) Layer {
	return Layer{DiffID: content(t, name), Size: size, CompressedSize: csize}
}

func imageFigures(s Sharing) [][3]int64 {
	var out [][3]int64
	for _, im := range s.Images {
		out = append(out, [3]int64{im.Size, im.SharedSize, im.UniqueSize})
	}
	return out
}

func checkTotals(t *testing.T, s Sharing, total, disk int64) {
	t.Helper()
	if s.TotalSize != total || s.DiskSize != disk || s.SavedSize != total-disk {
		t.Errorf("totals: total %d disk %d saved %d, want %d %d %d", s.TotalSize, s.DiskSize, s.SavedSize, total, disk, total-disk)
	}
}

func TestShareIdenticalBases(t *testing.T) {
	base := []Layer{lay(t, "os", 1000), lay(t, "runtime", 500)}
	a := crafted(t, "a", "", append(base[:2:2], lay(t, "app-a", 30))...)
	b := crafted(t, "b", "", append(base[:2:2], lay(t, "app-b", 70))...)
	c := crafted(t, "c", "", base[:1]...)
	s := Share([]Image{a, b, c})

	want := [][3]int64{{1530, 1500, 30}, {1570, 1500, 70}, {1000, 1000, 0}}
	if got := imageFigures(s); !reflect.DeepEqual(got, want) {
		t.Errorf("images (size, shared, unique) = %v, want %v", got, want)
	}
	checkTotals(t, s, 1530+1570+1000, 1000+500+30+70)
	if len(s.Layers) != 2 {
		t.Fatalf("shared layers = %+v, want os and runtime", s.Layers)
	}
	os, rt := s.Layers[0], s.Layers[1]
	if os.Size != 1000 || !reflect.DeepEqual(os.Images, []string{"a", "b", "c"}) || os.Index != 0 {
		t.Errorf("largest shared layer = %+v, want os (1000 bytes) in a, b, c", os)
	}
	if rt.Size != 500 || !reflect.DeepEqual(rt.Images, []string{"a", "b"}) {
		t.Errorf("second shared layer = %+v, want runtime (500 bytes) in a, b", rt)
	}
	if want := "RUN make " + content(t, "os").Hex[:6]; os.Instruction != want {
		t.Errorf("instruction = %q, want %q", os.Instruction, want)
	}
	if os.ChainID != os.DiffID {
		t.Errorf("the bottom layer's chain ID is its diffID: %v != %v", os.ChainID, os.DiffID)
	}
	wantM := [][]int64{{1530, 1500, 1000}, {1500, 1570, 1000}, {1000, 1000, 1000}}
	if !reflect.DeepEqual(s.Matrix, wantM) {
		t.Errorf("matrix = %v, want %v", s.Matrix, wantM)
	}
	if len(s.SameContent) != 0 {
		t.Errorf("same content = %+v, want none", s.SameContent)
	}
	if s.CompressedTotalSize != Unknown || s.Images[0].CompressedSize != Unknown || s.Layers[0].CompressedSize != Unknown {
		t.Errorf("compressed figures should be unknown without compressed sizes: %+v", s)
	}
}

// Once two images diverge, nothing above is shared, even a layer with the same
// content: a chain ID covers everything below.
func TestShareDivergingAfterN(t *testing.T) {
	const n = 3
	var common []Layer
	for i := range n {
		common = append(common, lay(t, "common"+string(rune('0'+i)), int64(100*(i+1))))
	}
	a := crafted(t, "a", "", append(common[:n:n], lay(t, "a3", 5), lay(t, "top", 7))...)
	b := crafted(t, "b", "", append(common[:n:n], lay(t, "b3", 9), lay(t, "top", 7))...)
	s := Share([]Image{a, b})

	if len(s.Layers) != n {
		t.Fatalf("%d shared layers, want %d: %+v", len(s.Layers), n, s.Layers)
	}
	for i, l := range s.Layers { // largest first: common2, common1, common0
		if wantIdx := n - 1 - i; l.Index != wantIdx {
			t.Errorf("shared layer %d has index %d, want %d", i, l.Index, wantIdx)
		}
	}
	want := [][3]int64{{612, 600, 12}, {616, 600, 16}}
	if got := imageFigures(s); !reflect.DeepEqual(got, want) {
		t.Errorf("images = %v, want %v", got, want)
	}
	checkTotals(t, s, 612+616, 600+5+9+7+7)
	if s.Matrix[0][1] != 600 || s.Matrix[1][0] != 600 {
		t.Errorf("matrix = %v, want 600 shared", s.Matrix)
	}
}

func TestShareSameContentOnDifferentParents(t *testing.T) {
	deps := lay(t, "node_modules", 4000)
	a := crafted(t, "a", "", lay(t, "debian", 100), deps, lay(t, "src", 1))
	b := crafted(t, "b", "", lay(t, "alpine", 50), deps, lay(t, "src", 1))
	c := crafted(t, "c", "", lay(t, "alpine", 50), deps)
	s := Share([]Image{a, b, c})

	if len(s.SameContent) != 2 {
		t.Fatalf("same content = %+v, want node_modules and src", s.SameContent)
	}
	nm := s.SameContent[0]
	if nm.DiffID != deps.DiffID || nm.Size != 4000 || nm.Copies != 2 || nm.DuplicateSize() != 4000 {
		t.Errorf("same content[0] = %+v (dup %d), want node_modules, 4000 bytes, 2 copies", nm, nm.DuplicateSize())
	}
	if !reflect.DeepEqual(nm.Images, []string{"a", "b", "c"}) {
		t.Errorf("node_modules images = %v", nm.Images)
	}
	if src := s.SameContent[1]; src.Size != 1 || !reflect.DeepEqual(src.Images, []string{"a", "b"}) {
		t.Errorf("same content[1] = %+v, want src in a, b", src)
	}
	// b and c share alpine and node_modules-on-alpine; a shares nothing.
	want := [][3]int64{{4101, 0, 4101}, {4051, 4050, 1}, {4050, 4050, 0}}
	if got := imageFigures(s); !reflect.DeepEqual(got, want) {
		t.Errorf("images = %v, want %v", got, want)
	}
	checkTotals(t, s, 4101+4051+4050, 100+4000+1+50+4000+1)
}

func TestShareImageListedTwice(t *testing.T) {
	a := crafted(t, "app:latest", "sha256:aaa", lay(t, "os", 1000), lay(t, "app", 10))
	again := a
	again.Ref = "app:v1"
	b := crafted(t, "other", "", lay(t, "os", 1000), lay(t, "other", 20))
	s := Share([]Image{a, again, b})

	want := [][3]int64{{1010, 1000, 10}, {1010, 1000, 10}, {1020, 1000, 20}}
	if got := imageFigures(s); !reflect.DeepEqual(got, want) {
		t.Errorf("images = %v, want %v", got, want)
	}
	if s.Images[1].Ref != "app:v1" || s.Images[1].ID != "sha256:aaa" {
		t.Errorf("second reference = %+v", s.Images[1])
	}
	checkTotals(t, s, 1010+1020, 1000+10+20)
	if len(s.Layers) != 1 || !reflect.DeepEqual(s.Layers[0].Images, []string{"app:latest", "app:v1", "other"}) {
		t.Errorf("shared layers = %+v, want os in all three references", s.Layers)
	}

	// Alone, an image listed twice shares nothing with itself.
	s = Share([]Image{a, again})
	want = [][3]int64{{1010, 0, 1010}, {1010, 0, 1010}}
	if got := imageFigures(s); !reflect.DeepEqual(got, want) {
		t.Errorf("alone: images = %v, want %v", got, want)
	}
	if len(s.Layers) != 0 || len(s.SameContent) != 0 {
		t.Errorf("alone: shared = %+v, same = %+v, want none", s.Layers, s.SameContent)
	}
	checkTotals(t, s, 1010, 1010)
	if s.Matrix[0][1] != 1010 {
		t.Errorf("matrix = %v: two references to one image have all of it in common", s.Matrix)
	}
}

func TestShareSingleImage(t *testing.T) {
	// The same content twice in one image is stored twice.
	a := crafted(t, "a", "", lay(t, "os", 1000), lay(t, "blob", 30), lay(t, "blob", 30))
	s := Share([]Image{a})
	if got, want := imageFigures(s), [][3]int64{{1060, 0, 1060}}; !reflect.DeepEqual(got, want) {
		t.Errorf("images = %v, want %v", got, want)
	}
	checkTotals(t, s, 1060, 1060)
	if len(s.Layers) != 0 {
		t.Errorf("shared layers = %+v, want none", s.Layers)
	}
	if len(s.SameContent) != 1 || s.SameContent[0].Copies != 2 || s.SameContent[0].DuplicateSize() != 30 {
		t.Errorf("same content = %+v, want blob twice", s.SameContent)
	}
	if !reflect.DeepEqual(s.Matrix, [][]int64{{1060}}) {
		t.Errorf("matrix = %v", s.Matrix)
	}
}

func TestShareNoImages(t *testing.T) {
	s := Share(nil)
	if len(s.Images) != 0 || s.TotalSize != 0 || s.DiskSize != 0 || s.CompressedTotalSize != Unknown {
		t.Errorf("Share(nil) = %+v", s)
	}
}

func TestShareCompressed(t *testing.T) {
	a := crafted(t, "a", "", zlay(t, "os", 1000, 400), zlay(t, "a", 10, 4))
	b := crafted(t, "b", "", zlay(t, "os", 1000, 400), zlay(t, "b", 20, 8))
	s := Share([]Image{a, b})
	im := s.Images[1]
	if im.CompressedSize != 408 || im.CompressedSharedSize != 400 || im.CompressedUniqueSize != 8 {
		t.Errorf("compressed figures of b = %+v", im)
	}
	if s.CompressedTotalSize != 812 || s.CompressedDiskSize != 412 || s.CompressedSavedSize != 400 {
		t.Errorf("compressed totals = %d %d %d", s.CompressedTotalSize, s.CompressedDiskSize, s.CompressedSavedSize)
	}
	if s.Layers[0].CompressedSize != 400 {
		t.Errorf("shared layer compressed size = %d", s.Layers[0].CompressedSize)
	}

	// One image without compressed sizes makes every compressed figure unknown.
	c := crafted(t, "c", "", lay(t, "os", 1000))
	s = Share([]Image{a, b, c})
	if s.CompressedTotalSize != Unknown || s.Images[0].CompressedSize != Unknown || s.Layers[0].CompressedSize != Unknown {
		t.Errorf("compressed figures should be unknown: %+v", s)
	}
}

func TestShareUnknownSizes(t *testing.T) {
	a := crafted(t, "a", "", lay(t, "os", Unknown), lay(t, "a", 10))
	b := crafted(t, "b", "", lay(t, "os", Unknown), lay(t, "b", 20))
	s := Share([]Image{a, b})
	if s.Images[0].Size != Unknown || s.Images[0].SharedSize != Unknown || s.Images[0].UniqueSize != 10 {
		t.Errorf("image figures = %+v, want size and shared size unknown, unique 10", s.Images[0])
	}
	if s.TotalSize != Unknown || s.DiskSize != Unknown || s.SavedSize != Unknown {
		t.Errorf("totals = %d %d %d, want unknown", s.TotalSize, s.DiskSize, s.SavedSize)
	}
}

// An untagged image the engine still has holds its layers: a layer it shares with a
// listed image is not unique to that image (docker system df -v counts it so), yet the
// unlisted image is not reported on.
func TestShareCountsUnlistedImages(t *testing.T) {
	base := lay(t, "base", 100)
	a := crafted(t, "a:1", "", base, lay(t, "a", 10))
	b := crafted(t, "b:1", "", base, lay(t, "b", 20))
	dangling := crafted(t, "sha256:dangling", "", base, lay(t, "a", 10))
	s := Share([]Image{a, b}, dangling)
	if len(s.Images) != 2 {
		t.Fatalf("%d images reported", len(s.Images))
	}
	if got := s.Images[0]; got.UniqueSize != 0 || got.SharedSize != 110 {
		t.Errorf("a: shared %d unique %d, want 110 and 0 (the dangling image has both layers)", got.SharedSize, got.UniqueSize)
	}
	if got := s.Images[1]; got.UniqueSize != 20 {
		t.Errorf("b: unique %d, want 20", got.UniqueSize)
	}
	if s.DiskSize != 130 || s.TotalSize != 230 {
		t.Errorf("disk %d total %d, want 130 and 230 (listed images only)", s.DiskSize, s.TotalSize)
	}
	for _, l := range s.Layers {
		if l.Size == 10 && (l.Unlisted != 1 || !reflect.DeepEqual(l.Images, []string{"a:1"})) {
			t.Errorf("layer a: images %v, unlisted %d", l.Images, l.Unlisted)
		}
	}
}
