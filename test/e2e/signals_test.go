//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bigLayerBytes is the size of the one big layer of the images bigImages builds for
// the signal test and the benchmarks: big enough that reading it takes well over a
// second, modest enough for the vfs driver, which copies every layer in full.
const bigLayerBytes = 300_000_000

// bigSet is two builds of one Dockerfile, FROM the base plus one layer of random bytes,
// that differ only in that layer; v1 is also saved to a tar and pushed to the registry.
type bigSet struct {
	v1, v2    string
	archive   string // docker save of v1
	remote    string // v1 in the registry (without docker://)
	imageSize int64  // v1's uncompressed size, as the engine reports it
}

var (
	bigMu   sync.Mutex
	bigSets = map[int64]*bigSet{}
	bigErrs = map[int64]error{}
)

// bigImages builds, once per test binary, the set whose big layer has layerBytes
// bytes; every test and benchmark that needs it calls this.
func bigImages(t testing.TB, layerBytes int64) *bigSet {
	t.Helper()
	bigMu.Lock()
	defer bigMu.Unlock()
	if err := bigErrs[layerBytes]; err != nil {
		t.Fatalf("building the big images: %v", err)
	}
	if s := bigSets[layerBytes]; s != nil {
		return s
	}
	s, err := buildBigSet(layerBytes)
	if err != nil {
		bigErrs[layerBytes] = err
		t.Fatalf("building the big images: %v", err)
	}
	bigSets[layerBytes] = s
	return s
}

func buildBigSet(layerBytes int64) (*bigSet, error) {
	start := time.Now()
	name := fmt.Sprintf("e2e/big-%dm", layerBytes/1_000_000)
	s := &bigSet{v1: name + ":v1", v2: name + ":v2"}
	dir, err := os.MkdirTemp(h.root, "big-")
	if err != nil {
		return nil, err
	}
	df := fmt.Sprintf("FROM %s\nARG BUILD\nRUN echo \"$BUILD\" > /build && head -c %d /dev/urandom > /big\n", BaseImage, layerBytes)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"build", "-q", "--network=host", "--build-arg", "BUILD=1", "-t", s.v1, dir},
		{"build", "-q", "--network=host", "--build-arg", "BUILD=2", "-t", s.v2, dir},
	}
	s.archive = filepath.Join(dir, "v1.tar")
	s.remote = registryAddr() + "/" + strings.TrimPrefix(s.v1, "e2e/")
	steps = append(steps,
		[]string{"save", "-o", s.archive, s.v1},
		[]string{"tag", s.v1, s.remote},
		[]string{"push", s.remote},
	)
	for _, args := range steps {
		if _, err := runDocker(nil, nil, args...); err != nil {
			return nil, err
		}
	}
	out, err := runDocker(nil, nil, "image", "inspect", "--format", "{{.Size}}", s.v1)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Sscan(out, &s.imageSize); err != nil {
		return nil, fmt.Errorf("image size %q: %w", out, err)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s and %s (%d bytes each), saved and pushed, in %v\n",
		s.v1, s.v2, s.imageSize, time.Since(start).Round(time.Millisecond))
	return s, nil
}

// TestSignals interrupts each long read with SIGINT, as Ctrl-C does, and checks that
// the plugin stops at once: exit status 130, one "interrupted" line on stderr, and no
// temporary files left behind.
func TestSignals(t *testing.T) {
	if h.pluginErr != nil {
		t.Fatalf("plugin binary not built: %v", h.pluginErr)
	}
	big := bigImages(t, bigLayerBytes)
	cases := []struct {
		name string
		bin  string
		args []string
	}{
		{"registry-uncompressed", pluginBin(), []string{"inspect", "--uncompressed", "docker://" + big.remote}},
		{"engine-export-diff", pluginBin(), []string{"diff", big.v1, big.v2}},
		// As a plugin, a terminal's Ctrl-C reaches the docker CLI and the plugin both:
		// the signal goes to the process group.
		{"plugin-engine-export-diff", dockerCLI, []string{"layers", "diff", big.v1, big.v2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(c.bin, c.args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Env = commandEnv([]string{"TMPDIR=" + tmp})
			cmd.Stdout = &stdout
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			// Through the docker CLI, wait for the plugin to be running: a Ctrl-C before the
			// CLI has started it stops the CLI alone (it has no handler yet), which on a
			// loaded machine 250 ms does not rule out.
			if c.bin == dockerCLI {
				plugin := filepath.Join(dockerConfigDir(), "cli-plugins", "docker-layers")
				for deadline := time.Now().Add(30 * time.Second); len(pidsMentioning(plugin)) == 0 && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
				}
			}
			select {
			case err := <-done:
				t.Fatalf("%s finished before it could be interrupted (%v): make bigLayerBytes larger\nstderr: %s", strings.Join(c.args, " "), err, stderr.String())
			case <-time.After(250 * time.Millisecond):
			}
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Second):
				// Say how late it is before killing it.
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					err = <-done
				}
				t.Errorf("exited %v after SIGINT, want within 2s", time.Since(sent).Round(time.Millisecond))
			}
			latency := time.Since(sent)
			t.Logf("%s: exited %v after SIGINT", strings.Join(c.args, " "), latency.Round(time.Millisecond))

			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 130 {
				t.Errorf("exit status %v, want 130", err)
			}
			if stderr.String() != "interrupted\n" {
				t.Errorf("stderr %q, want one line \"interrupted\"", stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("left in TMPDIR: %s", e.Name())
			}
		})
	}
}
