//go:build e2e

package e2e

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type inspectedImage struct {
	ID       string `json:"id"`
	EngineID string `json:"engineID"`
	Size     int64  `json:"size"`
	Layers   []struct {
		DiffID         string `json:"diffID"`
		Size           int64  `json:"size"`
		CompressedSize int64  `json:"compressedSize"`
		Instruction    string `json:"instruction"`
	} `json:"layers"`
	Steps []struct {
		Instruction string `json:"instruction"`
		CreatedBy   string `json:"createdBy"`
		EmptyLayer  bool   `json:"emptyLayer"`
		Layer       *int   `json:"layer"`
	} `json:"steps"`
}

func inspectJSON(t *testing.T, ref string) inspectedImage {
	t.Helper()
	out, errOut, code := layers(t, "inspect", "--format", "json", ref)
	if code != 0 {
		t.Fatalf("inspect %s: exit %d: %s", ref, code, errOut)
	}
	var got []inspectedImage
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect %s: %v: %s", ref, err, out)
	}
	return got[0]
}

type historyRow struct {
	size      int64
	createdBy string
}

// engineHistory is `docker history` oldest first, sizes in bytes.
func engineHistory(t *testing.T, ref string) []historyRow {
	t.Helper()
	out := docker(t, "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", ref)
	var rows []historyRow
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		size, createdBy, _ := strings.Cut(line, "\t")
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			t.Fatalf("history line %q: %v", line, err)
		}
		rows = append([]historyRow{{n, createdBy}}, rows...)
	}
	return rows
}

// TestInspectArchiveMatchesHistory builds images with both builders, saves them, and
// checks that inspect on the archive gives, step for step, the engine's own sizes —
// including WORKDIR's real empty layer, a hardlink counted once and whiteouts.
func TestInspectArchiveMatchesHistory(t *testing.T) {
	for _, tc := range []struct {
		dir, dockerfile string
	}{
		{"fs", "Dockerfile"},
		{"app", "Dockerfile.lazy"},
		{"app", "Dockerfile.pro"},
	} {
		for _, buildkit := range []bool{false, true} {
			name := tc.dir + "-" + strings.TrimPrefix(tc.dockerfile, "Dockerfile.")
			if buildkit {
				name += "-buildkit"
			} else {
				name += "-legacy"
			}
			t.Run(name, func(t *testing.T) {
				tag := "e2e/inspect-" + strings.ToLower(name) + ":v1"
				build(t, tc.dir, tc.dockerfile, tag, buildkit)
				archive := filepath.Join(t.TempDir(), "save.tar")
				docker(t, "save", "-o", archive, tag)
				got := inspectJSON(t, "docker-archive:"+archive)
				table, _, _ := layers(t, "inspect", "docker-archive:"+archive)
				t.Logf("docker layers inspect docker-archive:save.tar\n%s\ndocker history %s\n%s", table, tag, docker(t, "history", tag))
				want := engineHistory(t, tag)
				extra := engineExtra(t, archive)

				if len(got.Steps) != len(want) {
					t.Fatalf("%d steps, docker history has %d", len(got.Steps), len(want))
				}
				var total int64
				var ours, history []int64 // per layer
				for i, s := range got.Steps {
					var size, driverExtra int64
					if s.Layer != nil {
						size, driverExtra = got.Layers[*s.Layer].Size, extra[*s.Layer]
						ours, history = append(ours, size), append(history, want[i].size)
					} else if want[i].size != 0 {
						t.Errorf("step %d %q made no layer, docker history says %d bytes", i, s.Instruction, want[i].size)
					}
					if !containerdStore() && !engineAgrees(size, want[i].size, driverExtra) {
						t.Errorf("step %d %q: size %d, docker history says %d (%s driver)", i, s.Instruction, size, want[i].size, storageDriver())
					}
					if s.CreatedBy != want[i].createdBy {
						t.Errorf("step %d: createdBy %q, docker history says %q", i, s.CreatedBy, want[i].createdBy)
					}
					total += want[i].size
				}
				var inspect struct {
					Size   int64
					RootFS struct{ Layers []string }
				}
				imageInspect(t, tag, &inspect)
				if containerdStore() {
					// The store's sizes are snapshot disk use (see store_test.go), and its
					// image size adds the image's content blobs to them.
					checkStoreHistory(t, archive, ours, history, !buildkit)
					checkStoreImageSize(t, tag, inspect.Size, total, contentSize(t, archive), !buildkit)
				} else if total != inspect.Size || !engineAgrees(got.Size, inspect.Size, inspect.Size-got.Size) {
					t.Errorf("image size %d, docker history adds to %d, docker image inspect says %d", got.Size, total, inspect.Size)
				}
				if len(got.Layers) != len(inspect.RootFS.Layers) {
					t.Fatalf("%d layers, the engine has %d", len(got.Layers), len(inspect.RootFS.Layers))
				}
				for i, l := range got.Layers {
					if l.DiffID != inspect.RootFS.Layers[i] {
						t.Errorf("layer %d diffID %s, engine %s", i, l.DiffID, inspect.RootFS.Layers[i])
					}
				}
				for _, l := range got.Layers {
					if strings.HasPrefix(l.Instruction, "WORKDIR") && l.Size != 0 {
						t.Errorf("WORKDIR layer has size %d", l.Size)
					}
				}
			})
		}
	}
}
