package analyze

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Verdict is what a prediction says the next build does with one Dockerfile step.
type Verdict string

// The verdicts of a predicted step.
const (
	// VerdictReused: the builder will take the step from the cache IMAGE came from.
	VerdictReused Verdict = "reused"
	// VerdictRebuilt: the step will run again (a metadata-only step: be written anew).
	VerdictRebuilt Verdict = "rebuilt"
	// VerdictUnknown: the Dockerfile and IMAGE no longer match there, or the step's
	// inputs cannot be compared with IMAGE (a COPY --from a stage that reads the
	// context, an ADD of a URL); nothing is guessed.
	VerdictUnknown Verdict = "unknown"
)

// StepCause says why a predicted step got its verdict.
type StepCause string

// The causes of a step's verdict.
const (
	// CauseUnchanged (reused): the instruction and its inputs are IMAGE's, and every
	// step below that it is keyed on was reused.
	CauseUnchanged StepCause = "unchanged"
	// CauseFirstBreak (rebuilt): the step is the predicted first break (see
	// Prediction.FirstBreak for the reason).
	CauseFirstBreak StepCause = "first-break"
	// CauseAboveBreak (rebuilt): a step below broke the cache, or a change below that
	// the step is keyed on.
	CauseAboveBreak StepCause = "above-break"
	// CauseConfigChanged (rebuilt): a metadata-only step that differs from IMAGE's,
	// which BuildKit keys no later step on (LABEL, EXPOSE, CMD …): written anew, it
	// breaks nothing.
	CauseConfigChanged StepCause = "config-changed"
	// CauseEnvChanged (rebuilt): an ENV, ARG, USER or SHELL that differs from IMAGE's,
	// which BuildKit keys only later RUN steps on; without one above, it breaks nothing.
	CauseEnvChanged StepCause = "env-changed"
	// CauseNotComparable (unknown): the step's inputs cannot be compared with IMAGE's
	// (an ADD of a URL or archive, a COPY --from a stage that reads the context, a
	// layer or context not read).
	CauseNotComparable StepCause = "not-comparable"
	// CauseAboveUnknown (unknown): a step below has an unknown verdict.
	CauseAboveUnknown StepCause = "above-unknown"
	// CauseDiverged (unknown): the Dockerfile no longer matches IMAGE's history there
	// (see Prediction.Divergence).
	CauseDiverged StepCause = "diverged"
	// CauseNoHistory (unknown): IMAGE's history cannot be tied to its layers
	// (Prediction.HistoryProblem).
	CauseNoHistory StepCause = "no-history"
	// CauseNoImage (unknown): no IMAGE was given to compare with.
	CauseNoImage StepCause = "no-image"
)

// Prediction is what `predict` reports: which steps of a Dockerfile the next build
// will take from the cache that built IMAGE, where the cache will first break and why,
// and what the rebuild will cost.
type Prediction struct {
	// Image is the last build compared with; nil for the Dockerfile alone.
	Image *ImageRef
	// Dockerfile, Target and Base name the file, its target stage and the image the
	// target's chain starts FROM.
	Dockerfile, Target, Base string
	// Builder is the builder IMAGE's history says made it: "buildkit" or "legacy";
	// "" without IMAGE.
	Builder string
	// Steps are the target's steps after FROM, in build order.
	Steps []PredictedStep
	// FirstBreak is the step where the cache will first break; nil when every step is
	// reused or the verdicts are unknown from a divergence on.
	FirstBreak *PredictedBreak
	// Divergence is where the Dockerfile's steps stop matching IMAGE's history; nil
	// when they match throughout.
	Divergence *Divergence
	// HistoryProblem says why IMAGE's history could not be used (squashed images).
	HistoryProblem string

	ReusedSteps, RebuiltSteps, UnknownSteps int
	// RebuiltSize is the uncompressed size, in IMAGE, of the layers of the steps
	// predicted rebuilt: what the build will write anew, if it writes the same. Unknown
	// when a size is; steps with an unknown verdict are not counted.
	RebuiltSize int64
	// TransferSize is what a push of the new image will move when IMAGE is already in
	// the registry: those layers' compressed sizes (TransferCompressed), or their
	// uncompressed sizes when a compressed one is unknown, or Unknown.
	TransferSize       int64
	TransferCompressed bool
	// Advice is the Dockerfile order the cache wants (see DockerfileAdvice).
	Advice []DockerfileAdvice
	// Fixed is the Dockerfile with the fixable advice applied (FixDockerfile); "" when
	// no advice is fixable.
	Fixed string
}

