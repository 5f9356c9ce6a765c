package analyze

import (
	"errors"
	"fmt"
	"math"
	"regexp"
)

// LimitKind says what a rule's limit may be written as.
type LimitKind int

// The kinds of limits.
const (
	LimitSize          LimitKind = iota // bytes: "200MB", "1.5GiB", "1048576"
	LimitSizeOrPercent                  // bytes or a percentage: "20MB" or "10%"
	LimitPercent                        // a percentage: "80%"
	LimitCount                          // a whole number: "12"
	LimitRatio                          // a number from 0 to 1: "0.95"
)

// RuleKind names a rule for flags and configuration files and makes it from a limit.
type RuleKind struct {
	// Name is the flag name without dashes, and the configuration key.
	Name  string
	Limit LimitKind
	// WarnsBefore names the hard rule a soft rule warns ahead of ("max-size" for
	// "warn-size"): a soft limit above its hard one contradicts it.
	WarnsBefore string
	// Usage is the flag's help text; the back-quoted word names its value.
	Usage string
	// New makes the rule; the limit has passed Validate.
	New func(Limit) Rule
}

// RuleKinds are the budget rules, in the order a check evaluates and reports them.
var RuleKinds = []RuleKind{
	{Name: "max-size", Limit: LimitSize, Usage: "Fail when the image is larger than `SIZE`",
		New: func(l Limit) Rule { return MaxSize{Limit: int64(l.Value)} }},
	{Name: "warn-size", Limit: LimitSize, WarnsBefore: "max-size", Usage: "Warn when the image is larger than `SIZE`",
		New: func(l Limit) Rule { return MaxSize{Limit: int64(l.Value), Soft: true} }},
	{Name: "max-layer-size", Limit: LimitSize, Usage: "Fail when any one layer is larger than `SIZE`",
		New: func(l Limit) Rule { return MaxLayerSize{Limit: int64(l.Value)} }},
	{Name: "warn-layer-size", Limit: LimitSize, WarnsBefore: "max-layer-size", Usage: "Warn when any one layer is larger than `SIZE`",
		New: func(l Limit) Rule { return MaxLayerSize{Limit: int64(l.Value), Soft: true} }},
	{Name: "max-layers", Limit: LimitCount, Usage: "Fail when the image has more than `N` layers",
		New: func(l Limit) Rule { return MaxLayers{Limit: int(l.Value)} }},
	{Name: "max-growth", Limit: LimitSizeOrPercent, Usage: "Fail when the image grew by more than `SIZE|PCT%` over --baseline",
		New: func(l Limit) Rule { return MaxGrowth{Limit: l} }},
	{Name: "warn-growth", Limit: LimitSizeOrPercent, WarnsBefore: "max-growth", Usage: "Warn when the image grew by more than `SIZE|PCT%` over --baseline",
		New: func(l Limit) Rule { return MaxGrowth{Limit: l, Soft: true} }},
	{Name: "max-layer-growth", Limit: LimitSize, Usage: "Fail when any layer grew by more than `SIZE` over --baseline's layer of the same position and instruction",
		New: func(l Limit) Rule { return MaxLayerGrowth{Limit: int64(l.Value)} }},
	{Name: "min-reused", Limit: LimitPercent, Usage: "Fail when the image reuses less than `PCT%` of --baseline's bytes (cache health)",
		New: func(l Limit) Rule { return MinReused{Percent: l.Value} }},
	{Name: "max-wasted", Limit: LimitSizeOrPercent, Usage: "Fail when more than `SIZE|PCT%` of the image is wasted (files overwritten or deleted by a higher layer)",
		New: func(l Limit) Rule { return MaxWasted{Limit: l} }},
	{Name: "min-efficiency", Limit: LimitRatio, Usage: "Fail when the image's efficiency (1 - wasted/size) is below `RATIO`, e.g. 0.95",
		New: func(l Limit) Rule { return MinEfficiency{Ratio: l.Value} }},
}

// RuleKindNamed returns the kind called name.
func RuleKindNamed(name string) (RuleKind, bool) {
	for _, k := range RuleKinds {
		if k.Name == name {
			return k, true
		}
	}
	return RuleKind{}, false
}

