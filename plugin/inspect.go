package plugin

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type inspectOptions struct {
	commonOptions
	layersOnly   bool
	uncompressed bool
	human        bool
	containerOptions
}

func newInspectCommand(e *env) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE|CONTAINER [IMAGE|CONTAINER...]",
		Short: "Show each layer's size and the instruction that made it",
		Long: `Show each layer of an image, bottom to top: its uncompressed size, its compressed
size where the source stores compressed blobs, its share of the image, and the
instruction that made it. Metadata-only steps (ENV, CMD, ...) appear between the layers.

` + imageRefHelp + "\n\n" + containerRefHelp,
		Args:              minArgs(1),
		ValidArgsFunction: completeImagesOrContainers(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd, e, args, opts)
		},
	}
	flags := cmd.Flags()
	addCommonFlags(flags, &opts.commonOptions, "InspectRow (one row per step)", "full IDs and the raw history text", "the layers' diff IDs")
	flags.BoolVar(&opts.layersOnly, "layers-only", false, "Show only the steps that made a layer")
	flags.BoolVar(&opts.human, "human", true, "Print sizes and dates in human readable format")
	addUncompressedFlag(flags, &opts.uncompressed, "every layer blob")
	addContainerFlags(flags, &opts.containerOptions)
	completeFlags(cmd)
	return cmd
}

func runInspect(cmd *cobra.Command, e *env, refs []string, opts inspectOptions) error {
	r, err := prepareRun(cmd, e, opts.commonOptions, InspectRow{})
	if err != nil {
		return err
	}
	defer r.stop()
	co, err := opts.containerOptions.analysis(cmd)
	if err != nil {
		return err
	}
	// A container is read first; its image then loads by ID like any other.
	containers, refs, err := readContainers(r.ctx, e, refs, r.srcOpts, co)
	if err != nil {
		return imageError(cmd, err)
	}
	need := source.Need{Sizes: source.SizesLocal}
	if opts.uncompressed {
		need.Sizes = source.SizesAll
	}
	loaded, err := e.load(r.ctx, refs, r.srcOpts, need)
	if err != nil {
		return imageError(cmd, err)
	}
	defer loaded.Close()
	view := make([]inspectJSON, len(loaded.Images))
	for i, img := range loaded.Images {
		if n := loaded.Downloaded[i]; n > 0 {
			fmt.Fprintf(e.dockerCli.Err(), "%s: downloaded %s (%d bytes) from the registry to measure uncompressed sizes; nothing was kept\n", termSafe(img.Ref), humanSize(n), n)
		}
		in := analyze.Inspect(img.Image)
		if d := containers[i]; d != nil {
			in.Image = d.Container.Image
			view[i] = newInspectJSON(in)
			view[i].Container = newContainerJSON(analyze.InspectContainer(d.Container, in.Config.Volumes, d.Others, d.VolumeSizes, co), opts.files)
			continue
		}
		view[i] = newInspectJSON(in)
	}
	o := inspectRender{renderOpts: r.render, layersOnly: opts.layersOnly, human: opts.human}
	return render(e.dockerCli.Out(), r.format, view, renderers[[]inspectJSON]{
		table: func(w io.Writer, v []inspectJSON, _ renderOpts) error { return writeInspectTables(w, v, o) },
		rows:  func(v []inspectJSON, _ renderOpts) []any { return inspectRows(v, o) },
		ids:   func(v []inspectJSON, _ renderOpts) []string { return inspectIDs(v, o) },
		html:  writeInspectHTML,
	}, r.render)
}

// inspectRender is how the inspect view is rendered.
type inspectRender struct {
	renderOpts
	layersOnly bool
	human      bool
}

// inspectJSON is one image in `inspect --format json`, and the view every inspect
// output is rendered from; field names are documented in the README.
type inspectJSON struct {
	Image          string      `json:"image"`
	ID             string      `json:"id"`
	EngineID       string      `json:"engineID,omitempty"`
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
	// Container is the container inspected, on top of this image; absent for an image.
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
	Comment        string     `json:"comment,omitempty"`
	Created        *time.Time `json:"created,omitempty"`
}

type stepJSON struct {
	Instruction string     `json:"instruction"`
	CreatedBy   string     `json:"createdBy"`
	Comment     string     `json:"comment,omitempty"`
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

func newInspectJSON(in analyze.Inspection) inspectJSON {
	v := inspectJSON{
		Image:          in.Image,
		ID:             in.ID,
		EngineID:       in.EngineID,
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
			Comment:        l.Comment,
			Created:        timeOrNil(l.Created),
		})
	}
	for _, s := range in.Steps {
		sj := stepJSON{Instruction: s.Instruction, CreatedBy: s.CreatedBy, Comment: s.Comment, Created: timeOrNil(s.Created), EmptyLayer: s.EmptyLayer}
		if s.Layer >= 0 {
			layer := s.Layer
			sj.Layer = &layer
		}
		v.Steps = append(v.Steps, sj)
	}
	return v
}

