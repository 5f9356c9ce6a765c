package analyze

import "sort"

// ChangedFiles lists how the entries of NEW's layer differ from those of OLD's at the
// same step, largest first. Files compare by kind, size, content digest and link
// target; directories and opaque markers are left out (a change of mode, owner or
// time alone is not listed), and a whiteout in NEW's layer that OLD's lacks is a
// deleted file.
func ChangedFiles(oldFiles, newFiles []File) []FileChange {
	index := func(files []File) map[string]File {
		m := make(map[string]File, len(files))
		for _, f := range files {
			if f.Kind != KindDir && f.Kind != KindOpaque {
				m[f.Path] = f
			}
		}
		return m
	}
	oldByPath, newByPath := index(oldFiles), index(newFiles)
	var out []FileChange
	for p, nf := range newByPath {
		of, inOld := oldByPath[p]
		switch {
		case inOld && of.Kind == nf.Kind && of.Size == nf.Size && of.Link == nf.Link && of.Digest == nf.Digest:
		case nf.Kind == KindWhiteout:
			out = append(out, FileChange{Path: p, Change: FileDeleted, Size: of.Size})
		case inOld && of.Kind != KindWhiteout:
			out = append(out, FileChange{Path: p, Change: FileModified, Size: nf.Size})
		default:
			out = append(out, FileChange{Path: p, Change: FileAdded, Size: nf.Size})
		}
	}
	for p, of := range oldByPath {
		if _, inNew := newByPath[p]; !inNew && of.Kind != KindWhiteout {
			out = append(out, FileChange{Path: p, Change: FileDeleted, Size: of.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].Path < out[j].Path
	})
	return out
}
