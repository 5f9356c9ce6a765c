package plugin

import (
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

// newDiffCommand is `diff OLD NEW` (being written).
func newDiffCommand(dockerCli command.Cli) *cobra.Command {
	_ = dockerCli
	return &cobra.Command{
		Use:    "diff [OPTIONS] OLD NEW",
		Short:  "Show how much of the cache a rebuild reused, and why it broke",
		Hidden: true,
		Args:   exactArgs(2),
		RunE:   func(cmd *cobra.Command, _ []string) error { return usageError(cmd, "not implemented yet") },
	}
}
