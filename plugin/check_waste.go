package plugin

import (
	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// wasteReplay asks Load to replay every layer of the images whose rules read wasted
// space, one filesystem each (the replay of `files`), and nothing of the others.
type wasteReplay struct {
	refs  []string
	want  map[string]bool
	fs    []*analyze.Filesystem
	steps [][]analyze.Step
}

func (w *wasteReplay) need(sizes source.SizeNeed) source.Need {
	n := source.Need{Sizes: sizes}
	if len(w.want) == 0 {
		return n
	}
	n.Files = func(images []*source.Image) [][]int {
		out := make([][]int, len(images))
		w.fs, w.steps = make([]*analyze.Filesystem, len(images)), make([][]analyze.Step, len(images))
		for k, img := range images {
			if !w.want[w.refs[k]] {
				continue
			}
			w.fs[k] = analyze.NewFilesystem(len(img.Layers), analyze.FilesOptions{})
			w.steps[k] = img.Image.History().Steps
			for i := range img.Layers {
				out[k] = append(out[k], i)
			}
		}
		return out
	}
	n.Replay = func(k, layer int, f analyze.File) error { return w.fs[k].Apply(layer, f) }
	return n
}

// figures is image k's wasted-space figure; nil when it was not replayed.
func (w *wasteReplay) figures(k int) *analyze.WasteFigures {
	if k >= len(w.fs) || w.fs[k] == nil {
		return nil
	}
	r := w.fs[k].Report(w.steps[k])
	return &analyze.WasteFigures{WastedSize: r.WastedSize, TotalSize: r.Size}
}
