//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// progressText is what every progress report of an engine export says.
const progressText = "exporting from the Docker engine"

// sgr matches a colour or style escape (ESC [ … m); the plugin prints none.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestProgressOnTerminal diffs two engine images that differ in a 300 MB layer, so
// the export runs for seconds: progress must appear on stderr when stderr is a
// terminal, never on stdout, and nothing at all may be printed when stderr is a pipe.
func TestProgressOnTerminal(t *testing.T) {
	if h.pluginErr != nil {
		t.Fatalf("plugin binary not built: %v", h.pluginErr)
	}
	big := bigImages(t, bigLayerBytes)
	args := []string{"diff", big.v1, big.v2}

	// Plain pipes first: the reference output, and no progress.
	start := time.Now()
	plain, plainErr, code := layers(t, args...)
	took := time.Since(start)
	t.Logf("diff through pipes took %v", took.Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("diff: exit %d: %s", code, plainErr)
	}
	if plainErr != "" {
		t.Errorf("stderr without a terminal: %q, want nothing", plainErr)
	}
	if plain == "" {
		t.Fatal("diff printed nothing")
	}
	if took < 2*time.Second {
		// Progress waits a second before it shows; a faster export tests nothing.
		t.Fatalf("diff took only %v: make bigLayerBytes larger so the export outlasts the progress delay", took)
	}

	// allOnTerminal puts stdin and stdout on the terminal too, as in an interactive
	// shell; otherwise only stderr is, and stdout must be byte for byte the piped one.
	for _, c := range []struct {
		name          string
		bin           string
		args          []string
		env           []string
		allOnTerminal bool
	}{
		{"standalone-stderr", pluginBin(), args, nil, false},
		{"standalone-all", pluginBin(), args, nil, true},
		{"standalone-all-no-color", pluginBin(), args, []string{"NO_COLOR=1"}, true},
		{"plugin-stderr", dockerCLI, append([]string{"layers"}, args...), nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, term, err := runOnTerminal(t, c.bin, c.env, c.args, c.allOnTerminal)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", c.bin, strings.Join(c.args, " "), err, term)
			}
			checkProgress(t, term, big)
			if !c.allOnTerminal {
				if stdout != plain {
					t.Errorf("stdout with stderr on a terminal differs from stdout through pipes:\n%s\nwant:\n%s", stdout, plain)
				}
				return
			}
			// Once the pty's \r\n and the progress lines are taken out, what is left
			// is the piped stdout, with table rows cut to the terminal's 80 columns.
			if rest := withoutProgress(term); !fitsTerminal(rest, plain, ptyColumns) {
				t.Errorf("terminal output without the progress lines:\n%q\nwant the piped stdout, rows cut to %d columns:\n%q", rest, ptyColumns, plain)
			}
		})
	}
}

// ptyColumns is the width of the test's pseudo-terminal.
const ptyColumns = 80

// fitsTerminal reports whether term is piped line by line, except that a line wider
// than the terminal may be cut short with "…" (a table's instruction column).
func fitsTerminal(term, piped string, width int) bool {
	tl, pl := strings.Split(term, "\n"), strings.Split(piped, "\n")
	if len(tl) != len(pl) {
		return false
	}
	for i := range tl {
		cut := strings.TrimSuffix(tl[i], "…")
		switch {
		case tl[i] == pl[i]:
		case cut != tl[i] && len([]rune(tl[i])) <= width && len([]rune(pl[i])) > width && strings.HasPrefix(pl[i], strings.TrimRight(cut, " ")):
		default:
			return false
		}
	}
	return true
}

// checkProgress checks what the plugin wrote to a terminal's stderr: at least one
// progress report naming an image being exported, each ended by a "read" line, and
// no colour.
func checkProgress(t *testing.T, term string, big *bigSet) {
	t.Helper()
	if !strings.Contains(term, progressText) {
		t.Errorf("no progress on the terminal; it got:\n%q", term)
		return
	}
	if !strings.Contains(term, big.v1) && !strings.Contains(term, big.v2) {
		t.Errorf("progress names neither %s nor %s:\n%q", big.v1, big.v2, term)
	}
	// Every report line is finished: the last update of each export ends in a newline,
	// so the next output starts on a line of its own.
	for _, line := range strings.Split(strings.ReplaceAll(term, "\r\n", "\n"), "\n") {
		if !strings.Contains(line, progressText) {
			continue
		}
		if !strings.HasSuffix(line, " read") {
			t.Errorf("progress line does not end in \" read\": %q", line)
		}
		updates := strings.Split(line, "\r\x1b[K")
		t.Logf("%d progress updates, the last: %s", len(updates)-1, updates[len(updates)-1])
	}
	if m := sgr.FindString(term); m != "" {
		t.Errorf("colour escape %q on the terminal:\n%q", m, term)
	}
}

// withoutProgress turns what a pty showed back into plain lines: \r\n becomes \n
// and every line carrying a progress report is dropped.
func withoutProgress(term string) string {
	var out []string
	for _, line := range strings.SplitAfter(strings.ReplaceAll(term, "\r\n", "\n"), "\n") {
		if strings.Contains(line, progressText) {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "")
}

// runOnTerminal runs bin with stderr on a new pseudo-terminal, and with stdin and
// stdout on it too if all is set (then the process also gets it as its controlling
// terminal, as in a login shell). It returns what went to the stdout pipe (empty if
// all) and everything the terminal received.
func runOnTerminal(t *testing.T, bin string, env, args []string, all bool) (stdout, term string, err error) {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()

	ctx, cancel := context.WithTimeout(commands, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = commandEnv(append([]string{"TERM=xterm"}, env...))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = slave
	if all {
		cmd.Stdin = slave
		cmd.Stdout = slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	if err := cmd.Start(); err != nil {
		slave.Close()
		return "", "", err
	}
	// Once the child and ours are closed, reading the master ends with EIO.
	slave.Close()
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(master)
		read <- b
	}()
	err = cmd.Wait()
	select {
	case b := <-read:
		term = string(b)
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal stayed open 10s after the command exited")
	}
	return out.String(), term, err
}

// openPTY opens a new pseudo-terminal pair, 80x24, with the standard library only.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, err
	}
	var unlock int32
	if err := ioctl(master, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		return fail(fmt.Errorf("unlocking the pty: %w", err))
	}
	var n uint32
	if err := ioctl(master, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		return fail(fmt.Errorf("pty number: %w", err))
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	ws := struct{ rows, cols, x, y uint16 }{24, ptyColumns, 0, 0}
	if err := ioctl(slave, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws))); err != nil {
		slave.Close()
		return fail(fmt.Errorf("pty size: %w", err))
	}
	return master, slave, nil
}

func ioctl(f *os.File, req, arg uintptr) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := conn.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, arg)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
