package plugin

import (
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

func checkRegistryImages(t *testing.T) (oldImg, newImg v1.Image) {
	mods := imagetest.FileLayer(t, map[string]string{"app/node_modules/express/index.js": strings.Repeat("e", 3000)})
	v1Time, v2Time := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
	oldImg = diffRegistryImage(t, v1Time, map[string]string{"app/package.json": "{}", "app/index.js": "console.log('hello')"}, mods)
	newImg = diffRegistryImage(t, v2Time, map[string]string{"app/package.json": "{}", "app/index.js": strings.Repeat("console.log('hello there')\n", 100)}, mods)
	return oldImg, newImg
}

func digests(t *testing.T, imgs ...v1.Image) (configs []string, layers map[string]int) {
	t.Helper()
	layers = map[string]int{}
	for _, img := range imgs {
		cfg, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, cfg.String())
		ls, _ := img.Layers()
		for i, l := range ls {
			d, _ := l.Digest()
			layers[d.String()] = i
		}
	}
	return configs, layers
}

// With --compressed, a check of a registry image against a registry baseline reads
// manifests and configs only: no layer blob is downloaded.
func TestCheckCompressedRegistryDownloadsNoLayer(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	oldImg, newImg := checkRegistryImages(t)
	reg.Push(t, "app:main", oldImg)
	reg.Push(t, "app:v2", newImg)
	reg.Reset()

	out, errOut, code := runCLI(t, "check", "--compressed", "--max-size", "1MB", "--max-layer-size", "150B",
		"--baseline", "docker://"+reg.Host+"/app:main", "--max-growth", "10%", "--max-layer-growth", "1kB", "--min-reused", "40%",
		"docker://"+reg.Host+"/app:v2")
	if code != ExitFinding {
		t.Errorf("exit %d, want 1 (the COPY layer is over 150B compressed); stderr %q\n%s", code, errOut, out)
	}
	configs, layers := digests(t, oldImg, newImg)
	got := reg.BlobGets()
	sort.Strings(got)
	sort.Strings(configs)
	if strings.Join(got, " ") != strings.Join(configs, " ") {
		t.Errorf("blob GETs:\n%s\nwant the two configs only", strings.Join(got, "\n"))
	}
	for _, g := range got {
		if i, ok := layers[g]; ok {
			t.Errorf("downloaded layer %d (%s)", i, g)
		}
	}
	for _, s := range []string{"(compressed sizes; baseline docker://", "max-layer-size     150B", "FAIL     #2 COPY . ."} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// Checking a local image against a registry baseline, uncompressed: the layers both
// have are measured once, locally, so only the baseline's own layers are downloaded.
func TestCheckLocalImageAgainstRegistryBaseline(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	oldImg, newImg := checkRegistryImages(t)
	reg.Push(t, "app:main", oldImg)
	reg.Reset()
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(newImg); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, "check", "--baseline", "docker://"+reg.Host+"/app:main", "--max-growth", "10kB", "--min-reused", "50%", "oci:"+dir)
	if code != ExitOK {
		t.Errorf("exit %d; stderr %q\n%s", code, errOut, out)
	}
	oldLayers, _ := oldImg.Layers()
	copyLayer, _ := oldLayers[2].Digest()
	cfg, _ := oldImg.ConfigName()
	got := reg.BlobGets()
	sort.Strings(got)
	want := []string{cfg.String(), copyLayer.String()}
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("blob GETs:\n%s\nwant the baseline's config and its COPY . . layer, the one layer the image does not share", strings.Join(got, "\n"))
	}
	if !strings.Contains(errOut, "downloaded") {
		t.Errorf("stderr does not say what was downloaded: %q", errOut)
	}
}
