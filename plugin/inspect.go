package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type inspectOptions struct {
	format       string
	noTrunc      bool
	layersOnly   bool
	platform     string
	uncompressed bool
	files        bool
	rwThreshold  string
}

func newInspectCommand(dockerCli command.Cli) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE|CONTAINER [IMAGE|CONTAINER...]",
		Short: "Show each layer's size and the instruction that made it",
		Long: `Show each layer of an image, bottom to top: its uncompressed size, its compressed
size where the source stores compressed blobs, its share of the image, and the
instruction that made it. Metadata-only steps (ENV, CMD, ...) appear between the layers.

IMAGE is one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry (manifest and config only)
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout

CONTAINER is container:NAME or container:ID, or a bare name or ID that the engine
has no image by: the container's image as above, plus its writable layer on top (its
size as "docker ps -s" counts it), its mounts, and warnings where its data is at risk.
A name that is both an image and a container means the image; stderr says so.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd, dockerCli, args, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", formatHelp)
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output: full IDs and the raw history text")
	flags.BoolVar(&opts.layersOnly, "layers-only", false, "Show only the steps that made a layer")
	flags.BoolVar(&opts.uncompressed, "uncompressed", false, "For docker:// images, download every layer blob to measure uncompressed sizes (nothing is kept on disk)")
	flags.BoolVar(&opts.files, "files", false, "For a container: list the paths its writable layer added, changed and deleted, with their sizes")
	flags.StringVar(&opts.rwThreshold, "rw-threshold", "100MB", "For a container: warn about a directory holding this much of the writable layer outside any volume")
	addPlatformFlag(flags, &opts.platform)
	return cmd
}

func runInspect(cmd *cobra.Command, dockerCli command.Cli, refs []string, opts inspectOptions) error {
	format, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, opts.format, opts.platform)
	if err != nil {
		return err
	}
	defer stop()
	threshold, err := parseThreshold(cmd, opts.rwThreshold)
	if err != nil {
		return err
	}

	var results []analyze.Inspection
	containers := make([]*containerJSON, len(refs))
	for i, ref := range refs {
		res, err := source.ResolveContainer(ctx, ref, srcOpts)
		if err != nil {
			return imageError(cmd, err)
		}
		if res.Note != "" {
			fmt.Fprintln(dockerCli.Err(), res.Note)
		}
		if res.Container != "" {
			in, c, err := inspectContainer(ctx, res.Container, srcOpts, analyze.ContainerOptions{GrowthThreshold: threshold, AllSizes: opts.files})
			if err != nil {
				return imageError(cmd, err)
			}
			results = append(results, in)
			containers[i] = newContainerJSON(c, opts.files)
			continue
		}
		in, downloaded, err := inspectImage(ctx, ref, srcOpts, opts.uncompressed)
		if err != nil {
			return imageError(cmd, err)
		}
		if downloaded > 0 {
			fmt.Fprintf(dockerCli.Err(), "%s: downloaded %s (%d bytes) from the registry to measure uncompressed sizes; nothing was kept\n", ref, humanSize(downloaded), downloaded)
		}
		results = append(results, in)
	}
	out := dockerCli.Out()
	switch {
	case format.json:
		views := make([]inspectJSON, len(results))
		for i, in := range results {
			views[i] = newInspectJSON(in)
			views[i].Container = containers[i]
		}
		return writeJSON(out, views)
	case format.tmpl != nil:
		var rows []any
		for i, in := range results {
			imageRows := inspectRows(in, opts)
			if c := containers[i]; c != nil {
				for j, r := range imageRows {
					r := r.(InspectRow)
					r.Container = c.Name
					imageRows[j] = r
				}
				imageRows = append(imageRows, writableRow(in, c, opts.noTrunc))
			}
			rows = append(rows, imageRows...)
		}
		return format.writeTemplate(out, rows)
	}
	for i, in := range results {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if err := writeInspectTable(out, in, opts); err != nil {
			return err
		}
		if containers[i] != nil {
			if err := writeContainerTable(out, containers[i], opts.noTrunc); err != nil {
				return err
			}
		}
	}
	return nil
}

// inspectImage inspects ref; uncompressed sizes of a registry image are measured
// (downloading every layer blob) only when download is true. downloaded is how many
// bytes that took.
func inspectImage(ctx context.Context, ref string, opts source.Options, download bool) (in analyze.Inspection, downloaded int64, err error) {
	img, err := source.Open(ctx, ref, opts)
	if err != nil {
		return analyze.Inspection{}, 0, err
	}
	defer img.Close()
	if !img.Remote || download {
		before := img.BytesDownloaded()
		if err := img.MeasureSizes(ctx); err != nil {
			return analyze.Inspection{}, 0, err
		}
		downloaded = img.BytesDownloaded() - before
	}
	return analyze.Inspect(img.Image), downloaded, nil
}

// withEngine lets the source reach the engine the docker CLI talks to (its context,
// DOCKER_HOST, TLS and API version negotiation), only when a reference needs it, and
// shows progress of long reads on stderr when it is a terminal.
func withEngine(dockerCli command.Cli, opts source.Options) source.Options {
	opts.Daemon = func() (source.DaemonClient, error) {
		c := dockerCli.Client()
		if c == nil {
			return nil, fmt.Errorf("no Docker engine client")
		}
		return c, nil
	}
	opts.Containers = func() (source.ContainerClient, error) {
		c := dockerCli.Client()
		if c == nil {
			return nil, fmt.Errorf("no Docker engine client")
		}
		return c, nil
	}
	if errOut := dockerCli.Err(); errOut != nil && errOut.IsTerminal() {
		opts.Progress = func(p source.Progress) {
			if p.Done {
				fmt.Fprintf(errOut, "\r\033[K%s: %s: %s read\n", p.Ref, p.What, humanSize(p.Bytes))
				return
			}
			fmt.Fprintf(errOut, "\r\033[K%s: %s: %s read", p.Ref, p.What, humanSize(p.Bytes))
		}
	}
	return opts
}

// prepareRun is what every command does before any I/O: check --format and --platform
// (usage errors first), reach the engine only if a reference needs it, and make Ctrl-C
// cancel whatever is read.
func prepareRun(cmd *cobra.Command, dockerCli command.Cli, formatFlag, platform string) (outputFormat, source.Options, context.Context, context.CancelFunc, error) {
	format, err := parseFormat(cmd, formatFlag)
	if err != nil {
		return outputFormat{}, source.Options{}, nil, nil, err
	}
	srcOpts, err := sourceOptions(cmd, platform)
	if err != nil {
		return outputFormat{}, source.Options{}, nil, nil, err
	}
	ctx, stop := commandContext(cmd)
	return format, withEngine(dockerCli, srcOpts), ctx, stop, nil
}

// commandContext is cancelled by Ctrl-C or SIGTERM, so long reads stop promptly.
func commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func addPlatformFlag(flags interface {
	StringVar(*string, string, string, string)
}, p *string) {
	flags.StringVar(p, "platform", "", "Platform to pick from a multi-platform image: os/arch[/variant] (default: linux/amd64, or the only one)")
}

func sourceOptions(cmd *cobra.Command, platform string) (source.Options, error) {
	var opts source.Options
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return opts, usageError(cmd, fmt.Sprintf("invalid --platform %q: want os/arch[/variant]", platform))
		}
		opts.Platform = p
	}
	return opts, nil
}

// imageError gives a source error its exit code: a bad reference is a usage error.
func imageError(cmd *cobra.Command, err error) error {
	switch {
	case errorsIs(err, context.Canceled):
		return err
	case errorsIs(err, source.ErrUsage):
		return cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
	}
	return cli.StatusError{StatusCode: ExitImage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
}

func writeInspectTable(w io.Writer, in analyze.Inspection, opts inspectOptions) error {
	fmt.Fprintf(w, "Image: %s (%s, %s)\n", in.Image, shortID(in.ID, opts.noTrunc), platformOf(in))
	compressed := in.CompressedSize != analyze.Unknown || anyCompressed(in.Layers)
	t := &table{header: []string{"#", "UNCOMPRESSED", "SHARE", "INSTRUCTION"}}
	if compressed {
		t.header = []string{"#", "UNCOMPRESSED", "COMPRESSED", "SHARE", "INSTRUCTION"}
	}
	row := func(index, size, csize, share, instr string) {
		if compressed {
			t.append(index, size, csize, share, instr)
		} else {
			t.append(index, size, share, instr)
		}
	}
	text := func(instruction, createdBy string) string {
		if opts.noTrunc {
			return strings.Join(strings.Fields(createdBy), " ")
		}
		return ellipsis(instruction, 80)
	}
	if !in.HistoryMatched {
		for _, l := range in.Layers {
			row(fmt.Sprint(l.Index), humanSize(l.Size), humanSize(l.CompressedSize), share(l.Size, in.Size), "?")
		}
	} else {
		for _, s := range in.Steps {
			if s.Layer < 0 {
				if !opts.layersOnly {
					row("", "", "", "", text(s.Instruction, s.CreatedBy))
				}
				continue
			}
			l := in.Layers[s.Layer]
			row(fmt.Sprint(l.Index), humanSize(l.Size), humanSize(l.CompressedSize), share(l.Size, in.Size), text(stepText(s), s.CreatedBy))
		}
	}
	if err := t.render(w); err != nil {
		return err
	}
	total := fmt.Sprintf("Total: %s uncompressed", humanSize(in.Size))
	if compressed {
		total += fmt.Sprintf(", %s compressed", humanSize(in.CompressedSize))
	}
	fmt.Fprintf(w, "%s, %s, %s\n", total, plural(len(in.Layers), "layer"), plural(len(in.Steps)-layerSteps(in.Steps), "metadata-only step"))
	if !in.HistoryMatched {
		fmt.Fprintf(w, "Note: %s\n", in.HistoryProblem)
	}
	if in.Size == analyze.Unknown {
		fmt.Fprintln(w, "Note: ? = unknown: a registry records only compressed sizes; --uncompressed streams the layers to measure them")
	}
	c := in.Config
	fmt.Fprintf(w, "User: %s   Workdir: %s\n", orDefault(c.User, "root (default)"), orDefault(c.WorkingDir, "/ (default)"))
	fmt.Fprintf(w, "Entrypoint: %s   Cmd: %s\n", argv(c.Entrypoint), argv(c.Cmd))
	fmt.Fprintf(w, "Exposed ports: %s   Volumes: %s\n", list(c.ExposedPorts), list(c.Volumes))
	if len(c.Volumes) > 0 {
		fmt.Fprintln(w, "Note: data written under a VOLUME path lives in a volume, outside every layer: it is in no image and in none of these sizes.")
	}
	return nil
}

// stepText labels a layer whose step has no history text (docker import, hand-made).
func stepText(s analyze.Step) string {
	if s.Instruction == "" && s.Comment != "" {
		return "(" + s.Comment + ")"
	}
	return s.Instruction
}

func layerSteps(steps []analyze.Step) int {
	n := 0
	for _, s := range steps {
		if !s.EmptyLayer {
			n++
		}
	}
	return n
}

// plural says "1 layer", "2 layers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func anyCompressed(layers []analyze.LayerInfo) bool {
	for _, l := range layers {
		if l.CompressedSize != analyze.Unknown {
			return true
		}
	}
	return false
}

func share(size, total int64) string {
	if size == analyze.Unknown || total == analyze.Unknown {
		return "?"
	}
	if total == 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", float64(size)*100/float64(total))
}

func platformOf(in analyze.Inspection) string {
	p := in.OS + "/" + in.Architecture
	if in.Variant != "" {
		p += "/" + in.Variant
	}
	return p
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func argv(a []string) string {
	if len(a) == 0 {
		return "-"
	}
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func list(a []string) string {
	if len(a) == 0 {
		return "-"
	}
	return strings.Join(a, ", ")
}

// inspectJSON is one image in `inspect --format json`; field names are documented.
type inspectJSON struct {
	Image          string      `json:"image"`
	ID             string      `json:"id"`
	OS             string      `json:"os"`
	Architecture   string      `json:"architecture"`
	Variant        string      `json:"variant,omitempty"`
	Size           *int64      `json:"size"`
	CompressedSize *int64      `json:"compressedSize,omitempty"`
	HistoryMatched bool        `json:"historyMatched"`
	HistoryProblem string      `json:"historyProblem,omitempty"`
	Layers         []layerJSON `json:"layers"`
	Steps          []stepJSON  `json:"steps"`
	Config         configJSON  `json:"config"`
	// Container is the container inspected, on top of its image; absent for an image.
	Container *containerJSON `json:"container,omitempty"`
}

type layerJSON struct {
	Index          int        `json:"index"`
	DiffID         string     `json:"diffID"`
	Digest         string     `json:"digest,omitempty"`
	Size           *int64     `json:"size"`
	CompressedSize *int64     `json:"compressedSize,omitempty"`
	Instruction    string     `json:"instruction"`
	CreatedBy      string     `json:"createdBy"`
	Created        *time.Time `json:"created,omitempty"`
}

type stepJSON struct {
	Instruction string     `json:"instruction"`
	CreatedBy   string     `json:"createdBy"`
	Created     *time.Time `json:"created,omitempty"`
	EmptyLayer  bool       `json:"emptyLayer"`
	Layer       *int       `json:"layer,omitempty"`
}

type configJSON struct {
	User         string            `json:"user"`
	WorkingDir   string            `json:"workingDir"`
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	Env          []string          `json:"env"`
	ExposedPorts []string          `json:"exposedPorts"`
	Volumes      []string          `json:"volumes"`
	Labels       map[string]string `json:"labels"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func digestOrEmpty(h v1.Hash) string {
	if h == (v1.Hash{}) {
		return ""
	}
	return h.String()
}

