package source

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/storage"
	"github.com/moby/moby/client"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// containerdEngine answers as Docker 29 with the containerd image store does: the image
// ID is the digest of an image index that holds the image manifest and a provenance
// attestation manifest (BuildKit's default), history sizes are snapshot disk use, and
// the export is an OCI layout with the compressed blobs.
type containerdEngine struct {
	fakeEngine
	// attestationFirst puts the attestation manifest before the image in the index;
	// attestationPlatform gives it platform unknown/unknown (as BuildKit does) rather
	// than annotations alone.
	attestationFirst, attestationPlatform bool
	// oldAPI answers as the engine does to a client of API < 1.48: no descriptor, the
	// snapshotter's name as the storage driver.
	oldAPI bool
	// onePlatform exports as Docker 29 does when asked for one platform: no index blob;
	// index.json lists the image manifest and, marked only by its artifactType and
	// subject annotation, the attestation manifest.
	onePlatform bool
	export      []byte
	indexDigest v1.Hash
}

func (e *containerdEngine) id() string { return e.indexDigest.String() }

// build writes the export and so fixes the index digest.
func (e *containerdEngine) build() {
	t := e.t
	var buf bytes.Buffer
	tw := tarWriter{t: t, tw: tar.NewWriter(&buf)}
	blob := func(b []byte) v1.Hash {
		h, _, _ := v1.SHA256(bytes.NewReader(b))
		tw.file("blobs/sha256/"+h.Hex, b)
		return h
	}
	rawManifest, _ := e.img.RawManifest()
	rawConfig, _ := e.img.RawConfigFile()
	cfgName, _ := e.img.ConfigName()
	manifestDigest, _ := e.img.Digest()

	// The attestation: an in-toto statement as its only layer, config unknown/unknown.
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`)
	stmtDigest := blob(statement)
	attCfg := []byte(fmt.Sprintf(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, stmtDigest))
	attCfgDigest := blob(attCfg)
	attManifest, _ := json.Marshal(v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: attCfgDigest, Size: int64(len(attCfg))},
		Layers: []v1.Descriptor{{MediaType: "application/vnd.in-toto+json", Digest: stmtDigest, Size: int64(len(statement)),
			Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}},
	})
	attDigest := blob(attManifest)

	// The image's blobs: config first, then the layers, as containerd writes them.
	blob(rawConfig)
	layers, _ := e.img.Layers()
	for _, l := range layers {
		b := readAll(t, l.Compressed)
		blob(b)
	}
	blob(rawManifest)

	mt, _ := e.img.MediaType()
	imageDesc := v1.Descriptor{MediaType: mt, Digest: manifestDigest, Size: int64(len(rawManifest)),
		Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}
	attDesc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: attDigest, Size: int64(len(attManifest)),
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": manifestDigest.String()}}
	if e.attestationPlatform {
		attDesc.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
	}
	manifests := []v1.Descriptor{imageDesc, attDesc}
	if e.attestationFirst {
		manifests = []v1.Descriptor{attDesc, imageDesc}
	}
	index, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: manifests})
	e.indexDigest, _, _ = v1.SHA256(bytes.NewReader(index))
	if e.onePlatform {
		imageDesc.Annotations = map[string]string{"io.containerd.image.name": "docker.io/library/app:v1", "org.opencontainers.image.ref.name": "v1"}
		attDesc.Platform, attDesc.ArtifactType = nil, "application/vnd.docker.attestation.manifest.v1+json"
		attDesc.Annotations = map[string]string{"io.containerd.manifest.subject": manifestDigest.String()}
		manifests = []v1.Descriptor{imageDesc, attDesc}
		if e.attestationFirst {
			manifests = []v1.Descriptor{attDesc, imageDesc}
		}
		top, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: manifests})
		e.finish(tw, top, layers, cfgName)
		e.export = buf.Bytes()
		return
	}
	blob(index)

	top, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIImageIndex, Digest: e.indexDigest, Size: int64(len(index)),
		Annotations: map[string]string{"io.containerd.image.name": "docker.io/library/app:v1", "org.opencontainers.image.ref.name": "v1"},
	}}})
	e.finish(tw, top, layers, cfgName)
	e.export = buf.Bytes()
}

// finish writes the export's last files, in the order containerd writes them (by name).
func (e *containerdEngine) finish(tw tarWriter, top []byte, layers []v1.Layer, cfgName v1.Hash) {
	tw.file("index.json", top)
	var layerNames []string
	for _, l := range layers {
		d, _ := l.Digest()
		layerNames = append(layerNames, "blobs/sha256/"+d.Hex)
	}
	m, _ := json.Marshal([]map[string]any{{"Config": "blobs/sha256/" + cfgName.Hex, "RepoTags": []string{"app:v1"}, "Layers": layerNames}})
	tw.file("manifest.json", m)
	tw.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	if err := tw.tw.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *containerdEngine) ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	res, err := e.fakeEngine.ImageInspect(ctx, ref, opts...)
	res.ID = e.id()
	res.Descriptor = &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.Digest(e.indexDigest.String())}
	if e.oldAPI {
		res.Descriptor = nil
		res.GraphDriver = &storage.DriverData{Name: "native"}
	}
	// What docker image ls shows: content blobs plus snapshot use, not a layer sum.
	res.Size = 3450000
	return res, err
}

func (e *containerdEngine) ImageHistory(ctx context.Context, id string, opts ...client.ImageHistoryOption) (client.ImageHistoryResult, error) {
	if id != e.id() {
		return client.ImageHistoryResult{}, fmt.Errorf("history of %s, want the engine's ID %s", id, e.id())
	}
	res, err := e.fakeEngine.ImageHistory(ctx, e.fakeEngine.id(), opts...)
	if len(res.Items) > 0 {
		res.Items[0].ID = id
	}
	return res, err
}

func (e *containerdEngine) ImageSave(_ context.Context, ids []string, _ ...client.ImageSaveOption) (client.ImageSaveResult, error) {
	e.saves++
	if len(ids) != 1 || ids[0] != e.id() {
		return nil, fmt.Errorf("unexpected save of %v", ids)
	}
	return io.NopCloser(bytes.NewReader(e.export)), nil
}

// On the containerd image store, `id` stays the config digest (the engine's own ID, an
// index digest, goes to EngineID) and sizes are the layers' own, measured from the
// export, never the engine's history figures: those are snapshot disk use, and with the
// native snapshotter cumulative.
func TestDaemonContainerdStore(t *testing.T) {
	src := tinyLayersImage(t)
	// The native snapshotter's history: every layer's figure includes those below it.
	cumulative := []int64{2031616, 2035712, 2039808}
	for _, tc := range []struct {
		name                                                       string
		attestationFirst, attestationPlatform, oldAPI, onePlatform bool
	}{
		{"attestation-first", true, true, false, false},
		{"attestation-last", false, true, false, false},
		{"attestation-without-platform", true, false, false, false},
		{"api-1.47", true, true, true, false},
		{"one-platform-export", true, true, false, true},
		{"one-platform-export-attestation-last", false, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &containerdEngine{fakeEngine: fakeEngine{t: t, img: src, sizes: cumulative},
				attestationFirst: tc.attestationFirst, attestationPlatform: tc.attestationPlatform, oldAPI: tc.oldAPI, onePlatform: tc.onePlatform}
			e.build()
			img, err := Open(context.Background(), "app:v1", Options{Daemon: func() (DaemonClient, error) { return e, nil }})
			if err != nil {
				t.Fatal(err)
			}
			cfgName, _ := src.ConfigName()
			if img.ID != cfgName.String() || img.EngineID != e.id() {
				t.Errorf("ID %s, EngineID %s; want the config digest %s and the engine's ID %s", img.ID, img.EngineID, cfgName, e.id())
			}
			wantCfg, _ := src.ConfigFile()
			if img.Config.OS != "linux" || len(img.Config.History) != len(wantCfg.History) {
				t.Fatalf("config %+v: not the image's (the attestation's?)", img.Config)
			}
			layers, _ := src.Layers()
			for i, l := range img.Layers {
				if l.Size != analyze.Unknown {
					t.Errorf("layer %d: size %d before measuring, want unknown (the history's are not per-layer file bytes)", i, l.Size)
				}
				d, _ := layers[i].Digest()
				c, _ := layers[i].Size()
				if l.Digest != d || l.CompressedSize != c {
					t.Errorf("layer %d: blob %s %d, want %s %d from the manifest", i, l.Digest, l.CompressedSize, d, c)
				}
			}
			if !img.LayersCompressed {
				t.Error("LayersCompressed is false on a store of compressed blobs")
			}
			if err := img.MeasureSizes(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i, l := range img.Layers {
				want, err := analyze.ScanLayer(context.Background(), readerOf(t, layers[i]), analyze.ScanOptions{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if l.Size != want {
					t.Errorf("layer %d: size %d, want %d (the files' bytes)", i, l.Size, want)
				}
			}
			if got, want := stepLayers(t, img), "[0 1 2]"; got != want {
				t.Errorf("step layers %s, want %s", got, want)
			}
		})
	}
}

// BuildKit marks an attestation manifest with platform unknown/unknown and with
// annotations; either must keep it from being picked as the image, even when it is the
// only other entry of an index for one foreign platform.
func TestPickPlatformSkipsAttestations(t *testing.T) {
	image := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: "aa"},
		Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}
	for name, att := range map[string]v1.Descriptor{
		"platform": {MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: "bb"},
			Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}},
		"annotation": {MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: "bb"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}},
		// Docker 29's one-platform export: a referrer of the image, no platform.
		"artifact": {MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: "bb"},
			ArtifactType: "application/vnd.docker.attestation.manifest.v1+json",
			Annotations:  map[string]string{"io.containerd.manifest.subject": "sha256:aa"}},
	} {
		for _, order := range [][]v1.Descriptor{{att, image}, {image, att}} {
			d, err := pickPlatform(&v1.IndexManifest{Manifests: order}, nil, "app:v1")
			if err != nil || d.Digest != image.Digest {
				t.Errorf("%s: picked %v, %v; want the linux/arm64 image", name, d.Digest, err)
			}
		}
	}
}

// A scan of some layers of a containerd-store export opens only their blobs, which the
// manifest names: the others are not decompressed to learn their diffIDs (here, a
// corrupt one would fail the scan).
func TestContainerdScanOpensWantedBlobsOnly(t *testing.T) {
	src := tinyLayersImage(t)
	e := &containerdEngine{fakeEngine: fakeEngine{t: t, img: src, sizes: []int64{1, 1, 1}}}
	e.build()
	layers, _ := src.Layers()
	first := readAll(t, layers[0].Compressed)
	at := bytes.Index(e.export, first)
	if at < 0 {
		t.Fatal("layer 0's blob is not in the export")
	}
	garbage := bytes.Repeat([]byte{0x1f, 0x8b, 0x08, 0}, len(first)/4+1)[:len(first)]
	copy(e.export[at:], garbage)

	img, err := Open(context.Background(), "app:v1", Options{Daemon: func() (DaemonClient, error) { return e, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	if err := img.ScanLayers(context.Background(), []int{2}, false, func(i int, _ LayerScan) error {
		got = append(got, i)
		return nil
	}); err != nil {
		t.Fatalf("scanning layer 2 read another layer's blob: %v", err)
	}
	if len(got) != 1 || got[0] != 2 {
		t.Errorf("scanned layers %v, want [2]", got)
	}
	if err := img.ScanLayers(context.Background(), []int{0}, false, func(int, LayerScan) error { return nil }); err == nil {
		t.Error("scanning the corrupt layer 0 succeeded")
	}
}
