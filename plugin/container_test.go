package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeEngine answers what inspect and shared ask a Docker engine 20.10 about two
// images and three containers; any other call panics (the embedded nil client).
type fakeEngine struct {
	client.APIClient
}

const (
	busyboxID = "sha256:58d21b801d443bd1d4d13ab8ee1c6e4b59b9bfc2e1b6a6d1e0f7b7e4c3d2a1b0"
	volID     = "sha256:1380af2892094c07ad0a71a4a5a8cf3a1c4f3d6e2b7a9c8d0e1f2a3b4c5d6e7f"
	layerDiff = "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	anonName  = "69edee503172076cdaae2b98e454f4c780c2518c0180bac9795ce20bbcc487ae"
)

func int64p(n int64) *int64 { return &n }

var fakeImages = map[string]struct {
	tags    []string
	volumes []string
	history []image.HistoryResponseItem // newest first, as the API sends them
}{
	busyboxID: {tags: []string{"e2e/busybox:latest"}, history: []image.HistoryResponseItem{
		{CreatedBy: "", Comment: "Imported from -", Size: 1982346, Created: 1700000000},
	}},
	volID: {tags: []string{"e2e/vol:latest"}, volumes: []string{"/var/lib/app"}, history: []image.HistoryResponseItem{
		{CreatedBy: "/bin/sh -c #(nop)  VOLUME [/var/lib/app]", Created: 1700000100},
		{CreatedBy: "", Comment: "Imported from -", Size: 1982346, Created: 1700000000},
	}},
}

var fakeContainerList = []container.InspectResponse{
	{
		ID: "b8ff58335f19c2d1a0e9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3", Name: "/e2e-dbfile", Image: busyboxID,
		State: &container.State{Status: container.StateExited}, Config: &container.Config{Image: "e2e/busybox:latest"},
		SizeRw: int64p(3145728), SizeRootFs: int64p(5128074),
	},
	{
		ID: "27a02a58d0ff1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978879a5b", Name: "/e2e-withvol", Image: volID,
		State: &container.State{Status: container.StateRunning}, Config: &container.Config{Image: "e2e/vol:latest"},
		SizeRw: int64p(0), SizeRootFs: int64p(1982346),
		Mounts: []container.MountPoint{{Type: mount.TypeVolume, Name: anonName, Source: "/var/lib/docker/volumes/" + anonName + "/_data", Destination: "/var/lib/app", Driver: "local", RW: true}},
	},
	{
		ID: "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b", Name: "/e2e-idle", Image: busyboxID,
		State: &container.State{Status: container.StateCreated}, Config: &container.Config{Image: "e2e/busybox"},
		SizeRw: int64p(0), SizeRootFs: int64p(1982346),
	},
}

var fakeChanges = map[string][]container.FilesystemChange{
	"e2e-dbfile": {
		{Kind: container.ChangeAdd, Path: "/data"},
		{Kind: container.ChangeAdd, Path: "/data/db"},
		{Kind: container.ChangeAdd, Path: "/data/db/collection-0.wt"},
		{Kind: container.ChangeAdd, Path: "/srv"},
		{Kind: container.ChangeAdd, Path: "/srv/cache"},
		{Kind: container.ChangeAdd, Path: "/srv/cache/blob"},
		{Kind: container.ChangeDelete, Path: "/etc/e2e-release"},
	},
	"e2e-withvol": {
		{Kind: container.ChangeModify, Path: "/var"},
		{Kind: container.ChangeModify, Path: "/var/lib"},
		{Kind: container.ChangeAdd, Path: "/var/lib/app"},
	},
}

var fakeFileSizes = map[string]int64{"/data/db/collection-0.wt": 1 << 20, "/srv/cache/blob": 2 << 20}

func (fakeEngine) DaemonHost() string { return "unix:///fake/docker.sock" }

func (fakeEngine) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	return client.PingResult{APIVersion: "1.41", OSType: "linux"}, nil
}

func (fakeEngine) findImage(ref string) (string, bool) {
	for id, im := range fakeImages {
		if ref == id {
			return id, true
		}
		for _, tag := range im.tags {
			if ref == tag || ref+":latest" == tag {
				return id, true
			}
		}
	}
	return "", false
}

