package plugin

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/moby/patternmatcher"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type filesOptions struct {
	commonOptions
	layer  int
	path   string
	sort   string
	wasted bool
	ignore []string
}

// filesTop is how many rows a table shows per list unless --no-trunc.
const filesTop = 10

func newFilesCommand(e *env) *cobra.Command {
	opts := filesOptions{layer: -1}
	cmd := &cobra.Command{
		Use:   "files [OPTIONS] IMAGE",
		Short: "Show what each layer changed, and the bytes later layers hid (wasted space)",
		Long: `Show, per layer, the paths it added, modified and deleted, with their uncompressed
sizes; the wasted space of the image; and known bloat with its fix.

Wasted space is the uncompressed bytes of file versions stored in a layer but hidden from
the final filesystem, because a later layer overwrote or deleted them (its own whiteout, a
whiteout of a parent directory, an opaque directory): each hidden version counts once, the
visible version never, a hardlinked file once, and a copy at another path is not waste.
Efficiency is 1 − wasted ÷ the total uncompressed size of all layers.

Every layer is read (from a registry: downloaded). ` + imageRefHelp,
		Args:              exactArgs(1),
		ValidArgsFunction: completeImages(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFiles(cmd, e, args[0], opts)
		},
	}
	flags := cmd.Flags()
	addCommonFlags(flags, &opts.commonOptions, "FilesRow (one row per change) or, with --wasted, WastedRow (one per wasted path)",
		fmt.Sprintf("every row, not the top %d of each list", filesTop), "the paths")
	flags.IntVar(&opts.layer, "layer", -1, "Show the changes of layer N only (0 is the bottom layer)")
	flags.StringVar(&opts.path, "path", "", "Show only paths under PREFIX")
	flags.StringVar(&opts.sort, "sort", "size", "Order rows by size or path")
	flags.BoolVar(&opts.wasted, "wasted", false, "List the wasted paths instead of each layer's changes (no per-file hashing)")
	flags.StringArrayVar(&opts.ignore, "ignore", nil, "Leave paths matching PATTERN (a .dockerignore-style glob) out of the wasted figure (repeatable)")
	completeFlags(cmd)
	return cmd
}

func runFiles(cmd *cobra.Command, e *env, ref string, opts filesOptions) error {
	if opts.sort != "size" && opts.sort != "path" {
		return usageError(cmd, fmt.Sprintf("invalid --sort %q: want size or path", opts.sort))
	}
	ignore, err := ignoreMatcher(opts.ignore)
	if err != nil {
		return usageError(cmd, fmt.Sprintf("invalid --ignore pattern: %v", err))
	}
	var row any = FilesRow{}
	if opts.wasted {
		row = WastedRow{}
	}
	r, err := prepareRun(cmd, e, opts.commonOptions, row)
	if err != nil {
		return err
	}
	defer r.stop()
	limitMemory()
	fopts := analyze.FilesOptions{Ignore: ignore}
	if !opts.wasted {
		fopts.Changes = func(layer int, p string) bool {
			return (opts.layer < 0 || layer == opts.layer) && underPrefix(p, opts.path)
		}
	}
	report, err := replayImages(r, e, []string{ref}, fopts, !opts.wasted, func(img *source.Image) error {
		if opts.layer >= len(img.Layers) {
			return usageError(cmd, fmt.Sprintf("--layer %d: %s has %s (0 to %d)", opts.layer, ref, plural(len(img.Layers), "layer"), len(img.Layers)-1))
		}
		return nil
	})
	if err != nil {
		return replayError(cmd, err)
	}
	v := newFilesView(ref, report[0].fs.Report(report[0].steps), opts)
	if r.format.json {
		// Row by row: a million wasted paths are never one encoded buffer.
		return writeOutput(e.dockerCli.Out(), r.render.output, func(w io.Writer) error { return writeJSONStream(w, v) })
	}
	o := filesRender{renderOpts: r.render, filesOptions: opts}
	return render(e.dockerCli.Out(), r.format, v, renderers[filesJSON]{
		table: func(w io.Writer, v filesJSON, _ renderOpts) error { return writeFilesTable(w, v, o) },
		rows:  func(v filesJSON, _ renderOpts) []any { return filesRows(v, o) },
		ids:   func(v filesJSON, _ renderOpts) []string { return filesIDs(v, o) },
		html:  writeFilesHTML,
	}, r.render)
}

