package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// renderOpts are the choices every renderer honours.
type renderOpts struct {
	// noTrunc shows full IDs, raw history text and every row.
	noTrunc bool
	// quiet prints only IDs (-q).
	quiet bool
	// width is the terminal's width in columns; 0 when stdout is not a terminal.
	width int
	// now is the time "2 hours ago" counts from.
	now time.Time
	// output is the file --output names; "" for stdout.
	output string
}

// renderers are the projections of one command's view, V: the view is what JSON
// prints; the table, the rows a --format template runs over, the IDs -q prints and the
// HTML page are made from it alone.
type renderers[V any] struct {
	table func(w io.Writer, v V, o renderOpts) error
	rows  func(v V, o renderOpts) []any
	ids   func(v V, o renderOpts) []string
	html  func(w io.Writer, v V) error
}

// render writes the view v in the chosen format, to stdout (w) or the --output file.
func render[V any](w io.Writer, f outputFormat, v V, r renderers[V], o renderOpts) error {
	if f.html && r.html == nil {
		return fmt.Errorf("--format html is not available for this command")
	}
	return writeOutput(w, o.output, func(w io.Writer) error { return renderTo(w, f, v, r, o) })
}

// writeOutput runs write on stdout (w), or on the --output file when one is named.
func writeOutput(w io.Writer, output string, write func(io.Writer) error) error {
	if output == "" {
		return write(w)
	}
	out, err := createOutput(output)
	if err != nil {
		return err
	}
	return out.finish(write(out))
}

func renderTo[V any](w io.Writer, f outputFormat, v V, r renderers[V], o renderOpts) error {
	bw := bufio.NewWriter(w)
	var err error
	switch {
	case f.json:
		err = writeJSON(bw, v)
	case f.html:
		err = r.html(bw, v)
	case f.tmpl != nil:
		rows := r.rows(v, o)
		for i := range rows {
			rows[i] = termSafeRow(rows[i])
		}
		err = f.writeTemplate(bw, rows)
	case o.quiet && r.ids != nil:
		for _, id := range r.ids(v, o) {
			if _, err = fmt.Fprintln(bw, id); err != nil {
				break
			}
		}
	default:
		err = r.table(bw, v, o)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// outputFile is the --output file being written: a temporary file beside it, renamed
// into place only when the whole output is written, so a failure leaves nothing behind
// and never half a page.
type outputFile struct {
	*os.File
	path string
}

func createOutput(path string) (*outputFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("writing --output %s: %w", path, err)
	}
	return &outputFile{File: f, path: path}, nil
}

// finish keeps the file when err is nil, and removes it otherwise.
func (f *outputFile) finish(err error) error {
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("writing --output %s: %w", f.path, err)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
