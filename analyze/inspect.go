package analyze

import (
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Inspection is what `inspect` reports of one image.
type Inspection struct {
	Image string
	// ID is the config digest; EngineID the engine's own image ID (see Image.EngineID).
	ID           string
	EngineID     string
	OS           string
	Architecture string
	Variant      string
	// Size is the total uncompressed size; Unknown if any layer's is.
	Size int64
	// CompressedSize is the total compressed size; Unknown if any layer's is.
	CompressedSize int64
	Layers         []LayerInfo
	// Steps are all history entries in build order, layer-making or not.
	Steps []Step
	// HistoryMatched is false when the history cannot be tied to the layers;
	// HistoryProblem then says why.
	HistoryMatched bool
	HistoryProblem string
	Config         RuntimeConfig
}

// LayerInfo is one layer with the step that made it.
type LayerInfo struct {
	Layer
	Index int
	// Instruction and CreatedBy are empty when the history does not match.
	Instruction string
	CreatedBy   string
	// Comment is the step's history comment ("Imported from -").
	Comment string
	Created time.Time
}

// RuntimeConfig is the part of the image config that shapes a container.
type RuntimeConfig struct {
	User         string
	WorkingDir   string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	ExposedPorts []string
	Volumes      []string
	Labels       map[string]string
}

// Inspect describes an image layer by layer.
func Inspect(img Image) Inspection {
	cfg := img.Config
	if cfg == nil {
		cfg = &v1.ConfigFile{}
	}
	h := img.History()
	steps := h.Steps
	in := Inspection{
		Image:          img.Ref,
		ID:             img.ID,
		EngineID:       img.EngineID,
		OS:             cfg.OS,
		Architecture:   cfg.Architecture,
		Variant:        cfg.Variant,
		Size:           img.Size(),
		CompressedSize: img.CompressedSize(),
		Steps:          steps,
		HistoryMatched: h.Matched,
		HistoryProblem: h.Problem,
		Config:         runtimeConfig(cfg.Config),
	}
	in.Layers = make([]LayerInfo, len(img.Layers))
	for i, l := range img.Layers {
		in.Layers[i] = LayerInfo{Layer: l, Index: i}
	}
	for _, s := range steps {
		if s.Layer >= 0 {
			li := &in.Layers[s.Layer]
			li.Instruction, li.CreatedBy, li.Comment, li.Created = s.Instruction, s.CreatedBy, s.Comment, s.Created
		}
	}
	return in
}

func runtimeConfig(c v1.Config) RuntimeConfig {
	return RuntimeConfig{
		User:         c.User,
		WorkingDir:   c.WorkingDir,
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Cmd,
		Env:          c.Env,
		ExposedPorts: sortedKeys(c.ExposedPorts),
		Volumes:      sortedKeys(c.Volumes),
		Labels:       c.Labels,
	}
}

func sortedKeys(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
