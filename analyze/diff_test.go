package analyze

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

var (
	diffBaseTime = time.Date(2024, 1, 10, 2, 0, 0, 0, time.UTC)
	diffV1Time   = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	diffV2Time   = time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
)

// dstep is one crafted history entry: a layer with files (path → content), a layer
// given as is, or, with neither, a metadata-only step.
type dstep struct {
	createdBy string
	files     map[string]string
	layer     v1.Layer
	created   time.Time
	comment   string
}

// fileLayer makes a layer of regular files; the same files make the same diffID.
func fileLayer(t *testing.T, files map[string]string) v1.Layer {
	return imagetest.FileLayer(t, files)
}

// diffImage builds an image from steps with ggcr and reads it as a source would; it
// also returns each layer's entries.
func diffImage(t *testing.T, ref string, steps ...dstep) (Image, [][]File) {
	t.Helper()
	img := empty.Image
	for _, s := range steps {
		add := mutate.Addendum{History: v1.History{CreatedBy: s.createdBy, Created: v1.Time{Time: s.created}, Comment: s.comment}}
		switch {
		case s.layer != nil:
			add.Layer = s.layer
		case s.files != nil:
			add.Layer = fileLayer(t, s.files)
		default:
			add.History.EmptyLayer = true
		}
		var err error
		if img, err = mutate.Append(img, add); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := Image{Ref: ref, ID: id.String(), Config: cfg}
	var files [][]File
	for _, l := range layers {
		diffID, _ := l.DiffID()
		digest, _ := l.Digest()
		csize, _ := l.Size()
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var fs []File
		size, err := ScanLayer(context.Background(), rc, ScanOptions{}, func(f File) error { fs = append(fs, f); return nil })
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out.Layers = append(out.Layers, Layer{DiffID: diffID, Digest: digest, Size: size, CompressedSize: csize})
		files = append(files, fs)
	}
	return out, files
}

// diffBase is a pulled base: a rootfs and a runtime layer, made long before the builds.
func diffBase(t *testing.T) []dstep {
	t.Helper()
	rootfs, err := random.Layer(3000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	node, err := random.Layer(2000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return []dstep{
		{createdBy: "/bin/sh -c #(nop) ADD file:1111111111111111111111111111111111111111111111111111111111111111 in / ", layer: rootfs, created: diffBaseTime},
		{createdBy: `/bin/sh -c #(nop)  CMD ["bash"]`, created: diffBaseTime.Add(time.Second)},
		{createdBy: "/bin/sh -c install node", layer: node, created: diffBaseTime.Add(time.Hour)},
		{createdBy: `/bin/sh -c #(nop)  CMD ["node"]`, created: diffBaseTime.Add(time.Hour + time.Second)},
	}
}

// at dates the steps of one build a second apart from start.
func at(start time.Time, steps ...dstep) []dstep {
	for i := range steps {
		steps[i].created = start.Add(time.Duration(i) * time.Second)
	}
	return steps
}

func concat(parts ...[]dstep) []dstep {
	var out []dstep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func hash64(c byte) string { return string(bytes.Repeat([]byte{c}, 64)) }

var (
	appV1 = map[string]string{"app/package.json": `{"dependencies":{"express":"4"}}`, "app/index.js": "console.log('hello')", "app/src/util.js": "x"}
	appV2 = map[string]string{"app/package.json": `{"dependencies":{"express":"4"}}`, "app/index.js": "console.log('hello there')", "app/src/util.js": "x"}
	mods1 = map[string]string{"app/node_modules/express/index.js": "express built on v1 " + string(bytes.Repeat([]byte("e"), 500))}
	mods2 = map[string]string{"app/node_modules/express/index.js": "express built on v2 " + string(bytes.Repeat([]byte("e"), 500))}
)

// lazyLegacy is the seed's lazy order as the legacy builder records it: COPY . .
// before npm install.
func lazyLegacy(start time.Time, copyHash byte, app, mods map[string]string) []dstep {
	return at(start,
		dstep{createdBy: "/bin/sh -c #(nop) WORKDIR /app", files: map[string]string{}},
		dstep{createdBy: "/bin/sh -c #(nop) COPY dir:" + hash64(copyHash) + " in . ", files: app},
		dstep{createdBy: "/bin/sh -c npm install", files: mods},
		dstep{createdBy: "/bin/sh -c #(nop)  ENV NODE_ENV=production"},
		dstep{createdBy: `/bin/sh -c #(nop)  CMD ["node" "index.js"]`},
	)
}

func statuses(c Comparison) []Status {
	var out []Status
	for _, l := range c.Layers {
		out = append(out, l.Status)
	}
	return out
}

func stepStatuses(c Comparison) []Status {
	var out []Status
	for _, s := range c.Steps {
		out = append(out, s.Status)
	}
	return out
}

const (
	R  = StatusReused
	RB = StatusRebuilt
	A  = StatusAdded
	RM = StatusRemoved
)

func compareWithFiles(oldImg, newImg Image, oldFiles, newFiles [][]File, maxFiles ...int) Comparison {
	c := Compare(oldImg, newImg)
	limit := DefaultMaxChangedFiles
	if len(maxFiles) > 0 {
		limit = maxFiles[0]
	}
	if i, ok := c.BreakLayer(); ok {
		c.AddBreakFiles(oldFiles[i], newFiles[i], limit)
	}
	return c
}

func TestCompareLazyOrderSourceEdit(t *testing.T) {
	base := diffBase(t)
	oldImg, oldFiles := diffImage(t, "app:v1", concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))...)
	newSteps := concat(base, lazyLegacy(diffV2Time, 'b', appV2, mods2))
	newSteps[4].created = diffV1Time // WORKDIR came from the cache, with its time
	newImg, newFiles := diffImage(t, "app:v2", newSteps...)

	c := compareWithFiles(oldImg, newImg, oldFiles, newFiles)
	if got, want := statuses(c), []Status{R, R, R, RB, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("layer statuses %v, want %v", got, want)
	}
	if got, want := stepStatuses(c), []Status{R, R, R, R, R, RB, RB, RB, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("step statuses %v, want %v", got, want)
	}
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInputsChanged || b.Layer != 3 || b.Step != 5 {
		t.Fatalf("first break %+v, want inputs-changed at layer 3, step 5", b)
	}
	if b.OldInstruction == b.NewInstruction {
		t.Errorf("the legacy content hash should show in the instructions: %q", b.OldInstruction)
	}
	wantFiles := []FileChange{{Path: "/app/index.js", Change: FileModified, Size: int64(len(appV2["app/index.js"]))}}
	if !b.FilesCompared || !reflect.DeepEqual(b.ChangedFiles, wantFiles) {
		t.Errorf("changed files %+v, want %+v", b.ChangedFiles, wantFiles)
	}
	if c.ReusedLayers != 3 || c.RebuiltLayers != 2 || c.AddedLayers != 0 || c.RemovedLayers != 0 {
		t.Errorf("counts %d/%d/%d/%d", c.ReusedLayers, c.RebuiltLayers, c.AddedLayers, c.RemovedLayers)
	}
	nl := newImg.Layers
	if c.ReusedSize != nl[0].Size+nl[1].Size+nl[2].Size || c.RebuiltSize != nl[3].Size+nl[4].Size {
		t.Errorf("reused %d rebuilt %d", c.ReusedSize, c.RebuiltSize)
	}
	if !c.TransferCompressed || c.TransferSize != nl[3].CompressedSize+nl[4].CompressedSize {
		t.Errorf("transfer %d compressed=%v", c.TransferSize, c.TransferCompressed)
	}
	a := c.Advice
	if a == nil {
		t.Fatal("no advice for the lazy order")
	}
	want := Advice{
		BroadCopy: "COPY <directory> .", Install: "RUN npm install", Tool: "npm",
		Manifests: []string{"package.json"}, ChangedFile: "/app/index.js",
		SavedSteps: 1, SavedLayers: 1, SavedSize: nl[4].Size,
	}
	if !reflect.DeepEqual(*a, want) {
		t.Errorf("advice %+v, want %+v", *a, want)
	}
}

func TestCompareProOrderGetsNoAdvice(t *testing.T) {
	base := diffBase(t)
	pro := func(start time.Time, app, mods map[string]string) []dstep {
		return at(start,
			dstep{createdBy: "WORKDIR /app", files: map[string]string{"app/.keep": ""}, comment: BuildKitComment},
			dstep{createdBy: "COPY package*.json ./ # buildkit", files: map[string]string{"app/package.json": app["app/package.json"]}, comment: BuildKitComment},
			dstep{createdBy: "RUN /bin/sh -c npm install # buildkit", files: mods, comment: BuildKitComment},
			dstep{createdBy: "COPY . . # buildkit", files: app, comment: BuildKitComment},
			dstep{createdBy: "ENV NODE_ENV=production", comment: BuildKitComment},
		)
	}
	oldImg, oldFiles := diffImage(t, "app:v1", concat(base, pro(diffV1Time, appV1, mods1))...)
	newSteps := concat(base, pro(diffV2Time, appV2, mods1))
	for i := 4; i <= 6; i++ {
		newSteps[i].created = diffV1Time.Add(time.Duration(i-4) * time.Second)
	}
	newImg, newFiles := diffImage(t, "app:v2", newSteps...)
	c := compareWithFiles(oldImg, newImg, oldFiles, newFiles)
	if got, want := statuses(c), []Status{R, R, R, R, R, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("layer statuses %v, want %v", got, want)
	}
	if b := c.FirstBreak; b == nil || b.Reason != ReasonInputsChanged || b.Layer != 5 || b.NewInstruction != "COPY . ." {
		t.Fatalf("first break %+v", b)
	}
	if c.Advice != nil {
		t.Errorf("advice for the professional order: %+v", c.Advice)
	}
}

func TestCompareNoAdviceWhenAManifestChanged(t *testing.T) {
	base := diffBase(t)
	appDeps := map[string]string{"app/package.json": `{"dependencies":{"express":"^5"}}`, "app/index.js": "console.log('hello')", "app/src/util.js": "x"}
	oldImg, oldFiles := diffImage(t, "v1", concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))...)
	newImg, newFiles := diffImage(t, "v2", concat(base, lazyLegacy(diffV2Time, 'b', appDeps, mods2))...)
	c := compareWithFiles(oldImg, newImg, oldFiles, newFiles)
	if c.FirstBreak == nil || c.FirstBreak.Reason != ReasonInputsChanged || len(c.FirstBreak.ChangedFiles) != 1 {
		t.Fatalf("first break %+v", c.FirstBreak)
	}
	if c.Advice != nil {
		t.Errorf("advice although package.json changed: %+v", c.Advice)
	}
	// Without the files, nothing says the manifests stayed the same: no advice.
	if c := Compare(oldImg, newImg); c.Advice != nil || c.FirstBreak.FilesCompared {
		t.Errorf("advice or files without files: %+v", c)
	}
}

