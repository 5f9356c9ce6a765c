// Package plugin holds the docker-layers commands: flags, formatting and the terminal.
// It is the only package that knows about cobra, the docker CLI and tablewriter.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli-plugins/metadata"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/spf13/cobra"
)

// Version is set at build time (-ldflags "-X ...plugin.Version=v1.2.3").
var Version = "dev"

// Exit codes, documented in the README.
const (
	ExitOK          = 0
	ExitFinding     = 1 // --exit-code: the check found something (a rebuilt layer)
	ExitUsage       = 2 // bad flags, arguments, format or reference
	ExitImage       = 3 // an image could not be read
	ExitInterrupted = 130
	ExitBrokenPipe  = 141 // stdout was closed early (| head): nothing is printed
)

// Main runs docker-layers as a Docker CLI plugin (`docker layers …`) or, when executed
// directly, standalone (`docker-layers …`), and returns the exit code for main to exit
// with.
func Main() int {
	// Ctrl-C and SIGTERM are caught from the very start, so one that comes while the
	// docker CLI is still being set up ends the command as "interrupted" (exit 130)
	// instead of killing it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A closed stdout (`| head`) is an error to stop on quietly, not a signal that kills
	// the plugin and makes the docker CLI report 255.
	signal.Ignore(syscall.SIGPIPE)
	dockerCli, err := command.NewDockerCli()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitImage
	}
	if cliplugin.RunningStandalone() {
		err = runStandalone(ctx, dockerCli)
	} else {
		root := newRootCommand(newEnv(dockerCli), "layers")
		withContext(root, ctx)
		err = cliplugin.RunPlugin(dockerCli, root, metadata.Metadata{
			SchemaVersion:    "0.1.0",
			Vendor:           "docker-layers",
			Version:          Version,
			ShortDescription: "Layer sizes, cache reuse and sharing of images",
		})
	}
	return exitCode(dockerCli, err)
}

// withContext gives every command ctx, which the plugin machinery would otherwise
// replace with a context of its own.
func withContext(cmd *cobra.Command, ctx context.Context) {
	cmd.SetContext(ctx)
	for _, c := range cmd.Commands() {
		withContext(c, ctx)
	}
}

func runStandalone(ctx context.Context, dockerCli *command.DockerCli) error {
	opts := cliflags.NewClientOptions()
	root := newRootCommand(newEnv(dockerCli), filepath.Base(os.Args[0]))
	withContext(root, ctx)
	// Standalone, the global docker flags (--context, -H, --config, --tls…) are ours.
	opts.InstallFlags(root.PersistentFlags())
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		// As docker's own main does: TLS only when asked for, so a plain unix socket
		// does not look for certificates.
		opts.SetDefaultOptions(root.PersistentFlags())
		return dockerCli.Initialize(opts)
	}
	root.SetIn(dockerCli.In())
	root.SetOut(dockerCli.Out())
	root.SetErr(dockerCli.Err())
	return root.ExecuteContext(ctx)
}

// exitCode prints err as one line on stderr and returns the documented exit code.
func exitCode(dockerCli command.Cli, err error) int {
	if err == nil {
		return ExitOK
	}
	code := ExitImage
	var st cli.StatusError
	switch {
	case errors.Is(err, syscall.EPIPE):
		// The reader went away (`| head`): as a shell pipeline's writer does, 141.
		return ExitBrokenPipe
	case errors.As(err, &st) && st.StatusCode != 0:
		code = st.StatusCode
	case errors.Is(err, context.Canceled):
		code = ExitInterrupted
		err = errors.New("interrupted")
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(dockerCli.Err(), msg)
	}
	return code
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