func (e fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	id, ok := e.findImage(ref)
	if !ok {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
	}
	im := fakeImages[id]
	cfg := &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Volumes: map[string]struct{}{}}}
	for _, v := range im.volumes {
		cfg.Volumes[v] = struct{}{}
	}
	// The classic store's image size is its layers' sizes added up.
	var size int64
	for _, h := range im.history {
		size += h.Size
	}
	return client.ImageInspectResult{InspectResponse: image.InspectResponse{
		ID: id, RepoTags: im.tags, Created: "2023-11-14T22:13:20Z", Architecture: "amd64", Os: "linux",
		Config: cfg, RootFS: image.RootFS{Type: "layers", Layers: []string{layerDiff}}, Size: size,
	}}, nil
}

func (e fakeEngine) ImageHistory(_ context.Context, ref string, _ ...client.ImageHistoryOption) (client.ImageHistoryResult, error) {
	id, ok := e.findImage(ref)
	if !ok {
		return client.ImageHistoryResult{}, cerrdefs.ErrNotFound
	}
	return client.ImageHistoryResult{Items: fakeImages[id].history}, nil
}

func (fakeEngine) ImageList(context.Context, client.ImageListOptions) (client.ImageListResult, error) {
	var res client.ImageListResult
	for id, im := range fakeImages {
		res.Items = append(res.Items, image.Summary{ID: id, RepoTags: im.tags})
	}
	return res, nil
}

func (fakeEngine) findContainer(ref string) (container.InspectResponse, bool) {
	for _, c := range fakeContainerList {
		if c.ID == ref || c.Name == "/"+ref || (len(ref) >= 4 && strings.HasPrefix(c.ID, ref)) {
			return c, true
		}
	}
	return container.InspectResponse{}, false
}

func (e fakeEngine) ContainerInspect(_ context.Context, ref string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	c, ok := e.findContainer(ref)
	if !ok {
		return client.ContainerInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	if !o.Size {
		c.SizeRw, c.SizeRootFs = nil, nil
	}
	return client.ContainerInspectResult{Container: c}, nil
}

func (e fakeEngine) ContainerDiff(_ context.Context, ref string, _ client.ContainerDiffOptions) (client.ContainerDiffResult, error) {
	c, ok := e.findContainer(ref)
	if !ok {
		return client.ContainerDiffResult{}, cerrdefs.ErrNotFound
	}
	return client.ContainerDiffResult{Changes: fakeChanges[strings.TrimPrefix(c.Name, "/")]}, nil
}

func (fakeEngine) ContainerStatPath(_ context.Context, _ string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	n, ok := fakeFileSizes[o.Path]
	if !ok {
		return client.ContainerStatPathResult{}, cerrdefs.ErrNotFound
	}
	return client.ContainerStatPathResult{Stat: container.PathStat{Size: n, Mode: 0o644}}, nil
}

func (fakeEngine) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	var res client.ContainerListResult
	for _, c := range fakeContainerList {
		s := container.Summary{ID: c.ID, Names: []string{c.Name}, Image: c.Config.Image, ImageID: c.Image, State: c.State.Status, Mounts: c.Mounts}
		if o.Size {
			s.SizeRw, s.SizeRootFs = *c.SizeRw, *c.SizeRootFs
		}
		res.Items = append(res.Items, s)
	}
	return res, nil
}

func (fakeEngine) DiskUsage(context.Context, client.DiskUsageOptions) (client.DiskUsageResult, error) {
	return client.DiskUsageResult{Volumes: client.VolumesDiskUsage{Items: []volume.Volume{
		{Name: anonName, UsageData: &volume.UsageData{Size: 6, RefCount: 1}},
	}}}, nil
}