func TestCompareIdentical(t *testing.T) {
	steps := concat(diffBase(t), lazyLegacy(diffV1Time, 'a', appV1, mods1))
	img, _ := diffImage(t, "v1", steps...)
	c := Compare(img, img)
	if c.FirstBreak != nil || c.ReusedLayers != 5 || c.RebuiltLayers != 0 || c.TransferSize != 0 {
		t.Errorf("identical: break %+v, reused %d rebuilt %d transfer %d", c.FirstBreak, c.ReusedLayers, c.RebuiltLayers, c.TransferSize)
	}
	for _, s := range c.Steps {
		if s.Status != R {
			t.Errorf("step %q is %s", s.Instruction(), s.Status)
		}
	}
	if c.ReusedSize != img.Size() || c.RebuiltSize != 0 {
		t.Errorf("sizes %d %d", c.ReusedSize, c.RebuiltSize)
	}
}

func TestCompareInstructionChanged(t *testing.T) {
	base := diffBase(t)
	oldImg, _ := diffImage(t, "v1", concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))...)
	newSteps := concat(base, lazyLegacy(diffV2Time, 'a', appV1, mods2))
	newSteps[4].created, newSteps[5].created = diffV1Time, diffV1Time.Add(time.Second)
	newSteps[6].createdBy = "/bin/sh -c npm ci"
	newImg, _ := diffImage(t, "v2", newSteps...)
	c := Compare(oldImg, newImg)
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInstructionChanged || b.Layer != 4 || b.OldInstruction != "RUN npm install" || b.NewInstruction != "RUN npm ci" {
		t.Fatalf("first break %+v", b)
	}
	if _, ok := c.BreakLayer(); ok {
		t.Error("an instruction change needs no file list")
	}
	if got, want := statuses(c), []Status{R, R, R, R, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

// A changed ENV breaks the cache of the layer above it, even when that layer comes
// out the same: it is rebuilt, with the same content.
func TestCompareMetadataBreakAndSameContent(t *testing.T) {
	base := diffBase(t)
	build := func(start time.Time, env string) []dstep {
		return at(start,
			dstep{createdBy: "/bin/sh -c #(nop)  ENV MODE=" + env},
			dstep{createdBy: "/bin/sh -c #(nop) COPY file:" + hash64('c') + " in /etc/app.conf ", files: map[string]string{"etc/app.conf": "same"}},
		)
	}
	oldImg, _ := diffImage(t, "v1", concat(base, build(diffV1Time, "a"))...)
	newImg, _ := diffImage(t, "v2", concat(base, build(diffV2Time, "b"))...)
	c := Compare(oldImg, newImg)
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInstructionChanged || b.Step != 4 || b.Layer != 2 || b.NewInstruction != "ENV MODE=b" {
		t.Fatalf("first break %+v", b)
	}
	l := c.Layers[2]
	if l.Status != RB || !l.SameContent {
		t.Errorf("layer 2: %s sameContent=%v, want rebuilt with the same content", l.Status, l.SameContent)
	}
	// The pull skips it all the same: its chain is in OLD.
	if c.TransferSize != 0 {
		t.Errorf("transfer %d, want 0", c.TransferSize)
	}
}

// BuildKit does not key later steps on LABEL: a changed label leaves them reused.
func TestCompareBuildKitLabelKeepsCache(t *testing.T) {
	base := diffBase(t)
	build := func(start time.Time, label string) []dstep {
		return at(start,
			dstep{createdBy: "LABEL version=" + label, comment: BuildKitComment},
			dstep{createdBy: "COPY app.conf /etc/ # buildkit", files: map[string]string{"etc/app.conf": "same"}, comment: BuildKitComment},
		)
	}
	oldImg, _ := diffImage(t, "v1", concat(base, build(diffV1Time, "1"))...)
	newImg, _ := diffImage(t, "v2", concat(base, build(diffV2Time, "2"))...)
	c := Compare(oldImg, newImg)
	if c.FirstBreak != nil {
		t.Errorf("first break %+v, want none", c.FirstBreak)
	}
	if got, want := stepStatuses(c), []Status{R, R, R, R, RB, R}; !reflect.DeepEqual(got, want) {
		t.Errorf("step statuses %v, want %v", got, want)
	}
	if c.ReusedLayers != 3 {
		t.Errorf("reused %d", c.ReusedLayers)
	}
}

func TestCompareBaseChanged(t *testing.T) {
	oldBase, newBase := diffBase(t), diffBase(t)
	newBase[0] = oldBase[0] // same rootfs, new runtime layer on it
	for i := range newBase[1:] {
		newBase[i+1].created = newBase[i+1].created.Add(30 * 24 * time.Hour)
	}
	oldImg, _ := diffImage(t, "v1", concat(oldBase, lazyLegacy(diffV1Time, 'a', appV1, mods1))...)
	newImg, _ := diffImage(t, "v2", concat(newBase, lazyLegacy(diffV2Time, 'a', appV1, mods1))...)
	c := Compare(oldImg, newImg)
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonBaseChanged || b.Layer != 1 || b.Step != 2 {
		t.Fatalf("first break %+v, want base-changed at layer 1", b)
	}
	if got, want := statuses(c), []Status{R, RB, RB, RB, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	// The WORKDIR layer is empty in both: the same content, rebuilt on a new base.
	if !c.Layers[2].SameContent || !c.Layers[3].SameContent {
		t.Errorf("layers 2 and 3 should have the same content: %+v %+v", c.Layers[2], c.Layers[3])
	}
	if c.Advice != nil {
		t.Error("advice on a base change")
	}
}

// The build's own first step changing is not a base change, though it sits right
// above the base.
func TestCompareFirstBuildStepIsNotBase(t *testing.T) {
	base := diffBase(t)
	oldImg, _ := diffImage(t, "v1", concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))...)
	newSteps := concat(base, lazyLegacy(diffV2Time, 'a', appV1, mods1))
	newSteps[4].createdBy = "/bin/sh -c #(nop) WORKDIR /srv"
	newImg, _ := diffImage(t, "v2", newSteps...)
	if b := Compare(oldImg, newImg).FirstBreak; b == nil || b.Reason != ReasonInstructionChanged || b.Layer != 2 {
		t.Fatalf("first break %+v, want instruction-changed at layer 2", b)
	}
}

