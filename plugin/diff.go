package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type diffOptions struct {
	format   string
	noTrunc  bool
	exitCode bool
	platform string
	files    bool
}

func newDiffCommand(dockerCli command.Cli) *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff [OPTIONS] OLD NEW",
		Short: "Show how much of the cache a rebuild reused, and why it broke",
		Long: `Compare two images, typically two builds of one Dockerfile, step by step from the
bottom: which layers NEW reused from OLD (same layer on the same layers below), which
were rebuilt, where the cache first broke and why, which files changed in the layer
that broke it, and what a pull of NEW moves when OLD is already there. When a COPY of
the whole build context made a dependency install re-run, it says how to reorder.

OLD and NEW are each one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry (only the breaking layers are downloaded)
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout

Exit status is 0 whatever the result; with --exit-code it is 1 when NEW rebuilt,
added or removed a layer.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd, dockerCli, args[0], args[1], opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", formatHelp)
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output: full IDs, raw history text, every changed file")
	flags.BoolVar(&opts.exitCode, "exit-code", false, "Exit 1 when any layer was rebuilt, added or removed")
	flags.BoolVar(&opts.files, "files", false, "Compare the final filesystems instead, path by path by content digest (reads every layer)")
	addPlatformFlag(flags, &opts.platform)
	return cmd
}

func runDiff(cmd *cobra.Command, dockerCli command.Cli, oldRef, newRef string, opts diffOptions) error {
	if opts.files {
		return runDiffFiles(cmd, dockerCli, oldRef, newRef, opts)
	}
	format, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, opts.format, opts.platform)
	if err != nil {
		return err
	}
	defer stop()

	d, err := compareImages(ctx, oldRef, newRef, srcOpts, opts.noTrunc)
	if err != nil {
		return imageError(cmd, err)
	}
	out := dockerCli.Out()
	switch {
	case format.json:
		err = writeJSON(out, newDiffJSON(d.Comparison))
	case format.tmpl != nil:
		err = format.writeTemplate(out, diffRows(d.Comparison, opts))
	default:
		err = writeDiffTable(out, d, opts)
	}
	if err != nil {
		return err
	}
	c := d.Comparison
	if opts.exitCode && c.RebuiltLayers+c.AddedLayers+c.RemovedLayers > 0 {
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
}

// diffResult is a comparison with what the table says about how it was made.
type diffResult struct {
	analyze.Comparison
	// uncompressedUnknown is set when a source stores compressed layers only.
	uncompressedUnknown bool
	// notes are said under the table: what was downloaded, what could not be read.
	notes []string
}

// compareImages opens both images and compares them, reading layer contents only
// where an answer needs them: the uncompressed sizes the source does not record, and
// the two layers at the first break when they explain it.
func compareImages(ctx context.Context, oldRef, newRef string, opts source.Options, noTrunc bool) (diffResult, error) {
	var d diffResult
	oldImg, err := source.Open(ctx, oldRef, opts)
	if err != nil {
		return d, err
	}
	defer oldImg.Close()
	newImg, err := source.Open(ctx, newRef, opts)
	if err != nil {
		return d, err
	}
	defer newImg.Close()

	// History and diffIDs decide where the cache broke; contents come after.
	c := analyze.Compare(oldImg.Image, newImg.Image)
	breakLayer, needFiles := c.BreakLayer()
	var files [2][]analyze.File
	var filesErr error
	// One pass over each image: the breaking layer for its files, and the layers whose
	// uncompressed size is unknown — each content once, even when both images have it.
	sizes := source.Sizes{}
	for k, img := range []*source.Image{oldImg, newImg} {
		// A registry stores compressed blobs only: measuring would download them all.
		measure := img.Transport != source.TransportRegistry
		if !measure {
			d.uncompressedUnknown = true
		}
		var want []int
		if measure {
			want = sizes.Missing(img)
		}
		if needFiles && !slices.Contains(want, breakLayer) {
			want = append(want, breakLayer)
		}
		err := img.ScanLayers(ctx, want, needFiles, func(i int, s source.LayerScan) error {
			// A layer read for its files has its size measured too, whatever the source.
			sizes.Record(img, i, s.Size)
			if needFiles && i == breakLayer {
				files[k] = s.Files
				if files[k] == nil {
					files[k] = []analyze.File{}
				}
			}
			return nil
		})
		switch {
		case err == nil:
		case errorsIs(err, context.Canceled) || !needFiles:
			return d, err
		default:
			// Sizes are nice to have; the comparison stands without the file list.
			filesErr = err
		}
		if needFiles && !measure && filesErr == nil {
			d.notes = append(d.notes, fmt.Sprintf("Downloaded layer %d of %s (%s compressed) to list the changed files.",
				breakLayer, img.Ref, humanSize(img.Layers[breakLayer].CompressedSize)))
		}
	}
	if filesErr != nil {
		d.notes = append(d.notes, fmt.Sprintf("Changed files unknown: %v", filesErr))
	}
	// The sizes measured above fill the figures; the files explain the break.
	c = analyze.Compare(oldImg.Image, newImg.Image)
	if needFiles && filesErr == nil {
		maxFiles := analyze.DefaultMaxChangedFiles
		if noTrunc {
			maxFiles = 0
		}
		c.AddBreakFiles(files[0], files[1], maxFiles)
	}
	d.Comparison = c
	return d, nil
}

func writeDiffTable(w io.Writer, d diffResult, opts diffOptions) error {
	c := d.Comparison
	fmt.Fprintf(w, "Old: %s (%s)\n", c.Old.Ref, shortID(c.Old.ID, opts.noTrunc))
	fmt.Fprintf(w, "New: %s (%s)\n", c.New.Ref, shortID(c.New.ID, opts.noTrunc))
	t := &table{header: []string{"#", "STATUS", "OLD SIZE", "NEW SIZE", "INSTRUCTION"}}
	sameContent := false
	status := func(s analyze.Status, same bool) string {
		if same {
			sameContent = true
			return string(s) + "*"
		}
		return string(s)
	}
	if c.HistoryMatched {
		for _, r := range c.Steps {
			if r.Layer < 0 {
				t.append("", status(r.Status, false), "", "", diffStepText(r, opts.noTrunc))
				continue
			}
			l := c.Layers[r.Layer]
			t.append(fmt.Sprint(l.Index), status(l.Status, l.SameContent), sideSize(l.Old), sideSize(l.New), diffStepText(r, opts.noTrunc))
		}
	} else {
		for _, l := range c.Layers {
			t.append(fmt.Sprint(l.Index), status(l.Status, l.SameContent), sideSize(l.Old), sideSize(l.New), "?")
		}
	}
	if err := t.render(w); err != nil {
		return err
	}
	legend := "Sizes are uncompressed."
	if d.uncompressedUnknown {
		legend = "Sizes are uncompressed; ? = unknown: a registry stores compressed layers only."
	}
	if sameContent {
		legend += " * same content: the step re-ran and made the very same layer."
	}
	fmt.Fprintln(w, legend)
	if !c.HistoryMatched {
		fmt.Fprintf(w, "Note: %s\n", c.HistoryProblem)
	}

	fmt.Fprintln(w)
	writeDiffBreak(w, c, opts)

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Reused:   %s, %s uncompressed\n", plural(c.ReusedLayers, "layer"), humanSize(c.ReusedSize))
	rebuilt := fmt.Sprintf("Rebuilt:  %s", plural(c.RebuiltLayers, "layer"))
	if c.AddedLayers > 0 {
		rebuilt += fmt.Sprintf(" + %d added", c.AddedLayers)
	}
	fmt.Fprintf(w, "%s, %s uncompressed", rebuilt, humanSize(c.RebuiltSize))
	if c.RemovedLayers > 0 {
		fmt.Fprintf(w, " (%d removed)", c.RemovedLayers)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Pull of NEW where OLD is present: %s\n", transferText(c))

	if advice := adviceText(c.Advice); len(advice) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Advice:")
		for _, a := range advice {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	for _, n := range d.notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	return nil
}

func writeDiffBreak(w io.Writer, c analyze.Comparison, opts diffOptions) {
	b := c.FirstBreak
	if b == nil {
		fmt.Fprintln(w, "No cache break: NEW reused every layer of OLD.")
		return
	}
	where := "above the top layer"
	if b.Layer >= 0 {
		where = fmt.Sprintf("at layer %d", b.Layer)
	}
	fmt.Fprintf(w, "First break %s: %s\n", where, b.Reason)
	instr := func(s string) string {
		if s == "" {
			return "(none)"
		}
		if opts.noTrunc {
			return s
		}
		return ellipsis(s, 100)
	}
	if c.HistoryMatched {
		fmt.Fprintf(w, "  old: %s\n  new: %s\n", instr(b.OldInstruction), instr(b.NewInstruction))
	}
	for _, line := range breakExplanation(c) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if !b.FilesCompared {
		return
	}
	if b.ChangedFilesTotal == 0 {
		fmt.Fprintln(w, "  No file differs in kind, content or link target: what changed is only times, permissions or owners.")
		return
	}
	head := fmt.Sprintf("Changed files in layer %d", b.Layer)
	if len(b.ChangedFiles) < b.ChangedFilesTotal {
		head += fmt.Sprintf(" (largest %d of %d; --no-trunc for all)", len(b.ChangedFiles), b.ChangedFilesTotal)
	}
	fmt.Fprintln(w, head+":")
	t := &table{header: []string{"  CHANGE", "SIZE", "PATH"}}
	for _, f := range b.ChangedFiles {
		t.append("  "+string(f.Change), humanSize(f.Size), f.Path)
	}
	_ = t.render(w)
}

// breakExplanation says why the first break broke the cache, in the builder's terms.
func breakExplanation(c analyze.Comparison) []string {
	b := c.FirstBreak
	if !c.HistoryMatched {
		return []string{"A history does not match its layers, so the reason cannot be told."}
	}
	r := c.Steps[b.Step]
	var why string
	switch b.Reason {
	case analyze.ReasonBaseChanged:
		why = "The base image changed: a step FROM brought in differs, so every step of this build ran again."
	case analyze.ReasonInstructionChanged:
		switch {
		case r.Old == nil:
			why = "NEW adds this step; the builder keys the steps above on it, so they ran again."
		case r.New == nil:
			why = "NEW lacks this step; the builder keys the steps above on it, so they ran again."
		case r.Layer < 0 && r.New.Comment == analyze.BuildKitComment && analyze.KeysRunsOnly(analyze.Keyword(r.New.Instruction)) && b.Layer >= 0:
			why = fmt.Sprintf("The instruction changed; BuildKit passes it to every later RUN, so layer %d and every step after it ran again.", b.Layer)
		default:
			why = "The instruction changed, so it and every step after it ran again."
		}
	case analyze.ReasonInputsChanged:
		legacy := r.New.Comment != analyze.BuildKitComment
		switch kw := analyze.Keyword(b.NewInstruction); {
		case (kw == "COPY" || kw == "ADD") && (r.TextChanged || !legacy):
			why = "Same instruction, different content: the files it copies from the build context changed."
		case r.TextChanged:
			why = "Same instruction with other build args (the history records their values), so it ran again."
		default:
			why = "Nothing the builder keys this step on changed (same instruction, same layers below), yet it made another layer: " +
				"it was not taken from the cache (--no-cache, a pruned cache, a build on another machine)."
		}
	case analyze.ReasonLayerAdded:
		why = "NEW has a layer-making step where OLD's history ends."
	case analyze.ReasonLayerRemoved:
		why = "OLD has a layer-making step where NEW's history ends."
	default:
		why = "The reason cannot be told."
	}
	out := []string{why}
	for _, u := range b.Unkeyed {
		s := c.Steps[u]
		what, verb := s.New, "differs"
		switch {
		case s.New == nil:
			what, verb = s.Old, "was removed"
		case s.Old == nil:
			verb = "was added"
		}
		kw := analyze.Keyword(what.Instruction)
		keys := "no step"
		if analyze.KeysRunsOnly(kw) {
			keys = "only RUN steps"
		}
		out = append(out, fmt.Sprintf("Below it, %q %s, but BuildKit keys %s on %s, so that did not break the cache here.",
			ellipsis(what.Instruction, 80), verb, keys, kw))
	}
	return out
}

// diffStepText is a row's instruction; a changed one says what it was.
func diffStepText(r analyze.StepDiff, noTrunc bool) string {
	text := func(s *analyze.Step, n int) string {
		if noTrunc {
			return strings.Join(strings.Fields(s.CreatedBy), " ")
		}
		return ellipsis(stepText(*s), n)
	}
	switch {
	case r.New == nil:
		return text(r.Old, 80)
	case r.Old == nil:
		return text(r.New, 80)
	case r.TextChanged:
		return text(r.New, 50) + "   (was: " + text(r.Old, 40) + ")"
	}
	return text(r.New, 80)
}

func sideSize(s *analyze.LayerSide) string {
	if s == nil {
		return "-"
	}
	return humanSize(s.Size)
}

func transferText(c analyze.Comparison) string {
	if c.TransferSize == analyze.Unknown {
		return "? (sizes unknown)"
	}
	if c.TransferCompressed {
		return humanSize(c.TransferSize) + " compressed"
	}
	return humanSize(c.TransferSize) + " uncompressed (compressed sizes unknown)"
}

// adviceText words the advice; nil when there is none.
func adviceText(a *analyze.Advice) []string {
	if a == nil {
		return nil
	}
	out := []string{fmt.Sprintf("%q copies a whole directory of the build context, so changing %s (not a dependency manifest) made %q run again.",
		a.BroadCopy, a.ChangedFile, a.Install)}
	if len(a.Manifests) > 0 {
		out = append(out, fmt.Sprintf("Copy the dependency manifests first, install, then copy the rest: \"COPY %s ./\", %q, then %q.",
			strings.Join(a.Manifests, " "), a.Install, a.BroadCopy))
	} else {
		out = append(out, fmt.Sprintf("Move %q above %q: it needs nothing from the build context.", a.Install, a.BroadCopy))
	}
	saved := fmt.Sprintf("In that order this rebuild would also have reused %s, up to and including %q: %s, %s uncompressed.",
		plural(a.SavedSteps, "step"), a.Install, plural(a.SavedLayers, "layer"), humanSize(a.SavedSize))
	return append(out, saved)
}

// diffJSON is `diff --format json`; the field names are documented.
type diffJSON struct {
	Old                diffImageJSON   `json:"old"`
	New                diffImageJSON   `json:"new"`
	Layers             []diffLayerJSON `json:"layers"`
	ReusedLayers       int             `json:"reusedLayers"`
	RebuiltLayers      int             `json:"rebuiltLayers"`
	AddedLayers        int             `json:"addedLayers"`
	RemovedLayers      int             `json:"removedLayers"`
	ReusedSize         *int64          `json:"reusedSize"`
	RebuiltSize        *int64          `json:"rebuiltSize"`
	TransferSize       *int64          `json:"transferSize"`
	TransferCompressed bool            `json:"transferCompressed"`
	FirstBreak         *diffBreakJSON  `json:"firstBreak"`
	Advice             []string        `json:"advice"`
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

type diffBreakJSON struct {
	// Index is the first layer the break cost; null when no layer lies above it.
	Index          *int   `json:"index"`
	Reason         string `json:"reason"`
	OldInstruction string `json:"oldInstruction"`
	NewInstruction string `json:"newInstruction"`
	// ChangedFiles is null when the layers' files were not compared.
	ChangedFiles []diffFileJSON `json:"changedFiles"`
}

type diffFileJSON struct {
	Path   string `json:"path"`
	Change string `json:"change"`
	Size   int64  `json:"size"`
}

func newDiffJSON(c analyze.Comparison) diffJSON {
	v := diffJSON{
		Old:                diffImageJSON{Image: c.Old.Ref, ID: c.Old.ID},
		New:                diffImageJSON{Image: c.New.Ref, ID: c.New.ID},
		Layers:             []diffLayerJSON{},
		ReusedLayers:       c.ReusedLayers,
		RebuiltLayers:      c.RebuiltLayers,
		AddedLayers:        c.AddedLayers,
		RemovedLayers:      c.RemovedLayers,
		ReusedSize:         bytesOrNil(c.ReusedSize),
		RebuiltSize:        bytesOrNil(c.RebuiltSize),
		TransferSize:       bytesOrNil(c.TransferSize),
		TransferCompressed: c.TransferCompressed,
		Advice:             adviceText(c.Advice),
	}
	if v.Advice == nil {
		v.Advice = []string{}
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
	if b := c.FirstBreak; b != nil {
		bj := &diffBreakJSON{Reason: string(b.Reason), OldInstruction: b.OldInstruction, NewInstruction: b.NewInstruction}
		if b.Layer >= 0 {
			layer := b.Layer
			bj.Index = &layer
		}
		if b.FilesCompared {
			bj.ChangedFiles = []diffFileJSON{}
			for _, f := range b.ChangedFiles {
				bj.ChangedFiles = append(bj.ChangedFiles, diffFileJSON{Path: f.Path, Change: string(f.Change), Size: f.Size})
			}
		}
		v.FirstBreak = bj
	}
	return v
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

func diffRows(c analyze.Comparison, opts diffOptions) []any {
	var rows []any
	fill := func(r *DiffRow, l analyze.LayerDiff) {
		r.Index, r.Status, r.SameContent = fmt.Sprint(l.Index), string(l.Status), l.SameContent
		r.OldSize, r.NewSize = sideSize(l.Old), sideSize(l.New)
		r.OldBytes, r.NewBytes = analyze.Unknown, analyze.Unknown
		if l.Old != nil {
			r.OldBytes, r.OldDiffID = l.Old.Size, l.Old.DiffID.String()
		}
		if l.New != nil {
			r.NewBytes, r.NewDiffID = l.New.Size, l.New.DiffID.String()
		}
	}
	if !c.HistoryMatched {
		for _, l := range c.Layers {
			var r DiffRow
			fill(&r, l)
			rows = append(rows, r)
		}
		return rows
	}
	text := func(s *analyze.Step) string {
		if s == nil {
			return ""
		}
		if opts.noTrunc {
			return s.CreatedBy
		}
		return s.Instruction
	}
	for _, s := range c.Steps {
		r := DiffRow{Status: string(s.Status), OldBytes: analyze.Unknown, NewBytes: analyze.Unknown, EmptyLayer: s.Layer < 0}
		if s.Layer >= 0 {
			fill(&r, c.Layers[s.Layer])
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
