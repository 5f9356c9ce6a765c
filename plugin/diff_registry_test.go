package plugin

import (
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// diffRegistryImage is a BuildKit build of the lazy order on a two-layer base; app
// is the build context that COPY . . takes in.
func diffRegistryImage(t *testing.T, built time.Time, app map[string]string, mods v1.Layer) v1.Image {
	t.Helper()
	base := time.Date(2024, 1, 10, 2, 0, 0, 0, time.UTC)
	img := empty.Image
	for _, a := range []mutate.Addendum{
		{Layer: imagetest.FileLayer(t, map[string]string{"bin/sh": strings.Repeat("s", 4000)}), History: v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:" + strings.Repeat("1", 64) + " in / ", Created: v1.Time{Time: base}}},
		{Layer: imagetest.FileLayer(t, map[string]string{"usr/local/bin/node": strings.Repeat("n", 6000)}), History: v1.History{CreatedBy: "/bin/sh -c install node", Created: v1.Time{Time: base.Add(time.Hour)}}},
		{Layer: imagetest.FileLayer(t, app), History: v1.History{CreatedBy: "COPY . . # buildkit", Comment: "buildkit.dockerfile.v0", Created: v1.Time{Time: built}}},
		{Layer: mods, History: v1.History{CreatedBy: "RUN /bin/sh -c npm install # buildkit", Comment: "buildkit.dockerfile.v0", Created: v1.Time{Time: built.Add(time.Second)}}},
	} {
		var err error
		if img, err = mutate.Append(img, a); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// From a registry, diff downloads the configs and the two blobs of the layer where
// the cache broke, to list the changed files, and nothing else.
func TestDiffRegistryDownloadsOnlyTheBreakingLayers(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	host := reg.Host

	mods := imagetest.FileLayer(t, map[string]string{"app/node_modules/express/index.js": strings.Repeat("e", 3000)})
	v1Time, v2Time := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
	oldImg := diffRegistryImage(t, v1Time, map[string]string{"app/package.json": "{}", "app/index.js": "console.log('hello')"}, mods)
	newImg := diffRegistryImage(t, v2Time, map[string]string{"app/package.json": "{}", "app/index.js": "console.log('hello there')"}, mods)
	reg.Push(t, "app:v1", oldImg)
	reg.Push(t, "app:v2", newImg)
	reg.Reset() // pushing may have checked for blobs

	out, errOut, code := runCLI(t, "diff", "docker://"+host+"/app:v1", "docker://"+host+"/app:v2")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}

	var want []string
	for _, img := range []v1.Image{oldImg, newImg} {
		cfg, _ := img.ConfigName()
		layers, _ := img.Layers()
		copyLayer, _ := layers[2].Digest()
		want = append(want, cfg.String(), copyLayer.String())
	}
	got := reg.BlobGets()
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("blob GETs:\n%s\nwant the two configs and the two COPY . . layers:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d blob GETs: 2 configs, 2 layers\n%s", len(got), out)

	for _, s := range []string{
		"First break at layer 2: inputs-changed",
		"modified   26B    /app/index.js",
		"2   rebuilt    22B        28B        COPY . .",
		"Downloaded layer 2 of docker://" + host + "/app:v1 (",
		"Downloaded layer 2 of docker://" + host + "/app:v2 (",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}
