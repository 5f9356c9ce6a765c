package buildcontext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The digests, sizes and modes are those of the files' bytes and permission bits,
// whatever the size (empty, one read, several reads of the worker's buffer).
func TestReadDigests(t *testing.T) {
	dir := t.TempDir()
	files := map[string]struct {
		content string
		mode    os.FileMode
	}{
		"empty":     {"", 0o644},
		"small.txt": {"hello\n", 0o600},
		"big.bin":   {strings.Repeat("0123456789abcdef", 20000), 0o755},
		"setuid":    {"x", 0o755 | os.ModeSetuid},
	}
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(dir, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Read(context.Background(), []string{"."})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != len(files) {
		t.Fatalf("%d entries, want %d", len(c.Files), len(files))
	}
	for _, got := range c.Files {
		want := files[got.Path]
		sum := sha256.Sum256([]byte(want.content))
		mode := int64(want.mode.Perm())
		if want.mode&os.ModeSetuid != 0 {
			mode |= 0o4000
		}
		if got.Digest != "sha256:"+hex.EncodeToString(sum[:]) || got.Size != int64(len(want.content)) || got.Mode != mode {
			t.Errorf("%s: digest %s size %d mode %o; want size %d mode %o", got.Path, got.Digest, got.Size, got.Mode, len(want.content), mode)
		}
	}
}
