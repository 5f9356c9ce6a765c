package plugin

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command/completion"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-layers/docker-layers/analyze/source"
)

// imageRefHelp is how every command's help says what an IMAGE can be.
const imageRefHelp = `IMAGE is one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry (manifest and config only)
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout
  oci-archive:PATH[:TAG]           an OCI image layout packed as a tar`

// commonOptions are the flags every command that prints images has.
type commonOptions struct {
	format   string
	noTrunc  bool
	quiet    bool
	platform string
	timeout  time.Duration
	output   string
}

// addCommonFlags declares --format, --no-trunc, -q, --platform, --timeout and -o; rowType names the
// type a --format template runs over, and quietWhat what -q prints.
func addCommonFlags(flags *pflag.FlagSet, o *commonOptions, rowType, noTruncWhat, quietWhat string) {
	flags.StringVar(&o.format, "format", "table", `Format output: "table", "json", "html" (one self-contained page), or a Go template over `+rowType)
	flags.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output: "+noTruncWhat)
	flags.BoolVarP(&o.quiet, "quiet", "q", false, "Only show "+quietWhat)
	addPlatformFlag(flags, &o.platform)
	addTimeoutFlag(flags, &o.timeout)
	flags.StringVarP(&o.output, "output", "o", "", "Write the output to FILE instead of stdout (e.g. --format html -o layers.html)")
}

// addTimeoutFlag declares --timeout: how long a registry may stay silent.
func addTimeoutFlag(flags *pflag.FlagSet, p *time.Duration) {
	flags.DurationVar(p, "timeout", source.DefaultTimeout, "How long a registry may stay silent (connecting, answering, between bytes) before the command fails")
}

func addPlatformFlag(flags *pflag.FlagSet, p *string) {
	flags.StringVar(p, "platform", "", "Platform to pick from a multi-platform image: os/arch[/variant] (default: linux/amd64, or the only one)")
}

// addUncompressedFlag declares --uncompressed, which lets a command download registry
// layer blobs to measure what a registry does not record.
func addUncompressedFlag(flags *pflag.FlagSet, p *bool, what string) {
	flags.BoolVar(p, "uncompressed", false, "For docker:// images, download "+what+" to measure uncompressed sizes (nothing is kept on disk)")
}

// completeFlags offers completions for the shared flags.
func completeFlags(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("platform", completion.Platforms())
	_ = cmd.RegisterFlagCompletionFunc("format", completion.FromList("table", "json", "html"))
}

// completeImages completes image arguments: the engine's image names, and file paths
// after docker-archive:, oci: and oci-archive:.
func completeImages(e *env) cobra.CompletionFunc {
	names := completion.ImageNames(e.dockerCli, -1)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		for _, prefix := range []string{source.TransportArchive + ":", source.TransportLayout + ":", source.TransportOCIArchive + ":"} {
			if len(toComplete) >= len(prefix) && toComplete[:len(prefix)] == prefix {
				return nil, cobra.ShellCompDirectiveDefault
			}
		}
		refs, dir := names(cmd, args, toComplete)
		refs = append(refs, source.TransportArchive+":", source.TransportLayout+":", source.TransportOCIArchive+":", source.TransportRegistry+"://")
		return refs, dir | cobra.ShellCompDirectiveNoSpace
	}
}

// run is what a command has once its flags are checked: the output format, the source
// options, and a context that Ctrl-C cancels.
type run struct {
	format  outputFormat
	srcOpts source.Options
	ctx     context.Context
	stop    context.CancelFunc
	render  renderOpts
}

// prepareRun is what every command does before any I/O: check --format and --platform
// (usage errors first), reach the engine only if a reference needs it, and make Ctrl-C
// cancel whatever is read.
func prepareRun(cmd *cobra.Command, e *env, o commonOptions, row any) (*run, error) {
	format, err := parseFormat(cmd, o.format, row)
	if err != nil {
		return nil, err
	}
	srcOpts, err := platformOptions(cmd, o.platform)
	if err != nil {
		return nil, err
	}
	if o.timeout <= 0 {
		return nil, usageError(cmd, fmt.Sprintf("invalid --timeout %s: want a positive duration such as 30s", o.timeout))
	}
	srcOpts.Timeout = o.timeout
	if err := checkOutput(cmd, o.output); err != nil {
		return nil, err
	}
	ctx, stop := commandContext(cmd)
	return &run{
		format:  format,
		srcOpts: e.sourceOptions(srcOpts),
		ctx:     ctx,
		stop:    stop,
		render:  renderOpts{noTrunc: o.noTrunc, quiet: o.quiet, width: e.termWidth(), now: e.clock(), output: o.output},
	}, nil
}

// commandContext is cancelled by Ctrl-C or SIGTERM, so long reads stop promptly.
func commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// checkOutput makes a bad --output a usage error before any image is read: its
// directory must exist and the path must not be a directory.
func checkOutput(cmd *cobra.Command, path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return usageError(cmd, fmt.Sprintf("invalid --output %q: no directory %s", path, filepath.Dir(path)))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usageError(cmd, fmt.Sprintf("invalid --output %q: a directory", path))
	}
	return nil
}

func platformOptions(cmd *cobra.Command, platform string) (source.Options, error) {
	var opts source.Options
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return opts, usageError(cmd, fmt.Sprintf("invalid --platform %q: want os/arch[/variant]", platform))
		}
		opts.Platform = p
	}
	return opts, nil
}

// imageError gives a source error its exit code: a bad reference is a usage error.
func imageError(cmd *cobra.Command, err error) error {
	switch {
	case errorsIs(err, context.Canceled):
		return err
	case errorsIs(err, source.ErrUsage):
		return cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
	}
	return cli.StatusError{StatusCode: ExitImage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
}

// plural says "1 layer", "2 layers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
