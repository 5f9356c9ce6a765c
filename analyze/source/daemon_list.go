package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/client"
)

// ListDaemon lists the local engine's images as references that Open accepts: one per
// tag, and, when includeDangling is true, the ID of each untagged image. Like `docker
// image ls`, it leaves out the intermediate images the classic builder keeps. filters
// are "key=value" terms as `docker image ls --filter` takes them. Tags come first, by
// name, then untagged images by ID, so the order is stable.
func ListDaemon(ctx context.Context, opts Options, includeDangling bool, filters []string) ([]string, error) {
	const where = "listing local images"
	f := make(client.Filters)
	for _, kv := range filters {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("invalid --filter %q: want key=value", kv)
		}
		f.Add(k, v)
	}
	if opts.Daemon == nil {
		return nil, usageErrorf("%s: no Docker engine is configured", where)
	}
	c, err := opts.Daemon()
	if err != nil {
		return nil, fmt.Errorf("%s: connecting to the Docker engine: %w", where, err)
	}
	res, err := c.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return nil, daemonError(c, where, err)
	}
	var refs []string
	for _, im := range res.Items {
		var tags []string
		for _, t := range im.RepoTags {
			if t != "<none>:<none>" {
				tags = append(tags, t)
			}
		}
		switch {
		case len(tags) > 0:
			refs = append(refs, tags...)
		case includeDangling:
			refs = append(refs, im.ID)
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		di, dj := strings.HasPrefix(refs[i], "sha256:"), strings.HasPrefix(refs[j], "sha256:")
		if di != dj {
			return dj
		}
		return refs[i] < refs[j]
	})
	return refs, nil
}
