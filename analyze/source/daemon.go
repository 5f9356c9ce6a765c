package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// DaemonClient is the part of the Docker engine API the daemon source uses; the moby
// client (what `dockerCli.Client()` returns) satisfies it, and tests fake it.
type DaemonClient interface {
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageHistory(ctx context.Context, imageID string, opts ...client.ImageHistoryOption) (client.ImageHistoryResult, error)
	ImageSave(ctx context.Context, imageIDs []string, opts ...client.ImageSaveOption) (client.ImageSaveResult, error)
	ImageList(ctx context.Context, opts client.ImageListOptions) (client.ImageListResult, error)
	ServerVersion(ctx context.Context, opts client.ServerVersionOptions) (client.ServerVersionResult, error)
	DaemonHost() string
}

// openDaemon opens NAME[:TAG|@DIGEST] or an image ID in the local engine.
//
// The fast path asks only for image inspect and history, which is what `docker history`
// asks for. It applies when the history tells without doubt which steps made a layer
// (see emptyFromSizes); otherwise the image config is read from an export, skipping
// layer bytes, and the config's empty_layer flags decide.
func openDaemon(ctx context.Context, r Ref, opts Options) (*Image, error) {
	where := r.Path
	if where == "" {
		return nil, usageErrorf("docker-daemon: needs an image: docker-daemon:NAME[:TAG|@DIGEST] or an image ID")
	}
	if opts.Daemon == nil {
		return nil, usageErrorf("%s: no Docker engine is configured to read local images from", where)
	}
	c, err := opts.Daemon()
	if err != nil {
		return nil, fmt.Errorf("%s: connecting to the Docker engine: %w", where, err)
	}
	var inspectOpts []client.ImageInspectOption
	if opts.Platform != nil {
		inspectOpts = append(inspectOpts, client.ImageInspectWithPlatform(&ocispec.Platform{
			OS: opts.Platform.OS, Architecture: opts.Platform.Architecture, Variant: opts.Platform.Variant,
		}))
	}
	ins, err := c.ImageInspect(ctx, r.Path, inspectOpts...)
	if err != nil {
		return nil, daemonError(c, where, err)
	}
	d := &daemonImage{client: c, id: ins.ID, where: where, progress: opts.Progress}
	var img *Image
	switch {
	case onContainerdStore(ins.InspectResponse):
		// The export's config holds the history: the history API has nothing to add.
		if ins.Os != "" && ins.Architecture != "" {
			d.platform = &v1.Platform{OS: ins.Os, Architecture: ins.Architecture, Variant: ins.Variant}
			// Exports of one platform came with the descriptor, in API 1.48.
			d.savePlatform = ins.Descriptor != nil
		}
		img, err = d.fromContainerdStore(ctx, ins.InspectResponse)
	case opts.deferHistory:
		img, err = d.fromInspect(ins.InspectResponse)
	default:
		var hist client.ImageHistoryResult
		if hist, err = c.ImageHistory(ctx, ins.ID); err != nil {
			return nil, daemonError(c, where, err)
		}
		img, err = d.fromAPI(ctx, ins.InspectResponse, hist.Items)
	}
	if err != nil {
		return nil, err
	}
	img.EngineID = ins.ID
	img.scanner = d
	return img, nil
}

