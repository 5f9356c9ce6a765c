package plugin

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/docker-layers/docker-layers/analyze"
)

// checkView is the result of `check`, and its only projection: the JSON output is
// this struct, and the table, template, JUnit, GitHub and Markdown outputs all render
// from it. Verdicts come from analyze; here they are only worded.
type checkView struct {
	// Passed is true when every image passed (warnings pass).
	Passed bool `json:"passed"`
	// Status is the worst verdict of any rule: pass, warn, fail or error.
	Status string           `json:"status"`
	Images []checkImageView `json:"images"`
}

type checkImageView struct {
	Image    string `json:"image"`
	ID       string `json:"id"`
	Baseline string `json:"baseline,omitempty"`
	// Sizes says which sizes the size rules used: "compressed" or "uncompressed".
	Sizes  string          `json:"sizes"`
	Passed bool            `json:"passed"`
	Status string          `json:"status"`
	Rules  []checkRuleView `json:"rules"`
}

type checkRuleView struct {
	Rule string `json:"rule"`
	// Unit is what limit and actual count: bytes, percent, count or ratio.
	Unit  string  `json:"unit"`
	Limit float64 `json:"limit"`
	// Actual is null when the rule could not be evaluated (status error).
	Actual  *float64 `json:"actual"`
	Status  string   `json:"status"`
	Message string   `json:"message"`
	// Layer is the layer at fault for a per-layer rule.
	Layer *checkLayerView `json:"layer,omitempty"`
}

type checkLayerView struct {
	Index       int    `json:"index"`
	Instruction string `json:"instruction"`
	Size        int64  `json:"size"`
	// BaselineSize is the baseline layer's size a growth rule compared with.
	BaselineSize *int64 `json:"baselineSize,omitempty"`
}

// newCheckView words the verdicts of analyze.CheckImage.
func newCheckView(checks []analyze.Check) checkView {
	v := checkView{Passed: true, Status: string(analyze.CheckPass), Images: []checkImageView{}}
	worst := analyze.CheckPass
	for _, c := range checks {
		iv := checkImageView{
			Image:    c.Image,
			ID:       c.ID,
			Baseline: c.Baseline,
			Sizes:    measureName(c.Compressed),
			Passed:   c.Passed,
			Status:   string(c.Status),
			Rules:    []checkRuleView{},
		}
		for _, r := range c.Results {
			iv.Rules = append(iv.Rules, newCheckRuleView(c, r))
		}
		if c.Status.Worse(worst) {
			worst = c.Status
		}
		v.Passed = v.Passed && c.Passed
		v.Images = append(v.Images, iv)
	}
	v.Status = string(worst)
	return v
}

func measureName(compressed bool) string {
	if compressed {
		return "compressed"
	}
	return "uncompressed"
}

func newCheckRuleView(c analyze.Check, r analyze.RuleResult) checkRuleView {
	rv := checkRuleView{Rule: r.Rule, Unit: string(r.Unit), Limit: r.Limit, Status: string(r.Status)}
	if r.Status != analyze.CheckError {
		actual := r.Actual
		rv.Actual = &actual
	}
	if r.Layer != nil {
		rv.Layer = &checkLayerView{Index: r.Layer.Index, Instruction: r.Layer.Instruction, Size: r.Layer.Size}
		if r.Layer.BaselineSize != analyze.Unknown {
			b := r.Layer.BaselineSize
			rv.Layer.BaselineSize = &b
		}
	}
	rv.Message = ruleMessage(c, r)
	return rv
}

