package plugin

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/docker/cli/cli/command"
	"github.com/moby/patternmatcher"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type filesOptions struct {
	format   string
	noTrunc  bool
	platform string
	layer    int
	path     string
	sort     string
	wasted   bool
	ignore   []string
}

// filesTop is how many rows a table shows per list unless --no-trunc.
const filesTop = 10

func newFilesCommand(dockerCli command.Cli) *cobra.Command {
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

IMAGE is one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry (downloads every layer blob)
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFiles(cmd, dockerCli, args[0], opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", formatHelp)
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, fmt.Sprintf("Show every row, not the top %d of each list", filesTop))
	flags.IntVar(&opts.layer, "layer", -1, "Show the changes of layer N only (0 is the bottom layer)")
	flags.StringVar(&opts.path, "path", "", "Show only paths under PREFIX")
	flags.StringVar(&opts.sort, "sort", "size", "Order rows by size or path")
	flags.BoolVar(&opts.wasted, "wasted", false, "List the wasted paths instead of each layer's changes (reads tar headers only where it can)")
	flags.StringArrayVar(&opts.ignore, "ignore", nil, "Leave paths matching PATTERN (a .dockerignore-style glob) out of the wasted figure (repeatable)")
	addPlatformFlag(flags, &opts.platform)
	return cmd
}

func runFiles(cmd *cobra.Command, dockerCli command.Cli, ref string, opts filesOptions) error {
	if opts.sort != "size" && opts.sort != "path" {
		return usageError(cmd, fmt.Sprintf("invalid --sort %q: want size or path", opts.sort))
	}
	ignore, err := ignoreMatcher(opts.ignore)
	if err != nil {
		return usageError(cmd, fmt.Sprintf("invalid --ignore pattern: %v", err))
	}
	format, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, opts.format, opts.platform)
	if err != nil {
		return err
	}
	defer stop()
	limitMemory()
	img, err := source.Open(ctx, ref, srcOpts)
	if err != nil {
		return imageError(cmd, err)
	}
	defer img.Close()
	if opts.layer >= len(img.Layers) {
		return usageError(cmd, fmt.Sprintf("--layer %d: %s has %s (0 to %d)", opts.layer, ref, plural(len(img.Layers), "layer"), len(img.Layers)-1))
	}
	fopts := analyze.FilesOptions{Ignore: ignore}
	if !opts.wasted {
		fopts.Changes = func(layer int, p string) bool {
			return (opts.layer < 0 || layer == opts.layer) && underPrefix(p, opts.path)
		}
	}
	// Duplicate-content hints need digests, so contents; the waste list needs headers.
	report, err := replayImage(ctx, img, fopts, !opts.wasted)
	if err != nil {
		return imageError(cmd, err)
	}
	v := newFilesView(ref, report, opts)
	out := dockerCli.Out()
	switch {
	case format.json:
		return writeJSONStream(out, v)
	case format.tmpl != nil:
		return format.writeTemplate(out, filesRows(v, opts))
	}
	return writeFilesTable(out, v, opts)
}

// replayImage streams every layer of img, bottom first, into a filesystem replay.
func replayImage(ctx context.Context, img *source.Image, opts analyze.FilesOptions, digests bool) (analyze.Files, error) {
	fs := analyze.NewFilesystem(len(img.Layers), opts)
	all := make([]int, len(img.Layers))
	for i := range all {
		all[i] = i
	}
	if err := img.StreamEntries(ctx, all, source.EntryOptions{Digests: digests}, fs.Apply); err != nil {
		return analyze.Files{}, err
	}
	steps, _, _ := analyze.Steps(img.Config, len(img.Layers))
	return fs.Report(steps), nil
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

// fileChangeRow is a --format template row of `files`: one per change.
type fileChangeRow struct {
	Layer       int
	Instruction string
	Path        string
	Change      string
	Size        string
	Bytes       int64
}

// wastedRow is a --format template row of `files --wasted`: one per wasted path.
type wastedRow struct {
	Path                string
	Size                string
	Bytes               int64
	Layers              string
	HiddenBy            int
	HiddenByInstruction string
}

func filesRows(v filesJSON, opts filesOptions) []any {
	var rows []any
	if opts.wasted {
		for _, w := range v.Wasted {
			rows = append(rows, wastedRow{Path: w.Path, Size: humanSize(w.Size), Bytes: w.Size, Layers: layerList(w.Layers),
				HiddenBy: w.HiddenBy, HiddenByInstruction: w.HiddenByInstruction})
		}
		return rows
	}
	for _, l := range v.Layers {
		for _, c := range l.Changes {
			rows = append(rows, fileChangeRow{Layer: l.Index, Instruction: l.Instruction, Path: c.Path, Change: c.Change, Size: humanSize(c.Size), Bytes: c.Size})
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

func writeFilesTable(w io.Writer, v filesJSON, opts filesOptions) error {
	fmt.Fprintf(w, "Image: %s\n", printable(v.Image))
	fmt.Fprintf(w, "Size: %s uncompressed, wasted %s (%s), efficiency %.1f%%\n",
		humanSize(v.Size), humanSize(v.WastedSize), share(v.WastedSize, v.Size), math.Floor(1000*v.Efficiency)/10)
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

func writeLayerChanges(w io.Writer, l filesLayerJSON, opts filesOptions) error {
	instr := orDefault(l.Instruction, "(history unknown)")
	if !opts.noTrunc {
		instr = ellipsis(instr, 60)
	}
	fmt.Fprintf(w, "\nLayer %d: %s uncompressed, %s — %s\n", l.Index, humanSize(l.Size), plural(len(l.Changes), "change"), printable(instr))
	if len(l.Changes) == 0 {
		return nil
	}
	t := table{header: []string{"CHANGE", "SIZE", "PATH"}}
	shown := l.Changes
	if !opts.noTrunc && len(shown) > filesTop {
		shown = shown[:filesTop]
	}
	for _, c := range shown {
		t.append(c.Change, humanSize(c.Size), printable(c.Path))
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

func writeWastedTable(w io.Writer, wasted []wastedPathJSON, opts filesOptions) error {
	fmt.Fprintln(w)
	if len(wasted) == 0 {
		fmt.Fprintln(w, "No wasted space: no layer hides bytes of a layer below it.")
		return nil
	}
	t := table{header: []string{"WASTED", "IN LAYERS", "HIDDEN BY", "PATH"}}
	shown := wasted
	if !opts.noTrunc && len(shown) > filesTop*2 {
		shown = shown[:filesTop*2]
	}
	for _, p := range shown {
		by := strconv.Itoa(p.HiddenBy)
		if p.HiddenByInstruction != "" {
			by += " " + ellipsisUnless(p.HiddenByInstruction, 40, opts.noTrunc)
		}
		t.append(humanSize(p.Size), layerList(p.Layers), printable(by), printable(p.Path))
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
				printable(strings.Join(paths, ", ")), more, h.Kind, h.Fix)
		}
	}
	if len(v.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes (reported, never followed):")
		for _, n := range v.Notes {
			fmt.Fprintf(w, "  layer %d: %s: %s\n", n.Layer, printable(n.Path), printable(n.Note))
		}
	}
}

func ellipsisUnless(s string, n int, noTrunc bool) string {
	if noTrunc {
		return s
	}
	return ellipsis(s, n)
}

// printable escapes control characters, so a crafted file name cannot drive the terminal.
func printable(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
