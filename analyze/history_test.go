package analyze

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func history(entries ...v1.History) *v1.ConfigFile {
	return &v1.ConfigFile{History: entries}
}

func TestStepsMapsWithEmptyLayerFlags(t *testing.T) {
	// A real, empty WORKDIR layer (size 0, but empty_layer false) sits between two
	// metadata-only steps: it must take a layer index, and the ENV must not.
	cfg := history(
		v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:aa in / "},
		v1.History{CreatedBy: "/bin/sh -c #(nop)  CMD [\"sh\"]", EmptyLayer: true},
		v1.History{CreatedBy: "/bin/sh -c #(nop) WORKDIR /app"},
		v1.History{CreatedBy: "ENV A=b", EmptyLayer: true},
		v1.History{CreatedBy: "RUN /bin/sh -c make # buildkit"},
	)
	steps, ok, reason := Steps(cfg, 3)
	if !ok || reason != "" {
		t.Fatalf("Steps: ok=%v reason=%q", ok, reason)
	}
	wantLayers := []int{0, -1, 1, -1, 2}
	for i, s := range steps {
		if s.Layer != wantLayers[i] {
			t.Errorf("step %d (%s): layer %d, want %d", i, s.Instruction, s.Layer, wantLayers[i])
		}
	}
	if steps[2].Instruction != "WORKDIR /app" || steps[4].Instruction != "RUN make" {
		t.Errorf("instructions: %q, %q", steps[2].Instruction, steps[4].Instruction)
	}
}

func TestStepsMismatch(t *testing.T) {
	// A squashed image: three layers, one layer-making step.
	cfg := history(v1.History{CreatedBy: "ADD x /"}, v1.History{CreatedBy: "CMD [\"sh\"]", EmptyLayer: true})
	steps, ok, reason := Steps(cfg, 3)
	if ok {
		t.Fatal("Steps matched a squashed image")
	}
	if !strings.Contains(reason, "1 layer-making step but the image has 3 layers") {
		t.Errorf("reason: %q", reason)
	}
	for _, s := range steps {
		if s.Layer != -1 {
			t.Errorf("step %q tied to layer %d in a mismatched history", s.Instruction, s.Layer)
		}
	}
	if _, ok, _ := Steps(history(), 2); ok {
		t.Error("no history at all matched two layers")
	}
	if _, ok, _ := Steps(nil, 0); !ok {
		t.Error("an image with no config and no layers should match")
	}
}
