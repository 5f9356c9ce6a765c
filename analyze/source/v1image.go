package source

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/docker-layers/docker-layers/analyze"
)

// fromV1 wraps a go-containerregistry image (layout, registry) whose manifest is at hand.
func fromV1(img v1.Image, transport string) (*Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading image manifest: %w", err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the manifest lists %d layers but the config's rootfs has %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	out := &Image{
		Image:            analyze.Image{ID: id.String(), Config: cfg},
		Transport:        transport,
		LayersCompressed: true,
		reader:           v1Reader{img: img, blobs: m.Layers},
	}
	for i, d := range m.Layers {
		l := analyze.Layer{DiffID: cfg.RootFS.DiffIDs[i], Digest: d.Digest, Size: analyze.Unknown, CompressedSize: d.Size}
		if !isCompressed(d.MediaType) {
			l.CompressedSize = analyze.Unknown
			out.LayersCompressed = false
		}
		out.Layers = append(out.Layers, l)
	}
	return out, nil
}

func isCompressed(mt types.MediaType) bool {
	switch mt {
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer, types.OCIUncompressedRestrictedLayer:
		return false
	}
	return true
}

type v1Reader struct {
	img   v1.Image
	blobs []v1.Descriptor
}

func (r v1Reader) readLayers(ctx context.Context, want []int, fn func(int, io.Reader) error) error {
	for _, i := range want {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.readLayer(ctx, i, fn); err != nil {
			return err
		}
	}
	return nil
}

func (r v1Reader) readLayer(ctx context.Context, i int, fn func(int, io.Reader) error) error {
	l, err := r.img.LayerByDigest(r.blobs[i].Digest)
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", i, r.blobs[i].Digest, err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", i, r.blobs[i].Digest, err)
	}
	defer rc.Close()
	return fn(i, ctxReader{ctx, rc})
}

// pickPlatform chooses one manifest of an index: the requested platform, else
// linux/amd64, else the only one. Attestation manifests (platform unknown/unknown) are
// never chosen.
func pickPlatform(im *v1.IndexManifest, want *v1.Platform, where string) (v1.Descriptor, error) {
	var candidates []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "unknown" {
			continue
		}
		if d.MediaType.IsImage() || d.MediaType.IsIndex() {
			candidates = append(candidates, d)
		}
	}
	var available []string
	for _, d := range candidates {
		available = append(available, platformString(d.Platform))
	}
	sort.Strings(available)
	match := func(p v1.Platform) (v1.Descriptor, bool) {
		for _, d := range candidates {
			if d.Platform != nil && d.Platform.Satisfies(p) {
				return d, true
			}
		}
		return v1.Descriptor{}, false
	}
	if want != nil {
		if d, ok := match(*want); ok {
			return d, nil
		}
		return v1.Descriptor{}, notFoundf("%s has no image for platform %s (available: %s)", where, platformString(want), strings.Join(available, ", "))
	}
	if d, ok := match(v1.Platform{OS: "linux", Architecture: "amd64"}); ok {
		return d, nil
	}
	if len(candidates) == 1 {
		return candidates[0], nil
	}
	return v1.Descriptor{}, usageErrorf("%s holds several platforms (%s): choose one with --platform", where, strings.Join(available, ", "))
}