// filesRender is how the files view is rendered.
type filesRender struct {
	renderOpts
	filesOptions
}

// replayed is one image replayed as a filesystem.
type replayed struct {
	fs    *analyze.Filesystem
	steps []analyze.Step
}

// replayImages reads every layer of each image once, bottom first, into a filesystem
// replay; check, if set, vets each image once it is open (before any layer is read).
func replayImages(r *run, e *env, refs []string, opts analyze.FilesOptions, digests bool, check func(*source.Image) error) ([]replayed, error) {
	out := make([]replayed, len(refs))
	var checkErr error
	need := source.Need{
		Files: func(images []*source.Image) [][]int {
			all := make([][]int, len(images))
			for k, img := range images {
				if check != nil && checkErr == nil {
					checkErr = check(img)
				}
				out[k].fs = analyze.NewFilesystem(len(img.Layers), opts)
				out[k].steps = img.Image.History().Steps
				for i := range img.Layers {
					all[k] = append(all[k], i)
				}
			}
			if checkErr != nil {
				return nil
			}
			return all
		},
		Replay: func(k, layer int, f analyze.File) error {
			if !digests {
				// A source that hashes anyway (an engine export) must not make the
				// output differ from one that does not.
				f.Digest = ""
			}
			return out[k].fs.Apply(layer, f)
		},
		ReplayDigests: digests,
	}
	loaded, err := e.load(r.ctx, refs, r.srcOpts, need)
	if checkErr != nil {
		if loaded != nil {
			loaded.Close()
		}
		return nil, checkErr
	}
	if err != nil {
		return nil, err
	}
	loaded.Close()
	return out, nil
}

// replayError gives a replay's error its exit code; a usage error found once the image
// was open (--layer out of range) already has one.
func replayError(cmd *cobra.Command, err error) error {
	var status cli.StatusError
	if errors.As(err, &status) {
		return err
	}
	return imageError(cmd, err)
}

// filesMemoryLimit is the soft heap limit of the commands that replay every layer. Their
// live heap grows with paths (~150 MB at a million); without a limit the collector lets
// the heap double past it before collecting. Above the limit the collector runs more
// often, never holding the command back by more than half its CPU. GOMEMLIMIT wins.
const filesMemoryLimit = 256 << 20

func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(filesMemoryLimit)
	}
}

// ignoreMatcher matches absolute paths against .dockerignore-style patterns (a pattern
// also covers everything under a directory it matches); nil for no patterns.
func ignoreMatcher(patterns []string) (func(string) bool, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	rel := make([]string, len(patterns))
	for i, p := range patterns {
		rel[i] = strings.TrimPrefix(p, "/")
	}
	m, err := patternmatcher.New(rel)
	if err != nil {
		return nil, err
	}
	return func(p string) bool {
		ok, err := m.MatchesOrParentMatches(strings.TrimPrefix(p, "/"))
		return err == nil && ok
	}, nil
}

