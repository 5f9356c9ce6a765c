package plugin

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/cli/cli/command"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// runCLI runs the standalone command tree in-process, as `docker-layers args...`.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(dockerCli, "docker-layers")
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	code = exitCode(dockerCli, err)
	return out.String(), errOut.String(), code
}

// assertGolden compares got with testdata/NAME.golden; -update rewrites the file.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./plugin -update)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run: go test ./plugin -update, then review the diff)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// demo is a demo image in the repository's OCI layout.
func demo(tag string) string { return "oci:../testdata/demo:" + tag }
