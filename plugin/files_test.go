package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// wastefulImage is an image whose steps install apt lists and remove them a step later,
// overwrite a file twice, regenerate a directory (opaque) and copy a big file to a
// second path.
func wastefulImage(t *testing.T) v1.Image {
	t.Helper()
	big := strings.Repeat("b", 70000)
	img := empty.Image
	for _, s := range []struct {
		createdBy string
		files     map[string]string
	}{
		{"/bin/sh -c #(nop) ADD file:0123456789abcdef in / ", map[string]string{"etc/os-release": "debian", "app/config": "v1", "data/old": "old data"}},
		{"RUN /bin/sh -c apt-get update && apt-get install -y curl # buildkit", map[string]string{"var/lib/apt/lists/deb_Packages": strings.Repeat("p", 5000), "usr/bin/curl": big}},
		{"RUN /bin/sh -c rm -rf /var/lib/apt/lists/* && echo v2 > /app/config # buildkit", map[string]string{"var/lib/apt/lists/.wh.deb_Packages": "", "app/config": "v2"}},
		{"COPY data /data # buildkit", map[string]string{"data/.wh..wh..opq": "", "data/new": "new"}},
		{"RUN /bin/sh -c cp /usr/bin/curl /opt/curl && echo v3 > /app/config # buildkit", map[string]string{"opt/curl": big, "app/config": "v3!"}},
	} {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: imagetest.FileLayer(t, s.files), History: v1.History{CreatedBy: s.createdBy, Created: v1.Time{Time: imagetest.FileTime}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func TestFilesGolden(t *testing.T) {
	images := map[string]v1.Image{"wasteful": wastefulImage(t)}
	ref := "wasteful"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"files", []string{"files", ref}},
		{"files-layer-path", []string{"files", "--layer", "2", "--path", "/app", ref}},
		{"files-wasted", []string{"files", "--wasted", ref}},
		{"files-wasted-ignore", []string{"files", "--wasted", "--ignore", "/var/lib/apt/lists", "--sort", "path", ref}},
		{"files-json", []string{"files", "--format", "json", ref}},
		{"files-wasted-json", []string{"files", "--wasted", "--format", "json", ref}},
		{"files-template", []string{"files", "--format", "{{.Layer}} {{.Change}} {{.Bytes}} {{.Path}}", ref}},
		{"files-wasted-template", []string{"files", "--wasted", "--format", "table {{.Path}}\\t{{.Bytes}}\\t{{.Layers}}\\t{{.HiddenBy}}", ref}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLIWith(t, images, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			assertGolden(t, tc.name, out)
		})
	}
	page, errOut, code := runCLIWith(t, images, "files", "--wasted", "--format", "html", ref)
	if code != 0 || errOut != "" {
		t.Fatalf("html: exit %d, stderr %q", code, errOut)
	}
	assertGoldenFile(t, "files-wasted.golden.html", page)
	page, _, _ = runCLIWith(t, images, "files", "--format", "html", ref)
	assertGoldenFile(t, "files.golden.html", page)
}

func TestFilesWastedFigure(t *testing.T) {
	out, _, code := runCLIWith(t, map[string]v1.Image{"wasteful": wastefulImage(t)}, "files", "--wasted", "--format", "json", "wasteful")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v struct {
		Size       int64   `json:"size"`
		WastedSize int64   `json:"wastedSize"`
		Efficiency float64 `json:"efficiency"`
		Wasted     []struct {
			Path                string `json:"path"`
			Size                int64  `json:"size"`
			Layers              []int  `json:"layers"`
			HiddenBy            int    `json:"hiddenBy"`
			HiddenByInstruction string `json:"hiddenByInstruction"`
		} `json:"wasted"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	// apt lists 5000, /app/config v1 and v2 (2+2), /data/old 8; the copy of curl is
	// not waste.
	if v.WastedSize != 5012 {
		t.Errorf("wasted %d, want 5012: %+v", v.WastedSize, v.Wasted)
	}
	if w := v.Wasted[0]; w.Path != "/var/lib/apt/lists/deb_Packages" || w.HiddenBy != 2 || !strings.HasPrefix(w.HiddenByInstruction, "RUN rm -rf /var/lib/apt/lists/*") {
		t.Errorf("first wasted path %+v", w)
	}
}

func TestFilesUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"files", "--sort", "name", demo("squashed")}, "invalid --sort"},
		{[]string{"files", "--layer", "99", demo("squashed")}, "--layer 99"},
		{[]string{"files", demo("squashed"), demo("squashed")}, "requires exactly 1"},
	} {
		_, errOut, code := runCLI(t, tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tc.args, code, errOut, ExitUsage, tc.msg)
		}
	}
}

func TestDiffFilesGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"diff-files", []string{"diff", "--files", demo("lazy-v1-buildkit"), demo("pro-v2-buildkit")}},
		{"diff-files-json", []string{"diff", "--files", "--format", "json", demo("lazy-v1-buildkit"), demo("lazy-v2-buildkit")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			assertGolden(t, tc.name, out)
		})
	}
	// The same image: nothing differs, and --exit-code says so with 0.
	if out, _, code := runCLI(t, "diff", "--files", "--exit-code", demo("lazy-v1-buildkit"), demo("lazy-v1-buildkit")); code != 0 || !strings.Contains(out, "are the same") {
		t.Errorf("same image: exit %d, %q", code, out)
	}
}
