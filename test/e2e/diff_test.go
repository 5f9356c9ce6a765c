//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// diffJSON is the part of `diff --format json` these tests read.
type diffJSON struct {
	Layers []struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
	} `json:"layers"`
	ReusedLayers  int `json:"reusedLayers"`
	RebuiltLayers int `json:"rebuiltLayers"`
	FirstBreak    *struct {
		Index          *int   `json:"index"`
		Reason         string `json:"reason"`
		NewInstruction string `json:"newInstruction"`
		ChangedFiles   []struct {
			Path   string `json:"path"`
			Change string `json:"change"`
		} `json:"changedFiles"`
	} `json:"firstBreak"`
	Advice *struct {
		Install   string   `json:"install"`
		Manifests []string `json:"manifests"`
		Text      []string `json:"text"`
	} `json:"advice"`
}

// TestDiffAgreesWithTheBuilder builds the seed's app in both orders with both
// builders, edits one source line, rebuilds, and checks that diff calls every step
// reused exactly when the builder's own log says it came from the cache, and that
// only the lazy order gets the advice.
func TestDiffAgreesWithTheBuilder(t *testing.T) {
	for _, order := range []string{"lazy", "pro"} {
		for _, b := range []struct {
			name     string
			buildkit bool
		}{{"legacy", false}, {"buildkit", true}} {
			t.Run(order+"-"+b.name, func(t *testing.T) {
				dockerfile := "Dockerfile." + order
				ctx := copyContext(t, "app")
				repo := "e2e/diff-" + order + "-" + b.name
				build(t, ctx, dockerfile, repo+":v1", b.buildkit)
				// A one-line edit unique to this test: another test's edit must not be a cache hit.
				replaceInFile(t, filepath.Join(ctx, "src", "util.js"), `"hello, "`, `"hello from `+t.Name()+`, "`)
				log := build(t, ctx, dockerfile, repo+":v2", b.buildkit)

				// Read the images from `docker save` archives, so the test does not
				// depend on the local-engine source.
				dir := t.TempDir()
				oldRef, newRef := saved(t, dir, repo+":v1"), saved(t, dir, repo+":v2")

				// Per step: status and instruction, bottom first.
				out, stderr, code := layers(t, "diff", "--format", "{{.Status}}\t{{.Instruction}}", oldRef, newRef)
				if code != 0 {
					t.Fatalf("diff exited %d: %s", code, stderr)
				}
				var rows [][2]string
				for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
					status, instr, _ := strings.Cut(l, "\t")
					rows = append(rows, [2]string{status, instr})
				}
				steps := dockerfileSteps(t, filepath.Join(ctx, dockerfile))
				if len(rows) < len(steps) {
					t.Fatalf("diff shows %d steps, the Dockerfile has %d after FROM:\n%s", len(rows), len(steps), out)
				}
				// The Dockerfile's steps are the top of the history.
				rows = rows[len(rows)-len(steps):]
				checked := 0
				for i, step := range steps {
					cached, found := cacheHit(log, step)
					if !found {
						continue // BuildKit logs no line for metadata-only steps
					}
					checked++
					want := "rebuilt"
					if cached {
						want = "reused"
					}
					if rows[i][0] != want {
						t.Errorf("step %q (%s): diff says %s, the builder's log says %s\n%s\n%s", step, rows[i][1], rows[i][0], want, out, log)
					}
				}
				if checked < 3 {
					t.Errorf("only %d steps found in the build log:\n%s", checked, log)
				}
				table, _, _ := layers(t, "diff", oldRef, newRef)
				t.Logf("%d steps checked against the build log; diff says:\n%s", checked, table)

				out, stderr, code = layers(t, "diff", "--format", "json", oldRef, newRef)
				if code != 0 {
					t.Fatalf("diff --format json exited %d: %s", code, stderr)
				}
				var d diffJSON
				if err := json.Unmarshal([]byte(out), &d); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				fb := d.FirstBreak
				if fb == nil || fb.Reason != "inputs-changed" || fb.NewInstruction == "" {
					t.Fatalf("first break = %+v, want inputs-changed at COPY . .\n%s", fb, out)
				}
				if len(fb.ChangedFiles) != 1 || fb.ChangedFiles[0].Path != "/app/src/util.js" || fb.ChangedFiles[0].Change != "modified" {
					t.Errorf("changed files = %+v, want /app/src/util.js modified", fb.ChangedFiles)
				}
				switch order {
				case "lazy":
					if d.Advice == nil || len(d.Advice.Text) == 0 || d.Advice.Install != "RUN npm install" {
						t.Errorf("the lazy order got no advice to move the install:\n%s", out)
					}
				case "pro":
					if d.Advice != nil {
						t.Errorf("the professional order got advice: %+v", d.Advice)
					}
				}

				// --exit-code: something was rebuilt.
				if _, _, code := layers(t, "diff", "--exit-code", "--format", "json", oldRef, newRef); code != 1 {
					t.Errorf("diff --exit-code on a rebuild exited %d, want 1", code)
				}
				if _, _, code := layers(t, "diff", "--exit-code", "--format", "json", newRef, newRef); code != 0 {
					t.Errorf("diff --exit-code of an image with itself exited %d, want 0", code)
				}

				// The same images read from the engine (the export streamed) must agree.
				engineOut, engineErr, code := layers(t, "diff", "--format", "{{.Status}}\t{{.Instruction}}", repo+":v1", repo+":v2")
				switch {
				case code != 0:
					t.Errorf("diff from the local engine: exit %d: %s", code, strings.TrimSpace(engineErr))
				case engineOut != firstOutput(t, oldRef, newRef):
					t.Errorf("the local engine and docker save disagree:\n%s\n---\n%s", engineOut, firstOutput(t, oldRef, newRef))
				}
			})
		}
	}
}

// saved writes `docker save ref` into dir and returns a docker-archive reference.
func saved(t *testing.T, dir, ref string) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", ":", "_").Replace(ref) + ".tar"
	p := filepath.Join(dir, name)
	docker(t, "save", "-o", p, ref)
	return "docker-archive:" + p
}

func firstOutput(t *testing.T, oldRef, newRef string) string {
	t.Helper()
	out, _, _ := layers(t, "diff", "--format", "{{.Status}}\t{{.Instruction}}", oldRef, newRef)
	return out
}

// dockerfileSteps returns a single-stage Dockerfile's instructions after FROM, as
// the builders print them.
func dockerfileSteps(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(strings.ToUpper(l), "FROM ") {
			continue
		}
		steps = append(steps, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}
