package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/cli/cli/command"

	"github.com/docker-layers/docker-layers/analyze/source"
)

// env is what a command needs from outside: the docker CLI (streams, engine client,
// config), how images are opened, and the clock. Tests hand in images built in code
// through open and a fixed now.
type env struct {
	dockerCli command.Cli
	// open opens one reference; nil means source.Open.
	open source.Opener
	// now is the clock for "2 hours ago"; nil means time.Now.
	now func() time.Time
}

func newEnv(dockerCli command.Cli) *env { return &env{dockerCli: dockerCli} }

// load opens refs and reads what need asks for, in one pass over each image.
// What a source noted about how it read an image (a bare path read as an archive, a
// stream read in one pass) goes to stderr, out of the way of the output.
func (e *env) load(ctx context.Context, refs []string, opts source.Options, need source.Need) (*source.Loaded, error) {
	l, err := source.Load(ctx, e.open, refs, opts, need)
	if err != nil {
		return nil, err
	}
	if errOut := e.dockerCli.Err(); errOut != nil {
		for _, img := range l.Images {
			for _, n := range img.Notes {
				fmt.Fprintf(errOut, "Note: %s\n", termSafe(n))
			}
		}
	}
	return l, nil
}

func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// termWidth is the width of the terminal stdout writes to; 0 when it is not one.
func (e *env) termWidth() int {
	out := e.dockerCli.Out()
	if out == nil || !out.IsTerminal() {
		return 0
	}
	_, w := out.GetTtySize()
	return int(w)
}

// sourceOptions lets the source reach the engine the docker CLI talks to (its context,
// DOCKER_HOST, TLS and API version negotiation), only when a reference needs it, and
// shows progress of long reads on stderr when it is a terminal.
func (e *env) sourceOptions(opts source.Options) source.Options {
	dockerCli := e.dockerCli
	opts.Daemon = func() (source.DaemonClient, error) {
		c := dockerCli.Client()
		if c == nil {
			return nil, fmt.Errorf("no Docker engine client")
		}
		return c, nil
	}
	opts.Containers = func() (source.ContainerClient, error) {
		c := dockerCli.Client()
		if c == nil {
			return nil, fmt.Errorf("no Docker engine client")
		}
		return c, nil
	}
	if errOut := dockerCli.Err(); errOut != nil && errOut.IsTerminal() {
		opts.Progress = func(p source.Progress) {
			end := ""
			if p.Done {
				end = "\n"
			}
			fmt.Fprintf(errOut, "\r\033[K%s: %s: %s read%s", termSafe(p.Ref), p.What, humanSize(p.Bytes), end)
		}
	}
	return opts
}
