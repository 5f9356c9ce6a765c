package plugin

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-layers/docker-layers/analyze/source"
	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the clock of every command test: "ago" columns are stable.
var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// runCLI runs the standalone command tree in-process, as `docker-layers args...`.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIWith(t, nil, args...)
}

// runCLIWith is runCLI with images built in code: a reference that names one of images
// opens it; every other reference opens as usual.
func runCLIWith(t *testing.T, images map[string]v1.Image, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	if err := dockerCli.Initialize(cliflags.NewClientOptions()); err != nil {
		t.Fatal(err)
	}
	e := &env{dockerCli: dockerCli, now: func() time.Time { return testNow }}
	if images != nil {
		e.open = func(ctx context.Context, ref string, opts source.Options) (*source.Image, error) {
			if img, ok := images[ref]; ok {
				return source.FromV1(img, ref)
			}
			return source.Open(ctx, ref, opts)
		}
	}
	root := newRootCommand(e, "docker-layers")
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
	assertGoldenFile(t, name+".golden", got)
}

// assertGoldenFile compares got with testdata/FILE (e.g. NAME.golden.html, which a
// browser opens as a page); -update rewrites the file.
func assertGoldenFile(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", file)
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

// The standalone binary puts docker's global flags (-H, --context, --config, ...) on
// the root: no command's own flag may clash with them, and no command may replace the
// root's pre-run set-up.
func TestStandaloneFlagsAndHooks(t *testing.T) {
	dockerCli, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(newEnv(dockerCli), "docker-layers")
	cliflags.NewClientOptions().InstallFlags(root.PersistentFlags())
	for _, c := range root.Commands() {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", c.Name(), r)
				}
			}()
			c.InheritedFlags()
			c.LocalFlags()
		}()
		if c.PersistentPreRun != nil || c.PersistentPreRunE != nil {
			t.Errorf("%s has its own PersistentPreRun, which would shadow the docker CLI's set-up", c.Name())
		}
	}
	if !cobra.EnableTraverseRunHooks {
		t.Error("cobra.EnableTraverseRunHooks is off")
	}
}
