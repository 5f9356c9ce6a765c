package plugin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/docker/cli/templates"
	"github.com/docker/go-units"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
)

const formatHelp = `Format output: "table" (default), "json", or a Go template`

// outputFormat is a parsed --format value.
type outputFormat struct {
	json   bool
	tmpl   *template.Template // nil for table and json
	table  bool               // a "table {{…}}" template: columns aligned with tabs
	header string             // the header line of a table template
}

func parseFormat(cmd *cobra.Command, s string) (outputFormat, error) {
	switch strings.TrimSpace(s) {
	case "", "table":
		return outputFormat{}, nil
	case "json":
		return outputFormat{json: true}, nil
	}
	text, table := strings.CutPrefix(s, "table ")
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.TrimSpace(text))
	t, err := templates.Parse(text)
	if err != nil {
		return outputFormat{}, usageError(cmd, fmt.Sprintf("invalid --format template: %v", err))
	}
	f := outputFormat{tmpl: t, table: table}
	if table {
		f.header = templateHeader(text)
	}
	return f, nil
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

// table renders aligned columns without borders, like docker's own tables.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) append(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render(w io.Writer) error {
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
