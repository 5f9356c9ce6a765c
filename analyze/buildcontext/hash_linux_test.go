package buildcontext

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A file gone between the walk and the read, or swapped for a FIFO, is an error
// that names it, and never a hang.
func TestHashVanishedOrSwapped(t *testing.T) {
	dir := t.TempDir()
	fh := newFileHasher(dir)
	defer fh.close()
	if _, err := fh.hash("gone"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("vanished file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	if _, err := fh.hash("fifo"); err == nil || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("FIFO: %v", err)
	}
}
