package plugin

import (
	"fmt"
	"io"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
)

// diffFilesTop is how many changed paths the `diff --files` table shows unless --no-trunc.
const diffFilesTop = 50

// runDiffFiles is `diff --files`: every path whose final content, type or permissions
// differ between the two images' final filesystems, compared by content digest.
func runDiffFiles(cmd *cobra.Command, e *env, oldRef, newRef string, opts diffOptions) error {
	r, err := prepareRun(cmd, e, opts.commonOptions, PathDiffRow{})
	if err != nil {
		return err
	}
	defer r.stop()
	if r.format.html {
		return usageError(cmd, "--format html is not available here yet: use table, json or a template")
	}
	limitMemory()
	replays, err := replayImages(r, e, []string{oldRef, newRef}, analyze.FilesOptions{}, true, nil)
	if err != nil {
		return replayError(cmd, err)
	}
	v := newDiffFilesView(oldRef, newRef, analyze.DiffFilesystems(replays[0].fs, replays[1].fs))
	out := e.dockerCli.Out()
	if r.format.json {
		err = writeOutput(out, r.render.output, func(w io.Writer) error { return writeJSONStream(w, v) })
	} else {
		err = render(out, r.format, v, renderers[diffFilesJSON]{
			table: writeDiffFilesTable,
			rows:  diffFilesRows,
			ids: func(v diffFilesJSON, _ renderOpts) []string {
				ids := make([]string, len(v.Changes))
				for i, c := range v.Changes {
					ids[i] = termSafe(c.Path)
				}
				return ids
			},
		}, r.render)
	}
	if err != nil {
		return err
	}
	if opts.exitCode && len(v.Changes) > 0 {
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
}

// diffFilesJSON is the view of `diff --files`.
type diffFilesJSON struct {
	Old     string         `json:"old"`
	New     string         `json:"new"`
	Changes []pathDiffJSON `json:"changes"`
}

// pathDiffJSON is one changed path.
type pathDiffJSON struct {
	Path    string `json:"path"`
	Change  string `json:"change"`
	OldKind string `json:"oldKind,omitempty"`
	NewKind string `json:"newKind,omitempty"`
	OldSize int64  `json:"oldSize"`
	NewSize int64  `json:"newSize"`
}

func newDiffFilesView(oldRef, newRef string, diffs []analyze.PathDiff) diffFilesJSON {
	v := diffFilesJSON{Old: oldRef, New: newRef, Changes: []pathDiffJSON{}}
	for _, d := range diffs {
		v.Changes = append(v.Changes, pathDiffJSON{Path: d.Path, Change: string(d.Change), OldKind: string(d.OldKind), NewKind: string(d.NewKind), OldSize: d.OldSize, NewSize: d.NewSize})
	}
	return v
}

// PathDiffRow is a --format template row of `diff --files`: one per changed path.
type PathDiffRow struct {
	Path             string
	Change           string
	OldKind, NewKind string
	OldSize, NewSize string
	OldBytes         int64
	NewBytes         int64
}

func diffFilesRows(v diffFilesJSON, _ renderOpts) []any {
	rows := make([]any, len(v.Changes))
	for i, c := range v.Changes {
		rows[i] = PathDiffRow{Path: c.Path, Change: c.Change, OldKind: c.OldKind, NewKind: c.NewKind,
			OldSize: sizeIf(c.OldKind, c.OldSize), NewSize: sizeIf(c.NewKind, c.NewSize), OldBytes: c.OldSize, NewBytes: c.NewSize}
	}
	return rows
}

func writeDiffFilesTable(w io.Writer, v diffFilesJSON, opts renderOpts) error {
	fmt.Fprintf(w, "Old: %s\nNew: %s\n", termSafe(v.Old), termSafe(v.New))
	if len(v.Changes) == 0 {
		fmt.Fprintln(w, "\nThe final filesystems are the same: every path has the same type, permissions and content.")
		return nil
	}
	counts := map[string]int{}
	for _, c := range v.Changes {
		counts[c.Change]++
	}
	fmt.Fprintf(w, "\n%s: %d added, %d modified, %d deleted, %d type changed, %d permissions changed\n",
		plural(len(v.Changes), "path"), counts[string(analyze.FileAdded)], counts[string(analyze.FileModified)],
		counts[string(analyze.FileDeleted)], counts[string(analyze.FileTypeChanged)], counts[string(analyze.FileModeChanged)])
	t := table{header: []string{"CHANGE", "OLD SIZE", "NEW SIZE", "PATH"}, flex: -1}
	shown := v.Changes
	if !opts.noTrunc && len(shown) > diffFilesTop {
		shown = shown[:diffFilesTop]
	}
	for _, c := range shown {
		t.append(c.Change, sizeIf(c.OldKind, c.OldSize), sizeIf(c.NewKind, c.NewSize), termSafe(c.Path))
	}
	if err := t.render(w); err != nil {
		return err
	}
	if rest := len(v.Changes) - len(shown); rest > 0 {
		fmt.Fprintf(w, "… and %d more (--no-trunc shows all)\n", rest)
	}
	return nil
}

// sizeIf is a regular file's uncompressed size, "-" where the path is absent or not a file.
func sizeIf(kind string, size int64) string {
	if kind != string(analyze.KindFile) {
		return "-"
	}
	return humanSize(size)
}
