// Command docker-layers is the docker-layers CLI plugin (`docker layers`); it also runs
// standalone.
package main

import (
	"os"

	"github.com/docker-layers/docker-layers/plugin"
)

func main() {
	os.Exit(plugin.Main())
}
