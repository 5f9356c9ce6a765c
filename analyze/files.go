package analyze

import (
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Filesystem replays an image's layers, bottom first, as overlay filesystems apply them,
// and records what each layer changed and which stored bytes end up hidden. It consumes
// each layer's entries as a stream (Apply), so layers can be read in parallel and fed in
// order, and it keeps one small node per path — never contents — so its memory grows
// with the number of paths, not with bytes.
type Filesystem struct {
	opts   FilesOptions
	root   *node
	layer  int // layer being applied; -1 before the first
	layers []layerState
	wasted map[string]*WastedPath
	notes  []Note
	// cache is the bytes each layer wrote under known package-manager leftovers.
	cache     map[cacheKey]int64
	cacheDirs map[cacheKey][]string
}

// FilesOptions tune what a Filesystem keeps.
type FilesOptions struct {
	// Changes, when set, says whether to keep layer's change to p (for --layer and
	// --path filters); nil keeps none, which is what a waste-only run wants.
	Changes func(layer int, p string) bool
	// Ignore, when set, leaves the paths it matches out of the waste figure.
	Ignore func(p string) bool
}

type layerState struct {
	size    int64
	changes []FileChange
}

type cacheKey struct {
	layer int
	rule  int
}

// node is one path of the filesystem as it stands after the layers applied so far.
type node struct {
	name     string
	parent   *node
	children map[string]*node // directories only
	// layer is the layer that wrote this version; for a directory, the last layer that
	// had an entry at or below it (what an opaque marker in a later layer compares to).
	layer int32
	kind  FileKind
	mode  uint32
	size  int64
	link  string    // a symlink's target
	sum   *[32]byte // content digest, when entries carried one
	ino   *inode    // shared by the paths of a hardlinked file
}

// inode is a regular file reachable from several paths (hardlinks): its bytes are
// stored once and hidden only when the last path to it is.
type inode struct {
	size  int64
	layer int32
	refs  int32
	path  string // the path its content was stored at
}

// Note is something suspicious in a layer, reported and never followed.
type Note struct {
	Layer int
	Path  string
	Text  string
}

// NewFilesystem returns an empty filesystem for an image of layers layers.
func NewFilesystem(layers int, opts FilesOptions) *Filesystem {
	return &Filesystem{
		opts:   opts,
		root:   &node{kind: KindDir, children: map[string]*node{}},
		layer:  -1,
		layers: make([]layerState, layers),
		wasted: map[string]*WastedPath{},
		cache:  map[cacheKey]int64{},

		cacheDirs: map[cacheKey][]string{},
	}
}

// Apply adds one entry of layer to the filesystem. Layers must come bottom first: every
// entry of layer n before any of layer n+1; within a layer, in tar order.
func (fs *Filesystem) Apply(layer int, f File) error {
	if layer < fs.layer || layer >= len(fs.layers) {
		return fmt.Errorf("layer %d applied out of order (after layer %d of %d)", layer, fs.layer, len(fs.layers))
	}
	fs.layer = layer
	if f.Path == "" {
		return nil
	}
	if f.Note != "" {
		fs.notes = append(fs.notes, Note{Layer: layer, Path: f.Path, Text: f.Note})
	}
	fs.layers[layer].size += f.Size
	switch f.Kind {
	case KindWhiteout:
		fs.whiteout(f.Path)
	case KindOpaque:
		dir := fs.ensureDir(f.Path)
		fs.opaque(dir, f.Path)
	default:
		fs.add(f)
	}
	return nil
}

// ensureDir returns the directory at p, creating it (and hiding what was there, if not
// a directory) with every missing parent, and marks the path touched by this layer.
func (fs *Filesystem) ensureDir(p string) *node {
	n := fs.root
	l := int32(fs.layer)
	if p == "/" {
		return n
	}
	rest := p[1:]
	for rest != "" {
		name := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		n.layer = max(n.layer, l)
		c := n.children[name]
		if c != nil && c.kind != KindDir {
			fs.hide(c)
			delete(n.children, name)
			c = nil
		}
		if c == nil {
			c = &node{name: strings.Clone(name), parent: n, kind: KindDir, layer: l, children: map[string]*node{}}
			n.children[c.name] = c
		}
		n = c
	}
	n.layer = max(n.layer, l)
	return n
}

// add applies a file, directory, link or other entry.
func (fs *Filesystem) add(f File) {
	dirPath, name := path.Split(f.Path)
	if name == "" { // the root itself
		return
	}
	parent := fs.ensureDir(path.Clean(dirPath))
	old := parent.children[name]
	if f.Kind == KindDir && old != nil && old.kind == KindDir {
		old.layer, old.mode = int32(fs.layer), uint32(f.Mode)
		return
	}
	change := FileAdded
	if old != nil {
		change = FileModified
		fs.hide(old)
	}
	n := &node{name: strings.Clone(name), parent: parent, kind: f.Kind, layer: int32(fs.layer), mode: uint32(f.Mode), size: f.Size}
	switch f.Kind {
	case KindDir:
		n.children = map[string]*node{}
	case KindSymlink:
		n.link = f.Link
	case KindFile:
		n.sum = parseDigest(f.Digest)
		fs.noteCache(f.Path, f.Size)
	case KindHardlink:
		fs.hardlink(n, f)
	}
	parent.children[n.name] = n
	fs.keepChange(f.Path, change, n.size)
}

// hardlink makes n another path to the regular file f links to; a target that is not a
// regular file already in the filesystem is a note, and n stays an empty link.
func (fs *Filesystem) hardlink(n *node, f File) {
	target := path.Clean("/" + strings.TrimPrefix(f.Link, "./"))
	t := fs.lookup(target)
	if t == nil || t.kind != KindFile {
		fs.notes = append(fs.notes, Note{Layer: fs.layer, Path: f.Path, Text: "hardlink to missing target " + target})
		return
	}
	if t.ino == nil {
		t.ino = &inode{size: t.size, layer: t.layer, refs: 1, path: t.path()}
	}
	t.ino.refs++
	n.kind, n.size, n.sum, n.ino = KindFile, t.size, t.sum, t.ino
}

func (fs *Filesystem) whiteout(p string) {
	n := fs.lookup(p)
	if n == nil || n.parent == nil {
		return
	}
	size := n.visibleSize()
	fs.hide(n)
	delete(n.parent.children, n.name)
	fs.keepChange(p, FileDeleted, size)
}

// opaque hides everything under dir that layers below the current one put there.
func (fs *Filesystem) opaque(dir *node, p string) {
	l := int32(fs.layer)
	for name, c := range dir.children {
		cp := path.Join(p, name)
		switch {
		case c.layer < l:
			size := c.visibleSize()
			fs.hide(c)
			delete(dir.children, name)
			fs.keepChange(cp, FileDeleted, size)
		case c.kind == KindDir:
			fs.opaque(c, cp)
		}
	}
}

// hide records that n and everything under it are no longer visible: the current layer
// overwrote or deleted them.
func (fs *Filesystem) hide(n *node) {
	for _, c := range n.children {
		fs.hide(c)
	}
	if n.kind != KindFile {
		return
	}
	size, layer := n.size, n.layer
	var p string
	if n.ino != nil {
		if n.ino.refs--; n.ino.refs > 0 {
			return
		}
		size, layer, p = n.ino.size, n.ino.layer, n.ino.path
	} else if size > 0 {
		p = n.path()
	}
	if size == 0 || (fs.opts.Ignore != nil && fs.opts.Ignore(p)) {
		return
	}
	w := fs.wasted[p]
	if w == nil {
		w = &WastedPath{Path: p}
		fs.wasted[p] = w
	}
	w.Size += size
	if !containsInt(w.Layers, int(layer)) {
		w.Layers = append(w.Layers, int(layer))
	}
	w.HiddenBy = fs.layer
}

func (fs *Filesystem) keepChange(p string, c FileChangeKind, size int64) {
	if fs.opts.Changes != nil && fs.opts.Changes(fs.layer, p) {
		ls := &fs.layers[fs.layer]
		ls.changes = append(ls.changes, FileChange{Path: p, Change: c, Size: size})
	}
}

func (fs *Filesystem) lookup(p string) *node {
	n := fs.root
	if p == "/" {
		return n
	}
	rest := p[1:]
	for rest != "" && n != nil {
		name := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		n = n.children[name]
	}
	return n
}

// path is n's absolute path.
func (n *node) path() string {
	if n.parent == nil {
		return "/"
	}
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		parts = append(parts, c.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// visibleSize is the bytes of regular files visible at or below n.
func (n *node) visibleSize() int64 {
	s := n.size
	if n.kind != KindFile {
		s = 0
	}
	for _, c := range n.children {
		s += c.visibleSize()
	}
	return s
}

func parseDigest(d string) *[32]byte {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return nil
	}
	var sum [32]byte
	if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
		return nil
	}
	return &sum
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sortedChildren returns n's children by name.
func (n *node) sortedChildren() []*node {
	out := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
