package source

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/docker-layers/docker-layers/analyze"
)

// fakeContainers answers the engine's container API as dockerd 20.10 would for the
// containers it holds.
type fakeContainers struct {
	containers []container.InspectResponse
	changes    map[string][]container.FilesystemChange // by container ID
	files      map[string]container.PathStat           // "ID:path" → stat
	volumes    []volume.Volume

	mu       sync.Mutex
	stats    []string // paths stat'ed
	sized    []bool   // the Size option of each inspect
	listed   []client.ContainerListOptions
	diskUsed int
}

func (f *fakeContainers) find(ref string) (container.InspectResponse, bool) {
	for _, c := range f.containers {
		if c.ID == ref || c.Name == "/"+ref || (len(ref) >= 4 && strings.HasPrefix(c.ID, ref)) {
			return c, true
		}
	}
	return container.InspectResponse{}, false
}

func (f *fakeContainers) ContainerInspect(_ context.Context, ref string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	f.sized = append(f.sized, o.Size)
	f.mu.Unlock()
	c, ok := f.find(ref)
	if !ok {
		return client.ContainerInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	if !o.Size {
		c.SizeRw, c.SizeRootFs = nil, nil
	}
	return client.ContainerInspectResult{Container: c}, nil
}

func (f *fakeContainers) ContainerDiff(_ context.Context, id string, _ client.ContainerDiffOptions) (client.ContainerDiffResult, error) {
	if _, ok := f.find(id); !ok {
		return client.ContainerDiffResult{}, cerrdefs.ErrNotFound
	}
	return client.ContainerDiffResult{Changes: f.changes[id]}, nil
}

func (f *fakeContainers) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	f.listed = append(f.listed, o)
	f.mu.Unlock()
	var res client.ContainerListResult
	for _, c := range f.containers {
		s := container.Summary{ID: c.ID, Names: []string{c.Name}, Image: c.Config.Image, ImageID: c.Image, Mounts: c.Mounts}
		if c.State != nil {
			s.State = c.State.Status
		}
		if o.Size && c.SizeRw != nil {
			s.SizeRw, s.SizeRootFs = *c.SizeRw, *c.SizeRootFs
		}
		res.Items = append(res.Items, s)
	}
	return res, nil
}

func (f *fakeContainers) ContainerStatPath(_ context.Context, id string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	f.mu.Lock()
	f.stats = append(f.stats, o.Path)
	f.mu.Unlock()
	st, ok := f.files[id+":"+o.Path]
	if !ok {
		return client.ContainerStatPathResult{}, cerrdefs.ErrNotFound
	}
	return client.ContainerStatPathResult{Stat: st}, nil
}

func (f *fakeContainers) DiskUsage(context.Context, client.DiskUsageOptions) (client.DiskUsageResult, error) {
	f.diskUsed++
	return client.DiskUsageResult{Volumes: client.VolumesDiskUsage{Items: f.volumes}}, nil
}

func (f *fakeContainers) DaemonHost() string { return "unix:///fake/docker.sock" }

func ptr(n int64) *int64 { return &n }

const anonVolume = "3c0cbbd2a2bd4b4b3e6f3a1b0c4ab3d5e1c4f1b7f0e1d2c3b4a5968778695a4b"

// twoContainers is the end-to-end suite's pair as the engine describes them: "dbfile"
// writes a MongoDB file outside any volume, "withvol" runs an image that declares
// VOLUME /var/lib/app and so gets an anonymous volume.
func twoContainers() *fakeContainers {
	return &fakeContainers{
		containers: []container.InspectResponse{
			{
				ID: "aaaa1111", Name: "/dbfile", Image: "sha256:1111", State: &container.State{Status: container.StateExited},
				Config: &container.Config{Image: "e2e/busybox:latest"}, SizeRw: ptr(1048596), SizeRootFs: ptr(2000000),
			},
			{
				ID: "bbbb2222", Name: "/withvol", Image: "sha256:2222", State: &container.State{Status: container.StateRunning},
				Config: &container.Config{Image: "e2e/vol:latest"}, SizeRw: ptr(0), SizeRootFs: ptr(900000),
				Mounts: []container.MountPoint{{Type: mount.TypeVolume, Name: anonVolume, Source: "/var/lib/docker/volumes/" + anonVolume + "/_data", Destination: "/var/lib/app", Driver: "local", RW: true}},
			},
		},
		changes: map[string][]container.FilesystemChange{
			"aaaa1111": {
				{Kind: container.ChangeAdd, Path: "/data"},
				{Kind: container.ChangeAdd, Path: "/data/db"},
				{Kind: container.ChangeAdd, Path: "/data/db/collection-0.wt"},
				{Kind: container.ChangeAdd, Path: "/data/db/mongod.lock"},
				{Kind: container.ChangeModify, Path: "/root"},
				{Kind: container.ChangeAdd, Path: "/root/.ash_history"},
				{Kind: container.ChangeDelete, Path: "/etc/e2e-release"},
			},
			"bbbb2222": {
				{Kind: container.ChangeModify, Path: "/var"},
				{Kind: container.ChangeModify, Path: "/var/lib"},
				{Kind: container.ChangeAdd, Path: "/var/lib/app"},
			},
		},
		files: map[string]container.PathStat{
			"aaaa1111:/data/db/collection-0.wt": {Name: "collection-0.wt", Size: 1 << 20, Mode: 0o644},
			"aaaa1111:/data/db/mongod.lock":     {Name: "mongod.lock", Size: 0, Mode: 0o600},
			"aaaa1111:/root/.ash_history":       {Name: ".ash_history", Size: 20, Mode: 0o600},
		},
		volumes: []volume.Volume{{Name: anonVolume, UsageData: &volume.UsageData{Size: 4096, RefCount: 1}}},
	}
}

