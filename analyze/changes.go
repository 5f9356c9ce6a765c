package analyze

import (
	"slices"
	"sort"
	"strings"
)

// ChangedFiles lists how the entries of NEW's layer differ from those of OLD's at the
// same step, largest first. Files compare by kind, size, content digest and link
// target; directories and opaque markers are left out (a change of mode, owner or
// time alone is not listed), and a whiteout in NEW's layer that OLD's lacks is a
// deleted file.
//
// It walks both listings in path order instead of indexing them in maps: with millions
// of entries per layer, the only memory it adds is 4 bytes per entry.
func ChangedFiles(oldFiles, newFiles []File) []FileChange {
	o, n := byPath(oldFiles), byPath(newFiles)
	var out []FileChange
	for i, j := 0, 0; i < len(o) || j < len(n); {
		var of, nf File
		inOld, inNew := i < len(o), j < len(n)
		if inOld {
			of = oldFiles[o[i]]
		}
		if inNew {
			nf = newFiles[n[j]]
		}
		switch {
		case inOld && inNew && of.Path == nf.Path:
			i, j = i+1, j+1
		case inOld && (!inNew || of.Path < nf.Path):
			i, inNew, nf = i+1, false, File{}
		default:
			j, inOld, of = j+1, false, File{}
		}
		switch {
		case !inNew:
			if of.Kind != KindWhiteout {
				out = append(out, FileChange{Path: of.Path, Change: FileDeleted, Size: of.Size})
			}
		case inOld && of.Kind == nf.Kind && of.Size == nf.Size && of.Link == nf.Link && of.Digest == nf.Digest:
		case nf.Kind == KindWhiteout:
			out = append(out, FileChange{Path: nf.Path, Change: FileDeleted, Size: of.Size})
		case inOld && of.Kind != KindWhiteout:
			out = append(out, FileChange{Path: nf.Path, Change: FileModified, Size: nf.Size})
		default:
			out = append(out, FileChange{Path: nf.Path, Change: FileAdded, Size: nf.Size})
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

// byPath returns the indexes of files' entries in path order, one per path (the last,
// as a later tar entry replaces an earlier one), leaving out directories and opaque
// markers.
func byPath(files []File) []int32 {
	idx := make([]int32, 0, len(files))
	for k, f := range files {
		if f.Kind != KindDir && f.Kind != KindOpaque {
			idx = append(idx, int32(k))
		}
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return strings.Compare(files[a].Path, files[b].Path) })
	out := idx[:0]
	for k, i := range idx {
		if k+1 < len(idx) && files[idx[k+1]].Path == files[i].Path {
			continue
		}
		out = append(out, i)
	}
	return out
}