// PredictedStep is one Dockerfile step and its verdict.
type PredictedStep struct {
	// Line is the step's first line in the Dockerfile.
	Line        int
	Instruction string
	Keyword     string
	Verdict     Verdict
	// Cause says why the step got its verdict.
	Cause StepCause
	// History is the index of IMAGE's history entry the step matches, Layer the index
	// of the layer it made there (-1 for none, or a metadata-only step).
	History, Layer int
	// Size and CompressedSize are that layer's sizes in IMAGE; 0 without a layer.
	Size, CompressedSize int64
}

// PredictedBreak is the predicted first break of the cache.
type PredictedBreak struct {
	// Step is the index into Prediction.Steps; -1 for a changed base (FROM).
	Step        int
	Line        int
	Instruction string
	// ImageInstruction is the matching step of IMAGE's history, normalised.
	ImageInstruction string
	// Reason is named as `diff` names them: base-changed, instruction-changed or
	// inputs-changed (the copied files or a RUN's build args differ).
	Reason BreakReason
	// FilesCompared is true when the copied files were compared with IMAGE's layer;
	// ChangedFiles are then the differences, largest first, cut to the limit, with
	// absolute paths as in the image, and ChangedFilesTotal counts them all.
	FilesCompared     bool
	ChangedFiles      []FileChange
	ChangedFilesTotal int
}

// Divergence is where a Dockerfile stops matching the history of IMAGE.
type Divergence struct {
	Step        int
	Line        int
	Instruction string
	// ImageInstruction is IMAGE's step there; "" when IMAGE's history ends first.
	ImageInstruction string
}

// PredictInput is what Predict compares.
type PredictInput struct {
	Dockerfile *Dockerfile
	// Image is the last build of the Dockerfile; nil for the Dockerfile alone.
	Image *Image
	// Base is the image the Dockerfile's FROM resolves to now; nil when unknown.
	Base *Image
	// LayerFiles are the entries of IMAGE's layers listed by PredictLayers.
	LayerFiles map[int][]File
	// Context is the build context as it is now; nil when not read.
	Context *Context
	// MaxChangedFiles cuts FirstBreak.ChangedFiles; 0 keeps all.
	MaxChangedFiles int
}

// alignment ties the Dockerfile's steps to IMAGE's history entries.
type alignment struct {
	steps   []Step
	hist    []int // per Dockerfile step: history index, -1 past a divergence
	diverge int   // first Dockerfile step that does not match, len(Steps) for none
	base    int   // history entries below the Dockerfile's steps
	ok      bool
	problem string
}

// align places the Dockerfile's steps on top of IMAGE's history: normally the last
// len(Steps) entries. When the keywords do not line up there (a step added or
// removed), the offset that matches the longest run of steps from the bottom wins,
// and the first step that does not match is the divergence.
func align(df *Dockerfile, img Image, base *Image) alignment {
	steps, ok, problem := Steps(img.Config, len(img.Layers))
	a := alignment{steps: steps, ok: ok, problem: problem}
	n, h := len(df.Steps), len(steps)
	run := func(b int) int {
		k := 0
		for k < n && b+k < h && sameKeyword(df.Steps[k], steps[b+k]) {
			k++
		}
		return k
	}
	best := max(0, h-n)
	if base != nil && base.Config != nil && len(base.Config.History) <= h && run(len(base.Config.History)) >= run(best) {
		best = len(base.Config.History)
	}
	if run(best) < min(n, h-best) {
		for b := 0; b <= h; b++ {
			if run(b) > run(best) {
				best = b
			}
		}
	}
	a.base, a.diverge = best, run(best)
	a.hist = make([]int, n)
	for k := range a.hist {
		a.hist[k] = -1
		if k < a.diverge {
			a.hist[k] = best + k
		}
	}
	return a
}

