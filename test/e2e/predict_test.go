//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// predictJSON is the part of `predict --format json` these tests read.
type predictJSON struct {
	Steps []struct {
		Line        int    `json:"line"`
		Instruction string `json:"instruction"`
		Verdict     string `json:"verdict"`
	} `json:"steps"`
	FirstBreak *struct {
		Line         int    `json:"line"`
		Reason       string `json:"reason"`
		ChangedFiles []struct {
			Path   string `json:"path"`
			Change string `json:"change"`
		} `json:"changedFiles"`
	} `json:"firstBreak"`
	ReusedSteps  int `json:"reusedSteps"`
	RebuiltSteps int `json:"rebuiltSteps"`
	UnknownSteps int `json:"unknownSteps"`
	Advice       []struct {
		Line int `json:"line"`
	} `json:"advice"`
}

// predictEdit is one change made between two builds.
type predictEdit struct {
	name string
	// apply edits the context (or rebuilds the base) and returns the build args of
	// the rebuild and the paths it changed (for --changed).
	apply func(t *testing.T, ctx, base string) (buildArgs, changed []string)
	// wantBreak is the reason of the predicted first break; "" for none.
	wantBreak string
}

var predictEdits = []predictEdit{
	{"source", func(t *testing.T, ctx, _ string) ([]string, []string) {
		replaceInFile(t, filepath.Join(ctx, "src", "util.js"), `"hello, "`, `"hello again, "`)
		return nil, []string{"src/util.js"}
	}, "inputs-changed"},
	{"manifest", func(t *testing.T, ctx, _ string) ([]string, []string) {
		replaceInFile(t, filepath.Join(ctx, "package.json"), `"version": "1.0.0"`, `"version": "1.0.1"`)
		return nil, []string{"package.json"}
	}, "inputs-changed"},
	{"ignored", func(t *testing.T, ctx, _ string) ([]string, []string) {
		writeFile(t, filepath.Join(ctx, "node_modules", "left-pad", "index.js"), "module.exports = 1\n")
		return nil, []string{"node_modules/left-pad/index.js"}
	}, ""},
	{"build-arg", func(t *testing.T, _, _ string) ([]string, []string) {
		return []string{"APP_VERSION=2"}, nil
	}, "inputs-changed"},
	{"base", func(t *testing.T, _, base string) ([]string, []string) {
		buildBase(t, base, "second")
		return nil, nil
	}, "base-changed"},
	// Beyond the five: permission bits are part of both builders' keys, times
	// are not.
	{"mode", func(t *testing.T, ctx, _ string) ([]string, []string) {
		if err := os.Chmod(filepath.Join(ctx, "src", "util.js"), 0o755); err != nil {
			t.Fatal(err)
		}
		return nil, []string{"src/util.js"}
	}, "inputs-changed"},
	{"touch", func(t *testing.T, ctx, _ string) ([]string, []string) {
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(filepath.Join(ctx, "src", "util.js"), later, later); err != nil {
			t.Fatal(err)
		}
		return nil, []string{"src/util.js"}
	}, ""},
}

// agreement collects the table the issue asks for: edit × builder × order → agreed steps.
var agreement = struct {
	sync.Mutex
	rows []string
}{}

// TestPredictAgreesWithTheBuilder builds the seed's app in both orders with both
// builders, makes each edit, runs predict against the last build before rebuilding,
// then rebuilds and checks every step's predicted verdict against the builder's own
// "Using cache" / "CACHED" line. Each case builds on its own base image, so no case's
// cache can serve another's.
func TestPredictAgreesWithTheBuilder(t *testing.T) {
	t.Cleanup(func() {
		agreement.Lock()
		defer agreement.Unlock()
		sort.Strings(agreement.rows)
		t.Logf("predict vs the builder (edit builder order: agreed/checked):\n%s", strings.Join(agreement.rows, "\n"))
		if p := os.Getenv("PREDICT_AGREEMENT_OUT"); p != "" {
			_ = os.WriteFile(p, []byte(strings.Join(agreement.rows, "\n")+"\n"), 0o644)
		}
	})
	for _, edit := range predictEdits {
		for _, order := range []string{"lazy", "pro"} {
			for _, b := range []struct {
				name     string
				buildkit bool
			}{{"legacy", false}, {"buildkit", true}} {
				t.Run(edit.name+"-"+order+"-"+b.name, func(t *testing.T) {
					predictCase(t, edit, order, b.name, b.buildkit)
				})
			}
		}
	}
}

