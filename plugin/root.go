package plugin

import (
	"fmt"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"
)

func init() {
	// A subcommand's own PersistentPreRun must never replace the root's, which sets up
	// the docker CLI (contexts, TLS, config) for plugins and standalone alike.
	cobra.EnableTraverseRunHooks = true
}

// newRootCommand is `docker layers` (as a plugin) or `docker-layers` (standalone).
func newRootCommand(e *env, name string) *cobra.Command {
	root := &cobra.Command{
		Use:   name + " COMMAND",
		Short: "Layer sizes, cache reuse and sharing of images",
		Long: `Answers what docker history answers badly: what each layer weighs and which
instruction made it, which layers images share, and why a rebuild did not reuse the cache.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// `docker layers` alone: show what there is, as docker does for a
			// management command, but exit as a usage error.
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Help()
			return usageError(cmd, "a command is required")
		},
		Version: Version,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(cmd, err.Error())
	})
	root.AddCommand(
		newInspectCommand(e),
		newDiffCommand(e),
		newSharedCommand(e),
		newCheckCommand(e),
		newPredictCommand(e),
		newFilesCommand(e),
	)
	return root
}

// usageError is a one-line usage error with a hint, exit code 2.
func usageError(cmd *cobra.Command, msg string) error {
	return cli.StatusError{
		StatusCode: ExitUsage,
		Status:     fmt.Sprintf("%s: %s; see '%s --help'", cmd.CommandPath(), msg, cmd.CommandPath()),
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usageError(cmd, fmt.Sprintf("unknown command %q", args[0]))
	}
	return usageError(cmd, fmt.Sprintf("takes no arguments, got %q", strings.Join(args, " ")))
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(cmd, fmt.Sprintf("requires at least %s", plural(n, "image argument")))
		}
		return nil
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(cmd, fmt.Sprintf("requires exactly %d image arguments, got %d", n, len(args)))
		}
		return nil
	}
}
