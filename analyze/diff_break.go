package analyze

import (
	"sort"
	"time"
)

// Where the cache first broke and why (see Compare).

// maskedInstruction is the normalised instruction with the legacy builder's content
// hashes masked, so a new hash reads as new inputs, not a new instruction.
func maskedInstruction(createdBy string) string {
	return Instruction(contentHash.ReplaceAllString(createdBy, "$1:<content>"))
}

// buildGap is the longest pause between two steps of one build (see Compare).
const buildGap = 3 * time.Hour

// buildStart returns the index of the first step of the image's own, topmost build.
func buildStart(steps []Step) int {
	start := len(steps)
	var above time.Time
	for i := len(steps) - 1; i >= 0; i-- {
		t := steps[i].Created
		if !t.IsZero() && !above.IsZero() && above.Sub(t) > buildGap {
			break
		}
		start = i
		if !t.IsZero() {
			above = t
		}
	}
	return start
}

// metaScope is the scope of a differing metadata-only row: the widest of its steps'.
func metaScope(r StepDiff) keyScope {
	scope := keysNothing
	for _, s := range []*Step{r.Old, r.New} {
		if s == nil {
			continue
		}
		kw := Keyword(s.Instruction)
		switch {
		case s.Comment != BuildKitComment:
			return keysAll
		case bkRunOnly[kw]:
			scope = keysRuns
		case !bkConfigOnly[kw]:
			return keysAll
		}
	}
	return scope
}

func firstStepBreak(rows []StepDiff, oldSteps, newSteps []Step, sameChain []bool) *Break {
	oldBase, newBase := buildStart(oldSteps), buildStart(newSteps)
	var unkeyed, runKeyed []int // differing rows passed over (see Break.Unkeyed)
	for i, r := range rows {
		differs := r.Old == nil || r.New == nil || r.TextChanged
		if !differs && r.Layer >= 0 {
			// Steps pair by layer index, so both made layer r.Layer.
			differs = !sameChain[r.Layer]
		}
		at := i // the breaking row
		switch {
		case r.Layer < 0 && differs && metaScope(r) == keysNothing:
			unkeyed = append(unkeyed, i)
			continue
		case r.Layer < 0 && differs && metaScope(r) == keysRuns:
			runKeyed = append(runKeyed, i)
			continue
		case r.Layer >= 0 && len(runKeyed) > 0 && r.New != nil && Keyword(r.New.Instruction) == "RUN":
			// The lowest ENV, ARG, USER or SHELL that differs broke this RUN.
			at = runKeyed[0]
		case !differs:
			continue
		}
		b := &Break{Step: at, Layer: -1}
		for _, above := range rows[i:] {
			if above.Layer >= 0 {
				b.Layer = above.Layer
				break
			}
		}
		for _, u := range append(unkeyed, runKeyed...) {
			if u < at {
				b.Unkeyed = append(b.Unkeyed, u)
			}
		}
		sort.Ints(b.Unkeyed)
		r = rows[at]
		if r.Old != nil {
			b.OldInstruction = r.Old.Instruction
		}
		if r.New != nil {
			b.NewInstruction = r.New.Instruction
		}
		switch {
		case r.New != nil && r.newIdx < newBase && (r.Old == nil || r.oldIdx < oldBase):
			b.Reason = ReasonBaseChanged
		case r.Old == nil && r.Layer >= 0:
			b.Reason = ReasonLayerAdded
		case r.New == nil && r.Layer >= 0:
			b.Reason = ReasonLayerRemoved
		case r.Old == nil || r.New == nil:
			b.Reason = ReasonInstructionChanged
		case maskedInstruction(r.Old.CreatedBy) != maskedInstruction(r.New.CreatedBy):
			b.Reason = ReasonInstructionChanged
		default:
			b.Reason = ReasonInputsChanged
		}
		b.Detail = breakDetail(b, r, at != i)
		return b
	}
	return nil
}

// breakDetail tells what within the reason broke the cache at row r; runKeyed is set
// when a differing ENV, ARG, USER or SHELL below broke the RUN above it.
func breakDetail(b *Break, r StepDiff, runKeyed bool) BreakDetail {
	switch b.Reason {
	case ReasonBaseChanged:
		return DetailBaseChanged
	case ReasonLayerAdded:
		return DetailLayerAdded
	case ReasonLayerRemoved:
		return DetailLayerRemoved
	}
	switch {
	case r.Old == nil:
		return DetailStepAdded
	case r.New == nil:
		return DetailStepRemoved
	case builtByBuildKit(r.Old) != builtByBuildKit(r.New):
		return DetailBuilderChanged
	case runKeyed:
		return DetailRunKeyed
	case b.Reason == ReasonInstructionChanged:
		return DetailInstructionChanged
	}
	switch kw := Keyword(r.New.Instruction); {
	case (kw == "COPY" || kw == "ADD") && (r.TextChanged || builtByBuildKit(r.New)):
		return DetailContextChanged
	case r.TextChanged:
		return DetailBuildArgsChanged
	}
	return DetailNotFromCache
}

// builtByBuildKit reports whether BuildKit ran a step (its history comment says so).
func builtByBuildKit(s *Step) bool { return s.Comment == BuildKitComment }

// firstLayerBreak is the first break when a history cannot be trusted: layers only.
func firstLayerBreak(sameChain []bool, oldLayers, newLayers int) *Break {
	for i, same := range sameChain {
		b := &Break{Step: -1, Layer: i}
		switch {
		case i >= oldLayers:
			b.Reason, b.Detail = ReasonLayerAdded, DetailLayerAdded
		case i >= newLayers:
			b.Reason, b.Detail = ReasonLayerRemoved, DetailLayerRemoved
		case !same:
			b.Reason, b.Detail = ReasonUnknown, DetailUnknown
		default:
			continue
		}
		return b
	}
	return nil
}
