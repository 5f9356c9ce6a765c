package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// writableJSON is `containers` in `shared --containers --format json`: the writable
// layers of the engine's containers (running and stopped), per image and in total.
type writableJSON struct {
	Images []writableImageJSON `json:"images"`
	// SizeRw is the writable layers' total, uncompressed bytes as `docker ps -s` counts
	// them; null if the engine did not tell one.
	SizeRw     *int64 `json:"sizeRw"`
	Containers int    `json:"containers"`
}

type writableImageJSON struct {
	// Image is the image as the first of its containers was created from it.
	Image      string   `json:"image"`
	ID         string   `json:"id"`
	Containers []string `json:"containers"`
	SizeRw     *int64   `json:"sizeRw"`
}

func newWritableJSON(u analyze.WritableUsage) *writableJSON {
	v := &writableJSON{Images: []writableImageJSON{}, SizeRw: bytesOrNil(u.SizeRw), Containers: u.Containers}
	for _, im := range u.Images {
		v.Images = append(v.Images, writableImageJSON{Image: im.Image, ID: im.ImageID, Containers: im.Containers, SizeRw: bytesOrNil(im.SizeRw)})
	}
	return v
}

// readWritable lists the engine's containers with their writable layers' sizes.
func readWritable(ctx context.Context, opts source.Options) (analyze.WritableUsage, error) {
	if opts.Containers == nil {
		return analyze.WritableUsage{}, fmt.Errorf("listing containers: no Docker engine is configured")
	}
	c, err := opts.Containers()
	if err != nil {
		return analyze.WritableUsage{}, fmt.Errorf("listing containers: connecting to the Docker engine: %w", err)
	}
	cs, err := source.ListContainers(ctx, c)
	if err != nil {
		return analyze.WritableUsage{}, err
	}
	return analyze.WritableLayers(cs), nil
}

// writeSharedTables is shared's table, then the containers' part with --containers.
func writeSharedTables(w io.Writer, v sharedJSON, o renderOpts) error {
	if err := writeSharedTable(w, v, o); err != nil || v.Containers == nil {
		return err
	}
	return writeWritableTable(w, v.Containers, o)
}

// writeWritableTable prints the containers' part of shared's table.
func writeWritableTable(w io.Writer, v *writableJSON, o renderOpts) error {
	noTrunc := o.noTrunc
	fmt.Fprintln(w)
	if v.Containers == 0 {
		fmt.Fprintln(w, "Containers' writable layers: no containers")
		return nil
	}
	fmt.Fprintln(w, "Containers' writable layers (uncompressed, as docker ps -s counts them), per image:")
	t := &table{header: []string{"IMAGE", "ID", "CONTAINERS", "WRITABLE"}, flex: 2, width: o.width}
	for _, im := range v.Images {
		names := termSafe(strings.Join(im.Containers, ", "))
		if !noTrunc {
			names = ellipsis(names, 50)
		}
		t.append(termSafe(im.Image), shortID(im.ID, noTrunc), names, humanSize(sizeOf(im.SizeRw)))
	}
	if err := t.render(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "Writable layers: %s in %s\n", humanSize(sizeOf(v.SizeRw)), plural(v.Containers, "container"))
	return nil
}

// writableOf finds an image's containers for its template row.
func writableOf(v *writableJSON, id string) (containers int, sizeRw int64) {
	if v == nil {
		return 0, analyze.Unknown
	}
	for _, im := range v.Images {
		if im.ID == id {
			return len(im.Containers), sizeOf(im.SizeRw)
		}
	}
	return 0, 0
}