// runCLIEngine runs the command tree against the fake engine.
func runCLIEngine(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut), command.WithAPIClient(fakeEngine{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("DOCKER_HOST", "unix:///fake/docker.sock")
	if err := dockerCli.Initialize(flags.NewClientOptions()); err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(&env{dockerCli: dockerCli, now: func() time.Time { return testNow }}, "docker-layers")
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	code = exitCode(dockerCli, err)
	return out.String(), errOut.String(), code
}

func TestInspectContainerGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inspect-container-dbfile", []string{"inspect", "--files", "--rw-threshold", "1MB", "e2e-dbfile"}},
		{"inspect-container-withvol", []string{"inspect", "container:e2e-withvol"}},
		{"inspect-container-bytes", []string{"inspect", "--human=false", "--files", "--rw-threshold", "1MB", "e2e-dbfile"}},
		{"inspect-container-json", []string{"inspect", "--format", "json", "--files", "--rw-threshold", "1MB", "container:e2e-dbfile", "e2e-withvol"}},
		{"inspect-container-template", []string{"inspect", "--format", "table {{.Container}}\\t{{.Index}}\\t{{.Size}}\\t{{.Instruction}}", "b8ff5833"}},
		{"shared-containers", []string{"shared", "--all", "--containers"}},
		{"shared-containers-json", []string{"shared", "--all", "--containers", "--format", "json"}},
		{"shared-containers-template", []string{"shared", "--all", "--containers", "--format", "{{.Image}} {{.Containers}} {{.WritableSize}} {{.WritableBytes}}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLIEngine(t, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			assertGolden(t, tc.name, out)
		})
	}
}

func TestInspectContainerJSONShape(t *testing.T) {
	out, _, code := runCLIEngine(t, "inspect", "--format", "json", "e2e-withvol", "e2e/busybox")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("%v: %s", err, out)
	}
	c, ok := got[0]["container"].(map[string]any)
	if !ok {
		t.Fatalf("no container in %v", got[0])
	}
	for _, key := range []string{"id", "name", "image", "imageID", "state", "sizeRw", "sizeRootFs", "mounts", "warnings"} {
		if _, ok := c[key]; !ok {
			t.Errorf("no %q in container %v", key, c)
		}
	}
	if _, ok := c["changes"]; ok {
		t.Errorf("changes without --files")
	}
	m := c["mounts"].([]any)[0].(map[string]any)
	for _, key := range []string{"type", "name", "source", "destination", "anonymous"} {
		if _, ok := m[key]; !ok {
			t.Errorf("no %q in mount %v", key, m)
		}
	}
	w := c["warnings"].([]any)[0].(map[string]any)
	for _, key := range []string{"kind", "path", "bytes", "message"} {
		if _, ok := w[key]; !ok {
			t.Errorf("no %q in warning %v", key, w)
		}
	}
	if _, ok := got[1]["container"]; ok {
		t.Errorf("an image has a container: %v", got[1])
	}
}

func TestInspectContainerNames(t *testing.T) {
	// e2e/busybox is an image and no container: no note.
	if _, errOut, code := runCLIEngine(t, "inspect", "e2e/busybox"); code != 0 || errOut != "" {
		t.Errorf("image: exit %d, %q", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"inspect", "container:nope"}, ExitImage, "docker-layers inspect: container:nope: no such container in the Docker engine at unix:///fake/docker.sock (docker ps -a lists them)"},
		{[]string{"inspect", "container:"}, ExitUsage, `"container:": container needs a name or ID`},
		{[]string{"inspect", "--rw-threshold", "lots", "e2e-dbfile"}, ExitUsage, `invalid --rw-threshold "lots"`},
		{[]string{"shared", "--containers", "e2e/busybox"}, ExitUsage, "--containers need --all"},
	} {
		out, errOut, code := runCLIEngine(t, tc.args...)
		if code != tc.code || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.msg)
		}
	}
}

func TestInspectCompletesContainers(t *testing.T) {
	out, _, _ := runCLIEngine(t, "__complete", "inspect", "")
	if !strings.Contains(out, "\ncontainer:\n") || !strings.Contains(out, "e2e/busybox:latest") {
		t.Errorf("images and container: not offered: %q", out)
	}
	out, _, _ = runCLIEngine(t, "__complete", "inspect", "container:")
	for _, want := range []string{"container:e2e-dbfile", "container:e2e-withvol", "container:e2e-idle"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q offered: %q", want, out)
		}
	}
}
