package analyze

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Step is one history entry of an image config, in build order.
type Step struct {
	// Instruction is the normalised Dockerfile instruction (see Instruction).
	Instruction string
	// CreatedBy is the raw history text.
	CreatedBy string
	// Comment is the history comment ("buildkit.dockerfile.v0", "Imported from -").
	Comment string
	// Created is when the step ran; zero when not recorded.
	Created time.Time
	// EmptyLayer is the config's own flag: the step changed only metadata.
	EmptyLayer bool
	// Layer is the index of the layer the step made, or -1 when EmptyLayer is true or
	// the history could not be matched to the layers.
	Layer int
}

// History is an image's history tied to its layers: the step↔layer mapping, made once
// per image and shared by every analysis.
type History struct {
	// Steps are every history entry in build order (see Steps).
	Steps []Step
	// Matched is false when the history cannot be tied to the layers; Problem says why.
	Matched bool
	Problem string
	// ByLayer is the index into Steps of the step that made each layer; nil when the
	// history does not match.
	ByLayer []int
}

// History maps img's history onto its layers.
func (img Image) History() History {
	steps, ok, problem := Steps(img.Config, len(img.Layers))
	h := History{Steps: steps, Matched: ok, Problem: problem}
	if ok {
		h.ByLayer = make([]int, len(img.Layers))
		for i, s := range steps {
			if s.Layer >= 0 {
				h.ByLayer[s.Layer] = i
			}
		}
	}
	return h
}

// LayerStep returns the step that made layer i; the zero Step when the history does not
// match.
func (h History) LayerStep(i int) Step {
	if h.ByLayer == nil || i < 0 || i >= len(h.ByLayer) {
		return Step{Layer: -1}
	}
	return h.Steps[h.ByLayer[i]]
}

// Steps maps the config's history onto the layers with the empty_layer flags, never with
// sizes: a step with a size of 0 may still be a real layer (WORKDIR makes one in both
// builders). ok is false when the history and the layers disagree (squashed or
// hand-made images); then no step is tied to a layer and reason says why.
func Steps(cfg *v1.ConfigFile, layers int) (steps []Step, ok bool, reason string) {
	if cfg == nil {
		return nil, layers == 0, "the image has no config"
	}
	nonEmpty := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	ok = nonEmpty == layers
	if !ok {
		reason = fmt.Sprintf("the history records %s but the image has %s: it was squashed or built by hand, so layers are shown without instructions", count(nonEmpty, "layer-making step"), count(layers, "layer"))
	}
	next := 0
	for _, h := range cfg.History {
		s := Step{
			Instruction: Instruction(h.CreatedBy),
			CreatedBy:   h.CreatedBy,
			Comment:     h.Comment,
			Created:     h.Created.Time,
			EmptyLayer:  h.EmptyLayer,
			Layer:       -1,
		}
		if !h.EmptyLayer {
			if ok {
				s.Layer = next
			}
			next++
		}
		steps = append(steps, s)
	}
	return steps, ok, reason
}

// count says "1 layer", "2 layers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