func TestReadContainerDatabaseFile(t *testing.T) {
	f := twoContainers()
	d, err := ReadContainer(context.Background(), f, "dbfile", analyze.ContainerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Container
	if c.ID != "aaaa1111" || c.Name != "dbfile" || c.Image != "e2e/busybox:latest" || c.ImageID != "sha256:1111" || c.State != "exited" || c.SizeRw != 1048596 || c.SizeRootFs != 2000000 {
		t.Errorf("container %+v", c)
	}
	if !reflect.DeepEqual(f.sized, []bool{true}) {
		t.Errorf("inspect sizes %v: want one inspect with sizes", f.sized)
	}
	// Only the files the warnings need are measured: the database's.
	sort.Strings(f.stats)
	if want := []string{"/data/db/collection-0.wt", "/data/db/mongod.lock"}; !reflect.DeepEqual(f.stats, want) {
		t.Errorf("measured %v, want %v", f.stats, want)
	}
	if len(f.listed) != 0 || f.diskUsed != 0 {
		t.Errorf("no volumes, yet listed %d times and asked for disk usage %d times", len(f.listed), f.diskUsed)
	}
	r := analyze.InspectContainer(c, nil, d.Others, d.VolumeSizes, analyze.ContainerOptions{})
	if len(r.Warnings) != 1 || r.Warnings[0].Kind != analyze.WarnDatabaseInLayer || r.Warnings[0].Path != "/data/db" || r.Warnings[0].Bytes != 1<<20 {
		t.Errorf("warnings %+v", r.Warnings)
	}
}

func TestReadContainerAllSizes(t *testing.T) {
	f := twoContainers()
	d, err := ReadContainer(context.Background(), f, "aaaa", analyze.ContainerOptions{AllSizes: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range d.Container.Changes {
		got = append(got, string(ch.Kind)+" "+ch.Path+" "+strconv.FormatInt(ch.Size, 10))
	}
	want := []string{
		"A /data 0", "A /data/db 0", "A /data/db/collection-0.wt 1048576", "A /data/db/mongod.lock 0",
		"D /etc/e2e-release 0", "C /root 0", "A /root/.ash_history 20",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes\n%v\nwant\n%v", got, want)
	}
}

func TestReadContainerAnonymousVolume(t *testing.T) {
	f := twoContainers()
	d, err := ReadContainer(context.Background(), f, "withvol", analyze.ContainerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Container.Mounts
	if len(m) != 1 || !m[0].Anonymous || m[0].Type != "volume" || m[0].Destination != "/var/lib/app" || !m[0].ReadWrite {
		t.Errorf("mounts %+v", m)
	}
	if len(f.stats) != 0 {
		t.Errorf("measured %v; the mount point is a directory, nothing else changed", f.stats)
	}
	if len(d.Others) != 1 || d.Others[0].Name != "dbfile" {
		t.Errorf("others %+v", d.Others)
	}
	if !reflect.DeepEqual(d.VolumeSizes, map[string]int64{anonVolume: 4096}) {
		t.Errorf("volume sizes %v", d.VolumeSizes)
	}
	r := analyze.InspectContainer(d.Container, []string{"/var/lib/app"}, d.Others, d.VolumeSizes, analyze.ContainerOptions{})
	if len(r.Warnings) != 1 || r.Warnings[0].Kind != analyze.WarnAnonymousVolume || r.Warnings[0].Bytes != 4096 {
		t.Errorf("warnings %+v", r.Warnings)
	}
}

func TestReadContainerStatErrors(t *testing.T) {
	f := twoContainers()
	// A file deleted between the diff and the stat (a running database) weighs nothing.
	delete(f.files, "aaaa1111:/data/db/collection-0.wt")
	d, err := ReadContainer(context.Background(), f, "dbfile", analyze.ContainerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range d.Container.Changes {
		if ch.Path == "/data/db/collection-0.wt" && ch.Size != 0 {
			t.Errorf("vanished file size %d", ch.Size)
		}
	}
	// A stat that fails otherwise fails the read, naming the path.
	e := &statFailing{fakeContainers: twoContainers()}
	_, err = ReadContainer(context.Background(), e, "dbfile", analyze.ContainerOptions{})
	if err == nil || !strings.Contains(err.Error(), "container:dbfile: ") || !strings.Contains(err.Error(), "measuring /data/db/") {
		t.Errorf("stat error: %v", err)
	}
}

type statFailing struct{ *fakeContainers }

func (statFailing) ContainerStatPath(context.Context, string, client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	return client.ContainerStatPathResult{}, errors.New("boom")
}

func TestReadContainerErrors(t *testing.T) {
	f := twoContainers()
	_, err := ReadContainer(context.Background(), f, "nope", analyze.ContainerOptions{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "container:nope: no such container") {
		t.Errorf("missing container: %v", err)
	}

	sock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	c, err := client.New(client.WithHost(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = ReadContainer(context.Background(), c, "db", analyze.ContainerOptions{})
	if err == nil || !strings.Contains(err.Error(), "container:db: cannot connect to the Docker engine at "+sock) {
		t.Errorf("no engine: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadContainer(ctx, c, "db", analyze.ContainerOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestListContainers(t *testing.T) {
	f := twoContainers()
	cs, err := ListContainers(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.listed) != 1 || !f.listed[0].All || !f.listed[0].Size {
		t.Errorf("list options %+v: want all containers with sizes", f.listed)
	}
	if len(cs) != 2 || cs[0].Name != "dbfile" || cs[0].SizeRw != 1048596 || cs[0].ImageID != "sha256:1111" || cs[1].Name != "withvol" || !cs[1].Mounts[0].Anonymous {
		t.Errorf("containers %+v", cs)
	}
}

// fakeImages answers ImageInspect for the image names it holds.
type fakeImages struct {
	DaemonClient
	names map[string]bool
}

func (f fakeImages) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if f.names[ref] {
		return client.ImageInspectResult{}, nil
	}
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound
}

func TestResolveContainer(t *testing.T) {
	f := twoContainers()
	images := fakeImages{names: map[string]bool{"withvol": true, "e2e/busybox:latest": true}}
	opts := Options{
		Containers: func() (ContainerClient, error) { return f, nil },
		Daemon:     func() (DaemonClient, error) { return images, nil },
	}
	for _, tc := range []struct {
		ref, container, note string
		err                  error
	}{
		{ref: "dbfile", container: "dbfile"},
		{ref: "aaaa1111", container: "aaaa1111"},
		{ref: "container:withvol", container: "withvol"},
		{ref: "withvol", note: "withvol names both an image and a container; showing the image (container:withvol shows the container)"},
		{ref: "e2e/busybox:latest"},
		{ref: "docker-daemon:dbfile"},
		{ref: "oci:dir:dbfile"},
		{ref: "nosuch"},
		{ref: "container:nosuch", err: ErrNotFound},
		{ref: "container:", err: ErrUsage},
	} {
		r, err := ResolveContainer(context.Background(), tc.ref, opts)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.ref, err, tc.err)
			}
			continue
		}
		if err != nil || r.Container != tc.container || r.Note != tc.note {
			t.Errorf("%s: %+v, %v; want container %q note %q", tc.ref, r, err, tc.container, tc.note)
		}
	}
	// Only references that could be containers reach the engine.
	asked := len(f.sized)
	for _, ref := range []string{"e2e/busybox:latest", "docker-daemon:dbfile", "oci:dir:dbfile", "docker://x/y"} {
		if _, err := ResolveContainer(context.Background(), ref, Options{}); err != nil {
			t.Errorf("%s without an engine: %v", ref, err)
		}
	}
	if len(f.sized) != asked {
		t.Errorf("image references asked the engine for containers")
	}
	if _, err := ResolveContainer(context.Background(), "container:db", Options{}); !errors.Is(err, ErrUsage) {
		t.Errorf("container: without an engine: %v", err)
	}
}

// cancelOnStat cancels the read at the first stat, as Ctrl-C would.
type cancelOnStat struct {
	*fakeContainers
	cancel context.CancelFunc
}

func (c cancelOnStat) ContainerStatPath(ctx context.Context, _ string, _ client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	c.cancel()
	<-ctx.Done()
	return client.ContainerStatPathResult{}, ctx.Err()
}

func TestReadContainerCancelled(t *testing.T) {
	f := twoContainers()
	for i := range 5000 {
		p := "/srv/file" + strconv.Itoa(i)
		f.changes["aaaa1111"] = append(f.changes["aaaa1111"], container.FilesystemChange{Kind: container.ChangeAdd, Path: p})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := ReadContainer(ctx, cancelOnStat{f, cancel}, "dbfile", analyze.ContainerOptions{AllSizes: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while measuring: %v", err)
	}
}