// PredictLayers lists the layers of IMAGE whose files Predict compares: those of
// the COPY and ADD steps from the build context (and of inline files) that match
// IMAGE's history.
func PredictLayers(df *Dockerfile, img Image) []int {
	a := align(df, img, nil)
	if !a.ok {
		return nil
	}
	var out []int
	for k, s := range df.Steps {
		if h := a.hist[k]; h >= 0 && (s.FromContextDir() || len(s.Heredocs) > 0) && a.steps[h].Layer >= 0 {
			out = append(out, a.steps[h].Layer)
		}
	}
	return out
}

// Predict compares a Dockerfile, and the build context as it is now, with IMAGE, the
// last build of that Dockerfile, as the builder will when it looks up its cache: step
// by step from the bottom, each step reused while every step below it was and its own
// inputs are unchanged.
//
// A step's inputs are its instruction text (as IMAGE's history records it, the
// builders' forms normalised), a RUN's build args (recorded as "|N K=V …"), and a
// COPY's or ADD's files from the context (path, content digest and mode against the
// entries of IMAGE's layer for that step: the files the legacy builder's
// "file:<hash>" and BuildKit's content checksum cover). The key scopes are diff's:
// BuildKit keys nothing on LABEL, EXPOSE, CMD and the like, and only later RUNs on
// ENV, ARG, USER and SHELL; the legacy builder keys every later step on any step.
// A base that resolves to other layers than IMAGE's bottom ones breaks everything.
// Without IMAGE every verdict is unknown and only the advice is given.
func Predict(in PredictInput) Prediction {
	df := in.Dockerfile
	p := Prediction{Dockerfile: df.Name, Target: df.Target, Base: df.Base}
	p.Advice = DockerfileAdvise(df, in.Context)
	for _, a := range p.Advice {
		if a.Fixable {
			p.Fixed = FixDockerfile(df, p.Advice)
			break
		}
	}
	if in.Image == nil {
		for _, s := range df.Steps {
			p.Steps = append(p.Steps, PredictedStep{Line: s.Line, Instruction: s.Text, Keyword: s.Keyword, Verdict: VerdictUnknown, Cause: CauseNoImage,
				History: -1, Layer: -1, Size: Unknown, CompressedSize: Unknown})
		}
		p.count()
		return p
	}
	img := *in.Image
	p.Image = &ImageRef{Ref: img.Ref, ID: img.ID}
	a := align(df, img, in.Base)
	if !a.ok {
		p.HistoryProblem = a.problem
		a.diverge, a.hist = 0, make([]int, len(df.Steps))
		for k := range a.hist {
			a.hist[k] = -1
		}
	}
	p.Builder = "legacy"
	if a.base < len(a.steps) && a.steps[a.base].Comment == BuildKitComment {
		p.Builder = "buildkit"
	}
	w := walker{in: in, p: &p, a: a, buildkit: p.Builder == "buildkit", pendingRun: -1}
	w.baseChanged()
	for k := range df.Steps {
		w.step(k)
	}
	p.count()
	return p
}

