package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/docker/cli/cli/command/completion"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
func writeContainerTable(w io.Writer, c *containerJSON, o inspectRender) error {
	noTrunc := o.noTrunc
	humanSize := func(n int64) string {
		if !o.human && n >= 0 {
			return fmt.Sprint(n)
		}
		return humanSize(n)
	}
	fmt.Fprintf(w, "Container: %s (%s, %s), from %s\n", termSafe(c.Name), shortContainerID(c.ID, noTrunc), c.State, termSafe(c.Image))
	rootfs := ""
	if c.SizeRootFs != nil {
		rootfs = fmt.Sprintf(", %s with the image (virtual)", humanSize(*c.SizeRootFs))
	}
	fmt.Fprintf(w, "Writable layer: %s uncompressed, as docker ps -s counts it%s\n", humanSize(sizeOf(c.SizeRw)), rootfs)
	if len(c.Mounts) == 0 {
		fmt.Fprintln(w, "Mounts: none: everything the container writes goes to its writable layer")
	} else {
		t := &table{header: []string{"TYPE", "NAME", "DESTINATION", "SOURCE"}, flex: 3, width: o.width}
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
			t.append(m.Type, orDefault(termSafe(name), "-"), termSafe(m.Destination), orDefault(termSafe(m.Source), "-"))
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
			t := &table{header: []string{"CHANGE", "SIZE", "PATH"}, flex: 2, width: o.width}
			for _, ch := range c.Changes {
				size := humanSize(sizeOf(ch.Size))
				p := termSafe(ch.Path)
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
		fmt.Fprintf(w, "- %s (%s): %s\n", termSafe(wn.Path), bytes, termSafe(wn.Message))
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

// containerRefHelp is how inspect's help says what a CONTAINER can be.
const containerRefHelp = `CONTAINER is container:NAME or container:ID, or a bare name or ID that the engine
has no image by: the container's image as above, plus its writable layer on top (its
size as "docker ps -s" counts it), its mounts, and warnings where its data is at risk:
a database's files or a directory over --rw-threshold in the writable layer, an
anonymous volume, a volume several database containers mount. A name that is both an
image and a container means the image; stderr says so.`

// containerOptions are inspect's flags for containers.
type containerOptions struct {
	files       bool
	rwThreshold string
}

func addContainerFlags(flags *pflag.FlagSet, o *containerOptions) {
	flags.BoolVar(&o.files, "files", false, "For a container: list the paths its writable layer added, changed and deleted, with their sizes")
	flags.StringVar(&o.rwThreshold, "rw-threshold", "100MB", "For a container: warn about a directory holding this much of the writable layer outside any volume")
}

// analysis checks the flags (a usage error before any I/O) and says what the container
// analysis is asked.
func (o containerOptions) analysis(cmd *cobra.Command) (analyze.ContainerOptions, error) {
	n, err := units.FromHumanSize(o.rwThreshold)
	if err != nil || n <= 0 {
		return analyze.ContainerOptions{}, usageError(cmd, fmt.Sprintf("invalid --rw-threshold %q: want a size such as 100MB", o.rwThreshold))
	}
	return analyze.ContainerOptions{GrowthThreshold: n, AllSizes: o.files}, nil
}

// readContainers reads the references that name containers, and returns the
// references to load: each container's image by ID in its place. A name that is both an
// image and a container is the image, and stderr says so.
func readContainers(ctx context.Context, e *env, refs []string, opts source.Options, o analyze.ContainerOptions) ([]*source.ContainerData, []string, error) {
	out := make([]*source.ContainerData, len(refs))
	load := slices.Clone(refs)
	for i, ref := range refs {
		res, err := source.ResolveContainer(ctx, ref, opts)
		if err != nil {
			return nil, nil, err
		}
		if res.Note != "" {
			fmt.Fprintln(e.dockerCli.Err(), termSafe(res.Note))
		}
		if res.Container == "" {
			continue
		}
		c, err := opts.Containers()
		if err != nil {
			return nil, nil, fmt.Errorf("%s%s: connecting to the Docker engine: %w", source.ContainerPrefix, res.Container, err)
		}
		if out[i], err = source.ReadContainer(ctx, c, res.Container, o); err != nil {
			return nil, nil, err
		}
		load[i] = source.TransportDaemon + ":" + out[i].Container.ImageID
	}
	return out, load, nil
}

// writableRow is the container's writable layer as a --format template row, on top of
// its image's rows.
func writableRow(base InspectRow, c *containerJSON) InspectRow {
	r := base
	r.Index = "rw"
	r.Size, r.Bytes = jsonSize(c.SizeRw), jsonBytes(c.SizeRw)
	r.CompressedSize, r.CompressedBytes, r.Share = "?", analyze.Unknown, "-"
	r.Instruction = "(writable layer of container " + c.Name + ")"
	return r
}

// completeImagesOrContainers completes inspect's arguments: what completeImages offers
// and container:, then after container: the engine's containers, stopped ones too.
func completeImagesOrContainers(e *env) cobra.CompletionFunc {
	images := completeImages(e)
	containers := completion.ContainerNames(e.dockerCli, true)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if name, ok := strings.CutPrefix(toComplete, source.ContainerPrefix); ok {
			names, dir := containers(cmd, args, name)
			for i, n := range names {
				names[i] = source.ContainerPrefix + n
			}
			return names, dir
		}
		refs, dir := images(cmd, args, toComplete)
		if dir&cobra.ShellCompDirectiveNoSpace == 0 {
			return refs, dir
		}
		return append(refs, source.ContainerPrefix), dir
	}
}
