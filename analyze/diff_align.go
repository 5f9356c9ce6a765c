package analyze

import "strings"

// How two histories are put side by side (see Compare).

// diffSegment is the metadata-only steps before a layer, and that layer's step (nil
// for the steps above the top layer).
type diffSegment struct {
	meta  []int
	layer int // index into the steps, -1 for none
}

func diffSegments(steps []Step) []diffSegment {
	var segs []diffSegment
	cur := diffSegment{layer: -1}
	for i, s := range steps {
		if s.EmptyLayer {
			cur.meta = append(cur.meta, i)
			continue
		}
		cur.layer = i
		segs = append(segs, cur)
		cur = diffSegment{layer: -1}
	}
	return append(segs, cur)
}

func alignSteps(oldSteps, newSteps []Step) []StepDiff {
	oldSegs, newSegs := diffSegments(oldSteps), diffSegments(newSteps)
	// Segment j holds layer j's step and the metadata-only steps before it; the last
	// segment of each list holds the steps above its top layer.
	matches := func(o, n []int) int {
		k := 0
		for i := range min(len(o), len(n)) {
			if oldSteps[o[i]].Instruction == newSteps[n[i]].Instruction {
				k++
			}
		}
		return k
	}
	switch {
	case len(oldSegs) < len(newSegs):
		oldSegs = stretchSegments(oldSegs, newSegs, func(top, other []int) int { return matches(top, other) })
	case len(newSegs) < len(oldSegs):
		newSegs = stretchSegments(newSegs, oldSegs, func(top, other []int) int { return matches(other, top) })
	}

	var rows []StepDiff
	row := func(oi, ni int) {
		r := StepDiff{Layer: -1, oldIdx: oi, newIdx: ni}
		if oi >= 0 {
			s := oldSteps[oi]
			r.Old = &s
			r.Layer = s.Layer
		}
		if ni >= 0 {
			s := newSteps[ni]
			r.New = &s
			r.Layer = s.Layer
		}
		r.TextChanged = r.Old != nil && r.New != nil && diffText(r.Old.CreatedBy) != diffText(r.New.CreatedBy)
		r.InstructionChanged = r.Old != nil && r.New != nil && r.Old.Instruction != r.New.Instruction
		rows = append(rows, r)
	}
	for j := range oldSegs {
		o, n := oldSegs[j], newSegs[j]
		for k := range max(len(o.meta), len(n.meta)) {
			oi, ni := -1, -1
			if k < len(o.meta) {
				oi = o.meta[k]
			}
			if k < len(n.meta) {
				ni = n.meta[k]
			}
			row(oi, ni)
		}
		if o.layer >= 0 || n.layer >= 0 {
			row(o.layer, n.layer)
		}
	}
	return rows
}

// stretchSegments pads segs with empty segments to the length of longer, its last
// segment (the steps above its top layer) moved to the place among the rest whose
// metadata-only steps score best against its own, the lowest on a tie.
func stretchSegments(segs, longer []diffSegment, score func(top, other []int) int) []diffSegment {
	out := make([]diffSegment, len(longer))
	for i := range out {
		out[i].layer = -1
	}
	last := len(segs) - 1
	copy(out, segs[:last])
	best, bestScore := last, -1
	for j := last; j < len(longer); j++ {
		if sc := score(segs[last].meta, longer[j].meta); sc > bestScore {
			best, bestScore = j, sc
		}
	}
	out[best] = segs[last]
	return out
}

// diffText is a history text with its whitespace normalised.
func diffText(createdBy string) string {
	return strings.Join(strings.Fields(createdBy), " ")
}