// walker walks the Dockerfile's steps bottom up, as the builder's cache lookup does.
type walker struct {
	in       PredictInput
	p        *Prediction
	a        alignment
	buildkit bool
	broken   bool // a step broke the cache: everything above is rebuilt
	unknown  bool // the verdicts are unknown from here on
	// pendingRun is the first differing ENV, ARG, USER or SHELL (BuildKit), which
	// breaks the cache at the next RUN; -1 for none.
	pendingRun    int
	pendingReason BreakReason
	// below are the files of the layers read so far (the COPY steps'), by path: a
	// copied file the same as the one below is left out of a layer.
	below map[string]File
}

// addBelow adds a layer's files, when they were read, to those below the next step.
func (w *walker) addBelow(layer int) {
	files, ok := w.in.LayerFiles[layer]
	if layer < 0 || !ok {
		return
	}
	if w.below == nil {
		w.below = map[string]File{}
	}
	for _, f := range files {
		switch f.Kind {
		case KindWhiteout:
			delete(w.below, f.Path)
		case KindDir, KindOpaque:
		default:
			w.below[f.Path] = f
		}
	}
}

// baseChanged breaks the cache below the first step when FROM now resolves to other
// layers than those under IMAGE's own steps.
func (w *walker) baseChanged() {
	base, img := w.in.Base, *w.in.Image
	if base == nil || !w.a.ok {
		return
	}
	below := 0
	for _, s := range w.a.steps[:w.a.base] {
		if s.Layer >= 0 {
			below++
		}
	}
	same := len(base.Layers) == below
	if same && below > 0 {
		bc, ic := ChainIDs(base.DiffIDs()), ChainIDs(img.DiffIDs())
		same = bc[below-1] == ic[below-1]
	}
	if same {
		return
	}
	w.broken = true
	w.p.FirstBreak = &PredictedBreak{Step: -1, Line: w.in.Dockerfile.BaseLine, Instruction: "FROM " + w.in.Dockerfile.Base, Reason: ReasonBaseChanged}
}

func (w *walker) step(k int) {
	s := w.in.Dockerfile.Steps[k]
	ps := PredictedStep{Line: s.Line, Instruction: s.Text, Keyword: s.Keyword, History: -1, Layer: -1}
	defer func() {
		w.p.Steps = append(w.p.Steps, ps)
		w.addBelow(ps.Layer)
	}()
	if k >= w.a.diverge && w.p.Divergence == nil && w.a.ok {
		d := &Divergence{Step: k, Line: s.Line, Instruction: s.Text}
		if h := w.a.base + k; h < len(w.a.steps) {
			d.ImageInstruction = w.a.steps[h].Instruction
		}
		w.p.Divergence = d
	}
	h := w.a.hist[k]
	switch {
	case h < 0 && w.broken:
		// Past the divergence but above a break: rebuilt whatever IMAGE had there,
		// with a size IMAGE cannot tell.
		ps.Verdict, ps.Cause = VerdictRebuilt, CauseAboveBreak
		if makesLayer(s.Keyword) {
			ps.Size, ps.CompressedSize = Unknown, Unknown
		}
		return
	case h < 0 && !w.a.ok:
		ps.Verdict, ps.Cause = VerdictUnknown, CauseNoHistory
		return
	case h < 0:
		ps.Verdict, ps.Cause = VerdictUnknown, CauseDiverged
		return
	}
	hs := w.a.steps[h]
	ps.History, ps.Layer = h, hs.Layer
	if hs.Layer >= 0 {
		l := w.in.Image.Layers[hs.Layer]
		ps.Size, ps.CompressedSize = l.Size, l.CompressedSize
	}
	switch {
	case w.broken:
		ps.Verdict, ps.Cause = VerdictRebuilt, CauseAboveBreak
		return
	case w.unknown:
		ps.Verdict, ps.Cause = VerdictUnknown, CauseAboveUnknown
		return
	}
	reason, files, compared, unknown := w.inputs(s, hs)
	if unknown {
		w.unknown = true
		ps.Verdict, ps.Cause = VerdictUnknown, CauseNotComparable
		return
	}
	at := k
	switch {
	case reason == "" && hs.Layer >= 0 && s.Keyword == "RUN" && w.pendingRun >= 0:
		// The RUN is keyed on a changed ENV, ARG, USER or SHELL below: the cache
		// breaks there.
		at, reason = w.pendingRun, w.pendingReason
		ps.Cause = CauseAboveBreak
		w.p.Steps[at].Cause = CauseFirstBreak
	case reason == "":
		ps.Verdict, ps.Cause = VerdictReused, CauseUnchanged
		return
	case hs.Layer < 0 && w.scope(s.Keyword) == keysNothing:
		// A new config entry; nothing above is keyed on it.
		ps.Verdict, ps.Cause = VerdictRebuilt, CauseConfigChanged
		return
	case hs.Layer < 0 && w.scope(s.Keyword) == keysRuns:
		if w.pendingRun < 0 {
			w.pendingRun, w.pendingReason = k, reason
		}
		ps.Verdict, ps.Cause = VerdictRebuilt, CauseEnvChanged
		return
	default:
		ps.Cause = CauseFirstBreak
	}
	ps.Verdict = VerdictRebuilt
	w.broken = true
	b := &PredictedBreak{Step: at, Reason: reason}
	if at == k {
		b.FilesCompared = compared
		b.ChangedFilesTotal = len(files)
		b.ChangedFiles = files
		if m := w.in.MaxChangedFiles; m > 0 && len(files) > m {
			b.ChangedFiles = files[:m]
		}
	}
	bs := w.in.Dockerfile.Steps[at]
	b.Line, b.Instruction = bs.Line, bs.Text
	if bh := w.a.hist[at]; bh >= 0 {
		b.ImageInstruction = w.a.steps[bh].Instruction
	}
	w.p.FirstBreak = b
}

