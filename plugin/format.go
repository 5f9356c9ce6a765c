package plugin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/docker/cli/templates"
	"github.com/docker/go-units"
	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
)

// outputFormat is a parsed --format value.
type outputFormat struct {
	json   bool
	html   bool
	tmpl   *template.Template // nil for table, json and html
	table  bool               // a "table {{…}}" template: columns aligned with tabs
	header string             // the header line of a table template
}

// parseFormat checks --format before any image is read: a template is parsed and tried
// on an empty row of the command's row type, so a misspelt field is a usage error that
// lists the fields there are, not a failure after the work is done.
func parseFormat(cmd *cobra.Command, s string, row any) (outputFormat, error) {
	switch strings.TrimSpace(s) {
	case "", "table":
		return outputFormat{}, nil
	case "json":
		return outputFormat{json: true}, nil
	case "html":
		return outputFormat{html: true}, nil
	}
	text, table := strings.CutPrefix(s, "table ")
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.TrimSpace(text))
	t, err := templates.Parse(text)
	if err != nil {
		return outputFormat{}, usageError(cmd, fmt.Sprintf("invalid --format template: %v", err))
	}
	if row != nil {
		if err := t.Execute(io.Discard, row); err != nil {
			return outputFormat{}, usageError(cmd, fmt.Sprintf("invalid --format template: %s; the fields are %s", templateProblem(err), fieldList(row)))
		}
	}
	f := outputFormat{tmpl: t, table: table}
	if table {
		f.header = templateHeader(text)
	}
	return f, nil
}

// templateProblem is the template error without the Go type names it carries.
func templateProblem(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "can't evaluate field "); i >= 0 {
		field, _, _ := strings.Cut(msg[i+len("can't evaluate field "):], " ")
		return "no field " + field
	}
	return msg
}

// fieldList names the exported fields of a row type: ".Image, .Size, …".
func fieldList(row any) string {
	t := reflect.TypeOf(row)
	var names []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			names = append(names, "."+f.Name)
		}
	}
	return strings.Join(names, ", ")
}

var (
	templateAction = regexp.MustCompile(`\{\{-?\s*([^}]*?)\s*-?\}\}`)
	templateField  = regexp.MustCompile(`\.([A-Za-z][A-Za-z0-9]*)`)
	camelWord      = regexp.MustCompile(`([a-z0-9])([A-Z])`)
)

// templateHeader names the columns of a "table" template as docker does: each action
// becomes its field's name in capitals ({{.CompressedSize}} → COMPRESSED SIZE).
func templateHeader(text string) string {
	return templateAction.ReplaceAllStringFunc(text, func(action string) string {
		m := templateField.FindAllStringSubmatch(action, -1)
		if len(m) == 0 {
			return ""
		}
		name := m[len(m)-1][1]
		return strings.ToUpper(camelWord.ReplaceAllString(name, "$1 $2"))
	})
}

// writeTemplate executes the template once per row, a line each.
func (f outputFormat) writeTemplate(w io.Writer, rows []any) error {
	out := w
	var tabw *tabwriter.Writer
	if f.table {
		tabw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tabw
	}
	if f.table {
		fmt.Fprintln(out, f.header)
	}
	for _, r := range rows {
		if err := f.tmpl.Execute(out, r); err != nil {
			return fmt.Errorf("executing --format template: %w", err)
		}
		fmt.Fprintln(out)
	}
	if tabw != nil {
		return tabw.Flush()
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// table renders aligned columns without borders, like docker's own tables. Cells are
// printed as given: callers pass text from images through termSafe.
type table struct {
	header []string
	rows   [][]string
	// flex is the column cut to fit width (the instruction), -1 for none.
	flex int
	// width is the terminal width to fit; 0 for no limit.
	width int
}

func (t *table) append(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render(w io.Writer) error {
	t.fit()
	var buf bytes.Buffer
	tb := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off, ShowHeader: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Right: "   ", Overwrite: true}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	tb.Header(t.header)
	for _, r := range t.rows {
		if err := tb.Append(r); err != nil {
			return err
		}
	}
	if err := tb.Render(); err != nil {
		return err
	}
	// tablewriter pads the last column too; docker's tables end lines cleanly.
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if _, err := fmt.Fprintln(w, strings.TrimRight(sc.Text(), " ")); err != nil {
			return err
		}
	}
	return sc.Err()
}

// columnGap is the space between two columns.
const columnGap = 3

// fit cuts the flexible column so that no line is wider than the terminal.
func (t *table) fit() {
	if t.width <= 0 || t.flex < 0 || t.flex >= len(t.header) {
		return
	}
	widths := make([]int, len(t.header))
	measure := func(cells []string) {
		for i, c := range cells {
			if i < len(widths) {
				widths[i] = max(widths[i], runewidth.StringWidth(c))
			}
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	used := 0
	for i, wd := range widths {
		if i != t.flex {
			used += wd + columnGap
		}
	}
	room := max(t.width-used-1, 12)
	for _, r := range t.rows {
		if t.flex < len(r) && runewidth.StringWidth(r[t.flex]) > room {
			r[t.flex] = runewidth.Truncate(r[t.flex], room, "…")
		}
	}
}

// humanSize prints bytes as docker does ("312kB"), "?" when unknown.
func humanSize(n int64) string {
	if n == analyze.Unknown {
		return "?"
	}
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// bytesOrNil is a size for JSON: null when unknown.
func bytesOrNil(n int64) *int64 {
	if n == analyze.Unknown {
		return nil
	}
	return &n
}

func shortID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	algo, hex, ok := strings.Cut(id, ":")
	if ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return id
}

// ellipsis cuts s to n runes, marking the cut.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