func TestCompareLayerAddedAndRemoved(t *testing.T) {
	base := diffBase(t)
	short := concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))
	long := concat(short, at(diffV2Time, dstep{createdBy: "/bin/sh -c npm run build", files: map[string]string{"app/dist/main.js": "built"}}))
	shortImg, _ := diffImage(t, "short", short...)
	longImg, _ := diffImage(t, "long", long...)

	c := Compare(shortImg, longImg)
	if b := c.FirstBreak; b == nil || b.Reason != ReasonLayerAdded || b.Layer != 5 || b.NewInstruction != "RUN npm run build" {
		t.Fatalf("first break %+v, want layer-added at 5", b)
	}
	if got, want := statuses(c), []Status{R, R, R, R, R, A}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if c.AddedLayers != 1 || c.RebuiltSize != longImg.Layers[5].Size || c.TransferSize != longImg.Layers[5].CompressedSize {
		t.Errorf("added %d rebuilt size %d transfer %d", c.AddedLayers, c.RebuiltSize, c.TransferSize)
	}

	c = Compare(longImg, shortImg)
	if b := c.FirstBreak; b == nil || b.Reason != ReasonLayerRemoved || b.Layer != 5 || b.OldInstruction != "RUN npm run build" {
		t.Fatalf("first break %+v, want layer-removed at 5", b)
	}
	if got, want := statuses(c), []Status{R, R, R, R, R, RM}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if c.RemovedLayers != 1 || c.TransferSize != 0 {
		t.Errorf("removed %d transfer %d", c.RemovedLayers, c.TransferSize)
	}
}

