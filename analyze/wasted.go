package analyze

import (
	"sort"
	"strings"
)

// Files is what `files` reports of one image: each layer's changes, the bytes stored in
// layers but hidden from the final filesystem, and hints at known bloat.
type Files struct {
	// Size is the total uncompressed bytes of all layers: the sum of their regular
	// files' sizes, a hardlinked file counted once.
	Size int64
	// WastedSize is the uncompressed bytes of file versions that a later layer (or a
	// later entry of the same layer) overwrote, deleted or hid under an opaque
	// directory, each hidden version counted once, ignored paths left out.
	WastedSize int64
	// Efficiency is 1 − WastedSize ÷ Size (1 for an empty image).
	Efficiency float64
	Layers     []LayerFiles
	// Wasted lists each path with hidden versions, most bytes first.
	Wasted []WastedPath
	Hints  []Hint
	Notes  []Note
}

// LayerFiles is what one layer changed.
type LayerFiles struct {
	Index int
	// Instruction is the step that made the layer; empty when the history does not tell.
	Instruction string
	// Size is the layer's uncompressed size (its regular files, hardlinks once).
	Size int64
	// Changes are the paths the layer added, modified or deleted (the size of a
	// deletion is the visible bytes it removed), biggest first, as the options kept them.
	Changes []FileChange
}

// WastedPath is one path whose stored versions the final filesystem does not show.
type WastedPath struct {
	Path string
	// Size is the uncompressed bytes of its hidden versions, each counted once.
	Size int64
	// Layers hold the hidden versions, bottom first.
	Layers []int
	// HiddenBy is the last layer that hid a version of it, and HiddenByInstruction that
	// layer's step.
	HiddenBy            int
	HiddenByInstruction string
}

// HintKind names a kind of bloat hint.
type HintKind string

// The kinds of bloat hint.
const (
	HintPackageCache HintKind = "package-cache" // package manager lists and caches, /tmp
	HintDuplicate    HintKind = "duplicate"     // the same content stored at several paths
)

// Hint is known bloat, where it is true, with the fix in one line.
type Hint struct {
	Kind  HintKind
	Layer int
	Paths []string
	// Size is the uncompressed bytes the fix would save.
	Size int64
	Fix  string
}

// cacheRule is a known package-manager leftover: files under dir (a "~/" dir is looked
// for under /root and every /home/USER).
type cacheRule struct {
	dir string
	fix string
}

var cacheRules = []cacheRule{
	{"/var/lib/apt/lists", "rm -rf /var/lib/apt/lists/* in the RUN that runs apt-get update"},
	{"/var/cache/apt", "apt-get clean in the same RUN, or RUN --mount=type=cache,target=/var/cache/apt"},
	{"/var/cache/apk", "apk add --no-cache"},
	{"~/.npm", "npm cache clean --force in the same RUN, or RUN --mount=type=cache,target=/root/.npm"},
	{"~/.cache/pip", "pip install --no-cache-dir"},
	{"~/.cache/go-build", "RUN --mount=type=cache,target=/root/.cache/go-build go build …"},
	{"/tmp", "delete /tmp files in the RUN that makes them, or RUN --mount=type=tmpfs,target=/tmp"},
}

// cacheRuleOf returns the index of the rule p falls under and the rule's directory as
// found (with the home expanded), or -1.
func cacheRuleOf(p string) (int, string) {
	home := ""
	switch {
	case strings.HasPrefix(p, "/root/"):
		home = "/root"
	case strings.HasPrefix(p, "/home/"):
		if i := strings.IndexByte(p[len("/home/"):], '/'); i > 0 {
			home = p[:len("/home/")+i]
		}
	}
	for i, r := range cacheRules {
		dir := r.dir
		if rest, ok := strings.CutPrefix(dir, "~"); ok {
			if home == "" {
				continue
			}
			dir = home + rest
		}
		if strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == '/' {
			return i, dir
		}
	}
	return -1, ""
}

