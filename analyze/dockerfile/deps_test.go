package dockerfile_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The Dockerfile reader and the context reader stay below the plugin: BuildKit's
// parser and the pattern matcher, but no CLI, terminal, engine client or network.
func TestReadersDependencies(t *testing.T) {
	for _, pkg := range []string{"github.com/docker-layers/docker-layers/analyze/dockerfile", "github.com/docker-layers/docker-layers/analyze/buildcontext"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Skipf("go list: %v: %s", err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, banned := range []string{"github.com/spf13/cobra", "github.com/docker/cli", "github.com/olekukonko/tablewriter", "github.com/moby/moby", "golang.org/x/term", "net/http", "google.golang.org/grpc"} {
				if strings.HasPrefix(dep, banned) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