func underPrefix(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	if !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// filesJSON is the view of `files`: JSON is this struct, and the table and template rows
// are rendered from it.
type filesJSON struct {
	Image      string           `json:"image"`
	Size       int64            `json:"size"`
	WastedSize int64            `json:"wastedSize"`
	Efficiency float64          `json:"efficiency"`
	Layers     []filesLayerJSON `json:"layers"`
	Wasted     []wastedPathJSON `json:"wasted"`
	Hints      []filesHintJSON  `json:"hints"`
	Notes      []filesNoteJSON  `json:"notes,omitempty"`
}

type filesLayerJSON struct {
	Index       int              `json:"index"`
	Instruction string           `json:"instruction"`
	Size        int64            `json:"size"`
	Changes     []fileChangeJSON `json:"changes"`
}

type fileChangeJSON struct {
	Path   string `json:"path"`
	Change string `json:"change"`
	Size   int64  `json:"size"`
}

type wastedPathJSON struct {
	Path                string `json:"path"`
	Size                int64  `json:"size"`
	Layers              []int  `json:"layers"`
	HiddenBy            int    `json:"hiddenBy"`
	HiddenByInstruction string `json:"hiddenByInstruction"`
}

type filesHintJSON struct {
	Kind  string   `json:"kind"`
	Layer int      `json:"layer"`
	Paths []string `json:"paths"`
	Size  int64    `json:"size"`
	Fix   string   `json:"fix"`
}

type filesNoteJSON struct {
	Layer int    `json:"layer"`
	Path  string `json:"path"`
	Note  string `json:"note"`
}

func newFilesView(ref string, r analyze.Files, opts filesOptions) filesJSON {
	v := filesJSON{Image: ref, Size: r.Size, WastedSize: r.WastedSize, Efficiency: r.Efficiency,
		Layers: []filesLayerJSON{}, Wasted: []wastedPathJSON{}, Hints: []filesHintJSON{}}
	for _, l := range r.Layers {
		lj := filesLayerJSON{Index: l.Index, Instruction: l.Instruction, Size: l.Size, Changes: []fileChangeJSON{}}
		for _, c := range l.Changes {
			lj.Changes = append(lj.Changes, fileChangeJSON{Path: c.Path, Change: string(c.Change), Size: c.Size})
		}
		if opts.sort == "path" {
			sort.SliceStable(lj.Changes, func(a, b int) bool { return lj.Changes[a].Path < lj.Changes[b].Path })
		}
		v.Layers = append(v.Layers, lj)
	}
	for _, w := range r.Wasted {
		if !underPrefix(w.Path, opts.path) || (opts.layer >= 0 && w.HiddenBy != opts.layer && !containsLayer(w.Layers, opts.layer)) {
			continue
		}
		v.Wasted = append(v.Wasted, wastedPathJSON{Path: w.Path, Size: w.Size, Layers: w.Layers, HiddenBy: w.HiddenBy, HiddenByInstruction: w.HiddenByInstruction})
	}
	if opts.sort == "path" {
		sort.SliceStable(v.Wasted, func(a, b int) bool { return v.Wasted[a].Path < v.Wasted[b].Path })
	}
	for _, h := range r.Hints {
		v.Hints = append(v.Hints, filesHintJSON{Kind: string(h.Kind), Layer: h.Layer, Paths: h.Paths, Size: h.Size, Fix: h.Fix})
	}
	for _, n := range r.Notes {
		v.Notes = append(v.Notes, filesNoteJSON{Layer: n.Layer, Path: n.Path, Note: n.Text})
	}
	return v
}

func containsLayer(layers []int, n int) bool {
	for _, l := range layers {
		if l == n {
			return true
		}
	}
	return false
}

// FilesRow is a --format template row of `files`: one per change.
type FilesRow struct {
	Layer       int
	Instruction string
	Path        string
	Change      string
	Size        string
	Bytes       int64
}

// WastedRow is a --format template row of `files --wasted`: one per wasted path.
type WastedRow struct {
	Path                string
	Size                string
	Bytes               int64
	Layers              string
	HiddenBy            int
	HiddenByInstruction string
}

func filesRows(v filesJSON, opts filesRender) []any {
	var rows []any
	if opts.wasted {
		for _, w := range v.Wasted {
			rows = append(rows, WastedRow{Path: w.Path, Size: humanSize(w.Size), Bytes: w.Size, Layers: layerList(w.Layers),
				HiddenBy: w.HiddenBy, HiddenByInstruction: w.HiddenByInstruction})
		}
		return rows
	}
	for _, l := range v.Layers {
		for _, c := range l.Changes {
			rows = append(rows, FilesRow{Layer: l.Index, Instruction: l.Instruction, Path: c.Path, Change: c.Change, Size: humanSize(c.Size), Bytes: c.Size})
		}
	}
	return rows
}

func layerList(layers []int) string {
	s := make([]string, len(layers))
	for i, l := range layers {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s, ",")
}

func writeFilesTable(w io.Writer, v filesJSON, opts filesRender) error {
	fmt.Fprintf(w, "Image: %s\n", termSafe(v.Image))
	fmt.Fprintf(w, "Size: %s uncompressed, wasted %s (%s), efficiency %.1f%%\n",
		humanSize(v.Size), humanSize(v.WastedSize), percent(v.WastedSize, v.Size), math.Floor(1000*v.Efficiency)/10)
	if opts.wasted {
		if err := writeWastedTable(w, v.Wasted, opts); err != nil {
			return err
		}
	} else {
		for _, l := range v.Layers {
			if opts.layer >= 0 && l.Index != opts.layer {
				continue
			}
			if err := writeLayerChanges(w, l, opts); err != nil {
				return err
			}
		}
	}
	writeHintsAndNotes(w, v)
	return nil
}

func writeLayerChanges(w io.Writer, l filesLayerJSON, opts filesRender) error {
	instr := orDefault(l.Instruction, "(history unknown)")
	if !opts.noTrunc {
		instr = ellipsis(instr, 60)
	}
	fmt.Fprintf(w, "\nLayer %d: %s uncompressed, %s — %s\n", l.Index, humanSize(l.Size), plural(len(l.Changes), "change"), termSafe(instr))
	if len(l.Changes) == 0 {
		return nil
	}
	t := table{header: []string{"CHANGE", "SIZE", "PATH"}, flex: -1}
	shown := l.Changes
	if !opts.noTrunc && len(shown) > filesTop {
		shown = shown[:filesTop]
	}
	for _, c := range shown {
		t.append(c.Change, humanSize(c.Size), termSafe(c.Path))
	}
	if err := t.render(w); err != nil {
		return err
	}
	if rest := len(l.Changes) - len(shown); rest > 0 {
		var bytes int64
		for _, c := range l.Changes[len(shown):] {
			bytes += c.Size
		}
		fmt.Fprintf(w, "… and %d more (%s; --no-trunc shows all)\n", rest, humanSize(bytes))
	}
	return nil
}

func writeWastedTable(w io.Writer, wasted []wastedPathJSON, opts filesRender) error {
	fmt.Fprintln(w)
	if len(wasted) == 0 {
		fmt.Fprintln(w, "No wasted space: no layer hides bytes of a layer below it.")
		return nil
	}
	t := table{header: []string{"WASTED", "IN LAYERS", "HIDDEN BY", "PATH"}, flex: -1}
	shown := wasted
	if !opts.noTrunc && len(shown) > filesTop*2 {
		shown = shown[:filesTop*2]
	}
	for _, p := range shown {
		by := strconv.Itoa(p.HiddenBy)
		if p.HiddenByInstruction != "" {
			by += " " + ellipsisUnless(p.HiddenByInstruction, 40, opts.noTrunc)
		}
		t.append(humanSize(p.Size), layerList(p.Layers), termSafe(by), termSafe(p.Path))
	}
	if err := t.render(w); err != nil {
		return err
	}
	if rest := len(wasted) - len(shown); rest > 0 {
		var bytes int64
		for _, p := range wasted[len(shown):] {
			bytes += p.Size
		}
		fmt.Fprintf(w, "… and %d more (%s; --no-trunc shows all)\n", rest, humanSize(bytes))
	}
	return nil
}

func writeHintsAndNotes(w io.Writer, v filesJSON) {
	if len(v.Hints) > 0 {
		fmt.Fprintln(w, "\nHints:")
		for _, h := range v.Hints {
			paths := h.Paths
			more := ""
			if len(paths) > 3 {
				paths, more = paths[:3], fmt.Sprintf(" and %d more", len(h.Paths)-3)
			}
			fmt.Fprintf(w, "  layer %d: %s uncompressed in %s%s (%s) — fix: %s\n", h.Layer, humanSize(h.Size),
				termSafe(strings.Join(paths, ", ")), more, h.Kind, h.Fix)
		}
	}
	if len(v.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes (reported, never followed):")
		for _, n := range v.Notes {
			fmt.Fprintf(w, "  layer %d: %s: %s\n", n.Layer, termSafe(n.Path), termSafe(n.Note))
		}
	}
}

func ellipsisUnless(s string, n int, noTrunc bool) string {
	if noTrunc {
		return s
	}
	return ellipsis(s, n)
}

// percent is part of total in percent, one decimal.
func percent(part, total int64) string {
	if total <= 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(total))
}

// filesIDs are what -q prints: the paths listed.
func filesIDs(v filesJSON, o filesRender) []string {
	var ids []string
	if o.wasted {
		for _, w := range v.Wasted {
			ids = append(ids, termSafe(w.Path))
		}
		return ids
	}
	for _, l := range v.Layers {
		for _, c := range l.Changes {
			ids = append(ids, termSafe(c.Path))
		}
	}
	return ids
}
