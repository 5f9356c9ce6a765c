package analyze

// CheckStatus is one rule's verdict on one image.
type CheckStatus string

// The verdicts of a rule.
const (
	// CheckPass: the image is within the limit (a limit itself is within it).
	CheckPass CheckStatus = "pass"
	// CheckWarn: a soft limit (warn-size, warn-layer-size, warn-growth) is exceeded;
	// it is reported but does not fail the check.
	CheckWarn CheckStatus = "warn"
	// CheckFail: a hard limit is exceeded.
	CheckFail CheckStatus = "fail"
	// CheckError: the rule could not be evaluated because a figure it needs is not
	// known (a compressed size the engine does not store, a baseline that was not
	// given, a wasted-space figure that was not read). It is never taken as a pass.
	CheckError CheckStatus = "error"
)

// severity orders verdicts from best to worst: an image's verdict is its worst rule's.
var severity = map[CheckStatus]int{CheckPass: 0, CheckWarn: 1, CheckFail: 2, CheckError: 3}

// Worse reports whether s is a worse verdict than t.
func (s CheckStatus) Worse(t CheckStatus) bool { return severity[s] > severity[t] }

// Unit says what a rule's limit and actual figure count.
type Unit string

// The units of limits and figures.
const (
	UnitBytes   Unit = "bytes"
	UnitPercent Unit = "percent" // 0 to 100 (growth may exceed 100 or be negative)
	UnitCount   Unit = "count"
	UnitRatio   Unit = "ratio" // 0 to 1
)

// Limit is a rule's threshold: bytes, a count or a ratio, as the rule says, or a
// percentage (Value 12.5 for 12.5%) when Percent is set.
type Limit struct {
	Value   float64
	Percent bool
}

// Unit is the limit's unit for a rule whose limits are otherwise in base.
func (l Limit) Unit(base Unit) Unit {
	if l.Percent {
		return UnitPercent
	}
	return base
}

// WasteFigures is the wasted-space figure of one image, as the per-layer file
// analysis of `docker layers files` measures it: WastedSize is the uncompressed size
// of the files a higher layer overwrote or deleted, TotalSize the image's
// uncompressed size. Rules read only these two numbers, so any analysis that yields
// them plugs in.
type WasteFigures struct {
	WastedSize int64
	TotalSize  int64
}

// CheckInput is what rules evaluate: one image and whatever its rules asked to read.
type CheckInput struct {
	// Image is the checked image, layer by layer with the instructions that made them.
	Image Inspection
	// Compressed makes size rules use compressed sizes (what a registry stores and a
	// pull moves) instead of uncompressed ones (what the engine stores unpacked).
	Compressed bool
	// Baseline is the comparison of the baseline image (OLD) with Image (NEW); nil
	// without a baseline.
	Baseline *Comparison
	// Waste is the image's wasted-space figure; nil when it was not read.
	Waste *WasteFigures
}

// RuleNeeds says what a rule reads beyond the image's metadata, so that a command
// reads nothing no rule asked for.
type RuleNeeds struct {
	// Sizes: layer sizes (uncompressed, or compressed with CheckInput.Compressed).
	Sizes bool
	// Baseline: a comparison with a baseline image.
	Baseline bool
	// Waste: the wasted-space figure, which reads layer contents.
	Waste bool
}

// Rule is one budget rule. Adding a rule is adding one type that implements it, and
// one RuleKinds entry that names its flag.
type Rule interface {
	// Name is the rule's flag name without dashes ("max-size"), also its config key.
	Name() string
	// Needs says what Evaluate reads.
	Needs() RuleNeeds
	// Evaluate gives the rule's verdict on one image.
	Evaluate(in CheckInput) RuleResult
}

