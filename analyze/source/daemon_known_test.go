package source

import (
	"archive/tar"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// What dockerd 20.10 wrote in `docker save` of a five-layer image (FROM a two-layer one,
// RUN, ENV, RUN, WORKDIR): the layers' diffIDs and the json of three layer directories.
var (
	legacyDiffIDs = []string{
		"sha256:5762a25bc8806e6617c0c5487f7e895fcfe1d5c760d333442a2afc2ffb59139e",
		"sha256:6944e2df51453cc3a1393599cb2e45a1949e77732f143610a6546e4af3823d54",
		"sha256:517aa76d99fe4d447a3a79823bcada0d87ed0af6964c44109d46e082c75dd322",
		"sha256:564b5864e695697494307b159a9b3be19bbd4dbd22163e33762001142b5be413",
		"sha256:68b41c72d783be688962850aa3dd66b2a771dbb8f369bf14a4e450e731ead622",
	}
	// legacyJSON is layer index → the json in its directory (named by its "id").
	legacyJSON = map[int]string{
		0: `{"id":"09cdcc168ff11ad6b679a365f80b5139fd4e3b22539b29fc639b715cdaec66c9","created":"1970-01-01T00:00:00Z","container_config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"os":"linux"}`,
		2: `{"id":"9186b54f1f9ba4ef7b53b0697a18203edf2c67956c3822edb9e7777ef1cda6ac","parent":"8e29ea0ccf397595761ea4acb81043e7efd70835c5bdd449e49765f439518c15","created":"1970-01-01T00:00:00Z","container_config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"os":"linux"}`,
		4: `{"id":"29089e47d4dbc1bd6486da46745a690e0193f2f508ddf2c7512c0b4d221f5f48","parent":"81300c70c40baf09d67cea68aea809a44f38a82539d14a8ff2da6201a1730ea0","created":"2026-11-23T20:59:24.364849522Z","container":"c94454686a3da61c40061ddaa7ccf3323ea881bfd9d142fd4f5b1c01a346449f","container_config":{"Hostname":"c94454686a3d","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","X=1"],"Cmd":["/bin/sh","-c","#(nop) WORKDIR /app"],"Image":"sha256:bfce283d7cdd771d807d2d9153ad7b8a60e68f4ab2efa4dac793b5153eb32ae4","Volumes":null,"WorkingDir":"/app","Entrypoint":null,"OnBuild":null,"Labels":{}},"docker_version":"20.10.24+dfsg1","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","X=1"],"Cmd":["/bin/sh"],"Image":"sha256:bfce283d7cdd771d807d2d9153ad7b8a60e68f4ab2efa4dac793b5153eb32ae4","Volumes":null,"WorkingDir":"/app","Entrypoint":null,"OnBuild":null,"Labels":null},"architecture":"amd64","os":"linux"}`,
	}
)

func legacyHashes(t *testing.T) []v1.Hash {
	t.Helper()
	var out []v1.Hash
	for _, s := range legacyDiffIDs {
		h, err := v1.NewHash(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// legacyDir is the directory a layer's json names (its "id").
func legacyDir(doc string) string {
	_, rest, _ := strings.Cut(doc, `"id":"`)
	return rest[:64]
}

func TestLegacyLayersRecognised(t *testing.T) {
	diffIDs := legacyHashes(t)
	for i, doc := range legacyJSON {
		l := newKnownLayers(diffIDs[:1], diffIDs)
		l.observe(legacyDir(doc), []byte(doc))
		if got, ok := l.layerOf(legacyDir(doc) + "/layer.tar"); !ok || got != diffIDs[i] {
			t.Errorf("layer %d: recognised as %v (%v), want %v", i, got, ok, diffIDs[i])
		}
	}
	// Metadata that does not prove its layer changes nothing: another directory, an
	// edited document, an image whose layers are not these.
	doc := legacyJSON[2]
	for name, c := range map[string]struct {
		dir, doc string
		images   [][]v1.Hash
	}{
		"other directory": {strings.Repeat("0", 64), doc, [][]v1.Hash{diffIDs}},
		"edited":          {legacyDir(doc), strings.Replace(doc, `"created":"1970`, `"created":"1971`, 1), [][]v1.Hash{diffIDs}},
		"other image":     {legacyDir(doc), doc, [][]v1.Hash{diffIDs[2:]}},
		"not json":        {legacyDir(doc), "{", [][]v1.Hash{diffIDs}},
	} {
		l := newKnownLayers(c.images...)
		l.observe(c.dir, []byte(c.doc))
		if d, ok := l.layerOf(c.dir + "/layer.tar"); ok {
			t.Errorf("%s: recognised as %v", name, d)
		}
	}
}

// Recognising a directory costs a hash of its json per candidate chain: past
// maxObserveBytes the directory stays unknown (its layer is then read and hashed).
func TestLegacyLayerObservationBounded(t *testing.T) {
	diffIDs := legacyHashes(t)
	doc := legacyJSON[0]
	n := maxObserveBytes/(2*len(doc)) + 1
	images := [][]v1.Hash{diffIDs}
	for i := range n {
		h, _, _ := v1.SHA256(strings.NewReader(strconv.Itoa(i)))
		images = append(images, []v1.Hash{h})
	}
	l := newKnownLayers(images...)
	l.observe(legacyDir(doc), []byte(doc))
	if d, ok := l.layerOf(legacyDir(doc) + "/layer.tar"); ok {
		t.Errorf("recognised as %v across %d chains, want the directory left unknown", d, len(l.diffIDs))
	}
}

// A classic export's layer recognised as one no image wants passes unread: here a
// corrupt one, which would fail the read if it were scanned.
func TestScanExportSkipsRecognisedLayers(t *testing.T) {
	wantLayer := imagetest.FileLayer(t, map[string]string{"app/x": "x"})
	wantDiffID, _ := wantLayer.DiffID()
	var buf bytes.Buffer
	w := tarWriter{t: t, tw: tar.NewWriter(&buf)}
	dir := legacyDir(legacyJSON[0])
	w.file(dir+"/VERSION", []byte("1.0"))
	w.file(dir+"/json", []byte(legacyJSON[0]))
	corrupt := make([]byte, 4096)
	copy(corrupt, "etc/passwd")
	copy(corrupt[124:], "77777777777") // a size far past the blob's end
	copy(corrupt[257:], "ustar")
	w.file(dir+"/layer.tar", corrupt)
	w.file("ffff/layer.tar", readAll(t, wantLayer.Uncompressed))
	if err := w.tw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, legacy := range []*knownLayers{newKnownLayers(legacyHashes(t)), nil} {
		found := 0
		err := scanExport(context.Background(), bytes.NewReader(buf.Bytes()), map[v1.Hash][]int{wantDiffID: {0}}, legacy, false, false, func(int, LayerScan) error {
			found++
			return nil
		})
		switch {
		case legacy != nil && (err != nil || found != 1):
			t.Errorf("recognised: err %v, found %d", err, found)
		case legacy == nil && err == nil:
			t.Errorf("without the metadata the corrupt layer was not read")
		}
	}
}
