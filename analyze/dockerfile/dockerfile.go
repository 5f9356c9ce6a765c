// Package dockerfile reads a Dockerfile with BuildKit's own parser into the plain
// analyze.Dockerfile a prediction compares with an image: the target stage's chain of
// steps, with build args, ARG and ENV values and WORKDIR applied as the builder does.
// It does no I/O: the caller hands in the file's bytes.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/docker-layers/docker-layers/analyze"
)

// Options are what a build would be given besides the Dockerfile.
type Options struct {
	// Name is the file's name, for messages.
	Name string
	// Target is the stage to build (--target); "" for the last one.
	Target string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
}

// Error is a Dockerfile the parser rejects, with the parser's line and message.
type Error struct {
	Name string
	Line int // 0 when the parser gave none
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Msg)
}

// MaxSize caps the Dockerfile read: BuildKit itself refuses far smaller ones in practice.
const MaxSize = 4 << 20

// Parse parses a Dockerfile and returns the steps of the target stage's chain.
func Parse(data []byte, opts Options) (*analyze.Dockerfile, error) {
	name := opts.Name
	if name == "" {
		name = "Dockerfile"
	}
	fail := func(err error) error {
		e := &Error{Name: name, Msg: firstLine(err.Error())}
		var le *parser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			e.Line = le.Locations[0][0].Start.Line
		}
		return e
	}
	if len(data) > MaxSize {
		return nil, &Error{Name: name, Msg: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fail(err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, &linter.Linter{})
	if err != nil {
		return nil, fail(err)
	}
	if len(stages) == 0 {
		return nil, &Error{Name: name, Msg: "no FROM instruction"}
	}
	b := &builder{
		name:    name,
		lex:     shell.NewLex(res.EscapeToken),
		args:    opts.BuildArgs,
		stages:  stages,
		outputs: map[int]*stageOut{},
	}
	b.global = newEnv()
	for _, ma := range metaArgs {
		for _, kv := range ma.Args {
			v, ok := b.args[kv.Key]
			if !ok && kv.Value != nil {
				w, _, err := b.lex.ProcessWord(*kv.Value, b.global)
				if err != nil {
					return nil, fail(parser.WithLocation(err, ma.Location()))
				}
				v, ok = w, true
			}
			b.global.declare(kv.Key, v, ok)
		}
	}
	target := len(stages) - 1
	if opts.Target != "" {
		target = -1
		for i, s := range stages {
			if strings.EqualFold(s.Name, opts.Target) {
				target = i
			}
		}
		if target < 0 {
			return nil, &Error{Name: name, Msg: fmt.Sprintf("target stage %q could not be found", opts.Target)}
		}
	}
	out, err := b.stage(target, 0)
	if err != nil {
		var de *Error
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, fail(err)
	}
	df := &analyze.Dockerfile{
		Name:     name,
		BaseLine: out.baseLine,
		Lines:    strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"),
		Target:   stageName(stages[target], target),
		Base:     out.base,
		Steps:    out.steps,
	}
	return df, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func stageName(s instructions.Stage, i int) string {
	if s.Name != "" {
		return s.Name
	}
	return strconv.Itoa(i)
}

// stageOut is what a stage makes: the image it starts from, its chain's steps, its
// image config as far as later stages inherit it, and whether it reads the context.
type stageOut struct {
	base        string
	baseLine    int
	steps       []analyze.DockerfileStep
	env         *env // ENV values, inherited by stages built FROM this one
	workdir     string
	fromContext bool
}

type builder struct {
	name    string
	lex     *shell.Lex
	args    map[string]string
	global  *env
	stages  []instructions.Stage
	outputs map[int]*stageOut
}

// stageIndex resolves a FROM or COPY --from name to an earlier stage, or -1.
func (b *builder) stageIndex(name string, before int) int {
	for i := range before {
		if strings.EqualFold(b.stages[i].Name, name) {
			return i
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
		return n
	}
	return -1
}

func (b *builder) stage(i, depth int) (*stageOut, error) {
	if out, ok := b.outputs[i]; ok {
		return out, nil
	}
	if depth > len(b.stages) {
		return nil, &Error{Name: b.name, Msg: "stages refer to each other in a cycle"}
	}
	st := b.stages[i]
	baseName, _, err := b.lex.ProcessWord(st.BaseName, b.global)
	if err != nil {
		return nil, parser.WithLocation(err, st.Location)
	}
	out := &stageOut{base: baseName, env: newEnv(), workdir: "/"}
	if len(st.Location) > 0 {
		out.baseLine = st.Location[0].Start.Line
	}
	if p := b.stageIndex(baseName, i); p >= 0 {
		parent, err := b.stage(p, depth+1)
		if err != nil {
			return nil, err
		}
		out.base, out.baseLine = parent.base, parent.baseLine
		out.steps = append(out.steps, parent.steps...)
		out.env = parent.env.clone()
		out.workdir = parent.workdir
		out.fromContext = parent.fromContext
	}
	d := &dispatch{b: b, out: out, stage: stageName(st, i), index: i, depth: depth, env: out.env.clone()}
	for _, cmd := range st.Commands {
		if err := d.command(cmd); err != nil {
			return nil, parser.WithLocation(err, cmd.Location())
		}
	}
	out.env = d.envOnly()
	b.outputs[i] = out
	return out, nil
}

// dispatch walks one stage's commands as the builder does.
type dispatch struct {
	b        *builder
	out      *stageOut
	stage    string
	index    int
	depth    int
	env      *env // ENV and ARG values in scope, for expansion and RUN
	argOrder []string
	envKeys  map[string]bool
}

// envOnly is the stage's ENV values without its ARGs: what a stage built FROM it sees.
func (d *dispatch) envOnly() *env {
	e := newEnv()
	for _, k := range d.env.keys {
		if d.envKeys[k] || !d.isArg(k) {
			v, _ := d.env.Get(k)
			e.declare(k, v, true)
		}
	}
	return e
}

func (d *dispatch) isArg(k string) bool {
	for _, a := range d.argOrder {
		if a == k {
			return true
		}
	}
	return false
}

func (d *dispatch) expand(word string) (string, error) {
	w, _, err := d.b.lex.ProcessWord(word, d.env)
	return w, err
}

func (d *dispatch) add(cmd instructions.Command, text string, fill func(*analyze.DockerfileStep)) {
	loc := cmd.Location()
	s := analyze.DockerfileStep{Stage: d.stage, Keyword: strings.ToUpper(cmd.Name()), Text: text}
	if len(loc) > 0 {
		s.Line, s.EndLine = loc[0].Start.Line, loc[len(loc)-1].End.Line
	}
	if fill != nil {
		fill(&s)
	}
	d.out.steps = append(d.out.steps, s)
}

func (d *dispatch) command(cmd instructions.Command) error {
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := cmd.(*instructions.RunCommand); !isRun {
			if err := ex.Expand(d.expand); err != nil {
				return err
			}
		}
	}
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		if d.envKeys == nil {
			d.envKeys = map[string]bool{}
		}
		var kvs []string
		for _, kv := range c.Env {
			d.env.declare(kv.Key, kv.Value, true)
			d.envKeys[kv.Key] = true
			kvs = append(kvs, kv.Key+"="+kv.Value)
		}
		d.add(c, "ENV "+strings.Join(kvs, " "), nil)
	case *instructions.ArgCommand:
		var names []string
		for _, kv := range c.Args {
			v, ok := d.b.args[kv.Key]
			if !ok && kv.Value != nil {
				v, ok = *kv.Value, true
			}
			if !ok {
				v, ok = d.b.global.Get(kv.Key)
			}
			d.env.declare(kv.Key, v, ok)
			d.argOrder = append(d.argOrder, kv.Key)
			names = append(names, kv.Key)
		}
		d.add(c, "ARG "+strings.Join(names, " "), nil)
	case *instructions.WorkdirCommand:
		wd := c.Path
		if !path.IsAbs(wd) {
			wd = path.Join(d.out.workdir, wd)
		}
		d.out.workdir = path.Clean(wd)
		d.add(c, "WORKDIR "+d.out.workdir, nil)
	case *instructions.RunCommand:
		d.add(c, "RUN "+runText(c.ShellDependantCmdLine), func(s *analyze.DockerfileStep) {
			s.BuildArgs = d.runArgs()
		})
	case *instructions.CopyCommand:
		return d.copyStep(c, c.SourcesAndDest, c.From, c.Chown, c.Chmod, c.Parents, c.ExcludePatterns)
	case *instructions.AddCommand:
		return d.copyStep(c, c.SourcesAndDest, "", c.Chown, c.Chmod, false, c.ExcludePatterns)
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			w, err := d.expand(p)
			if err != nil {
				return err
			}
			ports = append(ports, strings.Fields(w)...)
		}
		d.add(c, "EXPOSE "+strings.Join(ports, " "), nil)
	default:
		d.add(cmd, codeOf(cmd), nil)
	}
	return nil
}

