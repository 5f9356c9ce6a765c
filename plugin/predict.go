package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/buildcontext"
	"github.com/docker-layers/docker-layers/analyze/dockerfile"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type predictOptions struct {
	file      string
	context   string
	target    string
	buildArgs []string
	changed   []string
	since     string
	fix       bool
	format    string
	noTrunc   bool
	exitCode  bool
	platform  string
}

func newPredictCommand(dockerCli command.Cli) *cobra.Command {
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

IMAGE is one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry (the COPY layers are downloaded)
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout

Exit status is 0 whatever the prediction; with --exit-code it is 1 when a step is
predicted rebuilt or unknown; 2 for a Dockerfile that does not parse.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(cmd, fmt.Sprintf("takes at most one image argument, got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			return runPredict(cmd, dockerCli, ref, opts)
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
	flags.StringVar(&opts.format, "format", "table", formatHelp)
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output: full IDs and instructions, every changed file")
	flags.BoolVar(&opts.exitCode, "exit-code", false, "Exit 1 when a step is predicted rebuilt or unknown")
	addPlatformFlag(flags, &opts.platform)
	return cmd
}

func runPredict(cmd *cobra.Command, dockerCli command.Cli, ref string, opts predictOptions) error {
	format, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, opts.format, opts.platform)
	if err != nil {
		return err
	}
	defer stop()
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
	out := dockerCli.Out()
	if opts.fix {
		c, err := readContext(ctx, df, opts, nil, true)
		if err != nil {
			return usageError(cmd, err.Error())
		}
		_, err = io.WriteString(out, analyze.FixDockerfile(df, analyze.DockerfileAdvise(df, c)))
		return err
	}
	r, err := predictBuild(ctx, df, ref, opts, srcOpts)
	if err != nil {
		if errors.Is(err, errContext) {
			return usageError(cmd, err.Error())
		}
		return imageError(cmd, err)
	}
	v := newPredictView(r, opts.noTrunc)
	switch {
	case format.json:
		err = writeJSON(out, v)
	case format.tmpl != nil:
		err = format.writeTemplate(out, predictRows(v))
	default:
		err = writePredictTable(out, v, opts.noTrunc)
	}
	if err != nil {
		return err
	}
	if opts.exitCode && (v.RebuiltSteps > 0 || v.UnknownSteps > 0) {
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
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
func readContext(ctx context.Context, df *analyze.Dockerfile, opts predictOptions, _ *source.Image, manifestsOnly bool) (*analyze.Context, error) {
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

// predictResult is a prediction with what the table says about how it was made.
type predictResult struct {
	analyze.Prediction
	notes []string
}

// predictBuild reads IMAGE (metadata, then only the layers of the COPY steps), the
// base as FROM resolves now when the engine has it, and the context, and predicts.
func predictBuild(ctx context.Context, df *analyze.Dockerfile, ref string, opts predictOptions, srcOpts source.Options) (predictResult, error) {
	var r predictResult
	in := analyze.PredictInput{Dockerfile: df, MaxChangedFiles: analyze.DefaultMaxChangedFiles}
	if opts.noTrunc {
		in.MaxChangedFiles = 0
	}
	if ref == "" {
		c, err := readContext(ctx, df, opts, nil, true)
		if err != nil {
			return r, err
		}
		in.Context = c
		r.Prediction = analyze.Predict(in)
		return r, nil
	}
	img, err := source.Open(ctx, ref, srcOpts)
	if err != nil {
		return r, err
	}
	defer img.Close()
	in.Image = &img.Image
	if df.Base != "" && df.Base != "scratch" {
		if base, err := source.Open(ctx, df.Base, srcOpts); err == nil {
			in.Base = &base.Image
			base.Close()
		} else if errors.Is(err, context.Canceled) {
			return r, err
		} else {
			r.notes = append(r.notes, fmt.Sprintf("Base %s not checked: %s", df.Base, firstErrLine(err)))
		}
	}
	c, err := readContext(ctx, df, opts, img, false)
	if err != nil {
		return r, err
	}
	in.Context = c

	want := analyze.PredictLayers(df, img.Image)
	sizes := source.Sizes{}
	measure := !img.Remote
	if measure {
		for _, i := range sizes.Missing(img) {
			if !containsInt(want, i) {
				want = append(want, i)
			}
		}
	}
	copyLayers := analyze.PredictLayers(df, img.Image)
	in.LayerFiles = map[int][]analyze.File{}
	err = img.ScanLayers(ctx, want, true, func(i int, s source.LayerScan) error {
		sizes.Record(img, i, s.Size)
		if containsInt(copyLayers, i) {
			in.LayerFiles[i] = s.Files
			if in.LayerFiles[i] == nil {
				in.LayerFiles[i] = []analyze.File{}
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if img.Remote && len(copyLayers) > 0 {
		r.notes = append(r.notes, fmt.Sprintf("Downloaded %d layers of %s to compare the copied files.", len(copyLayers), img.Ref))
	}
	r.Prediction = analyze.Predict(in)
	return r, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func firstErrLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// predictView is `predict`'s one view: --format json prints it as it is, the table
// and templates render from it.
type predictView struct {
	Image              *string             `json:"image"`
	ImageID            string              `json:"-"`
	Builder            string              `json:"-"`
	Dockerfile         string              `json:"dockerfile"`
	Target             string              `json:"-"`
	Base               string              `json:"-"`
	Steps              []predictStepView   `json:"steps"`
	FirstBreak         *predictBreakView   `json:"firstBreak"`
	Divergence         *predictDivergeView `json:"divergence"`
	ReusedSteps        int                 `json:"reusedSteps"`
	RebuiltSteps       int                 `json:"rebuiltSteps"`
	UnknownSteps       int                 `json:"unknownSteps"`
	RebuiltSize        *int64              `json:"rebuiltSize"`
	TransferSize       *int64              `json:"transferSize"`
	TransferCompressed bool                `json:"transferCompressed"`
	Advice             []predictAdviceView `json:"advice"`
	Notes              []string            `json:"-"`
}

type predictStepView struct {
	Line        int    `json:"line"`
	Instruction string `json:"instruction"`
	Verdict     string `json:"verdict"`
	Layer       *int   `json:"layer"`
	Size        *int64 `json:"size"`
}

type predictBreakView struct {
	Line             int    `json:"line"`
	Instruction      string `json:"instruction"`
	ImageInstruction string `json:"-"`
	Reason           string `json:"reason"`
	// ChangedFiles is null when no files were compared.
	ChangedFiles      []diffFileJSON `json:"changedFiles"`
	ChangedFilesTotal int            `json:"-"`
}

type predictDivergeView struct {
	Line             int    `json:"line"`
	Instruction      string `json:"instruction"`
	ImageInstruction string `json:"imageInstruction"`
}

type predictAdviceView struct {
	Line        int      `json:"line"`
	Instruction string   `json:"instruction"`
	InstallLine int      `json:"installLine"`
	Install     string   `json:"install"`
	Tool        string   `json:"tool"`
	Manifests   []string `json:"manifests"`
	Fixable     bool     `json:"fixable"`
	Message     string   `json:"message"`
}

func newPredictView(r predictResult, noTrunc bool) predictView {
	p := r.Prediction
	v := predictView{
		Builder:            p.Builder,
		Dockerfile:         p.Dockerfile,
		Target:             p.Target,
		Base:               p.Base,
		Steps:              []predictStepView{},
		ReusedSteps:        p.ReusedSteps,
		RebuiltSteps:       p.RebuiltSteps,
		UnknownSteps:       p.UnknownSteps,
		RebuiltSize:        bytesOrNil(p.RebuiltSize),
		TransferSize:       bytesOrNil(p.TransferSize),
		TransferCompressed: p.TransferCompressed,
		Advice:             []predictAdviceView{},
		Notes:              r.notes,
	}
	if p.Image != nil {
		ref := p.Image.Ref
		v.Image, v.ImageID = &ref, p.Image.ID
	}
	if p.HistoryProblem != "" {
		v.Notes = append(v.Notes, "IMAGE's history cannot be used: "+p.HistoryProblem)
	}
	for _, s := range p.Steps {
		sv := predictStepView{Line: s.Line, Instruction: s.Instruction, Verdict: string(s.Verdict), Size: bytesOrNil(s.Size)}
		if s.Layer >= 0 {
			l := s.Layer
			sv.Layer = &l
		}
		v.Steps = append(v.Steps, sv)
	}
	if b := p.FirstBreak; b != nil {
		bv := &predictBreakView{Line: b.Line, Instruction: b.Instruction, ImageInstruction: b.ImageInstruction, Reason: string(b.Reason), ChangedFilesTotal: b.ChangedFilesTotal}
		if b.FilesCompared {
			bv.ChangedFiles = []diffFileJSON{}
			for _, f := range b.ChangedFiles {
				bv.ChangedFiles = append(bv.ChangedFiles, diffFileJSON{Path: f.Path, Change: string(f.Change), Size: f.Size})
			}
		}
		v.FirstBreak = bv
	}
	if d := p.Divergence; d != nil {
		v.Divergence = &predictDivergeView{Line: d.Line, Instruction: d.Instruction, ImageInstruction: d.ImageInstruction}
	}
	for _, a := range p.Advice {
		v.Advice = append(v.Advice, predictAdviceView{
			Line: a.CopyLine, Instruction: a.Copy, InstallLine: a.InstallLine, Install: a.Install,
			Tool: a.Tool, Manifests: a.Manifests, Fixable: a.Fixable, Message: adviceMessage(a),
		})
	}
	return v
}

// adviceMessage words one piece of Dockerfile advice.
func adviceMessage(a analyze.DockerfileAdvice) string {
	msg := fmt.Sprintf("Line %d %q copies the whole build context before the %s install on line %d, so an edit to any copied file re-runs %s.",
		a.CopyLine, a.Copy, a.Tool, a.InstallLine, plural(a.Steps, "step"))
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

func writePredictTable(w io.Writer, v predictView, noTrunc bool) error {
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
		fmt.Fprintf(w, "Advice: %s\n", termSafe(a.Message))
	}
	for _, n := range v.Notes {
		fmt.Fprintln(w, termSafe(n))
	}
	return nil
}

func writePredictBreak(w io.Writer, v predictView, text func(string, int) string) {
	b := v.FirstBreak
	if b == nil {
		if v.Divergence == nil {
			fmt.Fprintln(w, "No cache break predicted: every step can be reused.")
		}
		return
	}
	why := map[string]string{
		string(analyze.ReasonBaseChanged):        "the base image now resolves to other layers than IMAGE was built on",
		string(analyze.ReasonInstructionChanged): "the instruction differs from IMAGE's",
		string(analyze.ReasonInputsChanged):      "its inputs differ from IMAGE's (copied files or build args)",
	}[b.Reason]
	fmt.Fprintf(w, "First break predicted at line %d, %s: %s: %s.\n", b.Line, text(b.Instruction, 60), b.Reason, why)
	if b.ImageInstruction != "" && b.Reason == string(analyze.ReasonInstructionChanged) {
		fmt.Fprintf(w, "  IMAGE has: %s\n", text(b.ImageInstruction, 80))
	}
	if b.ChangedFiles == nil {
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

func predictTransferText(v predictView) string {
	switch {
	case v.TransferSize == nil:
		return "? (sizes unknown)"
	case v.TransferCompressed:
		return humanSize(*v.TransferSize) + " compressed"
	}
	return humanSize(*v.TransferSize) + " uncompressed (compressed sizes unknown)"
}

// predictRow is one step for a --format template.
type predictRow struct {
	Line        int
	Instruction string
	Verdict     string
	Layer       string
	Size        string
}

func predictRows(v predictView) []any {
	var out []any
	for _, s := range v.Steps {
		r := predictRow{Line: s.Line, Instruction: termSafe(s.Instruction), Verdict: s.Verdict}
		if s.Layer != nil {
			r.Layer = fmt.Sprint(*s.Layer)
		}
		r.Size = sizeOrUnknown(s.Size)
		out = append(out, r)
	}
	return out
}

// termSafe escapes control characters (from a Dockerfile or an image's history)
// before they reach a terminal.
func termSafe(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