func newInspectJSON(in analyze.Inspection) inspectJSON {
	v := inspectJSON{
		Image:          in.Image,
		ID:             in.ID,
		OS:             in.OS,
		Architecture:   in.Architecture,
		Variant:        in.Variant,
		Size:           bytesOrNil(in.Size),
		CompressedSize: bytesOrNil(in.CompressedSize),
		HistoryMatched: in.HistoryMatched,
		HistoryProblem: in.HistoryProblem,
		Layers:         []layerJSON{},
		Steps:          []stepJSON{},
		Config: configJSON{
			User:         in.Config.User,
			WorkingDir:   in.Config.WorkingDir,
			Entrypoint:   in.Config.Entrypoint,
			Cmd:          in.Config.Cmd,
			Env:          in.Config.Env,
			ExposedPorts: in.Config.ExposedPorts,
			Volumes:      in.Config.Volumes,
			Labels:       in.Config.Labels,
		},
	}
	for _, l := range in.Layers {
		v.Layers = append(v.Layers, layerJSON{
			Index:          l.Index,
			DiffID:         l.DiffID.String(),
			Digest:         digestOrEmpty(l.Digest),
			Size:           bytesOrNil(l.Size),
			CompressedSize: bytesOrNil(l.CompressedSize),
			Instruction:    l.Instruction,
			CreatedBy:      l.CreatedBy,
			Created:        timeOrNil(l.Created),
		})
	}
	for _, s := range in.Steps {
		sj := stepJSON{Instruction: s.Instruction, CreatedBy: s.CreatedBy, Created: timeOrNil(s.Created), EmptyLayer: s.EmptyLayer}
		if s.Layer >= 0 {
			layer := s.Layer
			sj.Layer = &layer
		}
		v.Steps = append(v.Steps, sj)
	}
	return v
}