func (fs *Filesystem) noteCache(p string, size int64) {
	if size == 0 || (p[1] != 'v' && p[1] != 'r' && p[1] != 'h' && p[1] != 't') {
		return
	}
	i, dir := cacheRuleOf(p)
	if i < 0 {
		return
	}
	k := cacheKey{fs.layer, i}
	fs.cache[k] += size
	// The directory as found (one per home), so the hint can name it.
	if !containsString(fs.cacheDirs[k], dir) {
		fs.cacheDirs[k] = append(fs.cacheDirs[k], dir)
	}
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// dupMinSize is the smallest file worth a duplicate hint: small copies (licences,
// empty __init__.py) are common and not worth a rebuild.
const dupMinSize = 64 << 10

// Report ends the replay and returns what it found. steps (from Steps) name each
// layer's instruction; nil leaves instructions empty.
func (fs *Filesystem) Report(steps []Step) Files {
	instr := make([]string, len(fs.layers))
	for _, s := range steps {
		if s.Layer >= 0 && s.Layer < len(instr) {
			instr[s.Layer] = s.Instruction
		}
	}
	var out Files
	for i, l := range fs.layers {
		out.Size += l.size
		changes := l.changes
		sort.SliceStable(changes, func(a, b int) bool {
			if changes[a].Size != changes[b].Size {
				return changes[a].Size > changes[b].Size
			}
			return changes[a].Path < changes[b].Path
		})
		out.Layers = append(out.Layers, LayerFiles{Index: i, Instruction: instr[i], Size: l.size, Changes: changes})
	}
	out.Wasted = make([]WastedPath, 0, len(fs.wasted))
	for p, w := range fs.wasted {
		wp := WastedPath{Path: p, Size: w.size, HiddenBy: int(w.hiddenBy), HiddenByInstruction: instr[w.hiddenBy]}
		for i := 0; i < 128; i++ {
			if w.layers[i/64]&(1<<(i%64)) != 0 {
				wp.Layers = append(wp.Layers, i)
			}
		}
		wp.Layers = append(wp.Layers, fs.highLayers[p]...)
		sort.Ints(wp.Layers)
		out.WastedSize += w.size
		out.Wasted = append(out.Wasted, wp)
	}
	sort.Slice(out.Wasted, func(a, b int) bool {
		if out.Wasted[a].Size != out.Wasted[b].Size {
			return out.Wasted[a].Size > out.Wasted[b].Size
		}
		return out.Wasted[a].Path < out.Wasted[b].Path
	})
	out.Efficiency = 1
	if out.Size > 0 {
		out.Efficiency = 1 - float64(out.WastedSize)/float64(out.Size)
	}
	out.Hints = append(fs.cacheHints(), fs.duplicateHints()...)
	out.Notes = fs.notes
	return out
}

func (fs *Filesystem) cacheHints() []Hint {
	var out []Hint
	for k, size := range fs.cache {
		dirs := append([]string(nil), fs.cacheDirs[k]...)
		sort.Strings(dirs)
		out = append(out, Hint{Kind: HintPackageCache, Layer: k.layer, Paths: dirs, Size: size, Fix: cacheRules[k.rule].fix})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Layer != out[b].Layer {
			return out[a].Layer < out[b].Layer
		}
		return out[a].Paths[0] < out[b].Paths[0]
	})
	return out
}

// duplicateHints finds regular files of the final filesystem with the same content at
// several paths (hardlinks are one file, not copies). It needs content digests: without
// them it finds nothing.
func (fs *Filesystem) duplicateHints() []Hint {
	if !fs.digests {
		return nil
	}
	type copies struct {
		size  int64
		layer int32
		paths []*node
		inos  []*inode
	}
	bySum := map[[32]byte]*copies{}
	fs.root.walk(func(n *node) {
		sum := n.sum()
		if n.kind != nFile || sum == nil || n.size < dupMinSize {
			return
		}
		c := bySum[*sum]
		if c == nil {
			c = &copies{size: n.size}
			bySum[*sum] = c
		}
		if ino := n.ino(); ino != nil {
			for _, seen := range c.inos {
				if seen == ino {
					return
				}
			}
			c.inos = append(c.inos, ino)
		}
		c.paths = append(c.paths, n)
		c.layer = max(c.layer, n.layer)
	})
	var out []Hint
	for _, c := range bySum {
		if len(c.paths) < 2 {
			continue
		}
		h := Hint{Kind: HintDuplicate, Layer: int(c.layer), Size: c.size * int64(len(c.paths)-1),
			Fix: "keep one copy (COPY --link or a symlink), or copy it from one stage only"}
		for _, n := range c.paths {
			h.Paths = append(h.Paths, n.path())
		}
		sort.Strings(h.Paths)
		out = append(out, h)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Size != out[b].Size {
			return out[a].Size > out[b].Size
		}
		return out[a].Paths[0] < out[b].Paths[0]
	})
	return out
}

// walk calls fn for n and everything below it, in path order.
func (n *node) walk(fn func(*node)) {
	fn(n)
	for _, c := range n.sortedChildren() {
		c.walk(fn)
	}
}
