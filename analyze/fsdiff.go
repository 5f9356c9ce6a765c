package analyze

import "path"

// More kinds of file change, for comparing two final filesystems.
const (
	FileTypeChanged FileChangeKind = "type-changed" // a file became a directory, a symlink…
	FileModeChanged FileChangeKind = "mode-changed" // same content, other permissions
)

// PathDiff is one path whose final state differs between two images.
type PathDiff struct {
	Path   string
	Change FileChangeKind
	// OldKind and NewKind are empty where the path is absent.
	OldKind, NewKind FileKind
	// OldSize and NewSize are uncompressed bytes (regular files only).
	OldSize, NewSize int64
}

// DiffFilesystems compares the final filesystems of two replayed images, path by path in
// path order: regular files by content digest when both sides carry one (so an edit
// that keeps the size shows), else by size; symlinks by target; then permissions.
func DiffFilesystems(oldFS, newFS *Filesystem) []PathDiff {
	var out []PathDiff
	diffNodes(oldFS.root, newFS.root, "/", &out)
	return out
}

func diffNodes(o, n *node, p string, out *[]PathDiff) {
	oc, nc := o.sortedChildren(), n.sortedChildren()
	i, j := 0, 0
	for i < len(oc) || j < len(nc) {
		switch {
		case j == len(nc) || (i < len(oc) && oc[i].name < nc[j].name):
			gone(oc[i], path.Join(p, oc[i].name), FileDeleted, out)
			i++
		case i == len(oc) || nc[j].name < oc[i].name:
			gone(nc[j], path.Join(p, nc[j].name), FileAdded, out)
			j++
		default:
			a, b := oc[i], nc[j]
			cp := path.Join(p, a.name)
			if c, changed := compareNodes(a, b); changed {
				*out = append(*out, PathDiff{Path: cp, Change: c, OldKind: a.kind.fileKind(), NewKind: b.kind.fileKind(), OldSize: fileSize(a), NewSize: fileSize(b)})
			}
			switch {
			case a.kind == nDir && b.kind == nDir:
				diffNodes(a, b, cp, out)
			case a.kind == nDir:
				for _, c := range a.sortedChildren() {
					gone(c, path.Join(cp, c.name), FileDeleted, out)
				}
			case b.kind == nDir:
				for _, c := range b.sortedChildren() {
					gone(c, path.Join(cp, c.name), FileAdded, out)
				}
			}
			i++
			j++
		}
	}
}

// gone reports n and everything below it as added or deleted.
func gone(n *node, p string, c FileChangeKind, out *[]PathDiff) {
	d := PathDiff{Path: p, Change: c}
	if c == FileDeleted {
		d.OldKind, d.OldSize = n.kind.fileKind(), fileSize(n)
	} else {
		d.NewKind, d.NewSize = n.kind.fileKind(), fileSize(n)
	}
	*out = append(*out, d)
	for _, ch := range n.sortedChildren() {
		gone(ch, path.Join(p, ch.name), c, out)
	}
}

func compareNodes(a, b *node) (FileChangeKind, bool) {
	switch {
	case a.kind != b.kind:
		return FileTypeChanged, true
	case a.kind == nFile && a.sum() != nil && b.sum() != nil && *a.sum() != *b.sum():
		return FileModified, true
	case a.kind == nFile && a.size != b.size:
		return FileModified, true
	case a.kind == nSymlink && a.link() != b.link():
		return FileModified, true
	case a.mode != b.mode:
		return FileModeChanged, true
	}
	return "", false
}

func fileSize(n *node) int64 {
	if n.kind == nFile {
		return n.size
	}
	return 0
}