func (w *walker) scope(keyword string) keyScope {
	switch {
	case !w.buildkit:
		return keysAll
	case bkConfigOnly[keyword]:
		return keysNothing
	case bkRunOnly[keyword]:
		return keysRuns
	}
	return keysAll
}

// inputs compares one step's inputs with IMAGE's history entry for it.
func (w *walker) inputs(s DockerfileStep, hs Step) (reason BreakReason, files []FileChange, compared, unknown bool) {
	if !sameText(s, hs) {
		return ReasonInstructionChanged, nil, false, false
	}
	switch {
	case s.Keyword == "RUN":
		if !sameArgs(s.BuildArgs, hs.CreatedBy) {
			return ReasonInputsChanged, nil, false, false
		}
	case s.Keyword == "ADD" && (hasRemote(s.Sources) || hasArchive(s.Sources)):
		// The builder checks the URL, or unpacks the archive into the layer: the
		// layer's files cannot be compared with the context's.
		return "", nil, false, true
	case s.FromStage != "":
		return "", nil, false, s.FromContext
	case s.FromContextDir() || len(s.Heredocs) > 0:
		layer, ok := w.in.LayerFiles[hs.Layer]
		if w.in.Context == nil || !ok || hs.Layer < 0 {
			return "", nil, false, true
		}
		files = CopyChanges(s, *w.in.Context, layer, w.below)
		if len(files) > 0 {
			return ReasonInputsChanged, files, true, false
		}
	}
	return "", nil, false, false
}

// count fills the figures from the verdicts.
func (p *Prediction) count() {
	var sizes, compressed []int64
	for _, s := range p.Steps {
		switch s.Verdict {
		case VerdictReused:
			p.ReusedSteps++
		case VerdictRebuilt:
			p.RebuiltSteps++
			if s.Layer >= 0 || s.Size == Unknown {
				sizes = append(sizes, s.Size)
				compressed = append(compressed, s.CompressedSize)
			}
		default:
			p.UnknownSteps++
		}
	}
	if p.Image == nil {
		p.RebuiltSize, p.TransferSize = Unknown, Unknown
		return
	}
	p.RebuiltSize = addSizes(sizes...)
	p.TransferSize, p.TransferCompressed = addSizes(compressed...), true
	if p.TransferSize == Unknown {
		p.TransferSize, p.TransferCompressed = p.RebuiltSize, false
	}
}

