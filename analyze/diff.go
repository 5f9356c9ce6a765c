package analyze

import (
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

// BreakDetail says, within a reason, what exactly broke the cache: the verdict a
// renderer words.
type BreakDetail string

// The details of a first break.
const (
	// DetailBaseChanged: a step FROM brought in differs.
	DetailBaseChanged BreakDetail = "base-changed"
	// DetailStepAdded and DetailStepRemoved: one build lacks the step, and the builder
	// keys the steps above on it.
	DetailStepAdded   BreakDetail = "step-added"
	DetailStepRemoved BreakDetail = "step-removed"
	// DetailRunKeyed: a metadata-only ENV, ARG, USER or SHELL differs; BuildKit passes it
	// to later RUNs only, so the next RUN broke.
	DetailRunKeyed BreakDetail = "run-keyed"
	// DetailInstructionChanged: the instruction's text differs.
	DetailInstructionChanged BreakDetail = "instruction-changed"
	// DetailContextChanged: a COPY or ADD of the same text copied other files from the
	// build context.
	DetailContextChanged BreakDetail = "context-changed"
	// DetailBuildArgsChanged: a RUN of the same text ran with other build args (the
	// history records their values).
	DetailBuildArgsChanged BreakDetail = "build-args-changed"
	// DetailBuilderChanged: one build used the legacy builder and the other BuildKit,
	// which keep separate caches, so nothing above the base could be reused.
	DetailBuilderChanged BreakDetail = "builder-changed"
	// DetailNotFromCache: nothing the builder keys the step on changed, yet it made
	// another layer: it was not taken from the cache (--no-cache, a pruned cache, a
	// build on another machine).
	DetailNotFromCache BreakDetail = "not-from-cache"
	// DetailLayerAdded and DetailLayerRemoved: one history ends below the other.
	DetailLayerAdded   BreakDetail = "layer-added"
	DetailLayerRemoved BreakDetail = "layer-removed"
	// DetailUnknown: a history does not match its layers.
	DetailUnknown BreakDetail = "unknown"
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

	// FirstBreak is the lowest step that broke the cache (see Compare); nil when
	// nothing did: NEW reused every layer OLD has below its own top.
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
	// InstructionChanged is true when both steps are there and their normalised
	// instructions differ: the text changed in more than how the builder wrote it.
	InstructionChanged bool

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

// UnkeyedStep is a step below the first break that differs between the builds but
// did not break the cache.
type UnkeyedStep struct {
	// Instruction is the step's instruction (NEW's, or OLD's when NEW lacks it).
	Instruction string
	// Change is "added", "removed" or "changed".
	Change string
	// KeysRunsOnly is true when BuildKit keys later RUN steps (only) on the step (ENV,
	// ARG, USER, SHELL); false when it keys no step on it (LABEL, EXPOSE, CMD, ...).
	KeysRunsOnly bool
}

// UnkeyedSteps describes Break.Unkeyed.
func (c Comparison) UnkeyedSteps() []UnkeyedStep {
	if c.FirstBreak == nil {
		return nil
	}
	var out []UnkeyedStep
	for _, u := range c.FirstBreak.Unkeyed {
		s := c.Steps[u]
		what, change := s.New, "changed"
		switch {
		case s.New == nil:
			what, change = s.Old, "removed"
		case s.Old == nil:
			change = "added"
		}
		out = append(out, UnkeyedStep{Instruction: what.Instruction, Change: change, KeysRunsOnly: KeysRunsOnly(Keyword(what.Instruction))})
	}
	return out
}

// Break is the first step whose cache did not hold.
type Break struct {
	// Step is the index into Comparison.Steps; -1 when the histories did not match.
	Step int
	// Layer is the first layer the break cost: the breaking step's own; above a
	// metadata-only step, the next layer (for BuildKit's ENV, ARG, USER and SHELL,
	// the next RUN's); -1 when no layer lies above.
	Layer  int
	Reason BreakReason
	// Detail says what within Reason broke the cache.
	Detail BreakDetail
	// Unkeyed are the rows below Step (indexes into Comparison.Steps) that differ
	// but did not break the cache, as BuildKit keys nothing on LABEL, EXPOSE, CMD and
	// the like, and keys only RUNs on ENV, ARG, USER and SHELL.
	Unkeyed []int
	// OldInstruction and NewInstruction are the breaking step in each build ("" where
	// that build has none).
	OldInstruction, NewInstruction string
	// FilesCompared is true when the two breaking layers' files were compared (see
	// AddBreakFiles); ChangedFiles then lists the differences, largest first, cut to
	// the limit, and ChangedFilesTotal counts them all.
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

// BreakLayer returns the layer index whose files explain the first break: set only
// when the break is inputs-changed on a layer-making step of both builds.
func (c Comparison) BreakLayer() (int, bool) {
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInputsChanged || b.Step < 0 {
		return -1, false
	}
	row := c.Steps[b.Step]
	if row.Layer < 0 || row.Old == nil || row.New == nil {
		return -1, false
	}
	return row.Layer, true
}

// AddBreakFiles takes the entries of OLD's and NEW's layers at BreakLayer, lists
// the files that changed (the largest maxFiles; all when maxFiles <= 0) and weighs
// the advice, which needs them. It does nothing when BreakLayer is not set.
func (c *Comparison) AddBreakFiles(oldFiles, newFiles []File, maxFiles int) {
	if _, ok := c.BreakLayer(); !ok {
		return
	}
	all := ChangedFiles(oldFiles, newFiles)
	b := c.FirstBreak
	b.FilesCompared, b.ChangedFilesTotal, b.ChangedFiles = true, len(all), all
	if maxFiles > 0 && len(all) > maxFiles {
		b.ChangedFiles = all[:maxFiles]
	}
	c.Advice = advise(*c, all, newFiles)
}

// Compare aligns two images bottom to top and tells which layers NEW reused from OLD,
// where the cache first broke, and why. The changed files at the break come after,
// from AddBreakFiles, since only the break tells which layers to read.
//
// Alignment: layers pair by index, and each layer's step pairs with the other
// build's step for the same layer; the metadata-only steps (ENV, LABEL, ...) made
// just before a layer pair up in order. When one image has more layers, the steps
// above the other's top layer pair with the run of metadata-only steps they match
// best, so the ENV and CMD that end both Dockerfiles still face each other.
//
// Cache: both builders key a step on what lies below it, so a step is reused only
// while every step below it was, and the first break is the lowest row that one
// build lacks, whose history text differs (content hashes and build args included)
// or whose layer differs (chain ID); every layer above it is rebuilt, even one that
// came out the same (SameContent). Metadata-only rows count as the builder counts
// them. The legacy builder commits an image for every step and looks up the next
// step's cache by that parent, so any differing step breaks everything above it.
// BuildKit keys only filesystem operations: LABEL, EXPOSE, CMD, ENTRYPOINT, VOLUME
// and the like key nothing, and ENV, ARG, USER and SHELL enter only the RUN steps
// above them, so such a step breaks the cache at the next RUN, and a COPY in
// between stays reused. Break.Unkeyed lists the differing steps passed over.
//
// Base: the steps FROM brought in were made when the base was built, before this
// build began, while a build's own fresh steps follow each other closely. So an
// image's own build is taken to be its topmost run of steps each made within
// buildGap of the one below it (steps without a time join the run), and a break
// below that run in NEW (and in OLD, when OLD has the step) is base-changed. A step
// that ran longer than buildGap, or a base built less than buildGap before the build,
// blurs the line; the reason then falls back to what the history text says.
func Compare(oldImg, newImg Image) Comparison {
	c := Comparison{
		Old: ImageRef{Ref: oldImg.Ref, ID: oldImg.ID},
		New: ImageRef{Ref: newImg.Ref, ID: newImg.ID},
	}
	oldHist, newHist := oldImg.History(), newImg.History()
	oldSteps, oldOK, oldProblem := oldHist.Steps, oldHist.Matched, oldHist.Problem
	newSteps, newOK, newProblem := newHist.Steps, newHist.Matched, newHist.Problem
	c.HistoryMatched = oldOK && newOK
	switch {
	case !oldOK:
		c.HistoryProblem = "OLD: " + oldProblem
	case !newOK:
		c.HistoryProblem = "NEW: " + newProblem
	}

	oldChains, newChains := ChainIDs(oldImg.DiffIDs()), ChainIDs(newImg.DiffIDs())
	sameChain := make([]bool, max(len(oldChains), len(newChains)))
	for i := range min(len(oldChains), len(newChains)) {
		sameChain[i] = oldChains[i] == newChains[i]
	}

	c.Layers = pairLayers(oldImg, newImg, oldHist, newHist, c.HistoryMatched)
	if c.HistoryMatched {
		c.Steps = alignSteps(oldSteps, newSteps)
		c.FirstBreak = firstStepBreak(c.Steps, oldSteps, newSteps, sameChain)
	} else {
		c.FirstBreak = firstLayerBreak(sameChain, len(oldImg.Layers), len(newImg.Layers))
	}
	c.markStatuses(sameChain)
	c.figures(oldChains, newChains, newImg)
	return c
}

func pairLayers(oldImg, newImg Image, oldHist, newHist History, matched bool) []LayerDiff {
	instruction := func(h History, i int) string {
		if !matched {
			return ""
		}
		return h.LayerStep(i).Instruction
	}
	out := make([]LayerDiff, max(len(oldImg.Layers), len(newImg.Layers)))
	for i := range out {
		out[i].Index = i
		if i < len(oldImg.Layers) {
			out[i].Old = &LayerSide{Layer: oldImg.Layers[i], Instruction: instruction(oldHist, i)}
		}
		if i < len(newImg.Layers) {
			out[i].New = &LayerSide{Layer: newImg.Layers[i], Instruction: instruction(newHist, i)}
		}
	}
	return out
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
func (c *Comparison) figures(oldChains, newChains []v1.Hash, newImg Image) {
	var reused, rebuilt []int64
	for _, l := range c.Layers {
		switch l.Status {
		case StatusReused:
			reused = append(reused, l.New.Size)
		case StatusRebuilt, StatusAdded:
			rebuilt = append(rebuilt, l.New.Size)
		}
	}
	c.ReusedSize, c.RebuiltSize = addSizes(reused...), addSizes(rebuilt...)

	inOld := map[v1.Hash]bool{}
	for _, h := range oldChains {
		inOld[h] = true
	}
	var compressed, uncompressed []int64
	for i, h := range newChains {
		if !inOld[h] {
			compressed = append(compressed, newImg.Layers[i].CompressedSize)
			uncompressed = append(uncompressed, newImg.Layers[i].Size)
		}
	}
	// Nothing to move is 0 bytes either way; it is "compressed" only where the image's
	// compressed sizes are known at all.
	c.TransferSize, c.TransferCompressed = addSizes(compressed...), len(compressed) > 0 || newImg.CompressedSize() != Unknown
	if c.TransferSize == Unknown {
		c.TransferSize, c.TransferCompressed = addSizes(uncompressed...), false
	}
}