// A metadata-only step added on top breaks nothing below it.
func TestCompareMetadataStepAdded(t *testing.T) {
	base := diffBase(t)
	oldSteps := concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))
	newSteps := concat(oldSteps, at(diffV2Time, dstep{createdBy: "/bin/sh -c #(nop)  EXPOSE 3000"}))
	oldImg, _ := diffImage(t, "v1", oldSteps...)
	newImg, _ := diffImage(t, "v2", newSteps...)
	c := Compare(oldImg, newImg)
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInstructionChanged || b.Layer != -1 || b.OldInstruction != "" || b.NewInstruction != "EXPOSE 3000" {
		t.Fatalf("first break %+v", b)
	}
	if c.ReusedLayers != 5 || c.Steps[len(c.Steps)-1].Status != A {
		t.Errorf("reused %d, top step %s", c.ReusedLayers, c.Steps[len(c.Steps)-1].Status)
	}
}

func TestCompareUnmatchedHistory(t *testing.T) {
	base := diffBase(t)
	oldImg, _ := diffImage(t, "v1", concat(base, lazyLegacy(diffV1Time, 'a', appV1, mods1))...)
	newImg, _ := diffImage(t, "v2", concat(base, lazyLegacy(diffV2Time, 'b', appV2, mods2))...)
	cfg := *newImg.Config
	cfg.History = cfg.History[:2] // squashed: the history no longer covers the layers
	newImg.Config = &cfg
	c := Compare(oldImg, newImg)
	if c.HistoryMatched || c.HistoryProblem == "" || len(c.Steps) != 0 {
		t.Errorf("history matched %v problem %q steps %d", c.HistoryMatched, c.HistoryProblem, len(c.Steps))
	}
	if b := c.FirstBreak; b == nil || b.Reason != ReasonUnknown || b.Layer != 3 {
		t.Fatalf("first break %+v", b)
	}
	if got, want := statuses(c), []Status{R, R, R, RB, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func TestCompareTransferFallsBackToUncompressed(t *testing.T) {
	oldImg := Image{Config: &v1.ConfigFile{}, Layers: []Layer{zlay(t, "a", 10, 5)}}
	newImg := Image{Config: &v1.ConfigFile{}, Layers: []Layer{zlay(t, "a", 10, 5), zlay(t, "b", 20, Unknown)}}
	oldImg.Config.History = []v1.History{{CreatedBy: "a"}}
	newImg.Config.History = []v1.History{{CreatedBy: "a"}, {CreatedBy: "b"}}
	c := Compare(oldImg, newImg)
	if c.TransferSize != 20 || c.TransferCompressed {
		t.Errorf("transfer %d compressed=%v, want 20 uncompressed", c.TransferSize, c.TransferCompressed)
	}
	newImg.Layers[1].Size = Unknown
	if c := Compare(oldImg, newImg); c.TransferSize != Unknown || c.RebuiltSize != Unknown {
		t.Errorf("transfer %d rebuilt %d, want unknown", c.TransferSize, c.RebuiltSize)
	}
}

func TestChangedFiles(t *testing.T) {
	oldFiles := []File{
		{Path: "/app", Kind: KindDir},
		{Path: "/app/a.js", Kind: KindFile, Size: 10},
		{Path: "/app/gone.js", Kind: KindFile, Size: 30},
		{Path: "/app/same.js", Kind: KindFile, Size: 7},
		{Path: "/app/link", Kind: KindSymlink, Link: "a.js"},
	}
	newFiles := []File{
		{Path: "/app", Kind: KindDir},
		{Path: "/app/a.js", Kind: KindFile, Size: 12},
		{Path: "/app/new.js", Kind: KindFile, Size: 50},
		{Path: "/app/same.js", Kind: KindFile, Size: 7},
		{Path: "/app/link", Kind: KindSymlink, Link: "b.js"},
		{Path: "/app/old.txt", Kind: KindWhiteout},
	}
	got := ChangedFiles(oldFiles, newFiles)
	want := []FileChange{
		{Path: "/app/new.js", Change: FileAdded, Size: 50},
		{Path: "/app/gone.js", Change: FileDeleted, Size: 30},
		{Path: "/app/a.js", Change: FileModified, Size: 12},
		{Path: "/app/link", Change: FileModified, Size: 0},
		{Path: "/app/old.txt", Change: FileDeleted, Size: 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ChangedFiles:\n got %+v\nwant %+v", got, want)
	}
}

func TestCompareTruncatesChangedFiles(t *testing.T) {
	base := diffBase(t)
	many := func(v string) map[string]string {
		m := map[string]string{}
		for i := range 30 {
			m["app/f"+string(rune('a'+i%26))+string(rune('a'+i/26))+".js"] = v + string(bytes.Repeat([]byte("x"), i))
		}
		return m
	}
	oldImg, oldFiles := diffImage(t, "v1", concat(base, lazyLegacy(diffV1Time, 'a', many("1"), mods1))...)
	newImg, newFiles := diffImage(t, "v2", concat(base, lazyLegacy(diffV2Time, 'b', many("22"), mods2))...)
	b := compareWithFiles(oldImg, newImg, oldFiles, newFiles).FirstBreak
	if b.ChangedFilesTotal != 30 || len(b.ChangedFiles) != DefaultMaxChangedFiles || b.ChangedFiles[0].Size != 31 {
		t.Errorf("total %d, kept %d, largest %+v", b.ChangedFilesTotal, len(b.ChangedFiles), b.ChangedFiles[0])
	}
	b = compareWithFiles(oldImg, newImg, oldFiles, newFiles, 0).FirstBreak
	if len(b.ChangedFiles) != 30 {
		t.Errorf("kept %d with no limit", len(b.ChangedFiles))
	}
}

func TestBroadCopy(t *testing.T) {
	for createdBy, want := range map[string]bool{
		"COPY . . # buildkit":                                     true,
		"COPY ./ /app/ # buildkit":                                true,
		"COPY src/ ./src # buildkit":                              true,
		"COPY src ./src # buildkit":                               true,
		"COPY --chown=node:node . . # buildkit":                   true,
		"COPY package*.json ./ # buildkit":                        false,
		"COPY package.json yarn.lock ./ # buildkit":               false,
		"COPY --from=build /app/dist ./dist # buildkit":           false,
		"COPY index.js ./ # buildkit":                             false,
		"/bin/sh -c #(nop) COPY dir:" + hash64('a') + " in . ":    true,
		"/bin/sh -c #(nop) COPY multi:" + hash64('a') + " in ./ ": false,
		"/bin/sh -c #(nop) COPY file:" + hash64('a') + " in . ":   false,
		"RUN cp -r . /app":                                        false,
	} {
		s := Step{CreatedBy: createdBy, Instruction: Instruction(createdBy)}
		if got := broadCopy(&s); got != want {
			t.Errorf("broadCopy(%q) = %v, want %v", createdBy, got, want)
		}
	}
}

func TestDependencyInstall(t *testing.T) {
	for instr, want := range map[string]string{
		"RUN npm install":                               "npm",
		"RUN npm ci --omit=dev":                         "npm",
		"RUN yarn install --frozen-lockfile":            "yarn",
		"RUN yarn":                                      "yarn",
		"RUN pnpm i":                                    "pnpm",
		"RUN pip install -r requirements.txt":           "pip",
		"RUN poetry install --no-root":                  "poetry",
		"RUN bundle install":                            "bundle",
		"RUN go mod download":                           "go",
		"RUN cargo fetch":                               "cargo",
		"RUN composer install":                          "composer",
		"RUN apt-get update && apt-get install -y curl": "apt-get",
		"RUN apk add --no-cache git":                    "apk",
		"RUN npm run build":                             "",
		"RUN yarn build":                                "",
		"COPY npm install":                              "",
	} {
		in, ok := dependencyInstall(instr)
		if got := in.tool; got != want || ok != (want != "") {
			t.Errorf("dependencyInstall(%q) = %q %v, want %q", instr, got, ok, want)
		}
	}
}

func TestIsDependencyManifest(t *testing.T) {
	for p, want := range map[string]bool{
		"/app/package.json": true, "/app/requirements-dev.txt": true, "/go.sum": true,
		"/app/src/util.js": false, "/app/README.md": false, "/app/package.json.bak": false,
	} {
		if got := IsDependencyManifest(p); got != want {
			t.Errorf("IsDependencyManifest(%q) = %v", p, got)
		}
	}
}
