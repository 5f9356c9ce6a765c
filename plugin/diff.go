package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type diffOptions struct {
	commonOptions
	exitCode bool
}

func newDiffCommand(e *env) *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff [OPTIONS] OLD NEW",
		Short: "Show how much of the cache a rebuild reused, and why it broke",
		Long: `Compare two images, typically two builds of one Dockerfile, step by step from the
bottom: which layers NEW reused from OLD (same layer on the same layers below), which
were rebuilt, where the cache first broke and why, which files changed in the layer
that broke it, and what a pull of NEW moves when OLD is already there. When a COPY of
the whole build context made a dependency install re-run, it says how to reorder.

OLD and NEW are each an IMAGE; from a registry only the breaking layers are downloaded.
` + imageRefHelp + `

Exit status is 0 whatever the result; with --exit-code it is 1 when NEW rebuilt,
added or removed a layer.`,
		Args:              exactArgs(2),
		ValidArgsFunction: completeImages(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd, e, args[0], args[1], opts)
		},
	}
	flags := cmd.Flags()
	addCommonFlags(flags, &opts.commonOptions, "DiffRow (one row per aligned step)", "full IDs, raw history text, every changed file", "the diff IDs of NEW's layers that OLD lacks")
	flags.BoolVar(&opts.exitCode, "exit-code", false, "Exit 1 when any layer was rebuilt, added or removed")
	completeFlags(cmd)
	return cmd
}

