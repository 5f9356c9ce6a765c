package source

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/docker-layers/docker-layers/analyze"
)

// ContainerClient is the part of the Docker engine API that containers are read with,
// beside DaemonClient for images; the moby client satisfies it, and tests fake it.
// Every call only reads.
type ContainerClient interface {
	ContainerInspect(ctx context.Context, containerID string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerDiff(ctx context.Context, containerID string, options client.ContainerDiffOptions) (client.ContainerDiffResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerStatPath(ctx context.Context, containerID string, options client.ContainerStatPathOptions) (client.ContainerStatPathResult, error)
	DiskUsage(ctx context.Context, options client.DiskUsageOptions) (client.DiskUsageResult, error)
	DaemonHost() string
}

// ContainerPrefix marks a reference to a container rather than an image:
// container:NAME or container:ID.
const ContainerPrefix = "container:"

// maxMeasured caps how many changed paths are measured, one engine request each; the
// rest stay unknown and the warnings say how many.
const maxMeasured = 20000

// statWorkers bounds the engine requests measuring changed paths at once.
const statWorkers = 8

// containerName matches what the engine accepts as a container name or ID prefix; a
// reference that is not one (it has a tag, a registry, a transport) is never looked up
// as a container.
var containerName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Resolution is what a reference given to inspect names.
type Resolution struct {
	// Container is the container's name or ID as given, when the reference names a
	// container; empty for an image.
	Container string
	// Note, when set, is one line for the user: the name is both an image and a
	// container, and which one was taken.
	Note string
}

// ResolveContainer decides whether ref names a container. container:NAME always does
// (an error if there is no such container); a transport prefix never does. A bare name
// or ID is an image when the engine has such an image — `docker layers inspect redis`
// keeps meaning the image even next to a container started with `--name redis redis`
// — and a container otherwise; when it is both, Note says so. The engine is asked only
// for a reference that could be a container, and errors while looking for one leave
// the reference to the image path, which reports them.
func ResolveContainer(ctx context.Context, ref string, opts Options) (Resolution, error) {
	name, explicit := strings.CutPrefix(ref, ContainerPrefix)
	switch {
	case explicit && name == "":
		return Resolution{}, usageErrorf("%q: container needs a name or ID: container:NAME", ref)
	case !explicit && !containerName.MatchString(ref):
		return Resolution{}, nil
	case opts.Containers == nil:
		if explicit {
			return Resolution{}, usageErrorf("%s: no Docker engine is configured to read containers from", ref)
		}
		return Resolution{}, nil
	}
	containers, err := opts.Containers()
	if err != nil {
		if explicit {
			return Resolution{}, fmt.Errorf("%s: connecting to the Docker engine: %w", ref, err)
		}
		return Resolution{}, nil
	}
	if _, err := containers.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil {
		if explicit {
			return Resolution{}, containerError(containers, ref, err)
		}
		return Resolution{}, ctxErr(err)
	}
	if explicit || opts.Daemon == nil {
		return Resolution{Container: name}, nil
	}
	images, err := opts.Daemon()
	if err != nil {
		return Resolution{Container: name}, nil
	}
	_, err = images.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return Resolution{Note: fmt.Sprintf("%s names both an image and a container; showing the image (%s%s shows the container)", ref, ContainerPrefix, ref)}, nil
	case ctxErr(err) != nil:
		return Resolution{}, ctxErr(err)
	case !cerrdefs.IsNotFound(err):
		return Resolution{}, daemonError(images, ref, err)
	}
	return Resolution{Container: name}, nil
}

// ContainerData is what the container analysis reads from the engine.
type ContainerData struct {
	Container analyze.Container
	// Others are the engine's other containers, listed only when this one mounts a
	// volume (who else mounts it).
	Others []analyze.ContainerRef
	// VolumeSizes are the sizes of this container's volumes (uncompressed bytes, as
	// `docker system df -v` reports them), asked for only when a volume may be warned
	// about: an anonymous one, or one another container mounts too.
	VolumeSizes map[string]int64
}

// ReadContainer reads a container: inspect with sizes (what `docker ps -s` shows), its
// filesystem changes (what `docker diff` shows), the sizes of the changed files that
// the analysis needs (one stat each, as `docker cp` does), and, when it mounts volumes,
// who else mounts them and how big they are. Nothing is written and no layer is read.
func ReadContainer(ctx context.Context, c ContainerClient, name string, o analyze.ContainerOptions) (*ContainerData, error) {
	where := ContainerPrefix + name
	ins, err := c.ContainerInspect(ctx, name, client.ContainerInspectOptions{Size: true})
	if err != nil {
		return nil, containerError(c, where, err)
	}
	d := &ContainerData{Container: fromInspect(ins.Container)}
	ct := &d.Container

	diff, err := c.ContainerDiff(ctx, ct.ID, client.ContainerDiffOptions{})
	if err != nil {
		return nil, containerError(c, where, err)
	}
	ct.Changes = fromDiff(diff.Changes)
	ct.MarkDirs()
	if err := measureChanges(ctx, c, ct, analyze.ChangesToMeasure(*ct, o)); err != nil {
		return nil, containerError(c, where, err)
	}

	if !hasVolume(ct.Mounts) {
		return d, nil
	}
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, containerError(c, where, err)
	}
	for _, s := range list.Items {
		if s.ID != ct.ID {
			d.Others = append(d.Others, refFromSummary(s))
		}
	}
	if wanted := volumesToSize(ct.Mounts, d.Others); len(wanted) > 0 {
		du, err := c.DiskUsage(ctx, client.DiskUsageOptions{Volumes: true, Verbose: true})
		if err != nil {
			return nil, containerError(c, where, err)
		}
		d.VolumeSizes = map[string]int64{}
		for _, v := range du.Volumes.Items {
			if wanted[v.Name] && v.UsageData != nil && v.UsageData.Size >= 0 {
				d.VolumeSizes[v.Name] = v.UsageData.Size
			}
		}
	}
	return d, nil
}