// Validate checks that a limit makes sense for the kind: not negative, a whole
// number of bytes or layers, a share within 0–100% where it cannot exceed it, a
// ratio within 0–1.
func (k RuleKind) Validate(l Limit) error {
	switch {
	case math.IsNaN(l.Value) || math.IsInf(l.Value, 0):
		return errors.New("not a number")
	case l.Value < 0:
		return errors.New("must not be negative")
	case l.Percent && k.Limit != LimitPercent && k.Limit != LimitSizeOrPercent:
		return errors.New("takes a size or a number, not a percentage")
	case !l.Percent && k.Limit == LimitPercent:
		return errors.New("takes a percentage, such as 80%")
	case l.Percent && l.Value > 100 && k.Limit == LimitPercent:
		return errors.New("a share cannot be above 100%")
	case k.Limit == LimitRatio && l.Value > 1:
		return errors.New("a ratio is from 0 to 1, such as 0.95")
	case (k.Limit == LimitCount || (!l.Percent && k.Limit != LimitRatio)) && l.Value != math.Trunc(l.Value):
		return errors.New("must be a whole number")
	case !l.Percent && l.Value > math.MaxInt64/2:
		return errors.New("too large")
	}
	return nil
}

// Contradiction is a pair of limits that cannot both be meant.
type Contradiction struct {
	// Rule is the soft rule; Other the hard rule it contradicts.
	Rule, Other string
}

func (c Contradiction) Error() string {
	return fmt.Sprintf("%s is above %s: the warning could never come before the failure", c.Rule, c.Other)
}

// Contradictions finds the soft limits above their hard ones in one set of limits
// (rule name → limit). Limits of different units (a size and a percentage) are not
// compared.
func Contradictions(limits map[string]Limit) []Contradiction {
	var out []Contradiction
	for _, k := range RuleKinds {
		soft, ok1 := limits[k.Name]
		hard, ok2 := limits[k.WarnsBefore]
		if k.WarnsBefore == "" || !ok1 || !ok2 || soft.Percent != hard.Percent {
			continue
		}
		if soft.Value > hard.Value {
			out = append(out, Contradiction{Rule: k.Name, Other: k.WarnsBefore})
		}
	}
	return out
}

// MaxSize limits the image's total size: max-size, or warn-size when Soft.
type MaxSize struct {
	Limit int64
	Soft  bool
}

// Name implements Rule.
func (r MaxSize) Name() string {
	if r.Soft {
		return "warn-size"
	}
	return "max-size"
}

// Needs implements Rule.
func (MaxSize) Needs() RuleNeeds { return RuleNeeds{Sizes: true} }

// Evaluate implements Rule.
func (r MaxSize) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: UnitBytes, Limit: float64(r.Limit), Compressed: in.Compressed}
	size := in.imageSize()
	if size == Unknown {
		return res.unknownSize(in)
	}
	res.Actual = float64(size)
	res.Status = verdict(size <= r.Limit, r.Soft)
	return res
}

// MaxLayerSize limits the size of every layer: max-layer-size, or warn-layer-size
// when Soft. The layer reported is the largest.
type MaxLayerSize struct {
	Limit int64
	Soft  bool
}

// Name implements Rule.
func (r MaxLayerSize) Name() string {
	if r.Soft {
		return "warn-layer-size"
	}
	return "max-layer-size"
}

// Needs implements Rule.
func (MaxLayerSize) Needs() RuleNeeds { return RuleNeeds{Sizes: true} }

// Evaluate implements Rule.
func (r MaxLayerSize) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: UnitBytes, Limit: float64(r.Limit), Compressed: in.Compressed}
	var largest *LayerInfo
	for i := range in.Image.Layers {
		l := &in.Image.Layers[i]
		size := in.layerSize(l.Layer)
		if size == Unknown {
			return res.unknownSize(in)
		}
		if size > r.Limit {
			res.LayersOver++
		}
		if largest == nil || size > in.layerSize(largest.Layer) {
			largest = l
		}
	}
	if largest == nil {
		res.Status = CheckPass
		return res
	}
	size := in.layerSize(largest.Layer)
	res.Actual = float64(size)
	res.Layer = &CheckLayer{Index: largest.Index, Instruction: largest.Instruction, Size: size, BaselineSize: Unknown}
	res.Status = verdict(res.LayersOver == 0, r.Soft)
	return res
}

// MaxLayers limits the number of filesystem layers (metadata-only steps make none).
type MaxLayers struct{ Limit int }

// Name implements Rule.
func (MaxLayers) Name() string { return "max-layers" }

