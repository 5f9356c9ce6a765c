package dockerfile_test

import (
	"bytes"
	stdcontext "context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/dockerfile"
	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// hstep is one crafted history entry: a layer of files, or metadata only (files nil).
type hstep struct {
	createdBy string
	files     map[string]string
	comment   string
}

// built is an image built in code, read as a source would, with every layer's files.
func built(t *testing.T, ref string, steps ...hstep) (analyze.Image, map[int][]analyze.File) {
	t.Helper()
	img := empty.Image
	for _, s := range steps {
		add := mutate.Addendum{History: v1.History{CreatedBy: s.createdBy, Comment: s.comment}}
		if s.files != nil {
			add.Layer = imagetest.FileLayer(t, s.files)
		} else {
			add.History.EmptyLayer = true
		}
		var err error
		if img, err = mutate.Append(img, add); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := analyze.Image{Ref: ref, ID: id.String(), Config: cfg}
	files := map[int][]analyze.File{}
	for i, l := range layers {
		diffID, _ := l.DiffID()
		csize, _ := l.Size()
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		size, err := analyze.ScanLayer(stdcontext.Background(), rc, analyze.ScanOptions{}, func(f analyze.File) error { files[i] = append(files[i], f); return nil })
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out.Layers = append(out.Layers, analyze.Layer{DiffID: diffID, Size: size, CompressedSize: csize})
	}
	return out, files
}

const bk = analyze.BuildKitComment

var baseSteps = []hstep{
	{createdBy: "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef in / ", files: map[string]string{"bin/sh": "busybox"}},
	{createdBy: `/bin/sh -c #(nop)  CMD ["sh"]`},
}

const lazyDockerfile = `FROM node:20
WORKDIR /usr/src/app
ARG NODE_ENV=production
COPY . .
RUN npm install
EXPOSE 3000
CMD ["node", "index.js"]
`

var appV1 = map[string]string{"index.js": "console.log(1)\n", "package.json": "{}\n"}

// lazyImage is the lazy Dockerfile's last build, in BuildKit's or the legacy
// builder's history style.
func lazyImage(t *testing.T, buildkit bool) (analyze.Image, map[int][]analyze.File) {
	app := map[string]string{}
	for k, v := range appV1 {
		app["usr/src/app/"+k] = v
	}
	steps := append([]hstep(nil), baseSteps...)
	if buildkit {
		steps = append(steps,
			hstep{createdBy: "WORKDIR /usr/src/app", files: map[string]string{}, comment: bk},
			hstep{createdBy: "ARG NODE_ENV=production", comment: bk},
			hstep{createdBy: "COPY . . # buildkit", files: app, comment: bk},
			hstep{createdBy: "RUN |1 NODE_ENV=production /bin/sh -c npm install # buildkit", files: map[string]string{"usr/src/app/node_modules/x.js": strings.Repeat("m", 1000)}, comment: bk},
			hstep{createdBy: "EXPOSE map[3000/tcp:{}]", comment: bk},
			hstep{createdBy: `CMD ["node" "index.js"]`, comment: bk},
		)
	} else {
		steps = append(steps,
			hstep{createdBy: "/bin/sh -c #(nop) WORKDIR /usr/src/app", files: map[string]string{}},
			hstep{createdBy: "/bin/sh -c #(nop)  ARG NODE_ENV=production"},
			hstep{createdBy: "/bin/sh -c #(nop) COPY dir:" + strings.Repeat("ab", 32) + " in /usr/src/app/ ", files: app},
			hstep{createdBy: "|1 NODE_ENV=production /bin/sh -c npm install", files: map[string]string{"usr/src/app/node_modules/x.js": strings.Repeat("m", 1000)}},
			hstep{createdBy: "/bin/sh -c #(nop)  EXPOSE 3000"},
			hstep{createdBy: `/bin/sh -c #(nop)  CMD ["node" "index.js"]`},
		)
	}
	return built(t, "app:v1", steps...)
}

func context(files map[string]string) *analyze.Context {
	var c analyze.Context
	for p, content := range files {
		sum := sha256.Sum256([]byte(content))
		c.Files = append(c.Files, analyze.ContextFile{Path: p, Kind: analyze.KindFile, Mode: 0o644, Size: int64(len(content)), Digest: "sha256:" + hex.EncodeToString(sum[:])})
	}
	return &c
}

func parse(t *testing.T, src string, args map[string]string) *analyze.Dockerfile {
	t.Helper()
	df, err := dockerfile.Parse([]byte(src), dockerfile.Options{BuildArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	return df
}

func verdicts(p analyze.Prediction) string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, fmt.Sprintf("%s:%s", s.Keyword, s.Verdict))
	}
	return strings.Join(out, " ")
}

func predict(t *testing.T, df *analyze.Dockerfile, img analyze.Image, files map[int][]analyze.File, ctx *analyze.Context) analyze.Prediction {
	t.Helper()
	want := analyze.PredictLayers(df, img)
	read := map[int][]analyze.File{}
	for _, l := range want {
		read[l] = files[l]
	}
	return analyze.Predict(analyze.PredictInput{Dockerfile: df, Image: &img, LayerFiles: read, Context: ctx})
}

func TestPredictBothBuilders(t *testing.T) {
	for _, buildkit := range []bool{true, false} {
		t.Run(fmt.Sprintf("buildkit=%v", buildkit), func(t *testing.T) {
			img, files := lazyImage(t, buildkit)
			df := parse(t, lazyDockerfile, nil)

			p := predict(t, df, img, files, context(appV1))
			if got := verdicts(p); got != "WORKDIR:reused ARG:reused COPY:reused RUN:reused EXPOSE:reused CMD:reused" {
				t.Errorf("unchanged context: %s (divergence %+v)", got, p.Divergence)
			}
			if p.FirstBreak != nil || p.RebuiltSize != 0 {
				t.Errorf("unchanged: break %+v, rebuilt %d", p.FirstBreak, p.RebuiltSize)
			}

			edited := map[string]string{"index.js": "console.log(2)\n", "package.json": "{}\n", "new.js": "x"}
			p = predict(t, df, img, files, context(edited))
			if got := verdicts(p); got != "WORKDIR:reused ARG:reused COPY:rebuilt RUN:rebuilt EXPOSE:rebuilt CMD:rebuilt" {
				t.Errorf("edited source: %s", got)
			}
			b := p.FirstBreak
			if b == nil || b.Line != 4 || b.Reason != analyze.ReasonInputsChanged || !b.FilesCompared {
				t.Fatalf("break = %+v", b)
			}
			want := []analyze.FileChange{
				{Path: "/usr/src/app/index.js", Change: analyze.FileModified, Size: 15},
				{Path: "/usr/src/app/new.js", Change: analyze.FileAdded, Size: 1},
			}
			if fmt.Sprint(b.ChangedFiles) != fmt.Sprint(want) {
				t.Errorf("changed = %+v", b.ChangedFiles)
			}
			if p.RebuiltSteps != 4 || p.ReusedSteps != 2 || p.RebuiltSize != 1018 {
				t.Errorf("figures: reused %d rebuilt %d size %d", p.ReusedSteps, p.RebuiltSteps, p.RebuiltSize)
			}
			if len(p.Advice) != 1 || p.Advice[0].CopyLine != 4 || p.Advice[0].InstallLine != 5 || p.Advice[0].Manifests[0] != "package.json" {
				t.Errorf("advice = %+v", p.Advice)
			}

			// A build arg: only the RUN is keyed on it, in both builders.
			p = predict(t, parse(t, lazyDockerfile, map[string]string{"NODE_ENV": "dev"}), img, files, context(appV1))
			if got := verdicts(p); !strings.HasPrefix(got, "WORKDIR:reused ARG:reused COPY:reused RUN:rebuilt") {
				t.Errorf("build arg: %s", got)
			}
			if p.FirstBreak == nil || p.FirstBreak.Line != 5 || p.FirstBreak.Reason != analyze.ReasonInputsChanged {
				t.Errorf("build arg break = %+v", p.FirstBreak)
			}

			// A changed CMD breaks nothing in BuildKit, the last step in the legacy builder.
			p = predict(t, parse(t, strings.Replace(lazyDockerfile, "index.js", "main.js", 1), nil), img, files, context(appV1))
			if p.Steps[5].Verdict != analyze.VerdictRebuilt || (p.FirstBreak != nil) == buildkit {
				t.Errorf("changed CMD: %s, break %+v", verdicts(p), p.FirstBreak)
			}
		})
	}
}

func TestPredictModeChangeAndPartialContext(t *testing.T) {
	img, files := lazyImage(t, true)
	df := parse(t, lazyDockerfile, nil)
	ctx := context(appV1)
	for i := range ctx.Files {
		if ctx.Files[i].Path == "index.js" {
			ctx.Files[i].Mode = 0o755
		}
	}
	p := predict(t, df, img, files, ctx)
	if p.FirstBreak == nil || len(p.FirstBreak.ChangedFiles) != 1 || p.FirstBreak.ChangedFiles[0].Change != analyze.FileModified {
		t.Errorf("mode change: %+v", p.FirstBreak)
	}

	// --changed: only the listed paths are compared; a listed file that is the same
	// as in the image changes nothing, a deleted one is a deleted file.
	partial := context(map[string]string{"index.js": "console.log(1)\n"})
	partial.Partial, partial.Changed = true, []string{"index.js"}
	if p := predict(t, df, img, files, partial); p.FirstBreak != nil {
		t.Errorf("unchanged listed file: %+v", p.FirstBreak)
	}
	partial = &analyze.Context{Partial: true, Changed: []string{"package.json", "elsewhere/x"}}
	p = predict(t, df, img, files, partial)
	if p.FirstBreak == nil || fmt.Sprint(p.FirstBreak.ChangedFiles) != "[{/usr/src/app/package.json deleted 3}]" {
		t.Errorf("deleted listed file: %+v", p.FirstBreak)
	}
}

func TestPredictDivergenceAndBase(t *testing.T) {
	img, files := lazyImage(t, true)
	extra := strings.Replace(lazyDockerfile, "RUN npm install\n", "RUN apt-get update\nRUN npm install\n", 1)
	p := predict(t, parse(t, extra, nil), img, files, context(appV1))
	if got := verdicts(p); got != "WORKDIR:reused ARG:reused COPY:reused RUN:rebuilt RUN:rebuilt EXPOSE:rebuilt CMD:rebuilt" {
		t.Errorf("inserted RUN: %s", got)
	}
	if d := p.Divergence; d == nil || d.Line != 6 || d.ImageInstruction != "EXPOSE 3000/tcp" {
		t.Errorf("divergence = %+v", d)
	}
	if b := p.FirstBreak; b == nil || b.Line != 5 || b.Reason != analyze.ReasonInstructionChanged || p.RebuiltSize != analyze.Unknown {
		t.Errorf("break = %+v, rebuilt size %d", b, p.RebuiltSize)
	}

	// A step added before any break: nothing above it can be told.
	extra = strings.Replace(lazyDockerfile, "ARG NODE_ENV", "USER node\nARG NODE_ENV", 1)
	p = predict(t, parse(t, extra, nil), img, files, context(appV1))
	if got := verdicts(p); got != "WORKDIR:reused USER:unknown ARG:unknown COPY:unknown RUN:unknown EXPOSE:unknown CMD:unknown" {
		t.Errorf("inserted USER: %s", got)
	}
	if d := p.Divergence; d == nil || d.Line != 3 || p.FirstBreak != nil || p.UnknownSteps != 6 {
		t.Errorf("divergence = %+v, break %+v", d, p.FirstBreak)
	}

	df := parse(t, lazyDockerfile, nil)
	base, _ := built(t, "node:20", hstep{createdBy: baseSteps[0].createdBy, files: map[string]string{"bin/sh": "busybox 2"}}, baseSteps[1])
	want := analyze.PredictLayers(df, img)
	read := map[int][]analyze.File{}
	for _, l := range want {
		read[l] = files[l]
	}
	p = analyze.Predict(analyze.PredictInput{Dockerfile: df, Image: &img, Base: &base, LayerFiles: read, Context: context(appV1)})
	if p.FirstBreak == nil || p.FirstBreak.Reason != analyze.ReasonBaseChanged || p.FirstBreak.Line != 1 || p.ReusedSteps != 0 {
		t.Errorf("base changed: %s %+v", verdicts(p), p.FirstBreak)
	}
	same, _ := built(t, "node:20", baseSteps...)
	p = analyze.Predict(analyze.PredictInput{Dockerfile: df, Image: &img, Base: &same, LayerFiles: read, Context: context(appV1)})
	if p.FirstBreak != nil {
		t.Errorf("same base: %+v", p.FirstBreak)
	}
}

func TestDockerfileAloneAndFix(t *testing.T) {
	df := parse(t, lazyDockerfile, nil)
	p := analyze.Predict(analyze.PredictInput{Dockerfile: df, Context: context(map[string]string{"package.json": "{}", "package-lock.json": "{}", "index.js": ""})})
	if p.UnknownSteps != 6 || len(p.Advice) != 1 || !p.Advice[0].Fixable {
		t.Fatalf("alone: %+v", p)
	}
	got := analyze.FixDockerfile(df, p.Advice)
	want := `FROM node:20
WORKDIR /usr/src/app
ARG NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install
COPY . .
EXPOSE 3000
CMD ["node", "index.js"]
`
	if got != want {
		t.Errorf("fix:\n%s\nwant:\n%s", got, want)
	}
	// Already fixed: no advice.
	fixed := parse(t, want, nil)
	if a := analyze.DockerfileAdvise(fixed, nil); len(a) != 0 {
		t.Errorf("advice on the fixed file: %+v", a)
	}
	_ = bytes.MinRead
}

// The builders leave out of a COPY's layer the files that are the same as below
// (the professional order's second COPY re-copies the manifests): not added files.
func TestPredictFilesLeftOutOfTheLayer(t *testing.T) {
	const pro = `FROM node:20
WORKDIR /usr/src/app
COPY package*.json ./
RUN npm install
COPY . .
`
	steps := append([]hstep(nil), baseSteps...)
	steps = append(steps,
		hstep{createdBy: "WORKDIR /usr/src/app", files: map[string]string{}, comment: bk},
		hstep{createdBy: "COPY package*.json ./ # buildkit", files: map[string]string{"usr/src/app/package.json": appV1["package.json"]}, comment: bk},
		hstep{createdBy: "RUN /bin/sh -c npm install # buildkit", files: map[string]string{"usr/src/app/node_modules/x.js": "m"}, comment: bk},
		hstep{createdBy: "COPY . . # buildkit", files: map[string]string{"usr/src/app/index.js": appV1["index.js"]}, comment: bk},
	)
	img, files := built(t, "app:pro", steps...)
	df := parse(t, pro, nil)
	if p := predict(t, df, img, files, context(appV1)); p.FirstBreak != nil || p.ReusedSteps != 4 {
		t.Errorf("unchanged: %s %+v", verdicts(p), p.FirstBreak)
	}
	edited := map[string]string{"index.js": appV1["index.js"], "package.json": "{\"v\":2}\n"}
	p := predict(t, df, img, files, context(edited))
	if p.FirstBreak == nil || p.FirstBreak.Line != 3 || fmt.Sprint(p.FirstBreak.ChangedFiles) != "[{/usr/src/app/package.json modified 8}]" {
		t.Errorf("manifest edit: %s %+v", verdicts(p), p.FirstBreak)
	}
}

// Inputs IMAGE cannot show: an ADD of a URL or of an archive ADD unpacks, and a COPY
// --from a stage that reads the context. Nothing is guessed from there on.
func TestPredictUnknownInputs(t *testing.T) {
	for _, add := range []string{"ADD https://example.com/app.tgz .", "ADD app.tar.gz ."} {
		steps := append([]hstep(nil), baseSteps...)
		steps = append(steps,
			hstep{createdBy: "WORKDIR /usr/src/app", files: map[string]string{}, comment: bk},
			hstep{createdBy: "ARG NODE_ENV=production", comment: bk},
			hstep{createdBy: add + " # buildkit", files: map[string]string{"usr/src/app/index.js": "x"}, comment: bk},
			hstep{createdBy: "RUN |1 NODE_ENV=production /bin/sh -c npm install # buildkit", files: map[string]string{"usr/src/app/node_modules/x.js": "m"}, comment: bk},
			hstep{createdBy: "EXPOSE map[3000/tcp:{}]", comment: bk},
			hstep{createdBy: `CMD ["node" "index.js"]`, comment: bk},
		)
		img, files := built(t, "app:add", steps...)
		p := predict(t, parse(t, strings.Replace(lazyDockerfile, "COPY . .", add, 1), nil), img, files, context(appV1))
		if got := verdicts(p); got != "WORKDIR:reused ARG:reused ADD:unknown RUN:unknown EXPOSE:unknown CMD:unknown" || p.Divergence != nil {
			t.Errorf("%s: %s, divergence %+v", add, got, p.Divergence)
		}
	}
	multi := "FROM node:20 AS build\nCOPY . /src\nRUN make\n" + strings.Replace(lazyDockerfile, "COPY . .", "COPY --from=build /src .", 1)
	df := parse(t, multi, nil)
	if !df.Steps[2].FromContext || df.Steps[2].FromStage != "build" {
		t.Fatalf("copy --from: %+v", df.Steps[2])
	}
}