// diffIDsOf parses the layer diffIDs the engine reports for an image.
func (d *daemonImage) diffIDsOf(ins image.InspectResponse) ([]v1.Hash, error) {
	var out []v1.Hash
	for _, s := range ins.RootFS.Layers {
		h, err := v1.NewHash(s)
		if err != nil {
			return nil, fmt.Errorf("%s: the engine reports a bad layer diffID %q: %w", d.where, s, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// onContainerdStore tells the containerd image store from the classic one: only it
// describes an image by its OCI descriptor (API 1.48+); below that API version, its
// storage driver is a snapshotter, whose names no classic graph driver has.
func onContainerdStore(ins image.InspectResponse) bool {
	if ins.Descriptor != nil {
		return true
	}
	if ins.GraphDriver != nil {
		switch ins.GraphDriver.Name {
		case "overlayfs", "native", "stargz", "nydus", "erofs":
			return true
		}
	}
	return false
}

// daemonImage reads one engine image's export when its config or contents are needed.
type daemonImage struct {
	client  DaemonClient
	id      string
	where   string
	diffIDs []v1.Hash
	// blobs are the digests of the layers' blobs as the export holds them, when the
	// export's manifest names them (the containerd image store): a scan then opens only
	// the blobs of the layers it wants.
	blobs    []v1.Hash
	progress func(Progress)
	// platform is set on the containerd image store, where an export may hold an index
	// of several platforms: the one the engine's inspect answered for. savePlatform asks
	// the engine to export that platform only.
	platform     *v1.Platform
	savePlatform bool
}

// fromContainerdStore builds the image from the export's config and manifest. The
// containerd image store's IDs are index or manifest digests, and its history sizes
// are snapshot disk use — per layer with overlayfs, but in 4 KiB blocks with
// directories counted, and cumulative with the native snapshotter — so neither the ID
// nor the sizes are our figures. Its export holds what is: the config (its digest is
// the ID) and the manifest (compressed layer digests and sizes). Uncompressed sizes
// stay unknown until the layers are measured, as for an archive.
func (d *daemonImage) fromContainerdStore(ctx context.Context, ins image.InspectResponse) (*Image, error) {
	var err error
	if d.diffIDs, err = d.diffIDsOf(ins); err != nil {
		return nil, err
	}
	exp, cfg, err := d.readExport(ctx)
	if err != nil {
		return nil, err
	}
	if fmt.Sprint(cfg.RootFS.DiffIDs) != fmt.Sprint(d.diffIDs) {
		return nil, fmt.Errorf("%s: the engine's export holds another image than it inspects (layers differ)", d.where)
	}
	id, _, _ := v1.SHA256(bytes.NewReader(exp.config))
	img := &Image{
		Image:            analyze.Image{ID: id.String(), Config: cfg},
		Transport:        TransportDaemon,
		LayersCompressed: len(d.diffIDs) > 0,
	}
	blobs := manifestLayers(exp.manifest, len(d.diffIDs))
	for _, b := range blobs {
		d.blobs = append(d.blobs, b.Digest)
	}
	for i, diffID := range d.diffIDs {
		l := analyze.Layer{DiffID: diffID, Size: analyze.Unknown, CompressedSize: analyze.Unknown}
		if blobs != nil && compressedMediaType(blobs[i].MediaType) {
			l.Digest, l.CompressedSize = blobs[i].Digest, blobs[i].Size
		} else {
			img.LayersCompressed = false
		}
		img.Layers = append(img.Layers, l)
	}
	return img, nil
}

// manifestLayers returns the layer descriptors of a raw image manifest, or nil when
// there is none or it does not list n layers.
func manifestLayers(raw []byte, n int) []v1.Descriptor {
	if raw == nil {
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil || len(m.Layers) != n {
		return nil
	}
	return m.Layers
}

// compressedMediaType is true for a gzip or zstd layer blob, in Docker's or OCI's media
// types; a plain tar blob is the uncompressed layer itself.
func compressedMediaType(mt types.MediaType) bool {
	s := string(mt)
	return strings.HasSuffix(s, "gzip") || strings.HasSuffix(s, "zstd")
}

// fromAPI builds the image from inspect and history (newest first, as the API sends it).
func (d *daemonImage) fromAPI(ctx context.Context, ins image.InspectResponse, items []image.HistoryResponseItem) (*Image, error) {
	var err error
	if d.diffIDs, err = d.diffIDsOf(ins); err != nil {
		return nil, err
	}
	// Oldest first, as in the config.
	hist := make([]image.HistoryResponseItem, len(items))
	for i, it := range items {
		hist[len(items)-1-i] = it
	}
	img := &Image{
		Image:     analyze.Image{ID: ins.ID},
		Transport: TransportDaemon,
	}
	for _, diffID := range d.diffIDs {
		img.Layers = append(img.Layers, analyze.Layer{DiffID: diffID, Size: analyze.Unknown, CompressedSize: analyze.Unknown})
	}

	if empty, ok := emptyFromSizes(hist, len(d.diffIDs)); ok {
		cfg, err := synthesizeConfig(ins, hist, empty)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.where, err)
		}
		img.Config = cfg
		applyHistorySizes(img.Layers, hist, empty)
		return img, nil
	}

	// Some zero-sized steps may or may not have made a layer: only the config knows.
	_, cfg, err := d.readExport(ctx)
	if err != nil {
		return nil, err
	}
	img.Config = cfg
	if len(cfg.History) == len(hist) {
		empty := make([]bool, len(hist))
		for i, h := range cfg.History {
			empty[i] = h.EmptyLayer
		}
		applyHistorySizes(img.Layers, hist, empty)
	}
	return img, nil
}

// emptyFromSizes decides from the history API alone which steps made no layer. A step
// with a size made a layer; a metadata instruction (ENV, CMD, LABEL…) never does,
// whichever builder ran it. That is certain enough only when the zero-sized steps left
// over are either all layers or none of them; otherwise ok is false.
func emptyFromSizes(hist []image.HistoryResponseItem, layers int) (empty []bool, ok bool) {
	empty = make([]bool, len(hist))
	sized := 0
	var open []int // zero-sized steps that may or may not have made a layer
	for i, h := range hist {
		switch {
		case h.Size > 0:
			sized++
		case metadataOnly(h.CreatedBy):
			empty[i] = true
		default:
			open = append(open, i)
		}
	}
	switch layers - sized {
	case 0:
		for _, i := range open {
			empty[i] = true
		}
		return empty, true
	case len(open):
		return empty, true
	}
	return nil, false
}

// metadataOnly is true for history text of an instruction that cannot change files.
func metadataOnly(createdBy string) bool {
	return analyze.MetadataOnly(analyze.Keyword(analyze.Instruction(createdBy)))
}

// applyHistorySizes gives each layer the size the engine reports for the step that made
// it: the engine's own figure, which is what `docker history` shows.
func applyHistorySizes(layers []analyze.Layer, hist []image.HistoryResponseItem, empty []bool) {
	next := 0
	for i, h := range hist {
		if empty[i] {
			continue
		}
		if next >= len(layers) {
			return
		}
		layers[next].Size = h.Size
		next++
	}
}

// synthesizeConfig rebuilds the image config from inspect and history, for images read
// without an export. Times come from the history API in whole seconds.
func synthesizeConfig(ins image.InspectResponse, hist []image.HistoryResponseItem, empty []bool) (*v1.ConfigFile, error) {
	cfg := &v1.ConfigFile{
		Architecture: ins.Architecture,
		OS:           ins.Os,
		OSVersion:    ins.OsVersion,
		Variant:      ins.Variant,
		Author:       ins.Author,
		RootFS:       v1.RootFS{Type: "layers"},
	}
	if t, err := time.Parse(time.RFC3339Nano, ins.Created); err == nil {
		cfg.Created = v1.Time{Time: t}
	}
	for _, s := range ins.RootFS.Layers {
		h, err := v1.NewHash(s)
		if err != nil {
			return nil, err
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
	}
	if ins.Config != nil {
		// The engine's config and ggcr's share their JSON field names.
		raw, err := json.Marshal(ins.Config)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &cfg.Config); err != nil {
			return nil, fmt.Errorf("reading the engine's image config: %w", err)
		}
	}
	for i, h := range hist {
		e := v1.History{
			CreatedBy:  h.CreatedBy,
			Comment:    h.Comment,
			EmptyLayer: empty[i],
		}
		if h.Created > 0 {
			e.Created = v1.Time{Time: time.Unix(h.Created, 0).UTC()}
		}
		cfg.History = append(cfg.History, e)
	}
	return cfg, nil
}

// readExport reads the image config, raw and parsed (and the raw manifest, where the
// export has one), from the start of an export, skipping layers.
func (d *daemonImage) readExport(ctx context.Context) (exportedImage, *v1.ConfigFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := d.save(ctx)
	if err != nil {
		return exportedImage{}, nil, daemonError(d.client, d.where, err)
	}
	defer rc.Close()
	exp, err := findConfig(ctx, rc, d.id, d.platform)
	if err != nil {
		if e := ctxErr(err); e != nil {
			return exportedImage{}, nil, e
		}
		return exportedImage{}, nil, fmt.Errorf("%s: reading the image config from the engine's export: %w", d.where, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(exp.config))
	if err != nil {
		return exportedImage{}, nil, fmt.Errorf("%s: parsing the image config: %w", d.where, err)
	}
	return exp, cfg, nil
}

// save asks the engine for the image's export; on the containerd image store, only the
// platform read, so a multi-platform image's other platforms are not sent.
func (d *daemonImage) save(ctx context.Context) (client.ImageSaveResult, error) {
	var opts []client.ImageSaveOption
	if d.savePlatform {
		opts = append(opts, client.ImageSaveWithPlatforms(ocispec.Platform{
			OS: d.platform.OS, Architecture: d.platform.Architecture, Variant: d.platform.Variant,
		}))
	}
	return d.client.ImageSave(ctx, []string{d.id}, opts...)
}

// daemonError turns an engine API error into one line saying what to do.
func daemonError(c DaemonClient, where string, err error) error {
	host := c.DaemonHost()
	if cerrdefs.IsNotFound(err) && ctxErr(err) == nil {
		return notFoundf("%s: no such image in the Docker engine at %s: pull or build it first (docker images lists what is there), or use docker://%s to read it from a registry", where, host, where)
	}
	return engineError(host, where, err)
}

// engineError words an engine API error that is not about a missing object: what to do
// when the engine cannot be reached or refuses the socket.
func engineError(host, where string, err error) error {
	switch {
	case ctxErr(err) != nil:
		return ctxErr(err)
	case strings.Contains(err.Error(), "permission denied"):
		return fmt.Errorf("%s: permission denied on the Docker engine socket %s: run as a member of the docker group (or with sudo), or choose another engine with DOCKER_HOST or --context", where, host)
	case client.IsErrConnectionFailed(err):
		return fmt.Errorf("%s: cannot connect to the Docker engine at %s: is it running? Start it, or choose another engine with DOCKER_HOST or --context", where, host)
	}
	return fmt.Errorf("%s: the Docker engine at %s: %w", where, host, err)
}
