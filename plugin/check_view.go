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
	w := ruleWords{c: c, r: r, limit: formatAmount(r.Unit, r.Limit), actual: formatAmount(r.Unit, r.Actual)}
	if r.Unit == analyze.UnitBytes || r.Bytes != 0 || r.Of != 0 {
		w.measure = " (" + measureName(r.Compressed) + ")"
	}
	if say, ok := ruleMessages[r.Rule]; ok {
		return say(w)
	}
	return fmt.Sprintf("%s: %s, limit %s", r.Rule, w.actual, w.limit)
}

// ruleMessages word each rule's result, by rule name.
var ruleMessages = map[string]func(ruleWords) string{
	"max-size":         sizeMessage,
	"warn-size":        sizeMessage,
	"max-layer-size":   layerSizeMessage,
	"warn-layer-size":  layerSizeMessage,
	"max-layers":       layersMessage,
	"max-growth":       growthMessage,
	"warn-growth":      growthMessage,
	"max-layer-growth": layerGrowthMessage,
	"min-reused":       reusedMessage,
	"max-wasted":       wastedMessage,
	"min-efficiency":   efficiencyMessage,
}

// ruleWords are the phrases a rule's message is made of.
type ruleWords struct {
	c                      analyze.Check
	r                      analyze.RuleResult
	limit, actual, measure string
}

// verdict words a maximum: "within the 300MB limit", or more+" the 300MB (warning) limit".
func (w ruleWords) verdict(more string) string {
	switch w.r.Status {
	case analyze.CheckPass:
		return "within the " + w.limit + " limit"
	case analyze.CheckWarn:
		return more + " the " + w.limit + " warning limit"
	}
	return more + " the " + w.limit + " limit"
}

// layer names the layer at fault, with its instruction.
func (w ruleWords) layer() string {
	s := fmt.Sprintf("layer %d", w.r.Layer.Index)
	if w.r.Layer.Instruction != "" {
		s += " (" + w.r.Layer.Instruction + ")"
	}
	return s
}

// others counts the other layers over the limit.
func (w ruleWords) others() string {
	if w.r.LayersOver > 1 {
		return fmt.Sprintf("; %d layers are over it", w.r.LayersOver)
	}
	return ""
}

func sizeMessage(w ruleWords) string {
	return fmt.Sprintf("%s is %s%s, %s", w.c.Image, w.actual, w.measure, w.verdict("over"))
}

func layerSizeMessage(w ruleWords) string {
	if w.r.Layer == nil {
		return "the image has no layers"
	}
	return fmt.Sprintf("the largest layer, %s, is %s%s, %s%s", w.layer(), w.actual, w.measure, w.verdict("over"), w.others())
}

func layersMessage(w ruleWords) string {
	verdict := "within"
	if w.r.Status != analyze.CheckPass {
		verdict = "more than"
	}
	return fmt.Sprintf("%s has %s, %s the limit of %s", w.c.Image, plural(int(w.r.Actual), "layer"), verdict, w.limit)
}

func growthMessage(w ruleWords) string {
	growth := int64(w.r.Actual)
	if w.r.Unit == analyze.UnitPercent {
		growth = w.r.Bytes
	}
	since := " over "
	if growth < 0 {
		since = " from "
	}
	if w.r.Unit == analyze.UnitPercent {
		return fmt.Sprintf("%s %s (%s)%s%s's %s%s, %s", w.c.Image, grewBy(growth), w.actual, since, w.c.Baseline, humanSize(w.r.Of), w.measure, w.verdict("more than"))
	}
	return fmt.Sprintf("%s %s%s%s%s, %s", w.c.Image, grewBy(growth), w.measure, since, w.c.Baseline, w.verdict("more than"))
}

func layerGrowthMessage(w ruleWords) string {
	if w.r.Layer == nil {
		return "the image has no layers"
	}
	base := "which " + w.c.Baseline + " does not have at that position with that instruction"
	if w.r.Layer.BaselineSize > 0 {
		base = fmt.Sprintf("from %s in %s", humanSize(w.r.Layer.BaselineSize), w.c.Baseline)
	}
	return fmt.Sprintf("%s %s to %s%s, %s, %s%s", w.layer(), grewBy(int64(w.r.Actual)), humanSize(w.r.Layer.Size), w.measure, base, w.verdict("more than"), w.others())
}

func reusedMessage(w ruleWords) string {
	verdict := "at least the " + w.limit + " asked"
	if w.r.Status != analyze.CheckPass {
		verdict = "less than the " + w.limit + " asked"
	}
	return fmt.Sprintf("%s reused %s (%s) of %s's %s%s, %s", w.c.Image, humanSize(w.r.Bytes), w.actual, w.c.Baseline, humanSize(w.r.Of), w.measure, verdict)
}

func wastedMessage(w ruleWords) string {
	if w.r.Unit == analyze.UnitPercent {
		return fmt.Sprintf("%s of %s (%s, uncompressed) is wasted, %s", w.actual, w.c.Image, humanSize(w.r.Bytes), w.verdict("more than"))
	}
	return fmt.Sprintf("%s of %s is wasted (uncompressed), %s", w.actual, w.c.Image, w.verdict("more than"))
}

func efficiencyMessage(w ruleWords) string {
	verdict := "at least " + w.limit
	if w.r.Status != analyze.CheckPass {
		verdict = "below " + w.limit
	}
	return fmt.Sprintf("%s's efficiency is %s (%s wasted of %s, uncompressed), %s", w.c.Image, w.actual, humanSize(w.r.Bytes), humanSize(w.r.Of), verdict)
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
