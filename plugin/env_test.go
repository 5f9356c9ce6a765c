package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// builtImage is an imported base plus WORKDIR and COPY, written as the legacy builder or
// BuildKit writes the history of the same Dockerfile.
func builtImage(t *testing.T, buildkit bool) v1.Image {
	t.Helper()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	built := time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)
	workdir, copyApp, comment := "/bin/sh -c #(nop) WORKDIR /app", "/bin/sh -c #(nop) COPY dir:"+strings.Repeat("ab", 32)+" in /app ", ""
	if buildkit {
		workdir, copyApp, comment = "WORKDIR /app", "COPY . . # buildkit", "buildkit.dockerfile.v0"
	}
	img := empty.Image
	for _, a := range []mutate.Addendum{
		{Layer: imagetest.FileLayer(t, map[string]string{"bin/sh": strings.Repeat("s", 4000)}), History: v1.History{Comment: "Imported from -", Created: v1.Time{Time: base}}},
		{Layer: imagetest.FileLayer(t, map[string]string{}), History: v1.History{CreatedBy: workdir, Comment: comment, Created: v1.Time{Time: built}}},
		{Layer: imagetest.FileLayer(t, map[string]string{"app/index.js": "console.log(1)\n"}), History: v1.History{CreatedBy: copyApp, Comment: comment, Created: v1.Time{Time: built.Add(time.Second)}}},
	} {
		var err error
		if img, err = mutate.Append(img, a); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// A command test hands in images built in code through the run environment.
func TestDiffBuildersKeepSeparateCaches(t *testing.T) {
	images := map[string]v1.Image{"legacy": builtImage(t, false), "buildkit": builtImage(t, true)}
	out, errOut, code := runCLIWith(t, images, "diff", "--format", "json", "legacy", "buildkit")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v diffJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.FirstBreak == nil || v.FirstBreak.Detail != "builder-changed" || *v.FirstBreak.Index != 1 {
		t.Fatalf("first break %+v, want builder-changed at layer 1", v.FirstBreak)
	}
	table, _, _ := runCLIWith(t, images, "diff", "legacy", "buildkit")
	if !strings.Contains(table, "keep separate caches") || strings.Contains(table, "build args") {
		t.Errorf("table does not say the builders keep separate caches:\n%s", table)
	}
	// The same text written two ways is not shown as a change.
	if strings.Contains(table, "WORKDIR /app   (was: WORKDIR /app)") {
		t.Errorf("identical instructions shown as changed:\n%s", table)
	}
}

func TestInspectQuietCommentAndCreated(t *testing.T) {
	images := map[string]v1.Image{"app": builtImage(t, true)}
	out, _, code := runCLIWith(t, images, "inspect", "-q", "app")
	if code != 0 || len(strings.Fields(out)) != 3 || !strings.HasPrefix(out, "sha256:") {
		t.Errorf("-q: exit %d, %q; want 3 short diff IDs", code, out)
	}
	out, _, _ = runCLIWith(t, images, "inspect", "--format", "{{.Index}} {{.Comment}} {{.Instruction}}", "app")
	if first := strings.SplitN(out, "\n", 2)[0]; first != "0 Imported from - (Imported from -)" {
		t.Errorf("template row for the imported base: %q", first)
	}
	out, _, _ = runCLIWith(t, images, "inspect", "app")
	if !strings.Contains(out, "7 months ago") || !strings.Contains(out, "CREATED") {
		t.Errorf("no CREATED column:\n%s", out)
	}
	out, _, _ = runCLIWith(t, images, "inspect", "--human=false", "app")
	if !strings.Contains(out, "2025-12-31T12:00:01Z") || !strings.Contains(out, "Total: 4015 uncompressed") {
		t.Errorf("--human=false:\n%s", out)
	}
}

// A bad template is a usage error before any image is read, naming the fields.
func TestTemplateCheckedBeforeReading(t *testing.T) {
	_, errOut, code := runCLI(t, "inspect", "--format", "{{.Nope}}", "docker-archive:/nonexistent.tar")
	if code != ExitUsage || !strings.Contains(errOut, "no field Nope") || !strings.Contains(errOut, ".Instruction") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// Tables fit the terminal: the instruction column is cut to the width left.
func TestTableFitsWidth(t *testing.T) {
	tb := &table{header: []string{"#", "SIZE", "INSTRUCTION"}, flex: 2, width: 40}
	tb.append("0", "1kB", strings.Repeat("x", 100))
	var b strings.Builder
	if err := tb.render(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if n := len([]rune(line)); n > 40 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
}

// Shell completion: file paths after a file transport, transports and engine images
// otherwise, platforms for --platform.
func TestCompletion(t *testing.T) {
	// No engine answers here: completion must still offer the rest.
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-engine.sock")
	out, _, _ := runCLI(t, "__complete", "inspect", "oci:")
	if !strings.HasSuffix(strings.TrimSpace(out), ":0") {
		t.Errorf("after oci: want file completion (directive 0), got %q", out)
	}
	out, _, _ = runCLI(t, "__complete", "diff", "")
	for _, want := range []string{"docker-archive:", "oci-archive:", "docker://"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q offered: %q", want, out)
		}
	}
	out, _, _ = runCLI(t, "__complete", "shared", "--platform", "")
	if !strings.Contains(out, "linux/amd64") {
		t.Errorf("no platforms offered: %q", out)
	}
}