func predictCase(t *testing.T, edit predictEdit, order, builder string, buildkit bool) {
	id := strings.ToLower(edit.name + "-" + order + "-" + builder)
	base := "e2e/predict-base-" + id + ":latest"
	buildBase(t, base, "first")

	ctx := copyContext(t, "app")
	// The seed's Dockerfile on this case's base, with a build arg the install sees.
	src, err := os.ReadFile(filepath.Join(ctx, "Dockerfile."+order))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "FROM "+NodeImage, "FROM "+base, 1)
	text = strings.Replace(text, "WORKDIR /app\n", "WORKDIR /app\nARG APP_VERSION=1\n", 1)
	dockerfile := filepath.Join(ctx, "Dockerfile.predict")
	writeFile(t, dockerfile, text)

	repo := "e2e/predict-" + id
	build(t, ctx, dockerfile, repo+":v1", buildkit)
	args, changed := edit.apply(t, ctx, base)

	cmd := []string{"predict", "-f", dockerfile, "--context", ctx, "--format", "json"}
	for _, a := range args {
		cmd = append(cmd, "--build-arg", a)
	}
	out, stderr, code := layers(t, append(cmd, repo+":v1")...)
	if code != 0 {
		t.Fatalf("predict exited %d: %s", code, stderr)
	}
	var p predictJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The cheap mode must say the same as reading the whole context.
	if len(changed) > 0 {
		cheap := append([]string(nil), cmd...)
		for _, c := range changed {
			cheap = append(cheap, "--changed", c)
		}
		cout, cerr, code := layers(t, append(cheap, repo+":v1")...)
		if code != 0 {
			t.Fatalf("predict --changed exited %d: %s", code, cerr)
		}
		if verdictsOf(t, cout) != verdictsOf(t, out) {
			t.Errorf("--changed %v says\n%s\nthe whole context says\n%s", changed, verdictsOf(t, cout), verdictsOf(t, out))
		}
	}

	var extra []string
	for _, a := range args {
		extra = append(extra, "--build-arg", a)
	}
	log := build(t, ctx, dockerfile, repo+":v2", buildkit, extra...)

	lines := strings.Split(text, "\n")
	agreed, checked := 0, 0
	var wrong []string
	for _, s := range p.Steps {
		instr := strings.TrimSpace(lines[s.Line-1])
		cached, found := cacheHit(log, instr)
		if !found {
			continue // BuildKit logs no line for metadata-only steps
		}
		checked++
		want := "rebuilt"
		if cached {
			want = "reused"
		}
		if s.Verdict == want {
			agreed++
		} else {
			wrong = append(wrong, fmt.Sprintf("line %d %q: predicted %s, the builder %s", s.Line, instr, s.Verdict, want))
		}
	}
	agreement.Lock()
	agreement.rows = append(agreement.rows, fmt.Sprintf("%-9s %-8s %-4s %d/%d", edit.name, builder, order, agreed, checked))
	agreement.Unlock()
	if len(wrong) > 0 {
		table, _, _ := layers(t, "predict", "-f", dockerfile, "--context", ctx, repo+":v1")
		t.Errorf("predict disagrees with the builder:\n%s\n%s\n%s", strings.Join(wrong, "\n"), table, log)
	}
	if checked < 3 {
		t.Errorf("only %d steps found in the build log:\n%s", checked, log)
	}
	switch {
	case edit.wantBreak == "" && p.FirstBreak != nil:
		t.Errorf("first break = %+v, want none", p.FirstBreak)
	case edit.wantBreak != "" && (p.FirstBreak == nil || p.FirstBreak.Reason != edit.wantBreak):
		t.Errorf("first break = %+v, want %s", p.FirstBreak, edit.wantBreak)
	}
	if (edit.name == "source" || edit.name == "mode") && order == "lazy" {
		fb := p.FirstBreak
		if fb == nil || len(fb.ChangedFiles) != 1 || fb.ChangedFiles[0].Path != "/app/src/util.js" || fb.ChangedFiles[0].Change != "modified" {
			t.Errorf("changed files = %+v, want /app/src/util.js modified", fb)
		}
	}
	if (order == "lazy") != (len(p.Advice) > 0) {
		t.Errorf("%s order: advice %+v", order, p.Advice)
	}
}