// ruleMessage says in one sentence what a rule found.
func ruleMessage(c analyze.Check, r analyze.RuleResult) string {
	if r.Status == analyze.CheckError {
		return fmt.Sprintf("%s could not be checked: %s", r.Rule, r.Problem)
	}
	limit, actual := formatAmount(r.Unit, r.Limit), formatAmount(r.Unit, r.Actual)
	measure := ""
	if r.Unit == analyze.UnitBytes || r.Bytes != 0 || r.Of != 0 {
		measure = " (" + measureName(r.Compressed) + ")"
	}
	soft := r.Status == analyze.CheckWarn
	over := func(more string) string {
		switch {
		case r.Status == analyze.CheckPass:
			return "within the " + limit + " limit"
		case soft:
			return more + " the " + limit + " warning limit"
		}
		return more + " the " + limit + " limit"
	}
	layer := func() string {
		if r.Layer == nil {
			return "the image has no layers"
		}
		s := fmt.Sprintf("layer %d", r.Layer.Index)
		if r.Layer.Instruction != "" {
			s += " (" + r.Layer.Instruction + ")"
		}
		return s
	}
	others := ""
	if r.LayersOver > 1 {
		others = fmt.Sprintf("; %d layers are over it", r.LayersOver)
	}
	switch r.Rule {
	case "max-size", "warn-size":
		return fmt.Sprintf("%s is %s%s, %s", c.Image, actual, measure, over("over"))
	case "max-layer-size", "warn-layer-size":
		if r.Layer == nil {
			return "the image has no layers"
		}
		return fmt.Sprintf("the largest layer, %s, is %s%s, %s%s", layer(), actual, measure, over("over"), others)
	case "max-layers":
		if r.Status == analyze.CheckPass {
			return fmt.Sprintf("%s has %s, within the limit of %s", c.Image, plural(int(r.Actual), "layer"), limit)
		}
		return fmt.Sprintf("%s has %s, more than the limit of %s", c.Image, plural(int(r.Actual), "layer"), limit)
	case "max-growth", "warn-growth":
		if r.Unit == analyze.UnitPercent {
			return fmt.Sprintf("%s %s (%s) over %s's %s%s, %s", c.Image, grewBy(r.Bytes), actual, c.Baseline, humanSize(r.Of), measure, over("more than"))
		}
		return fmt.Sprintf("%s %s%s over %s, %s", c.Image, grewBy(int64(r.Actual)), measure, c.Baseline, over("more than"))
	case "max-layer-growth":
		if r.Layer == nil {
			return "the image has no layers"
		}
		base := "which " + c.Baseline + " does not have at that position with that instruction"
		if r.Layer.BaselineSize > 0 {
			base = fmt.Sprintf("from %s in %s", humanSize(r.Layer.BaselineSize), c.Baseline)
		}
		return fmt.Sprintf("%s %s to %s%s, %s, %s%s", layer(), grewBy(int64(r.Actual)), humanSize(r.Layer.Size), measure, base, over("more than"), others)
	case "min-reused":
		verdict := "at least the " + limit + " asked"
		if r.Status != analyze.CheckPass {
			verdict = "less than the " + limit + " asked"
		}
		return fmt.Sprintf("%s reused %s (%s) of %s's %s%s, %s", c.Image, humanSize(r.Bytes), actual, c.Baseline, humanSize(r.Of), measure, verdict)
	case "max-wasted":
		if r.Unit == analyze.UnitPercent {
			return fmt.Sprintf("%s of %s (%s, uncompressed) is wasted, %s", actual, c.Image, humanSize(r.Bytes), over("more than"))
		}
		return fmt.Sprintf("%s of %s is wasted (uncompressed), %s", actual, c.Image, over("more than"))
	case "min-efficiency":
		verdict := "at least " + limit
		if r.Status != analyze.CheckPass {
			verdict = "below " + limit
		}
		return fmt.Sprintf("%s's efficiency is %s (%s wasted of %s, uncompressed), %s", c.Image, actual, humanSize(r.Bytes), humanSize(r.Of), verdict)
	}
	return fmt.Sprintf("%s: %s, limit %s", r.Rule, actual, limit)
}

func grewBy(n int64) string {
	if n < 0 {
		return "shrank by " + humanSize(-n)
	}
	return "grew by " + humanSize(n)
}

// formatAmount prints a limit or figure in its unit: sizes as docker prints them,
// percentages and ratios to two decimals at most.
func formatAmount(u analyze.Unit, v float64) string {
	switch u {
	case analyze.UnitBytes:
		if v < 0 {
			return "-" + humanSize(int64(-v))
		}
		return humanSize(int64(v))
	case analyze.UnitPercent:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + "%"
	case analyze.UnitRatio:
		return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// CheckRow is one image × rule of `check`, for --format templates.
type CheckRow struct {
	Image, Rule, Limit, Actual, Status, Layer, Message string
	// Unit is what LimitValue and ActualValue count (bytes, percent, count, ratio).
	Unit                    string
	LimitValue, ActualValue float64
	Passed                  bool
}

// checkRows are the template rows of a view.
func checkRows(v checkView, o renderOpts) []any {
	var rows []any
	for _, im := range v.Images {
		for _, r := range im.Rules {
			row := CheckRow{
				Image: im.Image, Rule: r.Rule, Status: strings.ToUpper(r.Status), Message: r.Message,
				Limit: formatAmount(unitOf(r), r.Limit), Actual: "?", Layer: layerCell(r.Layer, o.noTrunc),
				Unit: r.Unit, LimitValue: r.Limit, Passed: r.Status == "pass" || r.Status == "warn",
			}
			if r.Actual != nil {
				row.Actual, row.ActualValue = formatAmount(unitOf(r), *r.Actual), *r.Actual
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func layerCell(l *checkLayerView, noTrunc bool) string {
	if l == nil {
		return ""
	}
	s := fmt.Sprintf("#%d", l.Index)
	if l.Instruction != "" {
		instr := l.Instruction
		if !noTrunc {
			instr = ellipsis(instr, 60)
		}
		s += " " + instr
	}
	return s
}

// checkSummary is the last line of the table: the verdict and the tally.
func checkSummary(v checkView) string {
	n := map[string]int{}
	failedImages, erroredImages := 0, 0
	for _, im := range v.Images {
		for _, r := range im.Rules {
			n[r.Status]++
		}
		switch im.Status {
		case "fail":
			failedImages++
		case "error":
			erroredImages++
		}
	}
	var tally []string
	for _, s := range []struct{ status, word string }{{"fail", "failed"}, {"error", "could not be checked"}, {"warn", "warned"}, {"pass", "passed"}} {
		if n[s.status] > 0 {
			tally = append(tally, fmt.Sprintf("%d %s", n[s.status], s.word))
		}
	}
	if len(tally) == 0 {
		tally = []string{"no rules"}
	}
	images := plural(len(v.Images), "image")
	switch v.Status {
	case "error":
		return fmt.Sprintf("ERROR: the check could not run on %d of %s (%s)", erroredImages, images, strings.Join(tally, ", "))
	case "fail":
		return fmt.Sprintf("FAIL: %d of %s over budget (%s)", failedImages, images, strings.Join(tally, ", "))
	case "warn":
		return fmt.Sprintf("PASS with warnings: %s within budget (%s)", images, strings.Join(tally, ", "))
	}
	return fmt.Sprintf("PASS: %s within budget (%s)", images, strings.Join(tally, ", "))
}

func unitOf(r checkRuleView) analyze.Unit { return analyze.Unit(r.Unit) }
