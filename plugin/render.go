package plugin

import (
	"bufio"
	"fmt"
	"io"
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

// render writes the view v in the chosen format.
func render[V any](w io.Writer, f outputFormat, v V, r renderers[V], o renderOpts) error {
	bw := bufio.NewWriter(w)
	var err error
	switch {
	case f.json:
		err = writeJSON(bw, v)
	case f.html && r.html != nil:
		err = r.html(bw, v)
	case f.html:
		err = fmt.Errorf("--format html is not available for this command")
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
