package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/cli/cli/command"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// appImage is a base layer and an app layer holding files, with history created.
func appImage(t *testing.T, created string, files map[string]string) v1.Image {
	t.Helper()
	img := empty.Image
	when := v1.Time{Time: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)}
	for _, a := range []mutate.Addendum{
		{Layer: imagetest.FileLayer(t, map[string]string{"bin/sh": "sh"}), History: v1.History{CreatedBy: "ADD rootfs / # buildkit", Created: when}},
		{Layer: imagetest.FileLayer(t, files), History: v1.History{CreatedBy: created, Created: when}},
	} {
		var err error
		if img, err = mutate.Append(img, a); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// Issue 12, item 8: every malformed input is exit 2, before anything is read (no engine
// answers here: reading would be exit 3).
func TestUsageErrorsBeforeAnyIO(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-engine.sock")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "UPPER:v1"}, "must be lowercase"},
		{[]string{"inspect", "https://registry.example/app:v1"}, "use docker://registry.example/app:v1"},
		{[]string{"diff", "app:v1", "App:v2"}, "must be lowercase"},
		{[]string{"shared", "--all", "--filter", "colour=red"}, `unknown key "colour"`},
		{[]string{"inspect", "--format", "{{.Nope}}", "app:v1"}, "no field Nope"},
		{[]string{"inspect", "--timeout", "0s", "app:v1"}, "invalid --timeout"},
		{[]string{"inspect", "--platform", "linux", "app:v1"}, "invalid --platform"},
	} {
		_, errOut, code := runCLI(t, tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line containing %q", tc.args, code, errOut, tc.want)
		}
	}
	// --platform that a single-platform source lacks is an error, not ignored.
	_, errOut, code := runCLI(t, "inspect", "--platform", "linux/s390x", demo("lazy-v1-buildkit"))
	if code != ExitImage || !strings.Contains(errOut, "no image for platform linux/s390x") {
		t.Errorf("--platform linux/s390x: exit %d, %q", code, errOut)
	}
}

// writeLayout writes images, tagged, as an OCI layout and returns its directory.
func writeLayout(t *testing.T, images map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for tag, img := range images {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func blobPath(t *testing.T, dir string, l v1.Layer) string {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
}

// Issue 12, items 2 and 4: a corrupt, truncated or tampered breaking layer is exit 3
// with one line naming the layer, in diff as in inspect; never exit 0 with no files.
func TestDiffRefusesBrokenLayers(t *testing.T) {
	old := appImage(t, "COPY . /app # buildkit", map[string]string{"app/a.js": "1"})
	edited := appImage(t, "COPY . /app # buildkit", map[string]string{"app/a.js": "2"})
	layers, _ := edited.Layers()
	for name, damage := range map[string]func(path string){
		"truncated": func(path string) {
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o644)
		},
		"tampered": func(path string) {
			// Another valid layer's bytes in its place.
			other := imagetest.FileLayer(t, map[string]string{"app/a.js": "3"})
			rc, _ := other.Compressed()
			defer rc.Close()
			b := new(strings.Builder)
			buf := make([]byte, 1<<16)
			for {
				n, err := rc.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			os.WriteFile(path, []byte(b.String()), 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeLayout(t, map[string]v1.Image{"old": old, "new": edited})
			damage(blobPath(t, dir, layers[1]))
			for _, args := range [][]string{
				{"diff", "oci:" + dir + ":old", "oci:" + dir + ":new"},
				{"diff", "--format", "json", "oci:" + dir + ":old", "oci:" + dir + ":new"},
				{"inspect", "oci:" + dir + ":new"},
			} {
				out, errOut, code := runCLI(t, args...)
				if code != ExitImage || !strings.Contains(errOut, "layer 1 of oci:"+dir+":new") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("%v: exit %d\nstdout %q\nstderr %q", args, code, out, errOut)
				}
			}
		})
	}
}

// Issue 12, item 5: text from an image never reaches the terminal raw.
func TestTerminalInjectionIsEscaped(t *testing.T) {
	evil := "RUN echo \x1b[2J\x1b[H\nadded 1TB /etc/shadow\r # buildkit"
	old := appImage(t, evil, map[string]string{"app/a.js": "1"})
	edited := appImage(t, evil, map[string]string{"app/a.js": "2", "app/\x1b[31mred\nadded 1TB /etc/shadow": "x"})
	cfg, _ := edited.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{"note": "ok\x1b]0;pwned\x07\nadded 1TB"}
	cfg.Config.User = "root\x1b[8m"
	edited, _ = mutate.ConfigFile(edited, cfg)
	images := map[string]v1.Image{"old": old, "new": edited}
	for _, args := range [][]string{
		{"inspect", "new"},
		{"inspect", "--no-trunc", "new"},
		{"inspect", "--format", "table {{.Instruction}}", "new"},
		{"diff", "old", "new"},
		{"diff", "--no-trunc", "old", "new"},
	} {
		out, errOut, code := runCLIWith(t, images, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.ContainsAny(line, "\x1b\r\x07") || strings.HasPrefix(strings.TrimSpace(line), "added 1TB") {
				t.Errorf("%v: a raw control character or a forged line reached the terminal: %q", args, line)
			}
		}
	}
}

// Issue 12, item 9: a bare path is read as what it is, with a note on stderr.
func TestBarePathIsRead(t *testing.T) {
	dir := writeLayout(t, map[string]v1.Image{"v1": appImage(t, "COPY . /app # buildkit", map[string]string{"app/a.js": "1"})})
	out, errOut, code := runCLI(t, "inspect", dir)
	if code != 0 || !strings.Contains(out, "COPY . /app") || !strings.Contains(errOut, "Note: "+dir+": read as oci:"+dir) {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// Issue 12, item 9: a reader that goes away (`| head`) ends the command quietly with
// 141, as a shell pipeline's writer does, not with an error line.
func TestBrokenPipeIsQuiet(t *testing.T) {
	var errOut strings.Builder
	dockerCli, err := command.NewDockerCli(command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	if code := exitCode(dockerCli, fmt.Errorf("write |1: %w", syscall.EPIPE)); code != ExitBrokenPipe || errOut.Len() != 0 {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
