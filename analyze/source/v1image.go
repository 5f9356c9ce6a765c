package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/docker-layers/docker-layers/analyze"
)

// fromV1 wraps a go-containerregistry image (a registry's, or one built in code) whose
// manifest is at hand. Its manifest and config are held to the rules every source
// follows: capped, one JSON value each; the config is checked against its digest.
func fromV1(img v1.Image, transport string) (*Image, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading image manifest: %w", err)
	}
	if len(rawManifest) > maxMetadataFile {
		return nil, fmt.Errorf("the image manifest is %d bytes, more than the %d MiB a metadata document may have", len(rawManifest), maxMetadataFile>>20)
	}
	var m v1.Manifest
	if err := decodeJSON(rawManifest, &m); err != nil {
		return nil, fmt.Errorf("reading image manifest: %w", err)
	}
	if m.Config.Size > maxMetadataFile {
		return nil, fmt.Errorf("the image config is %d bytes, more than the %d MiB a metadata document may have", m.Config.Size, maxMetadataFile>>20)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	if err := checkDigest(rawCfg, m.Config.Digest, "the image config"); err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := decodeJSON(rawCfg, &cfg); err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the manifest lists %d layers but the config's rootfs has %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	out := &Image{
		Image:            analyze.Image{ID: m.Config.Digest.String(), Config: &cfg},
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

func (r v1Reader) readLayers(ctx context.Context, want []int, fn func(int, layerBlob) error) error {
	return eachLayer(ctx, want, func(i int) error { return r.readLayer(i, fn) })
}

func (r v1Reader) readLayer(i int, fn func(int, layerBlob) error) error {
	d := r.blobs[i]
	l, err := r.img.LayerByDigest(d.Digest)
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
	}
	defer rc.Close()
	return fn(i, layerBlob{r: rc, digest: d.Digest, size: d.Size, estargz: d.Annotations[annotationEstargzTOC] != ""})
}

// isAttestation is true for an index entry that describes an image rather than being
// one: BuildKit's attestation manifests (platform unknown/unknown, an
// attestation-manifest annotation, Docker's attestation artifact type) and anything
// containerd records as referring to an image (its subject annotation, as Docker 29
// exports attestations). An image's own artifactType is its config's media type.
func isAttestation(d v1.Descriptor) bool {
	return (d.Platform != nil && d.Platform.OS == "unknown") ||
		d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
		d.Annotations["io.containerd.manifest.subject"] != "" ||
		d.ArtifactType == "application/vnd.docker.attestation.manifest.v1+json"
}

// pickWithDefault is pickPlatform where want may be a default rather than a demand
// (the engine's platform): when nothing matches a default, the usual choice applies.
func pickWithDefault(im *v1.IndexManifest, want *v1.Platform, isDefault bool, where string) (v1.Descriptor, error) {
	d, err := pickPlatform(im, want, where)
	if err != nil && isDefault && want != nil {
		d, err = pickPlatform(im, nil, where)
	}
	return d, err
}

// pickPlatform chooses one manifest of an index: the requested platform, else
// linux/amd64, else the only one. Attestations (see isAttestation) are never chosen.
func pickPlatform(im *v1.IndexManifest, want *v1.Platform, where string) (v1.Descriptor, error) {
	var candidates []v1.Descriptor
	for _, d := range im.Manifests {
		if isAttestation(d) {
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

// eachLayer reads the layers want one after another, stopping when ctx is cancelled.
func eachLayer(ctx context.Context, want []int, read func(i int) error) error {
	for _, i := range want {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := read(i); err != nil {
			return err
		}
	}
	return nil
}
