package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/buildcontext"
	"github.com/docker-layers/docker-layers/analyze/dockerfile"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type predictOptions struct {
	commonOptions
	file      string
	context   string
	target    string
	buildArgs []string
	changed   []string
	since     string
	fix       bool
	exitCode  bool
}

func newPredictCommand(e *env) *cobra.Command {
	var opts predictOptions
	cmd := &cobra.Command{
		Use:   "predict [OPTIONS] [IMAGE]",
		Short: "Predict which steps the next build will rebuild, and why, before building",
		Long: `Compare a Dockerfile and its build context as they are now with IMAGE, the last
build of that Dockerfile, as the builder will when it looks up its cache: which steps
it will reuse, where the cache will first break and why (the files a COPY would copy
that differ from IMAGE's layer, a changed instruction or build arg, a changed base),
and what the rebuild will write and a push will move. Without IMAGE, only the
Dockerfile's order is checked: a COPY of the whole context before a dependency install.

The Dockerfile is read with BuildKit's own parser; .dockerignore (or
<Dockerfile>.dockerignore) with the engine's pattern matcher. Only the files the
COPY and ADD sources select are read; --changed or --since read only the files named.
The base (FROM) is checked when the engine has it.

IMAGE is the last build; from a registry the layers of its COPY steps are downloaded.
` + imageRefHelp + `

Exit status is 0 whatever the prediction; with --exit-code it is 1 when a step is
predicted rebuilt or unknown; 2 for a Dockerfile that does not parse.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(cmd, fmt.Sprintf("takes at most one image argument, got %d", len(args)))
			}
			return nil
		},
		ValidArgsFunction: completeImages(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			return runPredict(cmd, e, ref, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.file, "file", "f", "", "Name of the Dockerfile (default: CONTEXT/Dockerfile)")
	flags.StringVar(&opts.context, "context", ".", "Build context directory")
	flags.StringVar(&opts.target, "target", "", "Target build stage (default: the last)")
	flags.StringArrayVar(&opts.buildArgs, "build-arg", nil, "Build-time variable, as given to docker build (KEY=VALUE, or KEY to take it from the environment)")
	flags.StringArrayVar(&opts.changed, "changed", nil, "A context path that changed since IMAGE was built; read only these (repeatable)")
	flags.StringVar(&opts.since, "since", "", "Read only the context files git lists as changed since this revision")
	flags.BoolVar(&opts.fix, "fix", false, "Print the Dockerfile reordered as the advice says, and nothing else")
	flags.BoolVar(&opts.exitCode, "exit-code", false, "Exit 1 when a step is predicted rebuilt or unknown")
	addCommonFlags(flags, &opts.commonOptions, "PredictRow (one row per Dockerfile step)", "full IDs and instructions, every changed file", "the lines of the steps predicted rebuilt")
	completeFlags(cmd)
	return cmd
}

func runPredict(cmd *cobra.Command, e *env, ref string, opts predictOptions) error {
	r, err := prepareRun(cmd, e, opts.commonOptions, PredictRow{})
	if err != nil {
		return err
	}
	defer r.stop()
	if len(opts.changed) > 0 && opts.since != "" {
		return usageError(cmd, "--changed and --since cannot be used together")
	}
	args, err := parseBuildArgs(opts.buildArgs)
	if err != nil {
		return usageError(cmd, err.Error())
	}
	df, err := readDockerfile(opts, args)
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) {
			return cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %s", cmd.CommandPath(), termSafe(err.Error()))}
		}
		return usageError(cmd, err.Error())
	}
	out := e.dockerCli.Out()
	if opts.fix {
		c, err := readContext(r.ctx, df, opts, true)
		if err != nil {
			return contextError(cmd, err)
		}
		fixed := analyze.FixDockerfile(df, analyze.DockerfileAdvise(df, c))
		return writeOutput(out, r.render.output, func(w io.Writer) error {
			_, err := io.WriteString(w, fixed)
			return err
		})
	}
	p, notes, err := predictBuild(r, e, df, ref, opts)
	if err != nil {
		if errors.Is(err, errContext) {
			return contextError(cmd, err)
		}
		return imageError(cmd, err)
	}
	v := newPredictView(p, notes)
	if err := render(out, r.format, v, renderers[predictJSON]{
		table: writePredictTable,
		rows:  predictRows,
		ids:   predictIDs,
		html:  writePredictHTML,
	}, r.render); err != nil {
		return err
	}
	if opts.exitCode && (v.RebuiltSteps > 0 || v.UnknownSteps > 0) {
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
}

// contextError is a build context that cannot be read: a usage error, unless Ctrl-C.
func contextError(cmd *cobra.Command, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return usageError(cmd, err.Error())
}

// parseBuildArgs reads --build-arg as docker build does: KEY=VALUE, or KEY alone for
// the value of the environment variable KEY (skipped when it is not set).
func parseBuildArgs(in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range in {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid --build-arg %q: want KEY=VALUE", a)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

func dockerfilePath(opts predictOptions) string {
	if opts.file != "" {
		return opts.file
	}
	return filepath.Join(opts.context, "Dockerfile")
}

func readDockerfile(opts predictOptions, args map[string]string) (*analyze.Dockerfile, error) {
	p := dockerfilePath(opts)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, dockerfile.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	name := opts.file
	if name == "" {
		name = "Dockerfile"
	}
	return dockerfile.Parse(data, dockerfile.Options{Name: name, Target: opts.target, BuildArgs: args})
}

// errContext marks a build context that cannot be read: a usage error.
var errContext = errors.New("build context")

// readContext reads what the prediction compares: the files the COPY and ADD
// sources select, or only the changed paths; with manifestsOnly, only the
// dependency manifests at the context root (for the advice without IMAGE).
func readContext(ctx context.Context, df *analyze.Dockerfile, opts predictOptions, manifestsOnly bool) (*analyze.Context, error) {
	ignore := ""
	if p := dockerfilePath(opts) + ".dockerignore"; fileExists(p) {
		ignore = p
	}
	r, err := buildcontext.New(opts.context, buildcontext.Options{IgnoreFile: ignore})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errContext, err)
	}
	changed := opts.changed
	if opts.since != "" {
		if changed, err = buildcontext.GitChanged(ctx, opts.context, opts.since); err != nil {
			return nil, fmt.Errorf("%w: --since: %v", errContext, err)
		}
	}
	var c *analyze.Context
	switch {
	case manifestsOnly:
		c, err = r.Read(ctx, analyze.DependencyManifests())
	case len(changed) > 0 || opts.since != "":
		c, err = r.ReadChanged(ctx, changed)
	default:
		var sources []string
		for _, s := range df.Steps {
			if s.FromContextDir() {
				sources = append(sources, s.Sources...)
			}
		}
		c, err = r.Read(ctx, sources)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errContext, err)
	}
	return c, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// predictBuild reads the context and IMAGE (metadata, sizes the source does not
// record, and the files of the layers its COPY steps made, in one pass), and the base
// as FROM resolves now when it can be opened, and predicts.
func predictBuild(r *run, e *env, df *analyze.Dockerfile, ref string, opts predictOptions) (analyze.Prediction, []string, error) {
	in := analyze.PredictInput{Dockerfile: df, MaxChangedFiles: analyze.DefaultMaxChangedFiles}
	if opts.noTrunc {
		in.MaxChangedFiles = 0
	}
	c, err := readContext(r.ctx, df, opts, ref == "")
	if err != nil {
		return analyze.Prediction{}, nil, err
	}
	in.Context = c
	if ref == "" {
		return analyze.Predict(in), nil, nil
	}
	var notes []string
	if df.Base != "" && df.Base != "scratch" {
		base, err := e.load(r.ctx, []string{df.Base}, r.srcOpts, source.Need{})
		switch {
		case err == nil:
			in.Base = &base.Images[0].Image
			base.Close()
		case errors.Is(err, context.Canceled):
			return analyze.Prediction{}, nil, err
		default:
			notes = append(notes, fmt.Sprintf("Base %s not checked: %s", df.Base, firstErrLine(err)))
		}
	}
	need := source.Need{
		Sizes: source.SizesLocal,
		Files: func(images []*source.Image) [][]int {
			return [][]int{analyze.PredictLayers(df, images[0].Image)}
		},
	}
	loaded, err := e.load(r.ctx, []string{ref}, r.srcOpts, need)
	if err != nil {
		return analyze.Prediction{}, nil, err
	}
	defer loaded.Close()
	img := loaded.Images[0]
	in.Image = &img.Image
	in.LayerFiles = loaded.Files[0]
	if img.Remote && len(in.LayerFiles) > 0 {
		notes = append(notes, fmt.Sprintf("Downloaded %s of %s (%s) to compare the copied files.",
			plural(len(in.LayerFiles), "layer"), img.Ref, humanSize(loaded.Downloaded[0])))
	}
	return analyze.Predict(in), notes, nil
}

func firstErrLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// predictJSON is `predict --format json`, and the view every predict output is
// rendered from; the field names are documented in the README.
type predictJSON struct {
	// Image is IMAGE as given; null for the Dockerfile alone.
	Image      *string           `json:"image"`
	ImageID    string            `json:"imageID,omitempty"`
	Builder    string            `json:"builder,omitempty"`
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target"`
	Base       string            `json:"base"`
	Steps      []predictStepJSON `json:"steps"`
	FirstBreak *predictBreakJSON `json:"firstBreak"`
	// Divergence is where the Dockerfile stops matching IMAGE's history; null when it
	// matches throughout.
	Divergence         *predictDivergenceJSON `json:"divergence"`
	HistoryProblem     string                 `json:"historyProblem,omitempty"`
	ReusedSteps        int                    `json:"reusedSteps"`
	RebuiltSteps       int                    `json:"rebuiltSteps"`
	UnknownSteps       int                    `json:"unknownSteps"`
	RebuiltSize        *int64                 `json:"rebuiltSize"`
	TransferSize       *int64                 `json:"transferSize"`
	TransferCompressed bool                   `json:"transferCompressed"`
	Advice             []predictAdviceJSON    `json:"advice"`
	// FixedDockerfile is the Dockerfile as --fix prints it; null when no advice is
	// fixable.
	FixedDockerfile *string  `json:"fixedDockerfile"`
	Notes           []string `json:"notes,omitempty"`
}

type predictStepJSON struct {
	Line        int    `json:"line"`
	Instruction string `json:"instruction"`
	Verdict     string `json:"verdict"`
	// Cause says why the step got its verdict (analyze.StepCause).
	Cause string `json:"cause"`
	// Layer is the index of the step's layer in IMAGE; null for none.
	Layer *int `json:"layer"`
	// Size is that layer's uncompressed size in IMAGE (0 without a layer); null when
	// unknown.
	Size *int64 `json:"size"`
}

type predictBreakJSON struct {
	Line             int    `json:"line"`
	Instruction      string `json:"instruction"`
	ImageInstruction string `json:"imageInstruction,omitempty"`
	Reason           string `json:"reason"`
	// ChangedFiles is null when no files were compared.
	ChangedFiles      []diffFileJSON `json:"changedFiles"`
	ChangedFilesTotal int            `json:"changedFilesTotal"`
}

type predictDivergenceJSON struct {
	Line        int    `json:"line"`
	Instruction string `json:"instruction"`
	// ImageInstruction is IMAGE's step there; "" when IMAGE's history ends first.
	ImageInstruction string `json:"imageInstruction"`
}

type predictAdviceJSON struct {
	Line            int      `json:"line"`
	Instruction     string   `json:"instruction"`
	InstallLine     int      `json:"installLine"`
	Install         string   `json:"install"`
	Tool            string   `json:"tool"`
	Manifests       []string `json:"manifests"`
	ManifestsCopied bool     `json:"manifestsCopied"`
	Steps           int      `json:"steps"`
	Fixable         bool     `json:"fixable"`
}

func newPredictView(p analyze.Prediction, notes []string) predictJSON {
	v := predictJSON{
		Builder:            p.Builder,
		Dockerfile:         p.Dockerfile,
		Target:             p.Target,
		Base:               p.Base,
		Steps:              []predictStepJSON{},
		HistoryProblem:     p.HistoryProblem,
		ReusedSteps:        p.ReusedSteps,
		RebuiltSteps:       p.RebuiltSteps,
		UnknownSteps:       p.UnknownSteps,
		RebuiltSize:        bytesOrNil(p.RebuiltSize),
		TransferSize:       bytesOrNil(p.TransferSize),
		TransferCompressed: p.TransferCompressed,
		Advice:             []predictAdviceJSON{},
		Notes:              notes,
	}
	if p.Fixed != "" {
		fixed := p.Fixed
		v.FixedDockerfile = &fixed
	}
	if p.Image != nil {
		ref := p.Image.Ref
		v.Image, v.ImageID = &ref, p.Image.ID
	}
	for _, s := range p.Steps {
		sv := predictStepJSON{Line: s.Line, Instruction: s.Instruction, Verdict: string(s.Verdict), Cause: string(s.Cause), Size: bytesOrNil(s.Size)}
		if s.Layer >= 0 {
			l := s.Layer
			sv.Layer = &l
		}
		v.Steps = append(v.Steps, sv)
	}
	if b := p.FirstBreak; b != nil {
		bv := &predictBreakJSON{Line: b.Line, Instruction: b.Instruction, ImageInstruction: b.ImageInstruction, Reason: string(b.Reason), ChangedFilesTotal: b.ChangedFilesTotal}
		if b.FilesCompared {
			bv.ChangedFiles = []diffFileJSON{}
			for _, f := range b.ChangedFiles {
				bv.ChangedFiles = append(bv.ChangedFiles, diffFileJSON{Path: f.Path, Change: string(f.Change), Size: f.Size})
			}
		}
		v.FirstBreak = bv
	}
	if d := p.Divergence; d != nil {
		v.Divergence = &predictDivergenceJSON{Line: d.Line, Instruction: d.Instruction, ImageInstruction: d.ImageInstruction}
	}
	for _, a := range p.Advice {
		v.Advice = append(v.Advice, predictAdviceJSON{
			Line: a.CopyLine, Instruction: a.Copy, InstallLine: a.InstallLine, Install: a.Install,
			Tool: a.Tool, Manifests: a.Manifests, ManifestsCopied: a.ManifestsCopied, Steps: a.Steps, Fixable: a.Fixable,
		})
	}
	return v
}

// adviceMessage words one piece of Dockerfile advice.
func adviceMessage(a predictAdviceJSON) string {
	msg := fmt.Sprintf("Line %d %q copies the whole build context before the %s install on line %d, so an edit to any copied file re-runs %s.",
		a.Line, termSafe(a.Instruction), a.Tool, a.InstallLine, plural(a.Steps, "step"))
	switch {
	case a.ManifestsCopied:
		msg += fmt.Sprintf(" Move it below line %d: the manifests are already copied above.", a.InstallLine)
	default:
		msg += fmt.Sprintf(" Copy %s first, install, then copy the rest.", strings.Join(a.Manifests, " "))
	}
	if a.Fixable {
		msg += " (--fix prints the reordered Dockerfile.)"
	} else {
		msg += " Other RUN steps lie in between, so --fix leaves it to you."
	}
	return msg
}

func writePredictTable(w io.Writer, v predictJSON, o renderOpts) error {
	noTrunc := o.noTrunc
	fmt.Fprintf(w, "Dockerfile: %s (target %s, FROM %s)\n", termSafe(v.Dockerfile), termSafe(v.Target), termSafe(v.Base))
	if v.Image != nil {
		builder := map[string]string{"buildkit": "BuildKit", "legacy": "the legacy builder"}[v.Builder]
		fmt.Fprintf(w, "Image:      %s (%s), built by %s\n", termSafe(*v.Image), shortID(v.ImageID, noTrunc), builder)
	} else {
		fmt.Fprintln(w, "Image:      none given: the Dockerfile's order only")
	}
	text := func(s string, n int) string {
		s = termSafe(strings.Join(strings.Fields(s), " "))
		if noTrunc {
			return s
		}
		return ellipsis(s, n)
	}
	t := &table{header: []string{"LINE", "VERDICT", "LAYER", "SIZE", "INSTRUCTION"}}
	for _, s := range v.Steps {
		layer, size := "", ""
		if s.Layer != nil {
			layer = fmt.Sprint(*s.Layer)
		}
		switch {
		case v.Image == nil:
		case s.Size == nil:
			size = "?"
		case s.Layer != nil:
			size = humanSize(*s.Size)
		}
		t.append(fmt.Sprint(s.Line), s.Verdict, layer, size, text(s.Instruction, 80))
	}
	if err := t.render(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if d := v.Divergence; d != nil {
		was := "IMAGE's history ends there"
		if d.ImageInstruction != "" {
			was = fmt.Sprintf("IMAGE has %q there", text(d.ImageInstruction, 60))
		}
		fmt.Fprintf(w, "The Dockerfile and IMAGE diverge at line %d (%s): %s; nothing above it is predicted from IMAGE.\n", d.Line, text(d.Instruction, 60), was)
	}
	if v.Image != nil {
		writePredictBreak(w, v, text)
		unknown := ""
		if v.UnknownSteps > 0 {
			unknown = fmt.Sprintf(", %s unknown", plural(v.UnknownSteps, "step"))
		}
		fmt.Fprintf(w, "Predicted: %s reused, %s rebuilt%s; rebuilt layers %s uncompressed in IMAGE; a push moves %s.\n",
			plural(v.ReusedSteps, "step"), plural(v.RebuiltSteps, "step"), unknown, sizeOrUnknown(v.RebuiltSize), predictTransferText(v))
	}
	for _, a := range v.Advice {
		fmt.Fprintf(w, "Advice: %s\n", adviceMessage(a))
	}
	for _, n := range v.Notes {
		fmt.Fprintln(w, termSafe(n))
	}
	return nil
}

// predictReasonText words a predicted break's reason.
var predictReasonText = map[string]string{
	string(analyze.ReasonBaseChanged):        "the base image now resolves to other layers than IMAGE was built on",
	string(analyze.ReasonInstructionChanged): "the instruction differs from IMAGE's",
	string(analyze.ReasonInputsChanged):      "its inputs differ from IMAGE's (copied files or build args)",
}

func writePredictBreak(w io.Writer, v predictJSON, text func(string, int) string) {
	b := v.FirstBreak
	if b == nil {
		if v.Divergence == nil {
			fmt.Fprintln(w, "No cache break predicted: every step can be reused.")
		}
		return
	}
	fmt.Fprintf(w, "First break predicted at line %d, %s: %s: %s.\n", b.Line, text(b.Instruction, 60), b.Reason, predictReasonText[b.Reason])
	if b.ImageInstruction != "" && b.Reason == string(analyze.ReasonInstructionChanged) {
		fmt.Fprintf(w, "  IMAGE has: %s\n", text(b.ImageInstruction, 80))
	}
	if b.ChangedFiles == nil {
		return
	}
	if b.ChangedFilesTotal == 0 {
		fmt.Fprintln(w, "  No copied file differs.")
		return
	}
	head := "Changed files"
	if len(b.ChangedFiles) < b.ChangedFilesTotal {
		head += fmt.Sprintf(" (largest %d of %d; --no-trunc for all)", len(b.ChangedFiles), b.ChangedFilesTotal)
	}
	fmt.Fprintln(w, head+":")
	t := &table{header: []string{"  CHANGE", "SIZE", "PATH"}}
	for _, f := range b.ChangedFiles {
		t.append("  "+f.Change, humanSize(f.Size), termSafe(f.Path))
	}
	_ = t.render(w)
}

func sizeOrUnknown(n *int64) string {
	if n == nil {
		return "?"
	}
	return humanSize(*n)
}

func predictTransferText(v predictJSON) string {
	switch {
	case v.TransferSize == nil:
		return "? (sizes unknown)"
	case v.TransferCompressed:
		return humanSize(*v.TransferSize) + " compressed"
	}
	return humanSize(*v.TransferSize) + " uncompressed (compressed sizes unknown)"
}

// PredictRow is what a --format template sees: one row per Dockerfile step after
// FROM, in build order. Size is IMAGE's layer, uncompressed and human-readable; Bytes
// is bytes (-1 when unknown).
type PredictRow struct {
	Line        int
	Instruction string
	Verdict     string // reused, rebuilt or unknown
	Cause       string // why: unchanged, first-break, above-break, … (see the README)
	Layer       string // the layer's index in IMAGE, "" for none
	Size        string
	Bytes       int64
}

func predictRows(v predictJSON, _ renderOpts) []any {
	var out []any
	for _, s := range v.Steps {
		r := PredictRow{Line: s.Line, Instruction: termSafe(s.Instruction), Verdict: s.Verdict, Cause: s.Cause, Bytes: jsonBytes(s.Size)}
		if s.Layer != nil {
			r.Layer = fmt.Sprint(*s.Layer)
		}
		r.Size = sizeOrUnknown(s.Size)
		out = append(out, r)
	}
	return out
}

// predictIDs are the lines of the steps predicted rebuilt (-q).
func predictIDs(v predictJSON, _ renderOpts) []string {
	var out []string
	for _, s := range v.Steps {
		if s.Verdict == string(analyze.VerdictRebuilt) {
			out = append(out, fmt.Sprint(s.Line))
		}
	}
	return out
}
