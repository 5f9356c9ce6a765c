// Command docker-layers is the docker-layers CLI plugin (`docker layers`); it also runs
// standalone.
package main

import "github.com/docker-layers/docker-layers/plugin"

func main() {
	plugin.Main()
}
