package plugin

import (
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

// newSharedCommand is `shared IMAGE...` (being written).
func newSharedCommand(dockerCli command.Cli) *cobra.Command {
	_ = dockerCli
	return &cobra.Command{
		Use:    "shared [OPTIONS] IMAGE [IMAGE...]",
		Short:  "Show which layers images share, and what each image really costs on disk",
		Hidden: true,
		RunE:   func(cmd *cobra.Command, _ []string) error { return usageError(cmd, "not implemented yet") },
	}
}