// ListContainers lists the engine's containers, stopped ones too, with their writable
// layers' sizes (`docker ps -a -s`).
func ListContainers(ctx context.Context, c ContainerClient) ([]analyze.Container, error) {
	const where = "listing containers"
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Size: true})
	if err != nil {
		return nil, containerError(c, where, err)
	}
	out := make([]analyze.Container, 0, len(list.Items))
	for _, s := range list.Items {
		r := refFromSummary(s)
		out = append(out, analyze.Container{
			ID: s.ID, Name: r.Name, Image: s.Image, ImageID: s.ImageID, State: string(s.State),
			SizeRw: s.SizeRw, SizeRootFs: s.SizeRootFs, Mounts: r.Mounts,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func fromInspect(in container.InspectResponse) analyze.Container {
	c := analyze.Container{
		ID:         in.ID,
		Name:       strings.TrimPrefix(in.Name, "/"),
		ImageID:    in.Image,
		SizeRw:     analyze.Unknown,
		SizeRootFs: analyze.Unknown,
		Mounts:     fromMountPoints(in.Mounts),
	}
	if in.Config != nil {
		c.Image = in.Config.Image
	}
	if in.State != nil {
		c.State = string(in.State.Status)
	}
	if in.SizeRw != nil {
		c.SizeRw = *in.SizeRw
	}
	if in.SizeRootFs != nil {
		c.SizeRootFs = *in.SizeRootFs
	}
	return c
}

func refFromSummary(s container.Summary) analyze.ContainerRef {
	name := s.ID
	if len(s.Names) > 0 {
		name = strings.TrimPrefix(s.Names[0], "/")
	}
	return analyze.ContainerRef{ID: s.ID, Name: name, Image: s.Image, Mounts: fromMountPoints(s.Mounts)}
}

// anonymousVolume matches the names the engine gives the volumes it creates itself
// (64 hex digits, like IDs); a user naming a volume so is taken for anonymous too.
var anonymousVolume = regexp.MustCompile(`^[0-9a-f]{64}$`)

func fromMountPoints(mps []container.MountPoint) []analyze.Mount {
	var out []analyze.Mount
	for _, mp := range mps {
		m := analyze.Mount{
			Type: string(mp.Type), Name: mp.Name, Source: mp.Source,
			Destination: mp.Destination, ReadWrite: mp.RW,
		}
		m.Anonymous = m.Type == "volume" && anonymousVolume.MatchString(m.Name)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

func fromDiff(fcs []container.FilesystemChange) []analyze.Change {
	out := make([]analyze.Change, 0, len(fcs))
	for _, fc := range fcs {
		ch := analyze.Change{Path: fc.Path, Size: analyze.Unknown}
		switch fc.Kind {
		case container.ChangeAdd:
			ch.Kind = analyze.ChangeAdded
		case container.ChangeModify:
			ch.Kind = analyze.ChangeModified
		default:
			ch.Kind, ch.Size = analyze.ChangeDeleted, 0
		}
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// measureChanges stats the changed paths at want, a few at a time; past maxMeasured
// the rest stay unknown. A path gone since the diff (a running container) is 0 bytes.
func measureChanges(ctx context.Context, c ContainerClient, ct *analyze.Container, want []int) error {
	if len(want) > maxMeasured {
		want = want[:maxMeasured]
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(statWorkers, len(want)) {
		wg.Go(func() {
			for i := range next {
				ch := &ct.Changes[i]
				st, err := c.ContainerStatPath(ctx, ct.ID, client.ContainerStatPathOptions{Path: ch.Path})
				switch {
				case err == nil && st.Stat.Mode.IsDir():
					ch.Dir, ch.Size = true, 0
				case err == nil:
					ch.Size = st.Stat.Size
				case cerrdefs.IsNotFound(err) && ctx.Err() == nil:
					ch.Size = 0
				default:
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("measuring %s: %w", ch.Path, err)
					}
					mu.Unlock()
					cancel()
				}
			}
		})
	}
feed:
	for _, i := range want {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func hasVolume(ms []analyze.Mount) bool {
	for _, m := range ms {
		if m.Type == "volume" && m.Name != "" {
			return true
		}
	}
	return false
}

// volumesToSize names the volumes that a warning may be about: anonymous ones, and
// ones another container mounts too.
func volumesToSize(ms []analyze.Mount, others []analyze.ContainerRef) map[string]bool {
	shared := map[string]bool{}
	for _, o := range others {
		for _, m := range o.Mounts {
			if m.Type == "volume" {
				shared[m.Name] = true
			}
		}
	}
	want := map[string]bool{}
	for _, m := range ms {
		if m.Type == "volume" && m.Name != "" && (m.Anonymous || shared[m.Name]) {
			want[m.Name] = true
		}
	}
	return want
}

// containerError turns an engine API error about a container into one line saying what
// to do.
func containerError(c ContainerClient, where string, err error) error {
	host := c.DaemonHost()
	if cerrdefs.IsNotFound(err) && ctxErr(err) == nil {
		return notFoundf("%s: no such container in the Docker engine at %s (docker ps -a lists them)", where, host)
	}
	return engineError(host, where, err)
}
