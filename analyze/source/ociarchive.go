package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// openOCIArchive opens oci-archive:PATH[:TAG], an OCI image layout packed in a tar, as
// `docker buildx build --output type=oci,dest=x.tar` and skopeo write it. The tar is
// indexed once by seeking over file contents, never extracted; blobs are then read from
// it in place.
func openOCIArchive(ctx context.Context, r Ref, opts Options) (*Image, error) {
	where := TransportOCIArchive + ":" + r.Path
	f, err := os.Open(r.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFoundf("%s: no such file", where)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	a := &archive{f: f, entries: map[string]tarEntry{}, where: where}
	if err := a.index(ctx); err != nil {
		f.Close()
		return nil, err
	}
	img, err := openOCILayout(tarFiles{a}, r.Tag, opts, where, TransportOCIArchive)
	if err != nil {
		f.Close()
		if _, merr := a.lookup("manifest.json"); merr == nil && errors.Is(err, errNoIndex) {
			return nil, usageErrorf("%s is a docker save archive, not an OCI archive: use docker-archive:%s", where, r.Path)
		}
		return nil, err
	}
	img.close = f.Close
	return img, nil
}
