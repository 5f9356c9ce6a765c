package analyze

import (
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Status says what became of a layer, or of a history step, between two builds.
type Status string

// The statuses of a compared layer or step.
const (
	// StatusReused: the same layer on the same layers below it (same chain ID), taken
	// from the cache: the engine stores it once and a pull of NEW skips it.
	StatusReused Status = "reused"
	// StatusRebuilt: both builds have the step, but NEW's was not taken from the cache.
	StatusRebuilt Status = "rebuilt"
	// StatusAdded: only NEW has the step.
	StatusAdded Status = "added"
	// StatusRemoved: only OLD has the step.
	StatusRemoved Status = "removed"
)

// BreakReason says why the cache broke at the first break.
type BreakReason string

// The reasons of a first break.
const (
	// ReasonBaseChanged: the break lies in the layers and steps FROM brought in (see
	// Compare for how the base is told apart).
	ReasonBaseChanged BreakReason = "base-changed"
	// ReasonInstructionChanged: the history text differs, content hashes aside, or a
	// metadata-only step was added or removed.
	ReasonInstructionChanged BreakReason = "instruction-changed"
	// ReasonInputsChanged: the same instruction made a different layer; for COPY and
	// ADD the build context changed (the legacy builder's "COPY dir:<hash>" with
	// another hash counts here), for RUN its build args or the cache itself.
	ReasonInputsChanged BreakReason = "inputs-changed"
	// ReasonLayerAdded: NEW has a layer-making step where OLD's history ends.
	ReasonLayerAdded BreakReason = "layer-added"
	// ReasonLayerRemoved: OLD has a layer-making step where NEW's history ends.
	ReasonLayerRemoved BreakReason = "layer-removed"
	// ReasonUnknown: a history does not match its layers, so only the layers can be
	// compared and the reason cannot be told.
	ReasonUnknown BreakReason = "unknown"
)

// FileChangeKind says how a file differs between the two breaking layers.
type FileChangeKind string

// The kinds of file change.
const (
	FileAdded    FileChangeKind = "added"
	FileModified FileChangeKind = "modified"
	FileDeleted  FileChangeKind = "deleted"
)

// DefaultMaxChangedFiles is how many changed files a comparison keeps by default.
const DefaultMaxChangedFiles = 20

// Comparison is what `diff` reports of two images, typically two builds of one
// Dockerfile.
type Comparison struct {
	Old, New ImageRef
	// Layers are the layers of both images side by side, bottom first, by index.
	Layers []LayerDiff
	// Steps are the history entries of both images aligned bottom to top: every layer
	// pair with the metadata-only steps made just before it. Empty when a history
	// does not match its layers (HistoryMatched false).
	Steps          []StepDiff
	HistoryMatched bool
	HistoryProblem string

	ReusedLayers, RebuiltLayers, AddedLayers, RemovedLayers int
	// ReusedSize is the uncompressed size of NEW's reused layers; RebuiltSize that of
	// NEW's other layers (rebuilt and added): what the build wrote anew. Unknown when
	// a size is.
	ReusedSize, RebuiltSize int64
	// TransferSize is what a pull of NEW moves when OLD is already present: the sizes
	// of NEW's layers whose chain ID is not among OLD's, compressed when every one of
	// those compressed sizes is known (TransferCompressed), else uncompressed, else
	// Unknown.
	TransferSize       int64
	TransferCompressed bool

	// FirstBreak is the lowest step that the cache did not serve; nil when NEW reused
	// everything (or is OLD).
	FirstBreak *Break
	// Advice is set only when reordering the Dockerfile would have kept the
	// dependency install cached (see Advice).
	Advice *Advice
}

// ImageRef names one of the compared images.
type ImageRef struct {
	Ref string
	ID  string
}

// LayerDiff is one layer index of both images.
type LayerDiff struct {
	Index  int
	Status Status
	// SameContent is true for a rebuilt layer with the same diffID as OLD's: the step
	// re-ran and made the very same layer.
	SameContent bool
	// Old and New are nil where that image has no layer at Index.
	Old, New *LayerSide
}

// LayerSide is one image's layer at an index, with the step that made it.
type LayerSide struct {
	Layer
	// Instruction is the normalised instruction (see Instruction); empty when the
	// history does not match the layers.
	Instruction string
}

// StepDiff is one aligned row of both histories.
type StepDiff struct {
	Status Status
	// Old and New are nil where that image has no step in this row.
	Old, New *Step
	// Layer is the index into Comparison.Layers when the row made a layer, else -1.
	Layer int
	// TextChanged is true when both steps are there and their history text differs.
	TextChanged bool

	oldIdx, newIdx int // the steps' indexes in their histories, -1 for none
}

// Instruction is the row's instruction: NEW's, or OLD's when NEW has none.
func (s StepDiff) Instruction() string {
	if s.New != nil {
		return s.New.Instruction
	}
	if s.Old != nil {
		return s.Old.Instruction
	}
	return ""
}

// Break is the first step whose cache did not hold.
type Break struct {
	// Step is the index into Comparison.Steps; -1 when the histories did not match.
	Step int
	// Layer is the first layer the break cost: the breaking step's own, or the next
	// one above a metadata-only step; -1 when no layer lies above.
	Layer  int
	Reason BreakReason
	// OldInstruction and NewInstruction are the breaking step in each build ("" where
	// that build has none).
	OldInstruction, NewInstruction string
	// FilesCompared is true when the two breaking layers' files were compared (see
	// WithBreakFiles); ChangedFiles then lists the differences, largest first, cut to
	// the limit (see WithMaxChangedFiles), and ChangedFilesTotal counts them all.
	FilesCompared     bool
	ChangedFiles      []FileChange
	ChangedFilesTotal int
}

// FileChange is one file that differs between the two breaking layers.
type FileChange struct {
	// Path is absolute: "/app/src/index.js".
	Path   string
	Change FileChangeKind
	// Size is NEW's size of the file, or OLD's for a deleted file.
	Size int64
}

// Advice is the seed's lesson, measured: the cache broke at a COPY of the whole
// context (or a directory), a dependency install above it re-ran for it, and no
// dependency manifest changed, so copying the manifests first would have kept the
// install cached.
type Advice struct {
	// BroadCopy is the breaking COPY/ADD instruction ("COPY <directory> ." when the
	// legacy builder recorded only a hash); Install the last rebuilt dependency install
	// above it.
	BroadCopy, Install string
	// Tool is the installer ("npm", "pip", "apt-get", ...). Manifests are the files it
	// reads, to copy first; empty for system packages (apt-get, apk, ...), whose
	// install should simply move above the COPY.
	Tool      string
	Manifests []string
	// ChangedFile is the largest changed file, for the message.
	ChangedFile string
	// SavedSteps is how many steps, the install included, lie above the broad COPY up
	// to the install and would have been reused; SavedLayers how many of them made a
	// layer, and SavedSize those layers' uncompressed size in NEW (Unknown when a size
	// is).
	SavedSteps, SavedLayers int
	SavedSize               int64
}

// CompareOption tunes Compare.
type CompareOption func(*compareConfig)

type compareConfig struct {
	oldFiles, newFiles []File
	haveFiles          bool
	maxFiles           int
}

// WithBreakFiles gives Compare the entries of the two layers at the first break (see
// Comparison.BreakLayer), so it can list the changed files and weigh the advice.
func WithBreakFiles(oldFiles, newFiles []File) CompareOption {
	return func(c *compareConfig) {
		c.oldFiles, c.newFiles, c.haveFiles = oldFiles, newFiles, true
	}
}

// WithMaxChangedFiles keeps at most n changed files (the largest); n <= 0 keeps all.
func WithMaxChangedFiles(n int) CompareOption {
	return func(c *compareConfig) { c.maxFiles = n }
}

// BreakLayer returns the layer index whose files explain the first break: set only
// when the break is inputs-changed on a layer-making step of both builds.
func (c Comparison) BreakLayer() (int, bool) {
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInputsChanged || b.Step < 0 {
		return -1, false
	}
	row := c.Steps[b.Step]
	if row.Layer < 0 || row.Old == nil || row.New == nil || row.Old.EmptyLayer || row.New.EmptyLayer {
		return -1, false
	}
	return row.Layer, true
}

// Compare aligns two images bottom to top and tells which layers NEW reused from OLD,
// where the cache first broke, and why.
//
// Alignment: layers pair by index, and each layer's step pairs with the other
// build's step for the same layer; the metadata-only steps (ENV, LABEL, ...) made
// just before a layer pair up in order. Builders key each step's cache on the step
// below, so the first break is the lowest row whose history text differs (content
// hashes included), whose layer differs (chain ID), or that one build lacks; every
// layer at or above it is rebuilt, even one that came out the same (SameContent),
// except that BuildKit keeps its cache across config-only steps (LABEL, EXPOSE, CMD,
// ENTRYPOINT, VOLUME, ...), so those do not break it for the layers above.
//
// Base: the steps FROM brought in were made when the base was built, before this
// build began, while a build's own fresh steps follow each other closely. So an
// image's own build is taken to be its topmost run of steps each made within
// buildGap of the one below it (steps without a time join the run), and a break
// below that run in NEW (and in OLD, when OLD has the step) is base-changed. A step
// that ran longer than buildGap, or a base built less than buildGap before the build,
// blurs the line; the reason then falls back to what the history text says.
func Compare(oldImg, newImg Image, opts ...CompareOption) Comparison {
	cfg := compareConfig{maxFiles: DefaultMaxChangedFiles}
	for _, o := range opts {
		o(&cfg)
	}
	c := Comparison{
		Old: ImageRef{Ref: oldImg.Ref, ID: oldImg.ID},
		New: ImageRef{Ref: newImg.Ref, ID: newImg.ID},
	}
	oldSteps, oldOK, oldProblem := Steps(oldImg.Config, len(oldImg.Layers))
	newSteps, newOK, newProblem := Steps(newImg.Config, len(newImg.Layers))
	c.HistoryMatched = oldOK && newOK
	switch {
	case !oldOK:
		c.HistoryProblem = "OLD: " + oldProblem
	case !newOK:
		c.HistoryProblem = "NEW: " + newProblem
	}

	c.Layers = pairLayers(oldImg, newImg, oldSteps, newSteps, c.HistoryMatched)
	sameChain := sameChains(oldImg, newImg)
	if c.HistoryMatched {
		c.Steps = alignSteps(oldSteps, newSteps)
		c.FirstBreak = firstStepBreak(c.Steps, oldSteps, newSteps, sameChain)
	} else {
		c.FirstBreak = firstLayerBreak(sameChain, len(oldImg.Layers), len(newImg.Layers))
	}
	c.markStatuses(sameChain)
	c.figures(oldImg, newImg)
	if c.FirstBreak != nil && cfg.haveFiles {
		if _, ok := c.BreakLayer(); ok {
			all := ChangedFiles(cfg.oldFiles, cfg.newFiles)
			c.FirstBreak.FilesCompared = true
			c.FirstBreak.ChangedFilesTotal = len(all)
			if cfg.maxFiles > 0 && len(all) > cfg.maxFiles {
				c.FirstBreak.ChangedFiles = all[:cfg.maxFiles]
			} else {
				c.FirstBreak.ChangedFiles = all
			}
			c.Advice = advise(c, all, cfg.newFiles)
		}
	}
	return c
}

func pairLayers(oldImg, newImg Image, oldSteps, newSteps []Step, matched bool) []LayerDiff {
	n := max(len(oldImg.Layers), len(newImg.Layers))
	out := make([]LayerDiff, n)
	instr := func(steps []Step, i int) string {
		if !matched {
			return ""
		}
		for _, s := range steps {
			if s.Layer == i {
				return s.Instruction
			}
		}
		return ""
	}
	for i := range out {
		out[i].Index = i
		if i < len(oldImg.Layers) {
			out[i].Old = &LayerSide{Layer: oldImg.Layers[i], Instruction: instr(oldSteps, i)}
		}
		if i < len(newImg.Layers) {
			out[i].New = &LayerSide{Layer: newImg.Layers[i], Instruction: instr(newSteps, i)}
		}
	}
	return out
}

// diffSegment is the metadata-only steps before a layer, and that layer's step (nil
// for the steps above the top layer).
type diffSegment struct {
	meta  []int
	layer int // index into the steps, -1 for none
}

func diffSegments(steps []Step) []diffSegment {
	var segs []diffSegment
	cur := diffSegment{layer: -1}
	for i, s := range steps {
		if s.EmptyLayer {
			cur.meta = append(cur.meta, i)
			continue
		}
		cur.layer = i
		segs = append(segs, cur)
		cur = diffSegment{layer: -1}
	}
	return append(segs, cur)
}

func alignSteps(oldSteps, newSteps []Step) []StepDiff {
	oldSegs, newSegs := diffSegments(oldSteps), diffSegments(newSteps)
	var rows []StepDiff
	row := func(oi, ni int) {
		r := StepDiff{Layer: -1, oldIdx: oi, newIdx: ni}
		if oi >= 0 {
			s := oldSteps[oi]
			r.Old = &s
			r.Layer = s.Layer
		}
		if ni >= 0 {
			s := newSteps[ni]
			r.New = &s
			r.Layer = s.Layer
		}
		r.TextChanged = r.Old != nil && r.New != nil && diffText(r.Old.CreatedBy) != diffText(r.New.CreatedBy)
		rows = append(rows, r)
	}
	// Segment j holds layer j's step and the metadata-only steps before it; the last
	// segment of each list holds the steps above its top layer, so when one image has
	// fewer layers its top steps pair with the other's next layer.
	for j := range max(len(oldSegs), len(newSegs)) {
		o, n := diffSegment{layer: -1}, diffSegment{layer: -1}
		if j < len(oldSegs) {
			o = oldSegs[j]
		}
		if j < len(newSegs) {
			n = newSegs[j]
		}
		pairMeta(o.meta, n.meta, row)
		if o.layer >= 0 || n.layer >= 0 {
			row(o.layer, n.layer)
		}
	}
	return rows
}

func pairMeta(o, n []int, row func(oi, ni int)) {
	for k := 0; k < max(len(o), len(n)); k++ {
		oi, ni := -1, -1
		if k < len(o) {
			oi = o[k]
		}
		if k < len(n) {
			ni = n[k]
		}
		row(oi, ni)
	}
}

// diffText is a history text with its whitespace normalised.
func diffText(createdBy string) string {
	return strings.Join(strings.Fields(createdBy), " ")
}

var diffContentHash = regexp.MustCompile(`\b(file|dir|multi):[0-9a-f]{64}\b`)

// maskedInstruction is the normalised instruction with the legacy builder's content
// hashes masked, so a new hash reads as new inputs, not a new instruction.
func maskedInstruction(createdBy string) string {
	return Instruction(diffContentHash.ReplaceAllString(createdBy, "$1:<content>"))
}

// buildGap is the longest pause between two steps of one build (see Compare).
const buildGap = 3 * time.Hour

// buildStart returns the index of the first step of the image's own, topmost build.
func buildStart(steps []Step) int {
	start := len(steps)
	var above time.Time
	for i := len(steps) - 1; i >= 0; i-- {
		t := steps[i].Created
		if !t.IsZero() && !above.IsZero() && above.Sub(t) > buildGap {
			break
		}
		start = i
		if !t.IsZero() {
			above = t
		}
	}
	return start
}

// configOnly are the instructions that change only the image config: BuildKit does
// not key later steps' cache on them.
var configOnly = map[string]bool{
	"LABEL": true, "EXPOSE": true, "CMD": true, "ENTRYPOINT": true, "VOLUME": true,
	"STOPSIGNAL": true, "HEALTHCHECK": true, "ONBUILD": true, "MAINTAINER": true,
}

const buildkitComment = "buildkit.dockerfile.v0"

// keepsCache reports whether a differing metadata-only row leaves the cache of the
// steps above intact: a config-only instruction in a BuildKit build.
func keepsCache(r StepDiff) bool {
	for _, s := range []*Step{r.Old, r.New} {
		if s == nil {
			continue
		}
		if !s.EmptyLayer || s.Comment != buildkitComment || !configOnly[Keyword(s.Instruction)] {
			return false
		}
	}
	return true
}

func firstStepBreak(rows []StepDiff, oldSteps, newSteps []Step, sameChain []bool) *Break {
	oldBase, newBase := buildStart(oldSteps), buildStart(newSteps)
	for i, r := range rows {
		differs := r.Old == nil || r.New == nil || r.TextChanged
		if !differs && r.Layer >= 0 {
			// Steps pair by layer index, so both made layer r.Layer.
			differs = !sameChain[r.Layer]
		}
		if !differs {
			continue
		}
		if r.Layer < 0 && keepsCache(r) {
			continue
		}
		b := &Break{Step: i, Layer: -1}
		for _, above := range rows[i:] {
			if above.Layer >= 0 {
				b.Layer = above.Layer
				break
			}
		}
		if r.Old != nil {
			b.OldInstruction = r.Old.Instruction
		}
		if r.New != nil {
			b.NewInstruction = r.New.Instruction
		}
		switch {
		case r.New != nil && r.newIdx < newBase && (r.Old == nil || r.oldIdx < oldBase):
			b.Reason = ReasonBaseChanged
		case r.Old == nil && r.Layer >= 0:
			b.Reason = ReasonLayerAdded
		case r.New == nil && r.Layer >= 0:
			b.Reason = ReasonLayerRemoved
		case r.Old == nil || r.New == nil:
			b.Reason = ReasonInstructionChanged
		case maskedInstruction(r.Old.CreatedBy) != maskedInstruction(r.New.CreatedBy):
			b.Reason = ReasonInstructionChanged
		default:
			b.Reason = ReasonInputsChanged
		}
		return b
	}
	return nil
}

// sameChains reports, for every layer index of either image, whether both images
// have the same chain ID there.
func sameChains(oldImg, newImg Image) []bool {
	oldChains, newChains := ChainIDs(oldImg.DiffIDs()), ChainIDs(newImg.DiffIDs())
	out := make([]bool, max(len(oldChains), len(newChains)))
	for i := range min(len(oldChains), len(newChains)) {
		out[i] = oldChains[i] == newChains[i]
	}
	return out
}

// firstLayerBreak is the first break when a history cannot be trusted: layers only.
func firstLayerBreak(sameChain []bool, oldLayers, newLayers int) *Break {
	for i, same := range sameChain {
		b := &Break{Step: -1, Layer: i}
		switch {
		case i >= oldLayers:
			b.Reason = ReasonLayerAdded
		case i >= newLayers:
			b.Reason = ReasonLayerRemoved
		case !same:
			b.Reason = ReasonUnknown
		default:
			continue
		}
		return b
	}
	return nil
}

// markStatuses gives every layer and row its status and counts the layers.
func (c *Comparison) markStatuses(sameChain []bool) {
	breakLayer, breakStep := len(c.Layers), len(c.Steps)
	if b := c.FirstBreak; b != nil {
		if b.Layer >= 0 {
			breakLayer = b.Layer
		}
		if b.Step >= 0 {
			breakStep = b.Step
		}
	}
	for i := range c.Layers {
		l := &c.Layers[i]
		switch {
		case l.Old == nil:
			l.Status = StatusAdded
			c.AddedLayers++
		case l.New == nil:
			l.Status = StatusRemoved
			c.RemovedLayers++
		case sameChain[i] && i < breakLayer:
			l.Status = StatusReused
			c.ReusedLayers++
		default:
			l.Status = StatusRebuilt
			l.SameContent = l.Old.DiffID == l.New.DiffID
			c.RebuiltLayers++
		}
	}
	for i := range c.Steps {
		r := &c.Steps[i]
		switch {
		case r.Old == nil:
			r.Status = StatusAdded
		case r.New == nil:
			r.Status = StatusRemoved
		case r.Layer >= 0:
			r.Status = c.Layers[r.Layer].Status
		case i >= breakStep || r.TextChanged:
			r.Status = StatusRebuilt
		default:
			r.Status = StatusReused
		}
	}
}

// figures sums the sizes of the comparison.
func (c *Comparison) figures(oldImg, newImg Image) {
	var reused, rebuilt []int64
	for _, l := range c.Layers {
		switch l.Status {
		case StatusReused:
			reused = append(reused, l.New.Size)
		case StatusRebuilt, StatusAdded:
			rebuilt = append(rebuilt, l.New.Size)
		}
	}
	c.ReusedSize, c.RebuiltSize = diffSum(reused), diffSum(rebuilt)

	inOld := map[v1.Hash]bool{}
	for _, h := range ChainIDs(oldImg.DiffIDs()) {
		inOld[h] = true
	}
	var compressed, uncompressed []int64
	for i, h := range ChainIDs(newImg.DiffIDs()) {
		if !inOld[h] {
			compressed = append(compressed, newImg.Layers[i].CompressedSize)
			uncompressed = append(uncompressed, newImg.Layers[i].Size)
		}
	}
	c.TransferSize, c.TransferCompressed = diffSum(compressed), true
	if c.TransferSize == Unknown {
		c.TransferSize, c.TransferCompressed = diffSum(uncompressed), false
	}
}

// diffSum adds sizes; Unknown if any is.
func diffSum(sizes []int64) int64 {
	var total int64
	for _, s := range sizes {
		if s < 0 {
			return Unknown
		}
		total += s
	}
	return total
}

// ChangedFiles lists how the entries of NEW's layer differ from those of OLD's at the
// same step, largest first. Files compare by kind, size and link target (the entries
// carry no content digest, so an edit that keeps a file's size goes unseen);
// directories and opaque markers are left out, and a whiteout in NEW's layer that OLD's
// lacks is a deleted file.
func ChangedFiles(oldFiles, newFiles []File) []FileChange {
	index := func(files []File) map[string]File {
		m := make(map[string]File, len(files))
		for _, f := range files {
			if f.Kind != KindDir && f.Kind != KindOpaque {
				m[f.Path] = f
			}
		}
		return m
	}
	oldByPath, newByPath := index(oldFiles), index(newFiles)
	var out []FileChange
	for p, nf := range newByPath {
		of, inOld := oldByPath[p]
		switch {
		case inOld && of.Kind == nf.Kind && of.Size == nf.Size && of.Link == nf.Link && of.Digest == nf.Digest:
		case nf.Kind == KindWhiteout:
			out = append(out, FileChange{Path: p, Change: FileDeleted, Size: of.Size})
		case inOld && of.Kind != KindWhiteout:
			out = append(out, FileChange{Path: p, Change: FileModified, Size: nf.Size})
		default:
			out = append(out, FileChange{Path: p, Change: FileAdded, Size: nf.Size})
		}
	}
	for p, of := range oldByPath {
		if _, inNew := newByPath[p]; !inNew && of.Kind != KindWhiteout {
			out = append(out, FileChange{Path: p, Change: FileDeleted, Size: of.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// IsDependencyManifest reports whether a file is one that package managers read to
// install dependencies (package.json, go.sum, requirements-dev.txt, ...).
func IsDependencyManifest(p string) bool {
	base := path.Base(p)
	if strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt") {
		return true
	}
	return dependencyManifests[base]
}

var dependencyManifests = map[string]bool{
	"package.json": true, "package-lock.json": true, "npm-shrinkwrap.json": true,
	"yarn.lock": true, "pnpm-lock.yaml": true, ".npmrc": true, ".yarnrc.yml": true,
	"pyproject.toml": true, "poetry.lock": true, "Pipfile": true, "Pipfile.lock": true,
	"Gemfile": true, "Gemfile.lock": true, "go.mod": true, "go.sum": true,
	"Cargo.toml": true, "Cargo.lock": true, "composer.json": true, "composer.lock": true,
}

// installer is a dependency install command and the manifests it reads.
type installer struct {
	tool      string
	re        *regexp.Regexp
	manifests []string // nil for system packages
}

var installers = []installer{
	{"npm", regexp.MustCompile(`\bnpm\s+(?:install|ci|i)\b`), []string{"package.json", "package-lock.json", "npm-shrinkwrap.json"}},
	{"yarn", regexp.MustCompile(`\byarn(?:\s+install\b|\s*(?:$|&&|;|\|)|\s+--)`), []string{"package.json", "yarn.lock", ".yarnrc.yml"}},
	{"pnpm", regexp.MustCompile(`\bpnpm\s+(?:install|i)\b`), []string{"package.json", "pnpm-lock.yaml"}},
	{"pip", regexp.MustCompile(`\bpip3?\s+install\b`), []string{"requirements.txt"}},
	{"poetry", regexp.MustCompile(`\bpoetry\s+install\b`), []string{"pyproject.toml", "poetry.lock"}},
	{"pipenv", regexp.MustCompile(`\bpipenv\s+(?:install|sync)\b`), []string{"Pipfile", "Pipfile.lock"}},
	{"bundle", regexp.MustCompile(`\bbundle\s+install\b`), []string{"Gemfile", "Gemfile.lock"}},
	{"go", regexp.MustCompile(`\bgo\s+mod\s+download\b`), []string{"go.mod", "go.sum"}},
	{"cargo", regexp.MustCompile(`\bcargo\s+(?:build|fetch)\b`), []string{"Cargo.toml", "Cargo.lock"}},
	{"composer", regexp.MustCompile(`\bcomposer\s+install\b`), []string{"composer.json", "composer.lock"}},
	{"apt-get", regexp.MustCompile(`\bapt(?:-get)?\s+(?:-\S+\s+)*install\b`), nil},
	{"apk", regexp.MustCompile(`\bapk\s+(?:-\S+\s+)*add\b`), nil},
	{"yum", regexp.MustCompile(`\b(?:yum|dnf|microdnf)\s+(?:-\S+\s+)*install\b`), nil},
}

// dependencyInstall returns the installer a RUN instruction runs, if any.
func dependencyInstall(instruction string) (installer, bool) {
	if Keyword(instruction) != "RUN" {
		return installer{}, false
	}
	for _, in := range installers {
		if in.re.MatchString(instruction) {
			return in, true
		}
	}
	return installer{}, false
}

// legacyDirSource is the legacy builder's name for a copied directory, which hides
// the Dockerfile's own source ("." or "src/").
var legacyDirSource = regexp.MustCompile(`\bdir:[0-9a-f]+…?`)

var legacyCopyKind = regexp.MustCompile(`#\(nop\)\s*(?:COPY|ADD) (file|dir|multi):`)

// broadCopy reports whether a COPY or ADD step copies a whole directory of the build
// context ("COPY . .", "COPY src/ ./src", the legacy builder's "COPY dir:…") rather
// than named files.
func broadCopy(s *Step) bool {
	kw := Keyword(s.Instruction)
	if kw != "COPY" && kw != "ADD" {
		return false
	}
	if m := legacyCopyKind.FindStringSubmatch(s.CreatedBy); m != nil {
		return m[1] == "dir"
	}
	var args []string
	for _, f := range strings.Fields(strings.TrimPrefix(s.Instruction, kw)) {
		if strings.HasPrefix(f, "--from=") {
			return false // another stage or image, not the build context
		}
		if !strings.HasPrefix(f, "--") {
			args = append(args, f)
		}
	}
	if len(args) < 2 {
		return false
	}
	for _, src := range args[:len(args)-1] {
		base := path.Base(src)
		dirLike := src == "." || src == "./" || strings.HasSuffix(src, "/") || !strings.ContainsAny(base, ".*?[")
		if dirLike && !IsDependencyManifest(src) {
			return true
		}
	}
	return false
}

// advise applies the seed's lesson to a comparison whose changed files are known.
func advise(c Comparison, changed []FileChange, newFiles []File) *Advice {
	b := c.FirstBreak
	if len(changed) == 0 {
		return nil // nothing seen to change: we cannot tell the manifests stayed the same
	}
	for _, f := range changed {
		if IsDependencyManifest(f.Path) {
			return nil // the install had to re-run anyway
		}
	}
	brk := c.Steps[b.Step]
	if !broadCopy(brk.New) || !broadCopy(brk.Old) {
		return nil
	}
	install := -1
	var tool installer
	for i := b.Step + 1; i < len(c.Steps); i++ {
		r := c.Steps[i]
		if r.New == nil || r.Layer < 0 || r.Status != StatusRebuilt {
			continue
		}
		if in, ok := dependencyInstall(r.New.Instruction); ok {
			install, tool = i, in
		}
	}
	if install < 0 {
		return nil
	}
	a := &Advice{
		BroadCopy:   legacyDirSource.ReplaceAllString(brk.New.Instruction, "<directory>"),
		Install:     c.Steps[install].New.Instruction,
		Tool:        tool.tool,
		ChangedFile: changed[0].Path,
	}
	// Name the manifests this context has, when it has any of the tool's.
	present := map[string]bool{}
	for _, f := range newFiles {
		present[path.Base(f.Path)] = true
	}
	for _, m := range tool.manifests {
		if present[m] {
			a.Manifests = append(a.Manifests, m)
		}
	}
	if len(a.Manifests) == 0 && len(tool.manifests) > 0 {
		a.Manifests = tool.manifests[:min(2, len(tool.manifests))]
	}
	var sizes []int64
	for _, r := range c.Steps[b.Step+1 : install+1] {
		if r.New == nil {
			continue
		}
		a.SavedSteps++
		if r.Layer >= 0 {
			a.SavedLayers++
			sizes = append(sizes, diffNewSize(c, r.Layer))
		}
	}
	a.SavedSize = diffSum(sizes)
	return a
}

// diffNewSize is NEW's uncompressed size of a layer.
func diffNewSize(c Comparison, layer int) int64 {
	if l := c.Layers[layer].New; l != nil {
		return l.Size
	}
	return Unknown
}