// RuleResult is one rule's verdict on one image, with the figures behind it.
type RuleResult struct {
	// Rule is the rule's name ("max-size").
	Rule string
	// Unit is what Limit and Actual count.
	Unit Unit
	// Limit is the threshold, in Unit.
	Limit float64
	// Actual is the image's figure, in Unit; meaningless when Status is CheckError.
	Actual float64
	Status CheckStatus
	// Compressed is set when the sizes behind the figures are compressed sizes.
	Compressed bool
	// Bytes and Of explain a percentage: Actual is Bytes as a share of Of (growth of
	// the baseline's size, bytes reused of the baseline's, bytes wasted of the
	// image's). Both 0 when Actual is not a share.
	Bytes, Of int64
	// Layer is the layer at fault for a per-layer rule (the largest over the limit,
	// or the largest if none is); nil for whole-image rules.
	Layer *CheckLayer
	// LayersOver counts the layers over the limit of a per-layer rule.
	LayersOver int
	// Problem says why the rule could not be evaluated (Status CheckError).
	Problem string
}

// CheckLayer names the layer a per-layer rule is about.
type CheckLayer struct {
	Index int
	// Instruction is the step that made it; empty when the history does not match.
	Instruction string
	// Size is the layer's size (compressed with RuleResult.Compressed).
	Size int64
	// BaselineSize is the size of the baseline's matching layer for a growth rule
	// (0 when the baseline has none); Unknown for other rules.
	BaselineSize int64
}

// Check is the verdict of the budget rules on one image.
type Check struct {
	Image string
	ID    string
	// Baseline is the baseline image's reference, "" without one.
	Baseline   string
	Compressed bool
	// Status is the worst verdict among the rules: pass when there are none.
	Status CheckStatus
	// Passed is true when no rule failed or could not be evaluated (warnings pass).
	Passed  bool
	Results []RuleResult
}

// CheckImage evaluates rules, in order, on one image.
func CheckImage(in CheckInput, rules []Rule) Check {
	c := Check{
		Image:      in.Image.Image,
		ID:         in.Image.ID,
		Compressed: in.Compressed,
		Status:     CheckPass,
	}
	if in.Baseline != nil {
		c.Baseline = in.Baseline.Old.Ref
	}
	for _, r := range rules {
		res := r.Evaluate(in)
		res.Rule = r.Name()
		if res.Status.Worse(c.Status) {
			c.Status = res.Status
		}
		c.Results = append(c.Results, res)
	}
	c.Passed = c.Status == CheckPass || c.Status == CheckWarn
	return c
}

// NeedsOf joins what rules read.
func NeedsOf(rules []Rule) RuleNeeds {
	var n RuleNeeds
	for _, r := range rules {
		rn := r.Needs()
		n.Sizes = n.Sizes || rn.Sizes
		n.Baseline = n.Baseline || rn.Baseline
		n.Waste = n.Waste || rn.Waste
	}
	return n
}

// layerSize is a layer's size in the measure the check uses.
func (in CheckInput) layerSize(l Layer) int64 {
	if in.Compressed {
		return l.CompressedSize
	}
	return l.Size
}

// imageSize is the image's total in the measure the check uses; Unknown if a
// layer's is.
func (in CheckInput) imageSize() int64 {
	if in.Compressed {
		return in.Image.CompressedSize
	}
	return in.Image.Size
}

// verdict is pass within the limit, else fail (warn for a soft limit).
func verdict(within, soft bool) CheckStatus {
	switch {
	case within:
		return CheckPass
	case soft:
		return CheckWarn
	}
	return CheckFail
}

// withinShare reports whether part is at most pct percent of whole, exactly for
// whole-number byte counts (no rounding of the share itself).
func withinShare(part, whole int64, pct float64) bool {
	return float64(part)*100 <= pct*float64(whole)
}

// atLeastShare reports whether part is at least pct percent of whole.
func atLeastShare(part, whole int64, pct float64) bool {
	return float64(part)*100 >= pct*float64(whole)
}

// share is part as a percentage of whole (0 of 0 is 0%).
func share(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