// verdictsOf is a predict JSON's verdicts, one per step.
func verdictsOf(t *testing.T, out string) string {
	t.Helper()
	var p predictJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var v []string
	for _, s := range p.Steps {
		v = append(v, fmt.Sprintf("%d:%s", s.Line, s.Verdict))
	}
	return strings.Join(v, " ")
}

// buildBase builds a base image of its own for one case, from the fake node image
// plus a file naming it, so each case's build cache is its own.
func buildBase(t *testing.T, tag, content string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM "+NodeImage+"\nCOPY id /etc/base-id\n")
	writeFile(t, filepath.Join(dir, "id"), tag+" "+content+"\n")
	build(t, dir, "Dockerfile", tag, false)
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPredictFollowsStages builds a two-stage Dockerfile to a --target whose stage is
// built FROM the other, edits a source file, and checks predict's verdicts for the
// whole chain of stages against the builder's log.
func TestPredictFollowsStages(t *testing.T) {
	for _, b := range []struct {
		name     string
		buildkit bool
	}{{"legacy", false}, {"buildkit", true}} {
		t.Run(b.name, func(t *testing.T) {
			base := "e2e/predict-base-stages-" + b.name + ":latest"
			buildBase(t, base, "first")
			ctx := copyContext(t, "app")
			text := "FROM " + base + " AS deps\nWORKDIR /app\nCOPY package*.json ./\nRUN npm install\n" +
				"FROM deps AS app\nCOPY . .\nENV NODE_ENV=production\nCMD [\"node\", \"index.js\"]\n" +
				"FROM app AS test\nRUN echo tested > /tested\n"
			dockerfile := filepath.Join(ctx, "Dockerfile.stages")
			writeFile(t, dockerfile, text)
			repo := "e2e/predict-stages-" + b.name
			build(t, ctx, dockerfile, repo+":v1", b.buildkit, "--target", "app")
			replaceInFile(t, filepath.Join(ctx, "src", "util.js"), `"hello, "`, `"hello stages, "`)

			out, stderr, code := layers(t, "predict", "-f", dockerfile, "--context", ctx, "--target", "app", "--format", "json", repo+":v1")
			if code != 0 {
				t.Fatalf("predict exited %d: %s", code, stderr)
			}
			var p predictJSON
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			log := build(t, ctx, dockerfile, repo+":v2", b.buildkit, "--target", "app")
			lines := strings.Split(text, "\n")
			agreed, checked := 0, 0
			for _, s := range p.Steps {
				instr := strings.TrimSpace(lines[s.Line-1])
				cached, found := cacheHit(log, instr)
				if !found {
					continue
				}
				checked++
				if want := map[bool]string{true: "reused", false: "rebuilt"}[cached]; s.Verdict == want {
					agreed++
				} else {
					t.Errorf("line %d %q: predicted %s, the builder %s", s.Line, instr, s.Verdict, want)
				}
			}
			agreement.Lock()
			agreement.rows = append(agreement.rows, fmt.Sprintf("%-9s %-8s %-4s %d/%d", "stages", b.name, "app", agreed, checked))
			agreement.Unlock()
			if checked < 3 || p.FirstBreak == nil || p.FirstBreak.Line != 6 {
				t.Errorf("checked %d, first break %+v\n%s\n%s", checked, p.FirstBreak, out, log)
			}
			t.Logf("stages: %d/%d steps agree", agreed, checked)
		})
	}
}
