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
	wasted map[string]wasteRec
	// highLayers are the layers above 127 holding hidden versions (an image that
	// tall cannot run on overlayfs, but may still be read).
	highLayers map[string][]int
	notes      []Note
	// cache is the bytes each layer wrote under known package-manager leftovers.
	cache     map[cacheKey]int64
	cacheDirs map[cacheKey][]string
	digests   bool // some entry carried a content digest
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
	mode  uint32
	kind  nodeKind
	size  int64
	// extra holds what few paths have (a digest, a link target, an inode), so the
	// common node stays small: memory per path bounds a million-entry image.
	extra *nodeExtra
}

type nodeExtra struct {
	link   string   // a symlink's target
	sum    [32]byte // content digest, when the entry carried one
	hasSum bool
	ino    *inode // shared by the paths of a hardlinked file
}

// nodeKind is a FileKind in one byte.
type nodeKind uint8

const (
	nOther nodeKind = iota
	nFile
	nDir
	nSymlink
	nHardlink
)

func kindOf(k FileKind) nodeKind {
	switch k {
	case KindFile:
		return nFile
	case KindDir:
		return nDir
	case KindSymlink:
		return nSymlink
	case KindHardlink:
		return nHardlink
	}
	return nOther
}

func (k nodeKind) fileKind() FileKind {
	return [...]FileKind{nOther: KindOther, nFile: KindFile, nDir: KindDir, nSymlink: KindSymlink, nHardlink: KindHardlink}[k]
}

func (n *node) ino() *inode {
	if n.extra == nil {
		return nil
	}
	return n.extra.ino
}

func (n *node) sum() *[32]byte {
	if n.extra == nil || !n.extra.hasSum {
		return nil
	}
	return &n.extra.sum
}

func (n *node) link() string {
	if n.extra == nil {
		return ""
	}
	return n.extra.link
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
		root:   &node{kind: nDir, children: map[string]*node{}},
		layer:  -1,
		layers: make([]layerState, layers),
		wasted: map[string]wasteRec{},

		highLayers: map[string][]int{},
		cache:      map[cacheKey]int64{},

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
		if c != nil && c.kind != nDir {
			fs.hide(c)
			delete(n.children, name)
			c = nil
		}
		if c == nil {
			c = &node{name: strings.Clone(name), parent: n, kind: nDir, layer: l, children: map[string]*node{}}
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
	if f.Kind == KindDir && old != nil && old.kind == nDir {
		old.layer, old.mode = int32(fs.layer), uint32(f.Mode)
		return
	}
	change := FileAdded
	if old != nil {
		change = FileModified
		fs.hide(old)
	}
	n := &node{name: strings.Clone(name), parent: parent, kind: kindOf(f.Kind), layer: int32(fs.layer), mode: uint32(f.Mode), size: f.Size}
	switch f.Kind {
	case KindDir:
		n.children = map[string]*node{}
	case KindSymlink:
		n.extra = &nodeExtra{link: f.Link}
	case KindFile:
		if sum, ok := parseDigest(f.Digest); ok {
			n.extra = &nodeExtra{sum: sum, hasSum: true}
			fs.digests = true
		}
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
	if t == nil || t.kind != nFile {
		fs.notes = append(fs.notes, Note{Layer: fs.layer, Path: f.Path, Text: "hardlink to missing target " + target})
		return
	}
	if t.extra == nil {
		t.extra = &nodeExtra{}
	}
	if t.extra.ino == nil {
		t.extra.ino = &inode{size: t.size, layer: t.layer, refs: 1, path: t.path()}
	}
	t.extra.ino.refs++
	x := *t.extra
	n.kind, n.size, n.extra = nFile, t.size, &x
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
		case c.kind == nDir:
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
	if n.kind != nFile {
		return
	}
	size, layer := n.size, n.layer
	var p string
	if ino := n.ino(); ino != nil {
		if ino.refs--; ino.refs > 0 {
			return
		}
		size, layer, p = ino.size, ino.layer, ino.path
	} else if size > 0 {
		p = n.path()
	}
	if size == 0 || (fs.opts.Ignore != nil && fs.opts.Ignore(p)) {
		return
	}
	w := fs.wasted[p]
	w.size += size
	w.hiddenBy = int32(fs.layer)
	if layer < 128 {
		w.layers[layer/64] |= 1 << (layer % 64)
	} else if !containsInt(fs.highLayers[p], int(layer)) {
		fs.highLayers[p] = append(fs.highLayers[p], int(layer))
	}
	fs.wasted[p] = w
}

// wasteRec is what the replay keeps per wasted path: small, as there may be a
// million of them.
type wasteRec struct {
	size     int64
	layers   [2]uint64 // layers 0..127 holding hidden versions, as bits
	hiddenBy int32
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
	if n.kind != nFile {
		s = 0
	}
	for _, c := range n.children {
		s += c.visibleSize()
	}
	return s
}

func parseDigest(d string) (sum [32]byte, ok bool) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
		return sum, false
	}
	return sum, true
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