// makesLayer reports whether an instruction makes a layer (WORKDIR may not, at "/").
func makesLayer(keyword string) bool {
	switch keyword {
	case "RUN", "COPY", "ADD", "WORKDIR":
		return true
	}
	return false
}

// hasArchive reports whether an ADD source looks like a local tar archive, which ADD
// unpacks.
func hasArchive(sources []string) bool {
	for _, s := range sources {
		for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"} {
			if strings.HasSuffix(strings.ToLower(s), ext) {
				return true
			}
		}
	}
	return false
}

func hasRemote(sources []string) bool {
	for _, s := range sources {
		if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") {
			return true
		}
	}
	return false
}

// historyKeyword is a history entry's keyword: the legacy builder writes an
// exec-form RUN as the bare command.
func historyKeyword(hs Step) string {
	if kw := Keyword(hs.Instruction); kw != "" {
		return kw
	}
	return "RUN"
}

func sameKeyword(s DockerfileStep, hs Step) bool {
	return s.Keyword == historyKeyword(hs)
}

var canonStrip = strings.NewReplacer(`"`, " ", "[", " ", "]", " ", ",", " ")

// canon is an instruction with quotes, brackets and commas taken for spaces and the
// spaces collapsed: the builders print exec forms and lists each their own way.
func canon(s string) string {
	return strings.Join(strings.Fields(canonStrip.Replace(s)), " ")
}

// sameText compares a Dockerfile step with IMAGE's history entry, as each builder
// records it (see Instruction): the legacy builder names copied files by a content
// hash, so only the destination of its COPY and ADD compares.
func sameText(s DockerfileStep, hs Step) bool {
	hist := hs.Instruction
	if Keyword(hist) == "" {
		hist = "RUN " + hist
	}
	switch s.Keyword {
	case "COPY", "ADD":
		if strings.Contains(hs.CreatedBy, "#(nop)") {
			// It writes the destination as the Dockerfile gave it ("." or "/app/").
			f, g := strings.Fields(hist), strings.Fields(s.Text)
			if len(f) == 0 || len(g) == 0 {
				return false
			}
			d := path.Clean(f[len(f)-1])
			return d == path.Clean(s.Dest) || d == path.Clean(g[len(g)-1])
		}
	case "ARG":
		return argNames(hist) == argNames(s.Text)
	case "EXPOSE":
		return ports(hist) == ports(s.Text)
	case "CMD", "ENTRYPOINT":
		strip := func(t string) string {
			kw, rest, _ := strings.Cut(canon(t), " ")
			return kw + " " + strings.TrimPrefix(rest, "/bin/sh -c ")
		}
		return strip(hist) == strip(s.Text)
	case "HEALTHCHECK":
		return true // printed as a Go struct: only the keyword compares
	case "RUN":
		if strings.Contains(s.Text, "\n") {
			first, _, _ := strings.Cut(s.Text, "\n")
			return strings.HasPrefix(canon(hist), canon(first))
		}
	}
	return canon(hist) == canon(s.Text)
}

func argNames(s string) string {
	f := strings.Fields(s)
	for i := 1; i < len(f); i++ {
		f[i], _, _ = strings.Cut(f[i], "=")
	}
	return strings.Join(f, " ")
}

