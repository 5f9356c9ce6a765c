package source

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzArchive feeds arbitrary bytes as a docker save archive: an error is fine, a panic
// or a hang is not. (This package links the docker client, which makes coverage-guided
// fuzzing slow here; TestArchiveSurvivesCorruption covers the same ground quickly.)
func FuzzArchive(f *testing.F) {
	f.Add([]byte("not a tar"))
	f.Add(make([]byte, 2048))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "save.tar")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		img, err := Open(ctx, "docker-archive:"+path, Options{})
		if err != nil {
			return
		}
		defer img.Close()
		_ = img.MeasureSizes(ctx)
	})
}

// TestArchiveSurvivesCorruption opens hundreds of randomly corrupted copies of a valid
// archive: each must end, with an image or an error, and never panic.
func TestArchiveSurvivesCorruption(t *testing.T) {
	good := writeSave(t, classicSave, []string{"app:v1"}, randomImage(t, 2))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	for i := 0; i < 500; i++ {
		bad := append([]byte(nil), data...)
		for k := 0; k < 1+r.Intn(4); k++ {
			bad[r.Intn(len(bad))] = byte(r.Intn(256))
		}
		if r.Intn(4) == 0 {
			bad = bad[:r.Intn(len(bad))]
		}
		path := filepath.Join(dir, fmt.Sprintf("%d.tar", i))
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			ctx := context.Background()
			if img, err := Open(ctx, "docker-archive:"+path, Options{}); err == nil {
				_ = img.MeasureSizes(ctx)
				img.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("corrupted archive %d: no answer after 10s", i)
		}
	}
}
