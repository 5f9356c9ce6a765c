package analyze_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The analysis stays pure: no CLI, terminal, table or docker client below it.
func TestAnalyzeDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/docker-layers/docker-layers/analyze").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/spf13/cobra", "github.com/docker/cli", "github.com/olekukonko/tablewriter", "github.com/moby/moby", "golang.org/x/term", "net/http"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("analyze depends on %s", dep)
			}
		}
	}
}