// Needs implements Rule.
func (MaxLayers) Needs() RuleNeeds { return RuleNeeds{} }

// Evaluate implements Rule.
func (r MaxLayers) Evaluate(in CheckInput) RuleResult {
	n := len(in.Image.Layers)
	return RuleResult{Unit: UnitCount, Limit: float64(r.Limit), Actual: float64(n), Status: verdict(n <= r.Limit, false)}
}

// MaxGrowth limits how much the image grew over the baseline, in bytes or as a
// percentage of the baseline's size: max-growth, or warn-growth when Soft. An image
// smaller than its baseline has negative growth.
type MaxGrowth struct {
	Limit Limit
	Soft  bool
}

// Name implements Rule.
func (r MaxGrowth) Name() string {
	if r.Soft {
		return "warn-growth"
	}
	return "max-growth"
}

// Needs implements Rule.
func (MaxGrowth) Needs() RuleNeeds { return RuleNeeds{Sizes: true, Baseline: true} }

// Evaluate implements Rule.
func (r MaxGrowth) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: r.Limit.Unit(UnitBytes), Limit: r.Limit.Value, Compressed: in.Compressed}
	if in.Baseline == nil {
		return res.problem("needs a baseline image (--baseline)")
	}
	old, size := in.baselineSize(), in.imageSize()
	if old == Unknown || size == Unknown {
		return res.unknownSize(in)
	}
	growth := size - old
	if !r.Limit.Percent {
		res.Actual = float64(growth)
		res.Status = verdict(float64(growth) <= r.Limit.Value, r.Soft)
		return res
	}
	if old == 0 {
		return res.problem("the baseline image is empty, so growth has no percentage")
	}
	res.Actual, res.Bytes, res.Of = share(growth, old), growth, old
	res.Status = verdict(withinShare(growth, old, r.Limit.Value), r.Soft)
	return res
}

// MaxLayerGrowth limits how much any one layer grew over the baseline's layer at the
// same position, as Compare pairs them, when that layer was made by the same
// instruction (the legacy builder's content hashes aside); a layer the baseline does not have at its position, or made by
// another instruction there, grew by its whole size. The layer reported is the one
// that grew most.
type MaxLayerGrowth struct{ Limit int64 }

// Name implements Rule.
func (MaxLayerGrowth) Name() string { return "max-layer-growth" }

// Needs implements Rule.
func (MaxLayerGrowth) Needs() RuleNeeds { return RuleNeeds{Sizes: true, Baseline: true} }

// Evaluate implements Rule.
func (r MaxLayerGrowth) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: UnitBytes, Limit: float64(r.Limit), Compressed: in.Compressed}
	if in.Baseline == nil {
		return res.problem("needs a baseline image (--baseline)")
	}
	var worst *CheckLayer
	var worstGrowth int64
	for _, l := range in.Baseline.Layers {
		if l.New == nil {
			continue
		}
		size := in.layerSize(l.New.Layer)
		var base int64
		if l.Old != nil && sameInstruction(l.Old.Instruction, l.New.Instruction) {
			base = in.layerSize(l.Old.Layer)
		}
		if size == Unknown || base == Unknown {
			return res.unknownSize(in)
		}
		growth := size - base
		if growth > r.Limit {
			res.LayersOver++
		}
		if worst == nil || growth > worstGrowth {
			worst = &CheckLayer{Index: l.Index, Instruction: l.New.Instruction, Size: size, BaselineSize: base}
			worstGrowth = growth
		}
	}
	res.Status = CheckPass
	if worst != nil {
		res.Actual, res.Layer = float64(worstGrowth), worst
		res.Status = verdict(res.LayersOver == 0, false)
	}
	return res
}

// shortContentHash is the legacy builder's content hash as Instruction shortens it
// ("COPY dir:4ec656a198d7… ."): it names the inputs, not the instruction.
var shortContentHash = regexp.MustCompile(`\b(file|dir|multi):[0-9a-f]{12}…`)

// sameInstruction reports whether two normalised instructions are the same step, the
// legacy builder's content hashes aside (an edited COPY is still that COPY).
func sameInstruction(a, b string) bool {
	return a == b || shortContentHash.ReplaceAllString(a, "$1:") == shortContentHash.ReplaceAllString(b, "$1:")
}

