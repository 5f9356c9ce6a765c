package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/client"
)

// imageFilterKeys are the keys `docker image ls --filter` takes.
var imageFilterKeys = map[string]bool{"before": true, "dangling": true, "label": true, "reference": true, "since": true, "until": true}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ListDaemon lists the local engine's images as references that Open accepts: one per
// tag, and, when includeDangling is true, the ID of each untagged image. Like `docker
// image ls`, it leaves out the intermediate images the classic builder keeps. filters
// are "key=value" terms as `docker image ls --filter` takes them. Tags come first, by
// name, then untagged images by ID, so the order is stable.
//
// unlisted are the IDs of the engine's other images (untagged ones, those the filters
// left out): they still hold layers, so what is unique to a listed image is counted
// against them too, as `docker system df -v` does.
func ListDaemon(ctx context.Context, opts Options, includeDangling bool, filters []string) (listed, unlisted []string, err error) {
	const where = "listing local images"
	f := make(client.Filters)
	for _, kv := range filters {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, usageErrorf("invalid --filter %q: want key=value", kv)
		}
		if !imageFilterKeys[k] {
			return nil, nil, usageErrorf("invalid --filter %q: unknown key %q (the keys are %s)", kv, k, strings.Join(sortedKeys(imageFilterKeys), ", "))
		}
		f.Add(k, v)
	}
	if opts.Daemon == nil {
		return nil, nil, usageErrorf("%s: no Docker engine is configured", where)
	}
	c, err := opts.Daemon()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connecting to the Docker engine: %w", where, err)
	}
	res, err := c.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return nil, nil, daemonError(c, where, err)
	}
	all := res
	if len(filters) > 0 {
		if all, err = c.ImageList(ctx, client.ImageListOptions{}); err != nil {
			return nil, nil, daemonError(c, where, err)
		}
	}
	var refs []string
	seen := map[string]bool{}
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
			seen[im.ID] = true
		case includeDangling:
			refs = append(refs, im.ID)
			seen[im.ID] = true
		}
	}
	for _, im := range all.Items {
		if !seen[im.ID] {
			seen[im.ID] = true
			unlisted = append(unlisted, im.ID)
		}
	}
	sort.Strings(unlisted)
	sort.Slice(refs, func(i, j int) bool {
		di, dj := strings.HasPrefix(refs[i], "sha256:"), strings.HasPrefix(refs[j], "sha256:")
		if di != dj {
			return dj
		}
		return refs[i] < refs[j]
	})
	return refs, unlisted, nil
}
