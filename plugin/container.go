package plugin

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// containerJSON is the `container` object of inspect's JSON for a container: the
// writable layer and mounts on top of the image the rest of the object describes.
type containerJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Image   string `json:"image"`
	ImageID string `json:"imageID"`
	State   string `json:"state"`
	// SizeRw is the writable layer as `docker ps -s` reports it (uncompressed bytes);
	// SizeRootFs the image plus it ("virtual").
	SizeRw     *int64        `json:"sizeRw"`
	SizeRootFs *int64        `json:"sizeRootFs"`
	Mounts     []mountJSON   `json:"mounts"`
	Changes    []changeJSON  `json:"changes,omitempty"`
	Warnings   []warningJSON `json:"warnings"`
}

type mountJSON struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ReadWrite   bool   `json:"rw"`
	Anonymous   bool   `json:"anonymous"`
}

type changeJSON struct {
	// Kind is "added", "changed" or "deleted" (A, C, D in `docker diff`).
	Kind string `json:"kind"`
	Path string `json:"path"`
	Dir  bool   `json:"dir"`
	// Size is the uncompressed bytes the writable layer holds for the path.
	Size *int64 `json:"size"`
}

type warningJSON struct {
	Kind       string   `json:"kind"`
	Path       string   `json:"path"`
	Bytes      *int64   `json:"bytes"`
	Unmeasured int      `json:"unmeasured,omitempty"`
	Volume     string   `json:"volume,omitempty"`
	Containers []string `json:"containers,omitempty"`
	Message    string   `json:"message"`
}

var changeWords = map[analyze.ChangeKind]string{
	analyze.ChangeAdded: "added", analyze.ChangeModified: "changed", analyze.ChangeDeleted: "deleted",
}

// newContainerJSON is the view of a container report; changes are listed only when
// files is set.
func newContainerJSON(r analyze.ContainerReport, files bool) *containerJSON {
	v := &containerJSON{
		ID: r.ID, Name: r.Name, Image: r.Image, ImageID: r.ImageID, State: r.State,
		SizeRw: bytesOrNil(r.SizeRw), SizeRootFs: bytesOrNil(r.SizeRootFs),
		Mounts: []mountJSON{}, Warnings: []warningJSON{},
	}
	for _, m := range r.Mounts {
		v.Mounts = append(v.Mounts, mountJSON{Type: m.Type, Name: m.Name, Source: m.Source, Destination: m.Destination, ReadWrite: m.ReadWrite, Anonymous: m.Anonymous})
	}
	if files {
		v.Changes = []changeJSON{}
		for _, c := range r.Changes {
			v.Changes = append(v.Changes, changeJSON{Kind: changeWords[c.Kind], Path: c.Path, Dir: c.Dir, Size: bytesOrNil(c.Size)})
		}
	}
	for _, w := range r.Warnings {
		v.Warnings = append(v.Warnings, warningJSON{
			Kind: w.Kind, Path: w.Path, Bytes: bytesOrNil(w.Bytes), Unmeasured: w.Unmeasured,
			Volume: w.Volume, Containers: w.Containers, Message: w.Message,
		})
	}
	return v
}