// runArgs are the build args a RUN is keyed on: the ARGs declared so far in the
// stage, "KEY=value" ("KEY=" when it has no value), as BuildKit records them.
func (d *dispatch) runArgs() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range d.argOrder {
		if seen[k] {
			continue
		}
		seen[k] = true
		v, _ := d.env.Get(k)
		out = append(out, k+"="+v)
	}
	return out
}

func (d *dispatch) copyStep(c instructions.Command, sd instructions.SourcesAndDest, from, chown, chmod string, parents bool, excludes []string) error {
	var flags []string
	if parents {
		flags = append(flags, "--parents")
	}
	if chown != "" {
		flags = append(flags, "--chown="+chown)
	}
	if chmod != "" {
		flags = append(flags, "--chmod="+chmod)
	}
	parts := append([]string{strings.ToUpper(c.Name())}, flags...)
	parts = append(parts, sd.SourcePaths...)
	var heredocs []analyze.InlineFile
	for _, sc := range sd.SourceContents {
		parts = append(parts, "<<"+sc.Path)
		data := sc.Data
		if sc.Expand {
			w, _, err := d.b.lex.ProcessWord(data, d.env)
			if err == nil {
				data = w
			}
		}
		heredocs = append(heredocs, analyze.InlineFile{Name: sc.Path, Content: data})
	}
	parts = append(parts, sd.DestPath)
	dest := sd.DestPath
	if !path.IsAbs(dest) {
		dest = path.Join(d.out.workdir, dest)
		if strings.HasSuffix(sd.DestPath, "/") || sd.DestPath == "." {
			dest += "/"
		}
	}
	if strings.HasSuffix(sd.DestPath, "/") && !strings.HasSuffix(dest, "/") {
		dest += "/"
	}
	fromContext := false
	if from != "" {
		if p := d.b.stageIndex(from, d.index); p >= 0 {
			src, err := d.b.stage(p, d.depth+1)
			if err != nil {
				return err
			}
			fromContext = src.fromContext
		}
	} else if len(sd.SourcePaths) > 0 {
		d.out.fromContext = true
	}
	d.add(c, strings.Join(parts, " "), func(s *analyze.DockerfileStep) {
		s.Sources = append([]string(nil), sd.SourcePaths...)
		s.Dest = dest
		s.FromStage = from
		s.FromContext = fromContext
		s.Heredocs = heredocs
		s.Excludes = excludes
	})
	if fromContext {
		d.out.fromContext = true
	}
	return nil
}

