package plugin

import (
	"fmt"
	"io"
	"sort"
)

// htmlCheckRow is one rule of one image on the check page.
type htmlCheckRow struct {
	Image, Rule, Limit, Actual, Status, Word, Layer, Message string
	// Key is the rule's place in the JSON output ("images.0.rules.2").
	Key string
}

// writeCheckHTML is the check page: the summary, then every image × rule, failures
// first (then errors, warnings, passes), each status in words as well as colour.
func writeCheckHTML(w io.Writer, v checkView) error {
	var rows []htmlCheckRow
	for i, im := range v.Images {
		for j, r := range im.Rules {
			actual := "?"
			if r.Actual != nil {
				actual = formatAmount(unitOf(r), *r.Actual)
			}
			rows = append(rows, htmlCheckRow{
				Image: im.Image, Rule: r.Rule, Limit: formatAmount(unitOf(r), r.Limit), Actual: actual,
				Status: r.Status, Word: statusWord(r.Status), Layer: layerCell(r.Layer, true), Message: r.Message,
				Key: fmt.Sprintf("images.%d.rules.%d", i, j),
			})
		}
	}
	rank := map[string]int{"fail": 0, "error": 1, "warn": 2, "pass": 3}
	sort.SliceStable(rows, func(a, b int) bool { return rank[rows[a].Status] < rank[rows[b].Status] })
	body := struct {
		V       checkView
		Rows    []htmlCheckRow
		Summary string
	}{v, rows, checkSummary(v)}
	return writeHTML(w, "check", "Size budgets: "+checkSummary(v), body)
}

// writeFilesHTML is the files page: the image's wasted bytes and efficiency, the wasted
// paths with the layer that hid them, the hints, and each layer's changes.
func writeFilesHTML(w io.Writer, v filesJSON) error {
	return writeHTML(w, "files", "Files of "+v.Image, struct{ V filesJSON }{v})
}
