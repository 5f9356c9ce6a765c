package analyze

import (
	"path"
	"sort"
	"strings"
)

// DockerfileAdvice is the seed's lesson read from a Dockerfile alone: a COPY of the
// whole context (or a directory) comes before a dependency install, so any edit to
// the context re-runs the install. Copying the install's manifests first and the rest
// after the install keeps it cached while the manifests stay the same.
type DockerfileAdvice struct {
	// CopyLine..CopyEndLine is the broad COPY; InstallLine..InstallEndLine the install.
	CopyLine, CopyEndLine       int
	Copy                        string
	InstallLine, InstallEndLine int
	Install                     string
	// Tool is the installer ("npm", "pip", ...); Manifests the files it reads, named
	// as in the context when it was read.
	Tool      string
	Manifests []string
	// ManifestsCopied is true when an earlier COPY already brings the manifests in,
	// so moving the broad COPY below the install is the whole fix.
	ManifestsCopied bool
	// Steps is how many steps from the broad COPY up to the install (both included)
	// re-run for an edit to any copied file.
	Steps int
	// Fixable is true when FixDockerfile can apply the advice: no other RUN lies
	// between the COPY and the install to need the copied files.
	Fixable bool
}

// DockerfileAdvise finds, in the target's chain of steps, every dependency install
// preceded in its stage by a broad COPY from the context. ctx, when read, names the
// manifests present; nil assumes the installer's usual ones.
func DockerfileAdvise(df *Dockerfile, ctx *Context) []DockerfileAdvice {
	var out []DockerfileAdvice
	for i, s := range df.Steps {
		tool, ok := dependencyInstall(s.Text)
		if !ok || tool.manifests == nil {
			continue
		}
		j := broadCopyBelow(df.Steps, i)
		if j < 0 {
			continue
		}
		c := df.Steps[j]
		a := DockerfileAdvice{
			CopyLine: c.Line, CopyEndLine: c.EndLine, Copy: c.Text,
			InstallLine: s.Line, InstallEndLine: s.EndLine, Install: s.Text,
			Tool: tool.tool, Steps: i - j + 1, Fixable: true,
		}
		for _, m := range df.Steps[j+1 : i] {
			if m.Keyword == "RUN" {
				a.Fixable = false
			}
		}
		for _, m := range df.Steps[:j] {
			if m.Stage == c.Stage && m.FromContextDir() && copiesManifest(m, tool.manifests) {
				a.ManifestsCopied = true
			}
		}
		a.Manifests = presentManifests(tool.manifests, ctx)
		out = append(out, a)
	}
	return out
}

// broadCopyBelow is the nearest broad COPY from the context below step i, in its
// stage, with no other COPY of the context in between; -1 for none.
func broadCopyBelow(steps []DockerfileStep, i int) int {
	for j := i - 1; j >= 0 && steps[j].Stage == steps[i].Stage; j-- {
		s := steps[j]
		if !s.FromContextDir() {
			continue
		}
		if broadCopy(&Step{Instruction: s.Text, CreatedBy: s.Text}) {
			return j
		}
	}
	return -1
}

func copiesManifest(s DockerfileStep, manifests []string) bool {
	for _, src := range s.Sources {
		for _, m := range manifests {
			if ok, _ := path.Match(path.Base(src), m); ok {
				return true
			}
		}
	}
	return false
}

// presentManifests are the installer's manifests found at the context root, or its
// first (package.json, requirements.txt: the one every project of the tool has) when
// the context was not read whole.
func presentManifests(manifests []string, ctx *Context) []string {
	if ctx == nil || ctx.Partial {
		return manifests[:1]
	}
	have := map[string]bool{}
	for _, f := range ctx.Files {
		have[f.Path] = true
	}
	var out []string
	for _, m := range manifests {
		if have[m] {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return manifests[:1]
	}
	return out
}

// FixDockerfile returns the Dockerfile with each fixable advice applied: the broad
// COPY's lines move to just below the install, and, where no earlier COPY brings the
// manifests, one "COPY <manifests> <dest>" takes the broad COPY's place. No other line
// changes.
func FixDockerfile(df *Dockerfile, advice []DockerfileAdvice) string {
	lines := append([]string(nil), df.Lines...)
	// Bottom first, so the line numbers of the advice above stay right.
	for k := len(advice) - 1; k >= 0; k-- {
		a := advice[k]
		if !a.Fixable || a.CopyLine < 1 || a.InstallEndLine > len(lines) || a.CopyEndLine >= a.InstallLine {
			continue
		}
		moved := append([]string(nil), lines[a.CopyLine-1:a.CopyEndLine]...)
		var keep []string
		if !a.ManifestsCopied {
			keep = append(keep, manifestCopyLine(moved[0], a))
		}
		between := lines[a.CopyEndLine:a.InstallEndLine]
		var next []string
		next = append(next, lines[:a.CopyLine-1]...)
		next = append(next, keep...)
		next = append(next, between...)
		next = append(next, moved...)
		next = append(next, lines[a.InstallEndLine:]...)
		lines = next
	}
	return strings.Join(lines, "\n") + "\n"
}

// manifestCopyLine is "COPY <manifests> <dest>", with the broad COPY's keyword,
// indentation and destination.
func manifestCopyLine(copyLine string, a DockerfileAdvice) string {
	indent := copyLine[:len(copyLine)-len(strings.TrimLeft(copyLine, " \t"))]
	f := strings.Fields(a.Copy)
	dest := "./"
	if len(f) > 1 {
		dest = f[len(f)-1]
	}
	if len(a.Manifests) > 1 && !strings.HasSuffix(dest, "/") {
		dest += "/" // several sources need a directory destination
	}
	kw := strings.Fields(copyLine)[0]
	return indent + kw + " " + strings.Join(a.Manifests, " ") + " " + dest
}

// DependencyManifests are the file names package managers read to install
// dependencies, sorted: what a context read for the advice alone looks for.
func DependencyManifests() []string {
	out := []string{"requirements.txt"}
	for m := range dependencyManifests {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