func ports(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	out := f[1:]
	for i, p := range out {
		if !strings.Contains(p, "/") {
			out[i] = p + "/tcp"
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

var runArgsPrefix = regexp.MustCompile(`^(?:RUN )?\|(\d+) `)

// sameArgs compares the build args a RUN will see with those IMAGE's history records
// before the command ("|2 A=1 B=2 /bin/sh -c …"), empty values aside: BuildKit
// lists every declared ARG, the legacy builder those with a value.
func sameArgs(want []string, createdBy string) bool {
	var have []string
	if m := runArgsPrefix.FindStringSubmatch(createdBy); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		f := strings.Fields(createdBy[len(m[0]):])
		have = f[:min(n, len(f))]
	}
	set := func(kvs []string) string {
		var out []string
		for _, kv := range kvs {
			if !strings.HasSuffix(kv, "=") {
				out = append(out, kv)
			}
		}
		sort.Strings(out)
		return strings.Join(out, "\x00")
	}
	return set(want) == set(have)
}

// CopyChanges lists how the files a COPY or ADD step would copy from the context now
// differ from the entries of IMAGE's layer for that step, largest first: added,
// modified (content digest, kind, link target or, without --chmod, permission bits)
// and deleted, at absolute image paths. With a partial context only the changed
// paths are compared. below are the files the layers under the step hold, by path:
// the builders leave out of a layer a copied file that is the same as the one below
// (same content, mode and time), so such a file missing from the layer is unchanged.
func CopyChanges(s DockerfileStep, ctx Context, layer []File, below map[string]File) []FileChange {
	have := map[string]File{}
	for _, f := range layer {
		if f.Kind != KindDir && f.Kind != KindOpaque && f.Kind != KindWhiteout {
			have[f.Path] = f
		}
	}
	inline := map[string]ContextFile{}
	for _, h := range s.Heredocs {
		dest := s.Dest
		if strings.HasSuffix(dest, "/") || len(s.Sources)+len(s.Heredocs) > 1 {
			dest = path.Join(dest, h.Name)
		}
		sum := sha256.Sum256([]byte(h.Content))
		inline[path.Clean(dest)] = ContextFile{Path: h.Name, Kind: KindFile, Size: int64(len(h.Content)), Digest: "sha256:" + hex.EncodeToString(sum[:]), Mode: -1}
	}
	var out []FileChange
	compare := func(dest string, cf ContextFile, inCtx bool) {
		lf, inLayer := have[dest]
		switch {
		case !inCtx && inLayer:
			out = append(out, FileChange{Path: dest, Change: FileDeleted, Size: lf.Size})
		case !inCtx:
		case !inLayer:
			if bf, ok := below[dest]; ok && sameFile(cf, bf, s) {
				return
			}
			out = append(out, FileChange{Path: dest, Change: FileAdded, Size: cf.Size})
		case !sameFile(cf, lf, s):
			out = append(out, FileChange{Path: dest, Change: FileModified, Size: cf.Size})
		}
	}
	if ctx.Partial {
		byPath := map[string]ContextFile{}
		for _, f := range ctx.Files {
			byPath[f.Path] = f
		}
		isDir := func(p string) bool { return byPath[p].Kind == KindDir }
		for _, c := range ctx.Changed {
			dest, ok := CopySelects(s, c, isDir)
			if !ok {
				continue
			}
			cf, inCtx := byPath[cleanSource(c)]
			if cf.Kind == KindDir {
				continue
			}
			compare(path.Clean(dest), cf, inCtx)
		}
		for dest, cf := range inline {
			compare(dest, cf, true)
		}
	} else {
		want := CopyTargets(s, ctx.Files)
		for dest, cf := range inline {
			want[dest] = cf
		}
		for dest, cf := range want {
			compare(dest, cf, true)
		}
		for dest := range have {
			if _, ok := want[dest]; !ok {
				compare(dest, ContextFile{}, false)
			}
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

func sameFile(cf ContextFile, lf File, s DockerfileStep) bool {
	if cf.Kind != lf.Kind || cf.Digest != lf.Digest || cf.Link != lf.Link {
		return false
	}
	chmod := strings.Contains(s.Text, "--chmod=")
	return cf.Kind != KindFile || chmod || cf.Mode < 0 || cf.Mode == lf.Mode
}
