//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	authUser     = "e2e"
	authPassword = "s3cret-e2e-password"
)

// TestRegistryCredentials reads an image from a registry that demands a password,
// with the credentials `docker login` stored in the docker config: standalone and as
// `docker layers`, and checks the one-line errors once they are gone or wrong, and for
// a registry that is not there at all.
func TestRegistryCredentials(t *testing.T) {
	if h.pluginErr != nil {
		t.Fatalf("plugin binary not built: %v", h.pluginErr)
	}
	addr := startAuthRegistry(t)
	remote := addr + "/app:v1"
	ref := "docker://" + remote

	// Nothing is stored yet: the registry must really refuse, or the rest proves nothing.
	if _, errOut, code := layers(t, "inspect", ref); code != 3 || !strings.Contains(errOut, "docker login") {
		t.Fatalf("before docker login: exit %d, stderr %q; want 3 and a hint to docker login", code, errOut)
	}

	login(t, addr)
	docker(t, "tag", NodeImage, remote)
	docker(t, "push", remote)
	want := engineDiffIDs(t, NodeImage)

	t.Run("standalone", func(t *testing.T) {
		got := diffIDsOf(t, inspectJSON(t, ref))
		assertSame(t, got, want)
	})
	t.Run("plugin", func(t *testing.T) {
		out, errOut, err := dockerEnv(t, nil, "layers", "inspect", "--format", "json", ref)
		if err != nil {
			t.Fatalf("docker layers inspect %s: %v\n%s", ref, err, errOut)
		}
		var imgs []inspectedImage
		if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) != 1 {
			t.Fatalf("docker layers inspect %s: %v\n%s", ref, err, out)
		}
		assertSame(t, diffIDsOf(t, imgs[0]), want)
	})
	// docker's global --config names the config as DOCKER_CONFIG does; an empty
	// DOCKER_CONFIG next to it shows which one was read.
	t.Run("config-flag", func(t *testing.T) {
		empty := t.TempDir()
		if err := os.WriteFile(filepath.Join(empty, "config.json"), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := []string{"DOCKER_CONFIG=" + empty}
		for _, c := range []struct {
			name string
			bin  string
			args []string
		}{
			{"standalone", pluginBin(), []string{"--config", dockerConfigDir(), "inspect", "--format", "json", ref}},
			{"plugin", dockerCLI, []string{"--config", dockerConfigDir(), "layers", "inspect", "--format", "json", ref}},
		} {
			out, errOut, err := run(t, c.bin, env, c.args...)
			if err != nil {
				t.Errorf("%s: %s %s: %v\n%s", c.name, c.bin, strings.Join(c.args, " "), err, errOut)
				continue
			}
			var imgs []inspectedImage
			if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) != 1 {
				t.Errorf("%s: %v\n%s", c.name, err, out)
				continue
			}
			assertSame(t, diffIDsOf(t, imgs[0]), want)
		}
	})
	t.Run("wrong-password", func(t *testing.T) {
		// docker login checks the password, so a wrong one is written by hand.
		dir := t.TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte(authUser + ":not-the-password"))
		conf := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`+"\n", addr, auth)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := run(t, pluginBin(), []string{"DOCKER_CONFIG=" + dir}, "inspect", ref)
		assertOneLineError(t, exitCode(t, err), errOut, ref, "docker login")
	})
	t.Run("after-logout", func(t *testing.T) {
		docker(t, "logout", addr)
		_, errOut, code := layers(t, "inspect", ref)
		assertOneLineError(t, code, errOut, ref, "docker login")
		_, errOut, err := dockerEnv(t, nil, "layers", "inspect", ref)
		assertOneLineError(t, exitCode(t, err), errOut, ref, "docker login")
	})
	t.Run("unreachable", func(t *testing.T) {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		closed := "docker://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/app:v1"
		start := time.Now()
		_, errOut, code := layers(t, "inspect", closed)
		took := time.Since(start)
		assertOneLineError(t, code, errOut, closed, "reach")
		if !strings.Contains(errOut, "check") {
			t.Errorf("stderr %q does not say what to check", errOut)
		}
		// Retrying a refused connection for long would look like a hang.
		if took > 10*time.Second {
			t.Errorf("took %v to report a closed port", took.Round(time.Millisecond))
		}
		t.Logf("closed port reported in %v: %s", took.Round(time.Millisecond), strings.TrimSpace(errOut))
	})
}

// startAuthRegistry starts a second registry, on a free loopback port, that accepts
// only authUser with authPassword (htpasswd, bcrypt), and stops it when the test ends.
// It returns the registry's "127.0.0.1:PORT".
func startAuthRegistry(t *testing.T) string {
	t.Helper()
	line, err := htpasswdLine(authUser, authPassword)
	if err != nil {
		t.Skipf("cannot make a bcrypt htpasswd line (needs the htpasswd command of apache2-utils, or a crypt(3) with bcrypt reachable through perl): %v", err)
	}
	dir, err := os.MkdirTemp(h.root, "registry-auth-")
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
auth:
  htpasswd:
    realm: docker-layers-e2e
    path: %s
`, filepath.Join(dir, "data"), addr, htpasswd)
	confPath := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess("registry-auth", filepath.Join(dir, "registry.log"), registry, "serve", confPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(10 * time.Second) })
	// Ready is a 401 on /v2/: the registry is up and asks for a password.
	err = waitReady(p, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// htpasswdLine makes "user:$2…" (bcrypt), the only hash distribution's htpasswd accepts. The
// module does not require golang.org/x/crypto, so the hash comes from apache2-utils'
// htpasswd or, failing that, from the C library's crypt(3), which on Debian (libxcrypt)
// does bcrypt, called through perl.
func htpasswdLine(user, password string) (string, error) {
	var errs []string
	if _, err := exec.LookPath("htpasswd"); err == nil {
		out, err := exec.Command("htpasswd", "-nbB", user, password).Output()
		if line := strings.TrimSpace(string(out)); err == nil && strings.HasPrefix(line, user+":$2") {
			return line, nil
		}
		errs = append(errs, fmt.Sprintf("htpasswd -nbB: %v", err))
	} else {
		errs = append(errs, "htpasswd not installed")
	}
	if _, err := exec.LookPath("perl"); err == nil {
		// A fixed salt is fine for a throwaway test password; cost 5 keeps it fast.
		cmd := exec.Command("perl", "-e", `print crypt($ARGV[0], '$2b$05$dockerlayers.e2e.saltu')`, password)
		out, err := cmd.Output()
		if hash := strings.TrimSpace(string(out)); err == nil && strings.HasPrefix(hash, "$2b$05$") && len(hash) == 60 {
			return user + ":" + hash, nil
		}
		errs = append(errs, fmt.Sprintf("perl crypt() gave %q (%v)", out, err))
	} else {
		errs = append(errs, "perl not installed")
	}
	return "", fmt.Errorf("%s", strings.Join(errs, "; "))
}

// login stores the registry's credentials in the harness's DOCKER_CONFIG.
func login(t *testing.T, addr string) {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(commands, dockerCLI, "login", "--username", authUser, "--password-stdin", addr)
	cmd.Env = commandEnv(nil)
	cmd.Stdin = strings.NewReader(authPassword)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker login %s: %v\n%s%s", addr, err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dockerConfigDir(), "config.json"))
	if err != nil || !strings.Contains(string(b), addr) {
		t.Fatalf("docker login did not store credentials for %s in %s (%v):\n%s", addr, dockerConfigDir(), err, b)
	}
}

// engineDiffIDs is the engine's own list of an image's layer diffIDs.
func engineDiffIDs(t *testing.T, ref string) []string {
	t.Helper()
	var img struct {
		RootFS struct{ Layers []string }
	}
	imageInspect(t, ref, &img)
	if len(img.RootFS.Layers) == 0 {
		t.Fatalf("%s: the engine lists no layers", ref)
	}
	return img.RootFS.Layers
}

func diffIDsOf(t *testing.T, img inspectedImage) []string {
	t.Helper()
	var ids []string
	for _, l := range img.Layers {
		ids = append(ids, l.DiffID)
	}
	return ids
}

func assertSame(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diffIDs from the registry:\n%s\nwant the engine's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// exitCode is a finished command's exit status; it fails the test if the command
// did not run at all.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("command did not run: %v", err)
	}
	return exitErr.ExitCode()
}

// assertOneLineError checks the failure of reading an image: exit status 3 and one
// line on stderr that names the reference and contains hint.
func assertOneLineError(t *testing.T, code int, stderr, ref, hint string) {
	t.Helper()
	if code != 3 {
		t.Errorf("exit status %d, want 3; stderr: %q", code, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	if !strings.Contains(stderr, ref) {
		t.Errorf("stderr %q does not name %s", stderr, ref)
	}
	if !strings.Contains(stderr, hint) {
		t.Errorf("stderr %q does not contain %q", stderr, hint)
	}
}
