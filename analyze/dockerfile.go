package analyze

import (
	"path"
	"sort"
	"strings"
)

// Dockerfile is what a prediction needs of a Dockerfile: the steps that make the
// target stage's image, bottom to top, with build args and variables expanded. Package
// dockerfile fills it with BuildKit's own parser; this package only reads it.
type Dockerfile struct {
	// Name is the file as the user named it ("Dockerfile").
	Name string
	// Lines are the file's lines, for advice and --fix.
	Lines []string
	// Target is the target stage's name, or its index ("0") when it has none.
	Target string
	// Base is the image the target's chain of stages starts FROM ("node:20", "scratch"),
	// with build args expanded.
	Base string
	// BaseLine is the line of that FROM.
	BaseLine int
	// Steps are every instruction after FROM of the stages from Base up to the target,
	// in build order: what the image's history records above the base's own.
	Steps []DockerfileStep
}

// DockerfileStep is one instruction of a Dockerfile, expanded.
type DockerfileStep struct {
	// Line and EndLine are the 1-based lines the instruction spans.
	Line, EndLine int
	// Stage names the stage the step belongs to.
	Stage string
	// Keyword is the instruction's keyword, upper case ("COPY").
	Keyword string
	// Text is the instruction as the builders write it into the history, in the form
	// Instruction gives history entries: "RUN npm ci", "COPY package*.json ./".
	Text string
	// Sources are a COPY's or ADD's source paths, relative to the build context (or to
	// the stage FromStage, or URLs for ADD); Dest its destination, absolute (the
	// WORKDIR applied), a trailing slash kept.
	Sources []string
	Dest    string
	// FromStage is a COPY --from's stage name or image reference; "" for the context.
	FromStage string
	// FromContext is true when FromStage names a stage whose chain copies from the
	// build context, so its output cannot be compared with the image.
	FromContext bool
	// Heredocs are inline files (COPY <<EOF) with their content, named by path.
	Heredocs []InlineFile
	// Excludes are COPY --exclude patterns.
	Excludes []string
	// BuildArgs are the build args a RUN sees, "KEY=value", in declaration order, as the
	// builders record them before the command ("|2 A=1 B=2").
	BuildArgs []string
}

// InlineFile is a heredoc's file: COPY <<EOF /dest.
type InlineFile struct {
	Name, Content string
}

// FromContextDir reports whether the step copies from the build context.
func (s DockerfileStep) FromContextDir() bool {
	return (s.Keyword == "COPY" || s.Keyword == "ADD") && s.FromStage == "" && len(s.Sources) > 0
}

// ContextFile is one entry of the build context as it is now.
type ContextFile struct {
	// Path is relative to the context root, slash-separated and clean: "src/index.js".
	Path string
	Kind FileKind
	// Mode is the permission bits.
	Mode int64
	Size int64
	// Digest is a regular file's content digest ("sha256:…").
	Digest string
	Link   string
}

// Context is the build context as read for a prediction: every entry the COPY and
// ADD sources select, minus what .dockerignore excludes (Partial false), or only the
// entries of the paths said to have changed (Partial true, --changed and --since).
type Context struct {
	Files []ContextFile
	// Partial is true when only Changed was read; Changed are those paths, relative to
	// the context, the ones no longer there (deleted) included.
	Partial bool
	Changed []string
}

// hasMeta reports whether a COPY source is a pattern.
func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// cleanSource is a source path as a context-relative clean path: "." for the root.
func cleanSource(src string) string {
	p := path.Clean("/" + src)
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// underSource reports whether a context path p is root or lies below it ("." is everything).
func underSource(p, root string) bool {
	return root == "." || p == root || strings.HasPrefix(p, root+"/")
}

// CopyTargets maps the context entries a COPY or ADD selects to the absolute paths
// they land on in the image, as the builders copy: a directory source's contents go
// into the destination, a file goes to the destination itself, or into it when the
// destination ends in "/" or there are several sources. Patterns match whole paths
// (path.Match), each match copied as if named. Directories are left out: a copy
// creates them, and the files under them tell their content. isDir says whether a
// context path is a directory (for paths not among files, such as deleted ones).
func CopyTargets(s DockerfileStep, files []ContextFile) map[string]ContextFile {
	out := map[string]ContextFile{}
	dirs := map[string]bool{".": true}
	for _, f := range files {
		if f.Kind == KindDir {
			dirs[f.Path] = true
		}
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	intoDir := strings.HasSuffix(s.Dest, "/") || len(s.Sources)+len(s.Heredocs) > 1
	for _, src := range s.Sources {
		roots := []string{cleanSource(src)}
		if hasMeta(src) {
			roots = matchSources(roots[0], files, dirs)
		}
		for _, root := range roots {
			for _, f := range files {
				if f.Kind == KindDir || !underSource(f.Path, root) || excluded(f.Path, s.Excludes) {
					continue
				}
				var dest string
				switch {
				case f.Path == root && !dirs[root]:
					dest = s.Dest
					if intoDir || len(roots) > 1 {
						dest = path.Join(s.Dest, path.Base(root))
					}
				case root == ".":
					dest = path.Join(s.Dest, f.Path)
				default:
					dest = path.Join(s.Dest, strings.TrimPrefix(f.Path, root+"/"))
				}
				out[path.Clean(dest)] = f
			}
		}
	}
	return out
}

// matchSources lists the context paths (files and directories) a pattern matches.
func matchSources(pattern string, files []ContextFile, dirs map[string]bool) []string {
	seen := map[string]bool{}
	var out []string
	try := func(p string) {
		if ok, _ := path.Match(pattern, p); ok && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, f := range files {
		try(f.Path)
	}
	for d := range dirs {
		try(d)
	}
	sort.Strings(out)
	return out
}

func excluded(p string, patterns []string) bool {
	for _, e := range patterns {
		e = cleanSource(e)
		if ok, _ := path.Match(e, p); ok || underSource(p, e) {
			return true
		}
	}
	return false
}

// CopySelects reports whether a context path (changed, maybe deleted) is among what
// a COPY or ADD step copies, and where it lands in the image. Partial predictions
// use it for paths that no longer exist, which CopyTargets cannot see.
func CopySelects(s DockerfileStep, p string, isDir func(string) bool) (string, bool) {
	p = cleanSource(p)
	if excluded(p, s.Excludes) {
		return "", false
	}
	intoDir := strings.HasSuffix(s.Dest, "/") || len(s.Sources)+len(s.Heredocs) > 1
	for _, src := range s.Sources {
		root := cleanSource(src)
		if hasMeta(src) {
			// The pattern matches p or one of its parents.
			for q := p; ; q = path.Dir(q) {
				if ok, _ := path.Match(root, q); ok {
					if q == p {
						return path.Join(s.Dest, path.Base(p)), true
					}
					return path.Join(s.Dest, path.Base(q), strings.TrimPrefix(p, q+"/")), true
				}
				if q == "." || q == "/" {
					break
				}
			}
			continue
		}
		switch {
		case !underSource(p, root):
		case root == ".":
			return path.Join(s.Dest, p), true
		case p == root && !isDir(root):
			if intoDir {
				return path.Join(s.Dest, path.Base(root)), true
			}
			return path.Clean(s.Dest), true
		default:
			return path.Join(s.Dest, strings.TrimPrefix(p, root+"/")), true
		}
	}
	return "", false
}