// InspectRow is what a --format template sees: one row per step (per layer with
// --layers-only), in build order. Sizes are human-readable; *Bytes fields are bytes
// (-1 when unknown).
type InspectRow struct {
	Image string
	// Container is the container's name when a container was inspected.
	Container       string
	ID              string
	Index           string // layer index, "" for a metadata-only step
	Size            string // uncompressed
	CompressedSize  string
	Share           string
	Bytes           int64 // uncompressed bytes
	CompressedBytes int64
	Instruction     string
	CreatedBy       string
	Created         string // RFC 3339, "" when unknown
	DiffID          string
	Digest          string
	EmptyLayer      bool
}

func inspectRows(in analyze.Inspection, opts inspectOptions) []any {
	var rows []any
	base := InspectRow{Image: in.Image, ID: shortID(in.ID, opts.noTrunc)}
	layerRow := func(l analyze.LayerInfo, s analyze.Step) InspectRow {
		r := base
		r.Index = fmt.Sprint(l.Index)
		r.Size, r.CompressedSize = humanSize(l.Size), humanSize(l.CompressedSize)
		r.Bytes, r.CompressedBytes = l.Size, l.CompressedSize
		r.Share = share(l.Size, in.Size)
		r.DiffID, r.Digest = l.DiffID.String(), digestOrEmpty(l.Digest)
		r.Instruction, r.CreatedBy = s.Instruction, s.CreatedBy
		if !s.Created.IsZero() {
			r.Created = s.Created.UTC().Format(time.RFC3339)
		}
		return r
	}
	if !in.HistoryMatched {
		for _, l := range in.Layers {
			rows = append(rows, layerRow(l, analyze.Step{}))
		}
		return rows
	}
	for _, s := range in.Steps {
		if s.Layer >= 0 {
			rows = append(rows, layerRow(in.Layers[s.Layer], s))
			continue
		}
		if opts.layersOnly {
			continue
		}
		r := base
		r.Instruction, r.CreatedBy, r.EmptyLayer = s.Instruction, s.CreatedBy, true
		r.Bytes, r.CompressedBytes = analyze.Unknown, analyze.Unknown
		if !s.Created.IsZero() {
			r.Created = s.Created.UTC().Format(time.RFC3339)
		}
		rows = append(rows, r)
	}
	return rows
}
