package plugin

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// diffFilesTop is how many changed paths the `diff --files` table shows unless --no-trunc.
const diffFilesTop = 50

// runDiffFiles is `diff --files`: every path whose final content, type or permissions
// differ between the two images' final filesystems, compared by content digest.
func runDiffFiles(cmd *cobra.Command, dockerCli command.Cli, oldRef, newRef string, opts diffOptions) error {
	format, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, opts.format, opts.platform)
	if err != nil {
		return err
	}
	defer stop()
	limitMemory()
	var fss [2]*analyze.Filesystem
	for k, ref := range []string{oldRef, newRef} {
		if fss[k], err = finalFilesystem(ctx, ref, srcOpts); err != nil {
			return imageError(cmd, err)
		}
	}
	v := newDiffFilesView(oldRef, newRef, analyze.DiffFilesystems(fss[0], fss[1]))
	out := dockerCli.Out()
	switch {
	case format.json:
		err = writeJSONStream(out, v)
	case format.tmpl != nil:
		rows := make([]any, len(v.Changes))
		for i, c := range v.Changes {
			rows[i] = c
		}
		err = format.writeTemplate(out, rows)
	default:
		err = writeDiffFilesTable(out, v, opts)
	}
	if err != nil {
		return err
	}
	if opts.exitCode && len(v.Changes) > 0 {
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
}

// finalFilesystem replays every layer of ref, with content digests.
func finalFilesystem(ctx context.Context, ref string, opts source.Options) (*analyze.Filesystem, error) {
	img, err := source.Open(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	fs := analyze.NewFilesystem(len(img.Layers), analyze.FilesOptions{})
	all := make([]int, len(img.Layers))
	for i := range all {
		all[i] = i
	}
	if err := img.StreamEntries(ctx, all, source.EntryOptions{Digests: true}, fs.Apply); err != nil {
		return nil, err
	}
	return fs, nil
}

// diffFilesJSON is the view of `diff --files`.
type diffFilesJSON struct {
	Old     string         `json:"old"`
	New     string         `json:"new"`
	Changes []pathDiffJSON `json:"changes"`
}

// pathDiffJSON is one changed path; it is also the --format template row.
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

func writeDiffFilesTable(w io.Writer, v diffFilesJSON, opts diffOptions) error {
	fmt.Fprintf(w, "Old: %s\nNew: %s\n", printable(v.Old), printable(v.New))
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
	t := table{header: []string{"CHANGE", "OLD SIZE", "NEW SIZE", "PATH"}}
	shown := v.Changes
	if !opts.noTrunc && len(shown) > diffFilesTop {
		shown = shown[:diffFilesTop]
	}
	for _, c := range shown {
		t.append(c.Change, sizeIf(c.OldKind, c.OldSize), sizeIf(c.NewKind, c.NewSize), printable(c.Path))
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
