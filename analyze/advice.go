package analyze

import (
	"path"
)

// advise applies the seed's lesson to a comparison whose changed files are known.
func advise(c Comparison, changed []FileChange, newFiles []File) *Advice {
	b := c.FirstBreak
	if len(changed) == 0 {
		return nil // nothing seen to change: we cannot tell the manifests stayed the same
	}
	for _, f := range changed {
		if IsDependencyManifest(f.Path) {
			return nil // the install had to re-run anyway
		}
	}
	brk := c.Steps[b.Step]
	if !broadCopy(brk.New) || !broadCopy(brk.Old) {
		return nil
	}
	install := -1
	var tool installer
	for i := b.Step + 1; i < len(c.Steps); i++ {
		r := c.Steps[i]
		if r.New == nil || r.Layer < 0 || r.Status != StatusRebuilt {
			continue
		}
		if in, ok := dependencyInstall(r.New.Instruction); ok {
			install, tool = i, in
		}
	}
	if install < 0 {
		return nil
	}
	a := &Advice{
		BroadCopy:   legacyDirSource.ReplaceAllString(brk.New.Instruction, "<directory>"),
		Install:     c.Steps[install].New.Instruction,
		Tool:        tool.tool,
		ChangedFile: changed[0].Path,
	}
	// Name the manifests this context has, when it has any of the tool's.
	present := map[string]bool{}
	for _, f := range newFiles {
		present[path.Base(f.Path)] = true
	}
	for _, m := range tool.manifests {
		if present[m] {
			a.Manifests = append(a.Manifests, m)
		}
	}
	if len(a.Manifests) == 0 && len(tool.manifests) > 0 {
		a.Manifests = tool.manifests[:min(2, len(tool.manifests))]
	}
	var sizes []int64
	for _, r := range c.Steps[b.Step+1 : install+1] {
		if r.New == nil {
			continue
		}
		a.SavedSteps++
		if r.Layer >= 0 {
			a.SavedLayers++
			sizes = append(sizes, c.Layers[r.Layer].New.Size)
		}
	}
	a.SavedSize = addSizes(sizes...)
	return a
}