func writeInspectTables(w io.Writer, images []inspectJSON, o inspectRender) error {
	for i, in := range images {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := writeInspectTable(w, in, o); err != nil {
			return err
		}
		if in.Container != nil {
			if err := writeContainerTable(w, in.Container, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeInspectTable(w io.Writer, in inspectJSON, o inspectRender) error {
	fmt.Fprintf(w, "Image: %s (%s, %s)\n", termSafe(in.Image), shortID(in.ID, o.noTrunc), in.platform())
	compressed := in.compressedKnown()
	t := &table{header: []string{"#", "CREATED", "UNCOMPRESSED", "SHARE", "INSTRUCTION"}, width: o.width}
	if compressed {
		t.header = []string{"#", "CREATED", "UNCOMPRESSED", "COMPRESSED", "SHARE", "INSTRUCTION"}
	}
	t.flex = len(t.header) - 1
	size := func(n *int64) string {
		if !o.human && n != nil {
			return fmt.Sprint(*n)
		}
		return jsonSize(n)
	}
	row := func(index, created, usize, csize, share, instr string) {
		if compressed {
			t.append(index, created, usize, csize, share, instr)
		} else {
			t.append(index, created, usize, share, instr)
		}
	}
	text := func(label, createdBy string) string {
		if o.noTrunc {
			return termSafe(strings.Join(strings.Fields(createdBy), " "))
		}
		return termSafe(ellipsis(label, 80))
	}
	if !in.HistoryMatched {
		for _, l := range in.Layers {
			row(fmt.Sprint(l.Index), "?", size(l.Size), size(l.CompressedSize), shareOf(l.Size, in.Size), "?")
		}
	} else {
		for _, s := range in.Steps {
			created := o.created(s.Created)
			if s.Layer == nil {
				if !o.layersOnly {
					row("", created, "", "", "", text(s.Instruction, s.CreatedBy))
				}
				continue
			}
			l := in.Layers[*s.Layer]
			row(fmt.Sprint(l.Index), created, size(l.Size), size(l.CompressedSize), shareOf(l.Size, in.Size), text(stepLabel(s.Instruction, s.Comment), s.CreatedBy))
		}
	}
	if c := in.Container; c != nil {
		// The container's writable layer sits on top of the image's layers.
		row("rw", "", size(c.SizeRw), "", "", "(writable layer of container "+termSafe(c.Name)+")")
	}
	if err := t.render(w); err != nil {
		return err
	}
	total := fmt.Sprintf("Total: %s uncompressed", size(in.Size))
	if compressed {
		total += fmt.Sprintf(", %s compressed", size(in.CompressedSize))
	}
	fmt.Fprintf(w, "%s, %s, %s\n", total, plural(len(in.Layers), "layer"), plural(len(in.Steps)-in.layerSteps(), "metadata-only step"))
	if !in.HistoryMatched {
		fmt.Fprintf(w, "Note: %s\n", in.HistoryProblem)
	}
	if in.Size == nil {
		fmt.Fprintln(w, "Note: ? = unknown: a registry records only compressed sizes; --uncompressed streams the layers to measure them")
	}
	c := in.Config
	fmt.Fprintf(w, "User: %s   Workdir: %s\n", termSafe(orDefault(c.User, "root (default)")), termSafe(orDefault(c.WorkingDir, "/ (default)")))
	fmt.Fprintf(w, "Entrypoint: %s   Cmd: %s\n", argv(c.Entrypoint), argv(c.Cmd))
	fmt.Fprintf(w, "Exposed ports: %s   Volumes: %s\n", termSafe(list(c.ExposedPorts)), termSafe(list(c.Volumes)))
	if len(c.Volumes) > 0 {
		fmt.Fprintln(w, "Note: data written under a VOLUME path lives in a volume, outside every layer: it is in no image and in none of these sizes.")
	}
	return nil
}

// created says when a step ran: "3 days ago", or RFC 3339 with --human=false.
func (o inspectRender) created(t *time.Time) string {
	switch {
	case t == nil:
		return "?"
	case !o.human:
		return t.Format(time.RFC3339)
	}
	return units.HumanDuration(o.now.Sub(*t)) + " ago"
}

func (in inspectJSON) platform() string {
	p := in.OS + "/" + in.Architecture
	if in.Variant != "" {
		p += "/" + in.Variant
	}
	return termSafe(p)
}

func (in inspectJSON) compressedKnown() bool {
	if in.CompressedSize != nil {
		return true
	}
	for _, l := range in.Layers {
		if l.CompressedSize != nil {
			return true
		}
	}
	return false
}

func (in inspectJSON) layerSteps() int {
	n := 0
	for _, s := range in.Steps {
		if !s.EmptyLayer {
			n++
		}
	}
	return n
}

// stepLabel labels a step whose history has no text (docker import, hand-made) with its
// comment: "(Imported from -)".
func stepLabel(instruction, comment string) string {
	if instruction == "" && comment != "" {
		return "(" + comment + ")"
	}
	return instruction
}

func shareOf(size, total *int64) string {
	if size == nil || total == nil {
		return "?"
	}
	if *total == 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", float64(*size)*100/float64(*total))
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

// timeOrNil is a time for JSON, in UTC whole seconds (the engine's precision, so every
// source reads alike); nil when unknown.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}

func digestOrEmpty(h v1.Hash) string {
	if h == (v1.Hash{}) {
		return ""
	}
	return h.String()
}

// InspectRow is what a --format template sees: one row per step (per layer with
// --layers-only), in build order. Sizes are human-readable; *Bytes fields are bytes
// (-1 when unknown).
type InspectRow struct {
	Image string
	// Container is the container's name when a container was inspected; its writable
	// layer is the last row, with Index "rw".
	Container       string
	ID              string
	Index           string // layer index, "" for a metadata-only step
	Size            string // uncompressed
	CompressedSize  string
	Share           string
	Bytes           int64 // uncompressed bytes
	CompressedBytes int64
	Instruction     string // the step's instruction, or its comment in brackets when it has none
	CreatedBy       string
	Comment         string
	Created         string // RFC 3339, "" when unknown
	DiffID          string
	Digest          string
	EmptyLayer      bool
}

func inspectRows(images []inspectJSON, o inspectRender) []any {
	var rows []any
	for _, in := range images {
		base := InspectRow{Image: in.Image, ID: shortID(in.ID, o.noTrunc)}
		if in.Container != nil {
			base.Container = in.Container.Name
		}
		layerRow := func(l layerJSON, s stepJSON) InspectRow {
			r := base
			r.Index = fmt.Sprint(l.Index)
			r.Size, r.CompressedSize = jsonSize(l.Size), jsonSize(l.CompressedSize)
			r.Bytes, r.CompressedBytes = jsonBytes(l.Size), jsonBytes(l.CompressedSize)
			r.Share = shareOf(l.Size, in.Size)
			r.DiffID, r.Digest = l.DiffID, l.Digest
			r.Instruction, r.CreatedBy, r.Comment = stepLabel(s.Instruction, s.Comment), s.CreatedBy, s.Comment
			r.Created = rfc3339(s.Created)
			return r
		}
		steps := in.Steps
		if !in.HistoryMatched {
			for _, l := range in.Layers {
				rows = append(rows, layerRow(l, stepJSON{}))
			}
			steps = nil
		}
		for _, s := range steps {
			if s.Layer != nil {
				rows = append(rows, layerRow(in.Layers[*s.Layer], s))
				continue
			}
			if o.layersOnly {
				continue
			}
			r := base
			r.Instruction, r.CreatedBy, r.Comment, r.EmptyLayer = stepLabel(s.Instruction, s.Comment), s.CreatedBy, s.Comment, true
			r.Bytes, r.CompressedBytes = analyze.Unknown, analyze.Unknown
			r.Created = rfc3339(s.Created)
			rows = append(rows, r)
		}
		if in.Container != nil {
			rows = append(rows, writableRow(base, in.Container))
		}
	}
	return rows
}

// inspectIDs is what -q prints: each layer's diff ID, bottom first.
func inspectIDs(images []inspectJSON, o inspectRender) []string {
	var ids []string
	for _, in := range images {
		for _, l := range in.Layers {
			ids = append(ids, shortID(l.DiffID, o.noTrunc))
		}
	}
	return ids
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

// jsonSize prints a view's size as the table does: human, "?" when unknown.
func jsonSize(n *int64) string {
	if n == nil {
		return "?"
	}
	return humanSize(*n)
}

// jsonBytes is a view's size for a template: bytes, -1 when unknown.
func jsonBytes(n *int64) int64 {
	if n == nil {
		return analyze.Unknown
	}
	return *n
}