// runText is a RUN's command as the history records it after the shell.
func runText(c instructions.ShellDependantCmdLine) string {
	text := strings.Join(c.CmdLine, " ")
	for _, f := range c.Files {
		text += "\n" + f.Data
	}
	return text
}

// codeOf is an instruction's source text with its keyword upper-cased.
func codeOf(cmd instructions.Command) string {
	code := fmt.Sprint(cmd)
	if s, ok := cmd.(fmt.Stringer); ok {
		code = s.String()
	}
	kw, rest, _ := strings.Cut(strings.TrimSpace(code), " ")
	return strings.ToUpper(kw) + " " + strings.TrimSpace(rest)
}

// env is an ordered set of variables for the shell lexer.
type env struct {
	keys []string
	vals map[string]string
	set  map[string]bool
}

func newEnv() *env { return &env{vals: map[string]string{}, set: map[string]bool{}} }

func (e *env) declare(k, v string, ok bool) {
	if _, seen := e.vals[k]; !seen {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
	e.set[k] = ok
}

func (e *env) clone() *env {
	c := newEnv()
	for _, k := range e.keys {
		c.declare(k, e.vals[k], e.set[k])
	}
	return c
}

// Get implements shell.EnvGetter.
func (e *env) Get(k string) (string, bool) {
	if !e.set[k] {
		return "", false
	}
	return e.vals[k], true
}

// Keys implements shell.EnvGetter.
func (e *env) Keys() []string {
	var out []string
	for _, k := range e.keys {
		if e.set[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