func runDiff(cmd *cobra.Command, e *env, oldRef, newRef string, opts diffOptions) error {
	r, err := prepareRun(cmd, e, opts.commonOptions, DiffRow{})
	if err != nil {
		return err
	}
	defer r.stop()
	c, downloads, err := compareImages(r, e, oldRef, newRef, opts.noTrunc)
	if err != nil {
		return imageError(cmd, err)
	}
	view := newDiffJSON(c, downloads)
	if err := render(e.dockerCli.Out(), r.format, view, renderers[diffJSON]{
		table: writeDiffTable,
		rows:  diffRows,
		ids:   diffIDs,
		html:  writeDiffHTML,
	}, r.render); err != nil {
		return err
	}
	if opts.exitCode && c.RebuiltLayers+c.AddedLayers+c.RemovedLayers > 0 {
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
}

// compareImages compares two images from their metadata, then reads, in one pass over
// each, the uncompressed sizes the sources do not record and the two layers at the
// first break when their files explain it.
func compareImages(r *run, e *env, oldRef, newRef string, noTrunc bool) (analyze.Comparison, []downloadJSON, error) {
	var c analyze.Comparison
	var breakLayer = -1
	need := source.Need{
		Sizes: source.SizesLocal,
		Files: func(images []*source.Image) [][]int {
			// History and diffIDs decide where the cache broke; contents come after.
			c = analyze.Compare(images[0].Image, images[1].Image)
			i, ok := c.BreakLayer()
			if !ok {
				return nil
			}
			breakLayer = i
			return [][]int{{i}, {i}}
		},
	}
	loaded, err := e.load(r.ctx, []string{oldRef, newRef}, r.srcOpts, need)
	if err != nil {
		return c, nil, err
	}
	defer loaded.Close()
	// The sizes measured fill the figures; the files explain the break.
	c = analyze.Compare(loaded.Images[0].Image, loaded.Images[1].Image)
	if breakLayer < 0 {
		return c, nil, nil
	}
	maxFiles := analyze.DefaultMaxChangedFiles
	if noTrunc {
		maxFiles = 0
	}
	c.AddBreakFiles(loaded.Files[0][breakLayer], loaded.Files[1][breakLayer], maxFiles)
	var downloads []downloadJSON
	for k, img := range loaded.Images {
		if img.Remote {
			downloads = append(downloads, downloadJSON{Image: img.Ref, Layer: breakLayer, CompressedSize: bytesOrNil(img.Layers[breakLayer].CompressedSize), Bytes: loaded.Downloaded[k]})
		}
	}
	return c, downloads, nil
}

// diffJSON is `diff --format json`, and the view every diff output is rendered from;
// the field names are documented in the README.
type diffJSON struct {
	Old                diffImageJSON   `json:"old"`
	New                diffImageJSON   `json:"new"`
	HistoryMatched     bool            `json:"historyMatched"`
	HistoryProblem     string          `json:"historyProblem,omitempty"`
	Layers             []diffLayerJSON `json:"layers"`
	Steps              []diffStepJSON  `json:"steps"`
	ReusedLayers       int             `json:"reusedLayers"`
	RebuiltLayers      int             `json:"rebuiltLayers"`
	AddedLayers        int             `json:"addedLayers"`
	RemovedLayers      int             `json:"removedLayers"`
	ReusedSize         *int64          `json:"reusedSize"`
	RebuiltSize        *int64          `json:"rebuiltSize"`
	TransferSize       *int64          `json:"transferSize"`
	TransferCompressed bool            `json:"transferCompressed"`
	FirstBreak         *diffBreakJSON  `json:"firstBreak"`
	Advice             *adviceJSON     `json:"advice"`
	// Downloads are the registry layers read to list the changed files.
	Downloads []downloadJSON `json:"downloads,omitempty"`
}

type diffImageJSON struct {
	Image string `json:"image"`
	ID    string `json:"id"`
}

type diffLayerJSON struct {
	Index       int           `json:"index"`
	Status      string        `json:"status"`
	SameContent bool          `json:"sameContent"`
	Old         *diffSideJSON `json:"old"`
	New         *diffSideJSON `json:"new"`
}

type diffSideJSON struct {
	DiffID      string `json:"diffID"`
	Size        *int64 `json:"size"`
	Instruction string `json:"instruction"`
}

// diffStepJSON is one aligned row of both histories, metadata-only steps included.
type diffStepJSON struct {
	Status string `json:"status"`
	// Layer is the index into layers when the row made a layer.
	Layer              *int          `json:"layer"`
	InstructionChanged bool          `json:"instructionChanged"`
	Old                *stepTextJSON `json:"old"`
	New                *stepTextJSON `json:"new"`
	// textChanged is set when the raw history text differs (--no-trunc shows it).
	textChanged bool
}

type stepTextJSON struct {
	Instruction string `json:"instruction"`
	CreatedBy   string `json:"createdBy"`
	Comment     string `json:"comment,omitempty"`
}

type diffBreakJSON struct {
	// Index is the first layer the break cost; null when no layer lies above it.
	Index *int `json:"index"`
	// Step is the breaking row in steps; null when the histories do not match.
	Step           *int          `json:"step"`
	Reason         string        `json:"reason"`
	Detail         string        `json:"detail"`
	OldInstruction string        `json:"oldInstruction"`
	NewInstruction string        `json:"newInstruction"`
	Unkeyed        []unkeyedJSON `json:"unkeyed"`
	// ChangedFiles is null when the layers' files were not compared.
	ChangedFiles      []diffFileJSON `json:"changedFiles"`
	ChangedFilesTotal int            `json:"changedFilesTotal"`
}

type unkeyedJSON struct {
	Instruction  string `json:"instruction"`
	Change       string `json:"change"`
	KeysRunsOnly bool   `json:"keysRunsOnly"`
}

type diffFileJSON struct {
	Path   string `json:"path"`
	Change string `json:"change"`
	Size   int64  `json:"size"`
}

// adviceJSON is the Dockerfile order that would have kept the install cached.
type adviceJSON struct {
	BroadCopy   string   `json:"broadCopy"`
	Install     string   `json:"install"`
	Tool        string   `json:"tool"`
	Manifests   []string `json:"manifests"`
	ChangedFile string   `json:"changedFile"`
	SavedSteps  int      `json:"savedSteps"`
	SavedLayers int      `json:"savedLayers"`
	SavedSize   *int64   `json:"savedSize"`
	// Text is the advice in sentences, as the table prints it.
	Text []string `json:"text"`
}

type downloadJSON struct {
	Image          string `json:"image"`
	Layer          int    `json:"layer"`
	CompressedSize *int64 `json:"compressedSize"`
	Bytes          int64  `json:"bytes"`
}

func newDiffJSON(c analyze.Comparison, downloads []downloadJSON) diffJSON {
	v := diffJSON{
		Old:                diffImageJSON{Image: c.Old.Ref, ID: c.Old.ID},
		New:                diffImageJSON{Image: c.New.Ref, ID: c.New.ID},
		HistoryMatched:     c.HistoryMatched,
		HistoryProblem:     c.HistoryProblem,
		Layers:             []diffLayerJSON{},
		Steps:              []diffStepJSON{},
		ReusedLayers:       c.ReusedLayers,
		RebuiltLayers:      c.RebuiltLayers,
		AddedLayers:        c.AddedLayers,
		RemovedLayers:      c.RemovedLayers,
		ReusedSize:         bytesOrNil(c.ReusedSize),
		RebuiltSize:        bytesOrNil(c.RebuiltSize),
		TransferSize:       bytesOrNil(c.TransferSize),
		TransferCompressed: c.TransferCompressed,
		Advice:             newAdviceJSON(c.Advice),
		Downloads:          downloads,
	}
	side := func(s *analyze.LayerSide) *diffSideJSON {
		if s == nil {
			return nil
		}
		return &diffSideJSON{DiffID: s.DiffID.String(), Size: bytesOrNil(s.Size), Instruction: s.Instruction}
	}
	for _, l := range c.Layers {
		v.Layers = append(v.Layers, diffLayerJSON{
			Index: l.Index, Status: string(l.Status), SameContent: l.SameContent,
			Old: side(l.Old), New: side(l.New),
		})
	}
	text := func(s *analyze.Step) *stepTextJSON {
		if s == nil {
			return nil
		}
		return &stepTextJSON{Instruction: s.Instruction, CreatedBy: s.CreatedBy, Comment: s.Comment}
	}
	for _, s := range c.Steps {
		v.Steps = append(v.Steps, diffStepJSON{
			Status: string(s.Status), Layer: intOrNil(s.Layer), InstructionChanged: s.InstructionChanged,
			Old: text(s.Old), New: text(s.New), textChanged: s.TextChanged,
		})
	}
	if b := c.FirstBreak; b != nil {
		bj := &diffBreakJSON{
			Index: intOrNil(b.Layer), Step: intOrNil(b.Step),
			Reason: string(b.Reason), Detail: string(b.Detail),
			OldInstruction: b.OldInstruction, NewInstruction: b.NewInstruction,
			Unkeyed: []unkeyedJSON{},
		}
		for _, u := range c.UnkeyedSteps() {
			bj.Unkeyed = append(bj.Unkeyed, unkeyedJSON{Instruction: u.Instruction, Change: u.Change, KeysRunsOnly: u.KeysRunsOnly})
		}
		if b.FilesCompared {
			bj.ChangedFiles = []diffFileJSON{}
			bj.ChangedFilesTotal = b.ChangedFilesTotal
			for _, f := range b.ChangedFiles {
				bj.ChangedFiles = append(bj.ChangedFiles, diffFileJSON{Path: f.Path, Change: string(f.Change), Size: f.Size})
			}
		}
		v.FirstBreak = bj
	}
	return v
}

func newAdviceJSON(a *analyze.Advice) *adviceJSON {
	if a == nil {
		return nil
	}
	v := &adviceJSON{
		BroadCopy: a.BroadCopy, Install: a.Install, Tool: a.Tool, Manifests: a.Manifests,
		ChangedFile: a.ChangedFile, SavedSteps: a.SavedSteps, SavedLayers: a.SavedLayers,
		SavedSize: bytesOrNil(a.SavedSize),
	}
	if v.Manifests == nil {
		v.Manifests = []string{}
	}
	v.Text = adviceText(v)
	return v
}

// intOrNil is an index for JSON: null when -1.
func intOrNil(i int) *int {
	if i < 0 {
		return nil
	}
	return &i
}

func writeDiffTable(w io.Writer, v diffJSON, o renderOpts) error {
	fmt.Fprintf(w, "Old: %s (%s)\n", termSafe(v.Old.Image), shortID(v.Old.ID, o.noTrunc))
	fmt.Fprintf(w, "New: %s (%s)\n", termSafe(v.New.Image), shortID(v.New.ID, o.noTrunc))
	t := &table{header: []string{"#", "STATUS", "OLD SIZE", "NEW SIZE", "INSTRUCTION"}, flex: 4, width: o.width}
	sameContent := false
	status := func(s string, same bool) string {
		if same {
			sameContent = true
			return s + "*"
		}
		return s
	}
	if v.HistoryMatched {
		for _, s := range v.Steps {
			if s.Layer == nil {
				t.append("", status(s.Status, false), "", "", diffStepText(s, o.noTrunc))
				continue
			}
			l := v.Layers[*s.Layer]
			t.append(fmt.Sprint(l.Index), status(l.Status, l.SameContent), sideSize(l.Old), sideSize(l.New), diffStepText(s, o.noTrunc))
		}
	} else {
		for _, l := range v.Layers {
			t.append(fmt.Sprint(l.Index), status(l.Status, l.SameContent), sideSize(l.Old), sideSize(l.New), "?")
		}
	}
	if err := t.render(w); err != nil {
		return err
	}
	legend := "Sizes are uncompressed."
	if v.sizesUnknown() {
		legend = "Sizes are uncompressed; ? = unknown: a registry stores compressed layers only."
	}
	if sameContent {
		legend += " * same content: the step re-ran and made the very same layer."
	}
	fmt.Fprintln(w, legend)
	if !v.HistoryMatched {
		fmt.Fprintf(w, "Note: %s\n", v.HistoryProblem)
	}

	fmt.Fprintln(w)
	if err := writeDiffBreak(w, v, o); err != nil {
		return err
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Reused:   %s, %s uncompressed\n", plural(v.ReusedLayers, "layer"), jsonSize(v.ReusedSize))
	rebuilt := fmt.Sprintf("Rebuilt:  %s", plural(v.RebuiltLayers, "layer"))
	if v.AddedLayers > 0 {
		rebuilt += fmt.Sprintf(" + %d added", v.AddedLayers)
	}
	fmt.Fprintf(w, "%s, %s uncompressed", rebuilt, jsonSize(v.RebuiltSize))
	if v.RemovedLayers > 0 {
		fmt.Fprintf(w, " (%d removed)", v.RemovedLayers)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Pull of NEW where OLD is present: %s\n", transferText(v))

	if v.Advice != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Advice:")
		for _, a := range v.Advice.Text {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	for _, d := range v.Downloads {
		fmt.Fprintf(w, "Note: Downloaded layer %d of %s (%s compressed) to list the changed files.\n", d.Layer, termSafe(d.Image), jsonSize(d.CompressedSize))
	}
	return nil
}

func (v diffJSON) sizesUnknown() bool {
	for _, l := range v.Layers {
		for _, s := range []*diffSideJSON{l.Old, l.New} {
			if s != nil && s.Size == nil {
				return true
			}
		}
	}
	return false
}

func writeDiffBreak(w io.Writer, v diffJSON, o renderOpts) error {
	b := v.FirstBreak
	if b == nil {
		fmt.Fprintln(w, "No cache break: NEW reused every layer of OLD.")
		return nil
	}
	where := "above the top layer"
	if b.Index != nil {
		where = fmt.Sprintf("at layer %d", *b.Index)
	}
	fmt.Fprintf(w, "First break %s: %s\n", where, b.Reason)
	instr := func(s string) string {
		if s == "" {
			return "(none)"
		}
		if o.noTrunc {
			return termSafe(s)
		}
		return termSafe(ellipsis(s, 100))
	}
	if v.HistoryMatched {
		fmt.Fprintf(w, "  old: %s\n  new: %s\n", instr(b.OldInstruction), instr(b.NewInstruction))
	}
	for _, line := range breakExplanation(b) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if b.ChangedFiles == nil {
		return nil
	}
	if b.ChangedFilesTotal == 0 {
		fmt.Fprintln(w, "  No file differs in kind, content or link target: what changed is only times, permissions or owners.")
		return nil
	}
	head := fmt.Sprintf("Changed files in layer %d", *b.Index)
	if len(b.ChangedFiles) < b.ChangedFilesTotal {
		head += fmt.Sprintf(" (largest %d of %d; --no-trunc for all)", len(b.ChangedFiles), b.ChangedFilesTotal)
	}
	fmt.Fprintln(w, head+":")
	t := &table{header: []string{"  CHANGE", "SIZE", "PATH"}, flex: -1}
	for _, f := range b.ChangedFiles {
		t.append("  "+f.Change, humanSize(f.Size), termSafe(f.Path))
	}
	return t.render(w)
}

// breakExplanation words why the first break broke the cache, in the builder's terms;
// what broke it was decided by the analysis (the break's detail).
func breakExplanation(b *diffBreakJSON) []string {
	var why string
	switch analyze.BreakDetail(b.Detail) {
	case analyze.DetailBaseChanged:
		why = "The base image changed: a step FROM brought in differs, so every step of this build ran again."
	case analyze.DetailStepAdded:
		why = "NEW adds this step; the builder keys the steps above on it, so they ran again."
	case analyze.DetailStepRemoved:
		why = "NEW lacks this step; the builder keys the steps above on it, so they ran again."
	case analyze.DetailRunKeyed:
		why = fmt.Sprintf("The instruction changed; BuildKit passes it to every later RUN, so layer %d and every step after it ran again.", *b.Index)
	case analyze.DetailInstructionChanged:
		why = "The instruction changed, so it and every step after it ran again."
	case analyze.DetailContextChanged:
		why = "Same instruction, different content: the files it copies from the build context changed."
	case analyze.DetailBuildArgsChanged:
		why = "Same instruction with other build args (the history records their values), so it ran again."
	case analyze.DetailBuilderChanged:
		why = "One image was built by the legacy builder and the other by BuildKit: the two builders keep separate caches, so this step and every step after it ran again."
	case analyze.DetailNotFromCache:
		why = "Nothing the builder keys this step on changed (same instruction, same layers below), yet it made another layer: " +
			"it was not taken from the cache (--no-cache, a pruned cache, a build on another machine)."
	case analyze.DetailLayerAdded:
		why = "NEW has a layer-making step where OLD's history ends."
	case analyze.DetailLayerRemoved:
		why = "OLD has a layer-making step where NEW's history ends."
	case analyze.DetailUnknown:
		why = "A history does not match its layers, so the reason cannot be told."
	default:
		why = "The reason cannot be told."
	}
	out := []string{why}
	for _, u := range b.Unkeyed {
		verb := map[string]string{"added": "was added", "removed": "was removed"}[u.Change]
		if verb == "" {
			verb = "differs"
		}
		keys := "no step"
		if u.KeysRunsOnly {
			keys = "only RUN steps"
		}
		out = append(out, fmt.Sprintf("Below it, %q %s, but BuildKit keys %s on %s, so that did not break the cache here.",
			termSafe(ellipsis(u.Instruction, 80)), verb, keys, analyze.Keyword(u.Instruction)))
	}
	return out
}

// diffStepText is a row's instruction; a changed one says what it was.
func diffStepText(r diffStepJSON, noTrunc bool) string {
	text := func(s *stepTextJSON, n int) string {
		if noTrunc {
			return termSafe(strings.Join(strings.Fields(s.CreatedBy), " "))
		}
		return termSafe(ellipsis(stepLabel(s.Instruction, s.Comment), n))
	}
	switch {
	case r.New == nil:
		return text(r.Old, 80)
	case r.Old == nil:
		return text(r.New, 80)
	case r.InstructionChanged || (noTrunc && r.textChanged):
		return text(r.New, 50) + "   (was: " + text(r.Old, 40) + ")"
	}
	return text(r.New, 80)
}

func sideSize(s *diffSideJSON) string {
	if s == nil {
		return "-"
	}
	return jsonSize(s.Size)
}

func transferText(v diffJSON) string {
	switch {
	case v.TransferSize == nil:
		return "? (sizes unknown)"
	case v.TransferCompressed:
		return humanSize(*v.TransferSize) + " compressed"
	}
	return humanSize(*v.TransferSize) + " uncompressed (compressed sizes unknown)"
}

// adviceText words the advice.
func adviceText(a *adviceJSON) []string {
	out := []string{fmt.Sprintf("%q copies a whole directory of the build context, so changing %s (not a dependency manifest) made %q run again.",
		a.BroadCopy, a.ChangedFile, a.Install)}
	if len(a.Manifests) > 0 {
		out = append(out, fmt.Sprintf("Copy the dependency manifests first, install, then copy the rest: \"COPY %s ./\", %q, then %q.",
			strings.Join(a.Manifests, " "), a.Install, a.BroadCopy))
	} else {
		out = append(out, fmt.Sprintf("Move %q above %q: it needs nothing from the build context.", a.Install, a.BroadCopy))
	}
	saved := fmt.Sprintf("In that order this rebuild would also have reused %s, up to and including %q: %s, %s uncompressed.",
		plural(a.SavedSteps, "step"), a.Install, plural(a.SavedLayers, "layer"), jsonSize(a.SavedSize))
	for i := range out {
		out[i] = termSafe(out[i])
	}
	return append(out, termSafe(saved))
}

// DiffRow is what a --format template sees: one row per aligned step (per layer
// when a history does not match its layers), bottom first. Sizes are uncompressed and
// human-readable; *Bytes fields are bytes (-1 when unknown or absent).
type DiffRow struct {
	Index          string // layer index, "" for a metadata-only step
	Status         string // reused, rebuilt, added or removed
	SameContent    bool
	OldSize        string
	NewSize        string
	OldBytes       int64
	NewBytes       int64
	Instruction    string // NEW's, or OLD's when NEW has none
	OldInstruction string
	NewInstruction string
	OldDiffID      string
	NewDiffID      string
	EmptyLayer     bool
}

func diffRows(v diffJSON, o renderOpts) []any {
	var rows []any
	fill := func(r *DiffRow, l diffLayerJSON) {
		r.Index, r.Status, r.SameContent = fmt.Sprint(l.Index), l.Status, l.SameContent
		r.OldSize, r.NewSize = sideSize(l.Old), sideSize(l.New)
		r.OldBytes, r.NewBytes = analyze.Unknown, analyze.Unknown
		if l.Old != nil {
			r.OldBytes, r.OldDiffID = jsonBytes(l.Old.Size), l.Old.DiffID
		}
		if l.New != nil {
			r.NewBytes, r.NewDiffID = jsonBytes(l.New.Size), l.New.DiffID
		}
	}
	if !v.HistoryMatched {
		for _, l := range v.Layers {
			var r DiffRow
			fill(&r, l)
			rows = append(rows, r)
		}
		return rows
	}
	text := func(s *stepTextJSON) string {
		if s == nil {
			return ""
		}
		if o.noTrunc {
			return s.CreatedBy
		}
		return stepLabel(s.Instruction, s.Comment)
	}
	for _, s := range v.Steps {
		r := DiffRow{Status: s.Status, OldBytes: analyze.Unknown, NewBytes: analyze.Unknown, EmptyLayer: s.Layer == nil}
		if s.Layer != nil {
			fill(&r, v.Layers[*s.Layer])
		}
		r.OldInstruction, r.NewInstruction = text(s.Old), text(s.New)
		r.Instruction = r.NewInstruction
		if s.New == nil {
			r.Instruction = r.OldInstruction
		}
		rows = append(rows, r)
	}
	return rows
}

// diffIDs is what -q prints: the diff IDs of NEW's layers that a pull moves when OLD
// is present (rebuilt and added), bottom first.
func diffIDs(v diffJSON, o renderOpts) []string {
	var ids []string
	for _, l := range v.Layers {
		if l.New != nil && l.Status != string(analyze.StatusReused) {
			ids = append(ids, shortID(l.New.DiffID, o.noTrunc))
		}
	}
	return ids
}
