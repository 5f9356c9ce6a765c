package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Annotations that name an image in an index.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// openLayout opens oci:DIR[:TAG], an OCI image layout directory.
func openLayout(_ context.Context, r Ref, opts Options) (*Image, error) {
	where := "oci:" + r.Path
	if _, err := os.Stat(r.Path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFoundf("%s: no such directory", where)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	p, err := layout.FromPath(r.Path)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", where, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("%s: reading index.json: %w", where, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: reading index.json: %w", where, err)
	}
	desc, err := pickTagged(im.Manifests, r.Tag, where)
	if err != nil {
		return nil, err
	}
	img, err := resolveImage(idx, desc, opts.Platform, where)
	if err != nil {
		return nil, err
	}
	out, err := fromV1(img, TransportLayout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return out, nil
}

// pickTagged chooses the index entry named tag: its ref-name annotation equals tag, or
// is a full name ending in ":tag". With no tag, the only entry.
func pickTagged(descs []v1.Descriptor, tag, where string) (v1.Descriptor, error) {
	var names []string
	for _, d := range descs {
		name := descName(d)
		if tag != "" && (name == tag || strings.HasSuffix(name, ":"+tag) || d.Digest.String() == tag) {
			return d, nil
		}
		if name == "" {
			name = d.Digest.String()
		}
		names = append(names, name)
	}
	sort.Strings(names)
	switch {
	case tag != "":
		return v1.Descriptor{}, notFoundf("%s has no image tagged %q (it has: %s)", where, tag, strings.Join(names, ", "))
	case len(descs) == 1:
		return descs[0], nil
	case len(descs) == 0:
		return v1.Descriptor{}, notFoundf("%s holds no image", where)
	}
	return v1.Descriptor{}, usageErrorf("%s holds %d images, name one as %s:TAG (it has: %s)", where, len(descs), where, strings.Join(names, ", "))
}

func descName(d v1.Descriptor) string {
	if n := d.Annotations[annotationRefName]; n != "" {
		return n
	}
	return d.Annotations[annotationContainerdName]
}

// resolveImage follows desc to one image, through nested indexes by platform.
func resolveImage(idx v1.ImageIndex, desc v1.Descriptor, platform *v1.Platform, where string) (v1.Image, error) {
	for depth := 0; depth < 4; depth++ {
		switch {
		case desc.MediaType.IsImage():
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: reading image %s: %w", where, desc.Digest, err)
			}
			return img, nil
		case desc.MediaType.IsIndex():
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: reading index %s: %w", where, desc.Digest, err)
			}
			im, err := child.IndexManifest()
			if err != nil {
				return nil, fmt.Errorf("%s: reading index %s: %w", where, desc.Digest, err)
			}
			if desc, err = pickPlatform(im, platform, where); err != nil {
				return nil, err
			}
			idx = child
		default:
			return nil, fmt.Errorf("%s: %s is a %s, not an image", where, desc.Digest, desc.MediaType)
		}
	}
	return nil, fmt.Errorf("%s: indexes nested too deep", where)
}
