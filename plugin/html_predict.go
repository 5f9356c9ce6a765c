package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/docker-layers/docker-layers/analyze"
)

// htmlPredict is the predict page: the view, and the rows of its table of steps.
type htmlPredict struct {
	V        predictJSON
	Rows     []htmlPredictRow
	Max      int64 // the largest layer, which the step bars are drawn against
	Figure   []htmlBar
	Transfer string
	// BreakWhy words the first break's reason; BaseBreak is set when it is the FROM.
	BreakWhy  string
	BaseBreak bool
	// BreakAnchor is the row of the first break; FilesCompared is set when the files
	// at the break were compared (an empty list then means none differs).
	BreakAnchor   string
	FilesCompared bool
	Advice        []htmlPredictAdvice
}

type htmlPredictRow struct {
	N       int // the step's index in the JSON's steps
	Step    predictStepJSON
	Symbol  string
	Why     string
	Break   bool
	ShowNum bool    // the size is shown: IMAGE has a layer there, or its size is unknown
	W       float64 // bar width in percent of the column
}

type htmlPredictAdvice struct {
	N int
	A predictAdviceJSON
}

// predictSymbols mark each verdict with a sign as well as a colour.
var predictSymbols = map[string]string{
	string(analyze.VerdictReused):  "=",
	string(analyze.VerdictRebuilt): "↻",
	string(analyze.VerdictUnknown): "?",
}

// writePredictHTML is the predict page: the figures, the first break with its reason
// and changed files, the advice, and every step with its verdict and why, the first
// break highlighted. Verdicts and causes are the view's; this only words them.
func writePredictHTML(w io.Writer, v predictJSON) error {
	p := htmlPredict{V: v}
	if v.Image != nil {
		p.Transfer = predictTransferText(v)
	}
	if b := v.FirstBreak; b != nil {
		p.BreakWhy = predictReasonText[b.Reason]
		p.BaseBreak = b.Reason == string(analyze.ReasonBaseChanged)
		p.FilesCompared = b.ChangedFiles != nil
		p.BreakAnchor = "step-from"
	}
	for _, s := range v.Steps {
		if s.Layer != nil && s.Size != nil {
			p.Max = max(p.Max, *s.Size)
		}
	}
	var parts []barPart
	for i, s := range v.Steps {
		r := htmlPredictRow{N: i, Step: s, Symbol: predictSymbols[s.Verdict], Why: predictCauseText(s, v),
			Break: s.Cause == string(analyze.CauseFirstBreak)}
		r.ShowNum = v.Image != nil && (s.Layer != nil || s.Size == nil)
		if s.Layer != nil && s.Size != nil && p.Max > 0 {
			r.W = max(100*float64(*s.Size)/float64(p.Max), 0.5)
		}
		if r.Break {
			p.BreakAnchor = fmt.Sprintf("step-%d", i)
		}
		p.Rows = append(p.Rows, r)
		if s.Layer != nil {
			parts = append(parts, barPart{
				size: s.Size, class: s.Verdict, label: fmt.Sprintf("%d %s", s.Line, s.Verdict),
				title: fmt.Sprintf("Line %d: %s\n%s: %s\nLayer %d in IMAGE: %s uncompressed (%s)", s.Line, s.Instruction, s.Verdict, r.Why, *s.Layer, htmlHuman(s.Size), htmlBytes(s.Size)),
				href:  fmt.Sprintf("#step-%d", i),
			})
		}
	}
	if segs := stackBar(parts); len(segs) > 0 && v.Image != nil {
		var total int64
		for _, part := range parts {
			total += *part.size // stackBar returned nil if one were unknown
		}
		if total > 0 {
			p.Figure = []htmlBar{{Label: "Their layers in IMAGE, uncompressed", Total: &total, Segs: segs}}
		}
	}
	for i, a := range v.Advice {
		p.Advice = append(p.Advice, htmlPredictAdvice{N: i, A: a})
	}
	title := "docker layers predict " + v.Dockerfile
	if v.Image != nil {
		title += " against " + *v.Image
	}
	return writeHTML(w, "predict", title, p)
}

// predictCauseText words why a step got its verdict.
func predictCauseText(s predictStepJSON, v predictJSON) string {
	switch analyze.StepCause(s.Cause) {
	case analyze.CauseUnchanged:
		return "same instruction and inputs as IMAGE's step, and nothing it is keyed on changed below"
	case analyze.CauseFirstBreak:
		if b := v.FirstBreak; b != nil {
			return "the first break: " + b.Reason + ", " + predictReasonText[b.Reason]
		}
		return "the first break"
	case analyze.CauseAboveBreak:
		if b := v.FirstBreak; b != nil {
			return fmt.Sprintf("the cache breaks below it, at line %d", b.Line)
		}
		return "the cache breaks below it"
	case analyze.CauseConfigChanged:
		return "differs from IMAGE's; BuildKit keys no later step on it, so it breaks nothing"
	case analyze.CauseEnvChanged:
		return "differs from IMAGE's; BuildKit keys only later RUN steps on it, and none follows"
	case analyze.CauseNotComparable:
		return "its inputs cannot be compared with IMAGE (an ADD of a URL or archive, a COPY --from a stage that reads the context, or files not read)"
	case analyze.CauseAboveUnknown:
		return "a step below is unknown"
	case analyze.CauseDiverged:
		return "the Dockerfile no longer matches IMAGE's history here"
	case analyze.CauseNoHistory:
		return "IMAGE's history does not match its layers"
	case analyze.CauseNoImage:
		return "no IMAGE given to compare with"
	}
	return strings.TrimSpace(s.Cause)
}
