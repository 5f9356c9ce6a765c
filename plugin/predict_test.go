package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

const predictDockerfile = `FROM node:20
WORKDIR /app
ARG APP_VERSION=1
COPY . .
RUN npm install
EXPOSE 3000
CMD ["node", "index.js"]
`

var predictApp = map[string]string{
	"package.json":   "{\"name\":\"app\"}\n",
	"index.js":       "require('./src/util')\n",
	"src/util.js":    "module.exports = 'hello, '\n",
	".dockerignore":  "node_modules\nDockerfile\n",
	"node_modules/x": "ignored\n",
}

// predictImages are the base (node:20) and the last build of predictDockerfile over
// predictApp (app:v1), in BuildKit's or the legacy builder's history style.
func predictImages(t *testing.T, buildkit bool) map[string]v1.Image {
	t.Helper()
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	base := empty.Image
	appendStep := func(img v1.Image, createdBy string, files map[string]string, comment string) v1.Image {
		add := mutate.Addendum{History: v1.History{CreatedBy: createdBy, Comment: comment, Created: v1.Time{Time: at}}}
		if files != nil {
			add.Layer = imagetest.FileLayer(t, files)
		} else {
			add.History.EmptyLayer = true
		}
		out, err := mutate.Append(img, add)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	base = appendStep(base, "/bin/sh -c #(nop) ADD file:"+strings.Repeat("0f", 32)+" in / ", map[string]string{"bin/sh": "busybox"}, "")
	base = appendStep(base, `/bin/sh -c #(nop)  CMD ["node"]`, nil, "")
	copied := map[string]string{}
	for p, c := range predictApp {
		if !strings.HasPrefix(p, "node_modules") && p != ".dockerignore" {
			copied["app/"+p] = c
		}
	}
	copied["app/.dockerignore"] = predictApp[".dockerignore"]
	img := base
	bk := "buildkit.dockerfile.v0"
	if buildkit {
		img = appendStep(img, "WORKDIR /app", map[string]string{}, bk)
		img = appendStep(img, "ARG APP_VERSION=1", nil, bk)
		img = appendStep(img, "COPY . . # buildkit", copied, bk)
		img = appendStep(img, "RUN |1 APP_VERSION=1 /bin/sh -c npm install # buildkit", map[string]string{"app/node_modules/left-pad/index.js": strings.Repeat("x", 4000)}, bk)
		img = appendStep(img, "EXPOSE map[3000/tcp:{}]", nil, bk)
		img = appendStep(img, `CMD ["node" "index.js"]`, nil, bk)
	} else {
		img = appendStep(img, "/bin/sh -c #(nop) WORKDIR /app", map[string]string{}, "")
		img = appendStep(img, "/bin/sh -c #(nop)  ARG APP_VERSION=1", nil, "")
		img = appendStep(img, "/bin/sh -c #(nop) COPY dir:"+strings.Repeat("ab", 32)+" in . ", copied, "")
		img = appendStep(img, "|1 APP_VERSION=1 /bin/sh -c npm install", map[string]string{"app/node_modules/left-pad/index.js": strings.Repeat("x", 4000)}, "")
		img = appendStep(img, "/bin/sh -c #(nop)  EXPOSE 3000", nil, "")
		img = appendStep(img, `/bin/sh -c #(nop)  CMD ["node" "index.js"]`, nil, "")
	}
	return map[string]v1.Image{"node:20": base, "app:v1": img}
}

// predictContext writes predictApp, the Dockerfile and the edits into a directory.
func predictContext(t *testing.T, dockerfile string, edits map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"Dockerfile": dockerfile}
	for p, c := range predictApp {
		files[p] = c
	}
	for p, c := range edits {
		files[p] = c
	}
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPredictGolden(t *testing.T) {
	sourceEdit := map[string]string{"src/util.js": "module.exports = 'hello again, '\n", "node_modules/x": "still ignored\n"}
	for _, tc := range []struct {
		name       string
		buildkit   bool
		dockerfile string
		edits      map[string]string
		args       []string
	}{
		{"predict-buildkit", true, predictDockerfile, sourceEdit, nil},
		{"predict-legacy", false, predictDockerfile, sourceEdit, nil},
		{"predict-buildkit-json", true, predictDockerfile, sourceEdit, []string{"--format", "json"}},
		{"predict-unchanged", true, predictDockerfile, map[string]string{"node_modules/x": "only ignored files\n"}, nil},
		{"predict-build-arg", false, predictDockerfile, nil, []string{"--build-arg", "APP_VERSION=2"}},
		{"predict-template", true, predictDockerfile, sourceEdit, []string{"--format", "{{.Line}}\t{{.Verdict}}\t{{.Bytes}}\t{{.Instruction}}"}},
		{"predict-diverged", true, strings.Replace(predictDockerfile, "ARG APP_VERSION=1\n", "ARG APP_VERSION=1\nUSER node\n", 1), nil, nil},
		{"predict-changed", true, predictDockerfile, sourceEdit, []string{"--changed", "src/util.js", "--changed", "node_modules/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := predictContext(t, tc.dockerfile, tc.edits)
			args := append([]string{"predict", "--context", dir}, tc.args...)
			out, errOut, code := runCLIWith(t, predictImages(t, tc.buildkit), append(args, "app:v1")...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			assertGolden(t, tc.name, out)
		})
	}
}

func TestPredictDockerfileAloneAndFix(t *testing.T) {
	dir := predictContext(t, predictDockerfile, nil)
	out, errOut, code := runCLIWith(t, nil, "predict", "--context", dir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	assertGolden(t, "predict-alone", out)
	out, _, code = runCLIWith(t, nil, "predict", "--context", dir, "--fix")
	if code != 0 {
		t.Fatalf("--fix exit %d", code)
	}
	assertGolden(t, "predict-fix", out)
}

func TestPredictJSONShape(t *testing.T) {
	dir := predictContext(t, predictDockerfile, map[string]string{"src/util.js": "edited\n"})
	out, _, code := runCLIWith(t, predictImages(t, true), "predict", "--context", dir, "--format", "json", "app:v1")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"image", "dockerfile", "steps", "firstBreak", "reusedSteps", "rebuiltSteps", "rebuiltSize", "transferSize", "advice"} {
		if _, ok := got[key]; !ok {
			t.Errorf("no %q", key)
		}
	}
	step := got["steps"].([]any)[0].(map[string]any)
	for _, key := range []string{"line", "instruction", "verdict", "layer", "size"} {
		if _, ok := step[key]; !ok {
			t.Errorf("no steps[].%q", key)
		}
	}
	fb := got["firstBreak"].(map[string]any)
	for _, key := range []string{"line", "instruction", "reason", "changedFiles"} {
		if _, ok := fb[key]; !ok {
			t.Errorf("no firstBreak.%q", key)
		}
	}
	file := fb["changedFiles"].([]any)[0].(map[string]any)
	if file["path"] != "/app/src/util.js" || file["change"] != "modified" || file["size"] == nil {
		t.Errorf("changedFiles[0] = %v", file)
	}
}

func TestPredictBadInput(t *testing.T) {
	dir := predictContext(t, "FROM node:20\nCOPY onlyone\n", nil)
	_, errOut, code := runCLIWith(t, nil, "predict", "--context", dir)
	if code != ExitUsage || !strings.Contains(errOut, "Dockerfile:2: ") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("bad Dockerfile: exit %d, stderr %q", code, errOut)
	}
	dir = predictContext(t, predictDockerfile, nil)
	if _, errOut, code := runCLIWith(t, nil, "predict", "--context", dir, "--changed", "a", "--since", "HEAD"); code != ExitUsage {
		t.Errorf("--changed with --since: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLIWith(t, nil, "predict", "--context", filepath.Join(dir, "nope")); code != ExitUsage {
		t.Errorf("missing context: exit %d, %q", code, errOut)
	}
	if _, _, code := runCLIWith(t, predictImages(t, true), "predict", "--context", dir, "--exit-code", "app:v1"); code != 0 {
		t.Errorf("--exit-code with nothing rebuilt: exit %d", code)
	}
}
