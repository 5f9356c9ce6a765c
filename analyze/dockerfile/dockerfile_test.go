package dockerfile

import (
	"errors"
	"strings"
	"testing"
)

const lazy = `# syntax=docker/dockerfile:1
FROM node:20
WORKDIR /usr/src/app
ARG NODE_ENV=production
COPY . .
RUN npm install
EXPOSE 3000
CMD ["node", "dist/index.js"]
`

func TestParseLazy(t *testing.T) {
	df, err := Parse([]byte(lazy), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if df.Base != "node:20" || df.Target != "0" {
		t.Errorf("base %q target %q", df.Base, df.Target)
	}
	var got []string
	for _, s := range df.Steps {
		got = append(got, s.Text)
	}
	want := []string{"WORKDIR /usr/src/app", "ARG NODE_ENV", "COPY . .", "RUN npm install", "EXPOSE 3000", `CMD ["node", "dist/index.js"]`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("steps = %q\nwant %q", got, want)
	}
	cp := df.Steps[2]
	if cp.Dest != "/usr/src/app/" || cp.Line != 5 || len(cp.Sources) != 1 {
		t.Errorf("copy = %+v", cp)
	}
	if run := df.Steps[3]; strings.Join(run.BuildArgs, ",") != "NODE_ENV=production" {
		t.Errorf("run args = %q", run.BuildArgs)
	}
}

func TestParseStagesArgsHeredoc(t *testing.T) {
	src := `ARG BASE=alpine:3
FROM ${BASE} AS build
ENV APP=/src
WORKDIR $APP
COPY go.mod go.sum ./
RUN <<EOF
go build
EOF
FROM build AS test
RUN go test
FROM scratch
COPY --from=build /src/app /app
COPY <<EOF /etc/motd
hello
EOF
`
	df, err := Parse([]byte(src), Options{BuildArgs: map[string]string{"BASE": "debian"}})
	if err != nil {
		t.Fatal(err)
	}
	if df.Base != "scratch" || len(df.Steps) != 2 {
		t.Fatalf("final: base %q steps %+v", df.Base, df.Steps)
	}
	if s := df.Steps[0]; s.FromStage != "build" || !s.FromContext || s.Dest != "/app" {
		t.Errorf("copy --from = %+v", s)
	}
	if s := df.Steps[1]; len(s.Heredocs) != 1 || s.Heredocs[0].Content != "hello\n" {
		t.Errorf("heredoc = %+v", s)
	}
	df, err = Parse([]byte(src), Options{Target: "test", BuildArgs: map[string]string{"BASE": "debian"}})
	if err != nil {
		t.Fatal(err)
	}
	if df.Base != "debian" || len(df.Steps) != 5 || df.Steps[1].Text != "WORKDIR /src" || df.Steps[2].Dest != "/src/" {
		t.Errorf("test stage: base %q steps %+v", df.Base, df.Steps)
	}
}

func TestParseError(t *testing.T) {
	_, err := Parse([]byte("FROM alpine\nCOPY onlyone\n"), Options{Name: "Dockerfile.bad"})
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "Dockerfile.bad:2: ") {
		t.Errorf("message %q", err)
	}
	if _, err := Parse([]byte("FROM a\n"), Options{Target: "nope"}); err == nil {
		t.Error("unknown target accepted")
	}
}
