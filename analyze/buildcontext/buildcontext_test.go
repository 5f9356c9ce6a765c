package buildcontext

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-layers/docker-layers/analyze"
)

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(c *analyze.Context) string {
	var out []string
	for _, f := range c.Files {
		if f.Kind == analyze.KindFile {
			out = append(out, f.Path)
		}
	}
	return strings.Join(out, " ")
}

func TestReadHonoursDockerignoreAndSelection(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".dockerignore":         "node_modules\n*.md\n!README.md\n",
		"package.json":          "{}",
		"package-lock.json":     "{}",
		"index.js":              "1",
		"src/a.js":              "a",
		"node_modules/x/i.js":   "x",
		"NOTES.md":              "n",
		"README.md":             "r",
		"deep/dir/package.json": "{}",
	})
	r, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := r.Read(ctx, []string{"."})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(c); got != ".dockerignore README.md deep/dir/package.json index.js package-lock.json package.json src/a.js" {
		t.Errorf("all: %s", got)
	}
	for _, f := range c.Files {
		if f.Kind == analyze.KindFile && (f.Mode != 0o644 || !strings.HasPrefix(f.Digest, "sha256:")) {
			t.Errorf("%+v", f)
		}
	}
	c, err = r.Read(ctx, []string{"package*.json", "src/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(c); got != "package-lock.json package.json src/a.js" {
		t.Errorf("selected: %s", got)
	}

	c, err = r.ReadChanged(ctx, []string{"index.js", "NOTES.md", "gone.js", "src"})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(c); got != "index.js src/a.js" || strings.Join(c.Changed, " ") != "index.js gone.js src/a.js" || !c.Partial {
		t.Errorf("changed: files %s, changed %q", got, c.Changed)
	}
}

func TestGitChanged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	writeTree(t, dir, map[string]string{"a.js": "1", "b.js": "2"})
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "one")
	writeTree(t, dir, map[string]string{"a.js": "changed", "new.js": "n"})
	if err := os.Remove(filepath.Join(dir, "b.js")); err != nil {
		t.Fatal(err)
	}
	got, err := GitChanged(context.Background(), dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "a.js b.js new.js" {
		t.Errorf("changed = %q", got)
	}
	if _, err := GitChanged(context.Background(), dir, "no-such-rev"); err == nil {
		t.Error("bad revision accepted")
	}
}
