package dockerfile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker-layers/docker-layers/analyze"
)

func causes(p analyze.Prediction) string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, fmt.Sprintf("%s:%s:%s", s.Keyword, s.Verdict, s.Cause))
	}
	return strings.Join(out, " ")
}

// Every verdict says why: the page and the JSON word it, never decide it.
func TestPredictCauses(t *testing.T) {
	img, files := lazyImage(t, true)
	df := parse(t, lazyDockerfile, nil)
	for _, tc := range []struct {
		name       string
		dockerfile string
		ctx        map[string]string
		want       string
	}{
		{"unchanged", lazyDockerfile, appV1,
			"WORKDIR:reused:unchanged ARG:reused:unchanged COPY:reused:unchanged RUN:reused:unchanged EXPOSE:reused:unchanged CMD:reused:unchanged"},
		{"edited source", lazyDockerfile, map[string]string{"index.js": "console.log(2)\n", "package.json": "{}\n"},
			"WORKDIR:reused:unchanged ARG:reused:unchanged COPY:rebuilt:first-break RUN:rebuilt:above-break EXPOSE:rebuilt:above-break CMD:rebuilt:above-break"},
		{"changed CMD", strings.Replace(lazyDockerfile, "index.js", "main.js", 1), appV1,
			"WORKDIR:reused:unchanged ARG:reused:unchanged COPY:reused:unchanged RUN:reused:unchanged EXPOSE:reused:unchanged CMD:rebuilt:config-changed"},
		{"inserted USER", strings.Replace(lazyDockerfile, "ARG NODE_ENV", "USER node\nARG NODE_ENV", 1), appV1,
			"WORKDIR:reused:unchanged USER:unknown:diverged ARG:unknown:diverged COPY:unknown:diverged RUN:unknown:diverged EXPOSE:unknown:diverged CMD:unknown:diverged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := causes(predict(t, parse(t, tc.dockerfile, nil), img, files, context(tc.ctx))); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}

	// A changed ENV is written anew; BuildKit breaks the cache at the next RUN, and
	// the first break is the ENV.
	const envDockerfile = "FROM node:20\nENV MODE=b\nCOPY . .\nRUN make\nLABEL x=1\n"
	steps := append(append([]hstep(nil), baseSteps...),
		hstep{createdBy: "ENV MODE=a", comment: bk},
		hstep{createdBy: "COPY . . # buildkit", files: map[string]string{"index.js": appV1["index.js"], "package.json": appV1["package.json"]}, comment: bk},
		hstep{createdBy: "RUN /bin/sh -c make # buildkit", files: map[string]string{"out": "x"}, comment: bk},
		hstep{createdBy: "LABEL x=1", comment: bk},
	)
	envImg, envFiles := built(t, "app:env", steps...)
	p := predict(t, parse(t, envDockerfile, nil), envImg, envFiles, context(appV1))
	if got, want := causes(p), "ENV:rebuilt:first-break COPY:reused:unchanged RUN:rebuilt:above-break LABEL:rebuilt:above-break"; got != want {
		t.Errorf("changed ENV:\ngot  %s\nwant %s", got, want)
	}
	if p.FirstBreak == nil || p.FirstBreak.Line != 2 {
		t.Errorf("changed ENV: break %+v", p.FirstBreak)
	}
	noRun := strings.Replace(envDockerfile, "RUN make\nLABEL x=1\n", "", 1)
	steps = steps[:len(steps)-2]
	envImg, envFiles = built(t, "app:env", steps...)
	if got, want := causes(predict(t, parse(t, noRun, nil), envImg, envFiles, context(appV1))), "ENV:rebuilt:env-changed COPY:reused:unchanged"; got != want {
		t.Errorf("changed ENV, no RUN above:\ngot  %s\nwant %s", got, want)
	}

	// Inputs IMAGE cannot show, and everything above them.
	add := "ADD https://example.com/app.tgz ."
	steps = append(append([]hstep(nil), baseSteps...),
		hstep{createdBy: "WORKDIR /usr/src/app", files: map[string]string{}, comment: bk},
		hstep{createdBy: "ARG NODE_ENV=production", comment: bk},
		hstep{createdBy: add + " # buildkit", files: map[string]string{"usr/src/app/index.js": "x"}, comment: bk},
		hstep{createdBy: "RUN |1 NODE_ENV=production /bin/sh -c npm install # buildkit", files: map[string]string{"usr/src/app/node_modules/x.js": "m"}, comment: bk},
		hstep{createdBy: "EXPOSE map[3000/tcp:{}]", comment: bk},
		hstep{createdBy: `CMD ["node" "index.js"]`, comment: bk},
	)
	addImg, addFiles := built(t, "app:add", steps...)
	if got, want := causes(predict(t, parse(t, strings.Replace(lazyDockerfile, "COPY . .", add, 1), nil), addImg, addFiles, context(appV1))),
		"WORKDIR:reused:unchanged ARG:reused:unchanged ADD:unknown:not-comparable RUN:unknown:above-unknown EXPOSE:unknown:above-unknown CMD:unknown:above-unknown"; got != want {
		t.Errorf("ADD of a URL:\ngot  %s\nwant %s", got, want)
	}

	// Without IMAGE, and with a base that moved.
	alone := analyze.Predict(analyze.PredictInput{Dockerfile: df, Context: context(appV1)})
	if got := causes(alone); strings.Count(got, ":unknown:no-image") != 6 {
		t.Errorf("alone: %s", got)
	}
	base, _ := built(t, "node:20", hstep{createdBy: baseSteps[0].createdBy, files: map[string]string{"bin/sh": "busybox 2"}}, baseSteps[1])
	read := map[int][]analyze.File{}
	for _, l := range analyze.PredictLayers(df, img) {
		read[l] = files[l]
	}
	p = analyze.Predict(analyze.PredictInput{Dockerfile: df, Image: &img, Base: &base, LayerFiles: read, Context: context(appV1)})
	if got := causes(p); strings.Count(got, ":rebuilt:above-break") != 6 {
		t.Errorf("base changed: %s", got)
	}
}