// writeContainerTable prints the container part of inspect's table: the writable
// layer, the mounts, the changes (with --files) and the warnings.
func writeContainerTable(w io.Writer, c *containerJSON, noTrunc bool) error {
	fmt.Fprintf(w, "Container: %s (%s, %s), from %s\n", escapeControl(c.Name), shortContainerID(c.ID, noTrunc), c.State, escapeControl(c.Image))
	rootfs := ""
	if c.SizeRootFs != nil {
		rootfs = fmt.Sprintf(", %s with the image (virtual)", humanSize(*c.SizeRootFs))
	}
	fmt.Fprintf(w, "Writable layer: %s uncompressed, as docker ps -s counts it%s\n", humanSize(sizeOf(c.SizeRw)), rootfs)
	if len(c.Mounts) == 0 {
		fmt.Fprintln(w, "Mounts: none: everything the container writes goes to its writable layer")
	} else {
		t := &table{header: []string{"TYPE", "NAME", "DESTINATION", "SOURCE"}}
		for _, m := range c.Mounts {
			name := m.Name
			if !noTrunc && len(name) > 12 {
				name = name[:12] + "…"
			}
			if m.Anonymous {
				name += " (anonymous)"
			}
			if !m.ReadWrite {
				m.Destination += " (ro)"
			}
			t.append(m.Type, orDefault(escapeControl(name), "-"), escapeControl(m.Destination), orDefault(escapeControl(m.Source), "-"))
		}
		fmt.Fprintln(w, "Mounts:")
		if err := t.render(w); err != nil {
			return err
		}
	}
	if c.Changes != nil {
		if len(c.Changes) == 0 {
			fmt.Fprintln(w, "Changes: none")
		} else {
			t := &table{header: []string{"CHANGE", "SIZE", "PATH"}}
			for _, ch := range c.Changes {
				size := humanSize(sizeOf(ch.Size))
				p := escapeControl(ch.Path)
				if ch.Dir {
					size, p = "-", p+"/"
				}
				if ch.Kind == "deleted" {
					size = "-"
				}
				t.append(ch.Kind, size, p)
			}
			fmt.Fprintln(w, "Changes:")
			if err := t.render(w); err != nil {
				return err
			}
		}
	}
	if len(c.Warnings) == 0 {
		fmt.Fprintln(w, "Warnings: none")
		return nil
	}
	fmt.Fprintln(w, "Warnings:")
	for _, wn := range c.Warnings {
		bytes := humanSize(sizeOf(wn.Bytes))
		if wn.Unmeasured > 0 {
			bytes = "at least " + bytes + ", " + plural(wn.Unmeasured, "file") + " not measured"
		}
		fmt.Fprintf(w, "- %s (%s): %s\n", escapeControl(wn.Path), bytes, escapeControl(wn.Message))
	}
	return nil
}

func sizeOf(n *int64) int64 {
	if n == nil {
		return analyze.Unknown
	}
	return *n
}

// shortContainerID prints a container ID as docker ps does: 12 hex digits.
func shortContainerID(id string, noTrunc bool) string {
	if noTrunc || len(id) <= 12 {
		return id
	}
	return id[:12]
}

// escapeControl quotes text from the engine (paths a container wrote, names) that
// holds control characters, so it cannot move the cursor or recolour a terminal.
func escapeControl(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// inspectContainer reads a container and its image (by ID, as the engine holds it) and
// decides the warnings. The image's reference is shown as the container was created
// from it.
func inspectContainer(ctx context.Context, name string, opts source.Options, o analyze.ContainerOptions) (analyze.Inspection, analyze.ContainerReport, error) {
	c, err := opts.Containers()
	if err != nil {
		return analyze.Inspection{}, analyze.ContainerReport{}, fmt.Errorf("%s%s: connecting to the Docker engine: %w", source.ContainerPrefix, name, err)
	}
	d, err := source.ReadContainer(ctx, c, name, o)
	if err != nil {
		return analyze.Inspection{}, analyze.ContainerReport{}, err
	}
	in, _, err := inspectImage(ctx, source.TransportDaemon+":"+d.Container.ImageID, opts, false)
	if err != nil {
		return analyze.Inspection{}, analyze.ContainerReport{}, err
	}
	in.Image = d.Container.Image
	return in, analyze.InspectContainer(d.Container, in.Config.Volumes, d.Others, d.VolumeSizes, o), nil
}

// parseThreshold reads --rw-threshold ("100MB", "1.5GB", bytes).
func parseThreshold(cmd *cobra.Command, s string) (int64, error) {
	n, err := units.FromHumanSize(s)
	if err != nil || n <= 0 {
		return 0, usageError(cmd, fmt.Sprintf("invalid --rw-threshold %q: want a size such as 100MB", s))
	}
	return n, nil
}

// writableRow is the container's writable layer as a --format template row, on top of
// its image's rows.
func writableRow(in analyze.Inspection, c *containerJSON, noTrunc bool) InspectRow {
	return InspectRow{
		Image: in.Image, ID: shortID(in.ID, noTrunc), Container: c.Name, Index: "rw",
		Size: humanSize(sizeOf(c.SizeRw)), CompressedSize: "?", Share: "-",
		Bytes: sizeOf(c.SizeRw), CompressedBytes: analyze.Unknown,
		Instruction: "(writable layer of container " + c.Name + ")",
	}
}