// MinReused sets the share of the baseline's bytes the image must reuse: the sizes
// of the layers it took unchanged from the baseline (same chain ID, see Compare) as
// a percentage of the baseline's size. A low share means the build cache broke low.
type MinReused struct{ Percent float64 }

// Name implements Rule.
func (MinReused) Name() string { return "min-reused" }

// Needs implements Rule.
func (MinReused) Needs() RuleNeeds { return RuleNeeds{Sizes: true, Baseline: true} }

// Evaluate implements Rule.
func (r MinReused) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: UnitPercent, Limit: r.Percent, Compressed: in.Compressed}
	if in.Baseline == nil {
		return res.problem("needs a baseline image (--baseline)")
	}
	old := in.baselineSize()
	var reused int64
	for _, l := range in.Baseline.Layers {
		if l.Status != StatusReused {
			continue
		}
		size := in.layerSize(l.New.Layer)
		if size == Unknown {
			return res.unknownSize(in)
		}
		reused += size
	}
	if old == Unknown {
		return res.unknownSize(in)
	}
	if old == 0 {
		// Nothing to reuse: the cache cannot have failed.
		res.Actual, res.Status = 100, CheckPass
		return res
	}
	res.Actual, res.Bytes, res.Of = share(reused, old), reused, old
	res.Status = verdict(atLeastShare(reused, old, r.Percent), false)
	return res
}

// MaxWasted limits the image's wasted space (see WasteFigures), in bytes or as a
// percentage of its uncompressed size. Wasted space is always uncompressed.
type MaxWasted struct{ Limit Limit }

// Name implements Rule.
func (MaxWasted) Name() string { return "max-wasted" }

// Needs implements Rule.
func (MaxWasted) Needs() RuleNeeds { return RuleNeeds{Waste: true} }

// Evaluate implements Rule.
func (r MaxWasted) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: r.Limit.Unit(UnitBytes), Limit: r.Limit.Value}
	w := in.Waste
	if w == nil {
		return res.problem(wasteMissing)
	}
	if !r.Limit.Percent {
		res.Actual = float64(w.WastedSize)
		res.Status = verdict(float64(w.WastedSize) <= r.Limit.Value, false)
		return res
	}
	res.Actual, res.Bytes, res.Of = share(w.WastedSize, w.TotalSize), w.WastedSize, w.TotalSize
	res.Status = verdict(withinShare(w.WastedSize, w.TotalSize, r.Limit.Value), false)
	return res
}

// MinEfficiency sets the least efficiency an image may have: 1 - wasted/size, from
// the uncompressed sizes (an empty image is fully efficient).
type MinEfficiency struct{ Ratio float64 }

// Name implements Rule.
func (MinEfficiency) Name() string { return "min-efficiency" }

// Needs implements Rule.
func (MinEfficiency) Needs() RuleNeeds { return RuleNeeds{Waste: true} }

// Evaluate implements Rule.
func (r MinEfficiency) Evaluate(in CheckInput) RuleResult {
	res := RuleResult{Unit: UnitRatio, Limit: r.Ratio}
	w := in.Waste
	if w == nil {
		return res.problem(wasteMissing)
	}
	kept := w.TotalSize - w.WastedSize
	res.Actual, res.Bytes, res.Of = 1, w.WastedSize, w.TotalSize
	if w.TotalSize > 0 {
		res.Actual = float64(kept) / float64(w.TotalSize)
	}
	res.Status = verdict(float64(kept) >= r.Ratio*float64(w.TotalSize), false)
	return res
}

// wasteMissing is the problem of a wasted-space rule evaluated without the figure.
const wasteMissing = "needs the wasted-space figure of the image's files, which was not read"

// baselineSize is the baseline image's total in the measure the check uses.
func (in CheckInput) baselineSize() int64 {
	var sizes []int64
	for _, l := range in.Baseline.Layers {
		if l.Old != nil {
			sizes = append(sizes, in.layerSize(l.Old.Layer))
		}
	}
	return addSizes(sizes...)
}

func (res RuleResult) problem(why string) RuleResult {
	res.Status, res.Problem = CheckError, why
	return res
}

func (res RuleResult) unknownSize(in CheckInput) RuleResult {
	if in.Compressed {
		return res.problem("a compressed layer size is unknown: this source stores layers uncompressed (check the image in a registry, an OCI layout or without --compressed)")
	}
	return res.problem("an uncompressed layer size is unknown")
}
