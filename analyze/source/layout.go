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
)

// Annotations that name an image in an index.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// openLayout opens oci:DIR[:TAG], an OCI image layout directory.
func openLayout(_ context.Context, r Ref, opts Options) (*Image, error) {
	where := "oci:" + r.Path
	st, err := os.Stat(r.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFoundf("%s: no such directory", where)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if !st.IsDir() {
		return nil, usageErrorf("%s is a file, not a directory: for a layout packed in a tar use oci-archive:%s", where, r.Path)
	}
	return openOCILayout(dirFiles(r.Path), r.Tag, opts, where, TransportLayout)
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
