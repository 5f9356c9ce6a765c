// Package source opens images from where users keep them — a `docker save` archive, an
// OCI image layout, the local engine, a registry — as one value that every analysis
// accepts: the image's metadata, plus a way to stream chosen layers once each.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/distribution/reference"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
)

// Transports, spelled as skopeo spells them.
const (
	TransportArchive    = "docker-archive"
	TransportLayout     = "oci"
	TransportOCIArchive = "oci-archive"
	TransportDaemon     = "docker-daemon"
	TransportRegistry   = "docker"
)

// Image is an opened image. Close it when done.
type Image struct {
	analyze.Image
	// Transport is where the image was read from (one of the Transport constants).
	Transport string
	// LayersCompressed is true when the source stores compressed layer blobs, so
	// compressed sizes are the source's own figures.
	LayersCompressed bool
	// Remote is true when reading layer contents downloads them (a registry): callers
	// should do it only when asked to.
	Remote bool
	// Notes are what the user should know about how the image was read ("read as an
	// OCI archive: …"), one sentence each.
	Notes []string

	downloaded func() int64

	reader  layerReader
	scanner layerScanner
	close   func() error
	// deferred is the engine image whose history (instructions, per-layer sizes) has
	// not been read yet; nil once it has, and for every other source.
	deferred *deferredHistory
}

// layerReader streams the stored blobs of chosen layers, each once, in whatever order
// suits the source; fn must consume or abandon the blob before returning.
type layerReader interface {
	readLayers(ctx context.Context, want []int, fn func(i int, b layerBlob) error) error
}

// layerScanner is for sources that cannot tell which layer a stream is before reading
// it (a classic `docker save` stream names layers by legacy IDs): they scan every layer
// and keep what is wanted.
type layerScanner interface {
	scanLayers(ctx context.Context, want []int, files bool, fn func(i int, s LayerScan) error) error
}

// LayerScan is what one read of a layer tells.
type LayerScan struct {
	// Size is the uncompressed size (see analyze.ScanLayer).
	Size int64
	// Files are the layer's entries in tar order; nil unless asked for.
	Files []analyze.File
}

// collector returns what collects a scanned layer's entries into s.Files when files is
// set, and nil (entries not kept) otherwise.
func (s *LayerScan) collector(files bool) func(analyze.File) error {
	if !files {
		return nil
	}
	return func(f analyze.File) error {
		s.Files = append(s.Files, f)
		return nil
	}
}

// ScanLayers reads each layer in want (indexes into Layers) once, streaming, and calls fn
// with its size and, if files is true, its entries. The order of calls is the source's.
func (img *Image) ScanLayers(ctx context.Context, want []int, files bool, fn func(i int, s LayerScan) error) error {
	if len(want) == 0 {
		return nil
	}
	for _, i := range want {
		if i < 0 || i >= len(img.Layers) {
			return fmt.Errorf("%s: no layer %d", img.Ref, i)
		}
	}
	if img.scanner != nil {
		return img.scanner.scanLayers(ctx, want, files, fn)
	}
	if img.reader == nil {
		return fmt.Errorf("%s: this source cannot read layer contents", img.Ref)
	}
	return img.reader.readLayers(ctx, want, func(i int, b layerBlob) error {
		s, err := img.scanBlob(ctx, i, b, files)
		if err != nil {
			return err
		}
		return fn(i, s)
	})
}

// ScanLayer reads one uncompressed layer tar, stopping when ctx is cancelled.
func ScanLayer(ctx context.Context, r io.Reader, files bool) (LayerScan, error) {
	var s LayerScan
	collect := s.collector(files)
	size, err := analyze.ScanLayer(ctx, r, analyze.ScanOptions{}, collect)
	s.Size = size
	return s, err
}

// MeasureSizes fills in every unknown uncompressed layer size by reading those layers
// once (a content the image has twice, once).
func (img *Image) MeasureSizes(ctx context.Context) error {
	return Sizes{}.Measure(ctx, img)
}

// BytesDownloaded is how many bytes the source has fetched over the network so far
// (manifests, configs and layer blobs); 0 for local sources.
func (img *Image) BytesDownloaded() int64 {
	if img.downloaded == nil {
		return 0
	}
	return img.downloaded()
}

// Close releases what the source holds open.
func (img *Image) Close() error {
	if img.close == nil {
		return nil
	}
	return img.close()
}

// Options tune how images are opened.
type Options struct {
	// Platform picks one image from a multi-platform index; nil means the default
	// (the engine's platform when known, else linux/amd64, or the only platform there is).
	Platform *v1.Platform
	// Daemon supplies the client of the local Docker engine. It is called only for
	// references to the engine (and, when known, to learn the engine's platform for a
	// multi-platform registry image), so commands on files never touch the engine.
	Daemon func() (DaemonClient, error)
	// Containers supplies the engine client that containers are read with (see
	// ResolveContainer); like Daemon, it is called only when a reference may name one.
	Containers func() (ContainerClient, error)
	// Progress, when set, is told how a long stream (an engine export, layer blobs
	// downloaded from a registry) is going: a few times a second once it has run for a
	// second, and once more with Done set. Quick reads report nothing.
	Progress func(Progress)
	// Timeout is how long a registry may stay silent (connecting, before its response
	// headers, between bytes of a body) before the read fails; 0 means DefaultTimeout.
	Timeout time.Duration

	// deferHistory opens classic-store engine images from inspect alone (see
	// Need.Steps): their history is read later, if at all.
	deferHistory bool
}

// Progress is a report on a long read.
type Progress struct {
	// Ref is the image reference being read.
	Ref string
	// What says what is being read ("exporting from the Docker engine").
	What string
	// Bytes is how many bytes have been read so far.
	Bytes int64
	// Done is set on the last report.
	Done bool
}

// Errors a caller may want to tell apart.
var (
	// ErrUsage marks a malformed reference or an unsupported transport: the user's
	// input is wrong, not the image.
	ErrUsage = errors.New("usage")
	// ErrNotFound marks an image, tag or platform that is not there.
	ErrNotFound = errors.New("not found")
)

// Ref is a parsed image reference.
type Ref struct {
	Transport string
	// Path is the archive or layout path, or the image name for the daemon and registry.
	Path string
	// Tag selects an image inside an archive ("name:tag") or layout ("tag").
	Tag string
	// Bare is set for a reference with no transport prefix: when it names an existing
	// file or directory, that is read (an archive or a layout, detected), else the
	// engine image of that name.
	Bare bool
}

// ParseRef splits "transport:rest" as skopeo does; a reference without a known transport
// names an image in the local engine, or an existing file or directory (see Ref.Bare).
// It does no I/O: a malformed reference is an ErrUsage error before anything is read.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, usageErrorf("empty image reference")
	}
	transport, rest, ok := strings.Cut(s, ":")
	switch {
	case ok && transport == TransportArchive:
		// docker-archive:PATH[:NAME:TAG] — NAME may itself hold a registry port, so
		// split on the first colon after the path: the path comes first and a path
		// with a colon is not supported (as in skopeo).
		p, tag, _ := strings.Cut(rest, ":")
		if p == "" {
			return Ref{}, usageErrorf("%q: docker-archive needs a path: docker-archive:PATH[:NAME:TAG]", s)
		}
		return Ref{Transport: TransportArchive, Path: p, Tag: tag}, nil
	case ok && transport == TransportLayout:
		p, tag, _ := strings.Cut(rest, ":")
		if p == "" {
			return Ref{}, usageErrorf("%q: oci needs a directory: oci:DIR[:TAG]", s)
		}
		return Ref{Transport: TransportLayout, Path: p, Tag: tag}, nil
	case ok && transport == TransportOCIArchive:
		p, tag, _ := strings.Cut(rest, ":")
		if p == "" {
			return Ref{}, usageErrorf("%q: oci-archive needs a path: oci-archive:PATH[:TAG]", s)
		}
		return Ref{Transport: TransportOCIArchive, Path: p, Tag: tag}, nil
	case ok && transport == TransportRegistry && strings.HasPrefix(rest, "//"):
		return Ref{Transport: TransportRegistry, Path: strings.TrimPrefix(rest, "//")}, nil
	case ok && transport == TransportDaemon:
		if err := checkEngineRef(rest, s); err != nil {
			return Ref{}, err
		}
		return Ref{Transport: TransportDaemon, Path: rest}, nil
	case ok && transport+":" == ContainerPrefix:
		// Only inspect (and shared --containers) read containers; they resolve
		// container: references before opening images. Anywhere else it would be
		// looked up as the image "container" with tag NAME.
		return Ref{}, usageErrorf("%q names a container; this command reads images: give it the container's image (docker container inspect --format '{{.Image}}' %s), or run docker layers inspect %s", s, rest, s)
	case ok && (transport == "https" || transport == "http") && strings.HasPrefix(rest, "//"):
		return Ref{}, usageErrorf("%q is a URL, not an image reference: for an image in a registry use docker://%s", s, strings.TrimPrefix(rest, "//"))
	}
	if looksLikePath(s) {
		return Ref{Transport: TransportDaemon, Path: s, Bare: true}, nil
	}
	if err := checkEngineRef(s, s); err != nil {
		return Ref{}, err
	}
	return Ref{Transport: TransportDaemon, Path: s, Bare: true}, nil
}

// looksLikePath is true for what cannot be meant as an image name: an absolute or
// relative path, or a file name with an archive's extension.
func looksLikePath(s string) bool {
	for _, p := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	for _, ext := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(s, ext) {
			return true
		}
	}
	return s == "." || s == ".."
}

var imageIDPattern = regexp.MustCompile(`^(sha256:)?[a-f0-9]{1,64}$`)

// checkEngineRef refuses what the engine would refuse as a name, as docker does
// (an image ID, full or short, is fine).
func checkEngineRef(name, given string) error {
	if name == "" {
		return usageErrorf("docker-daemon: needs an image: docker-daemon:NAME[:TAG|@DIGEST] or an image ID")
	}
	if imageIDPattern.MatchString(name) {
		return nil
	}
	if _, err := reference.ParseNormalizedNamed(name); err != nil {
		return usageErrorf("%q is not a valid image reference: %v", given, err)
	}
	return nil
}

// Open opens the image that ref names.
func Open(ctx context.Context, ref string, opts Options) (*Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	if r.Bare {
		if img, ok, err := openPath(ctx, r.Path, opts); ok {
			if err != nil {
				return nil, err
			}
			img.Ref = ref
			return img, nil
		}
		if looksLikePath(r.Path) {
			return nil, notFoundf("%s: no such file or directory (an engine image name cannot look like this)", r.Path)
		}
	}
	var img *Image
	switch r.Transport {
	case TransportArchive:
		img, err = openArchive(ctx, r, opts)
	case TransportLayout:
		img, err = openLayout(ctx, r, opts)
	case TransportOCIArchive:
		img, err = openOCIArchive(ctx, r, opts)
	case TransportDaemon:
		img, err = openDaemon(ctx, r, opts)
	case TransportRegistry:
		img, err = openRegistry(ctx, r, opts)
	default:
		return nil, usageErrorf("%s: the %s transport is not supported", ref, r.Transport)
	}
	if err != nil {
		return nil, err
	}
	img.Ref = ref
	return img, nil
}

// openPath reads an existing file or directory named without a transport: a layout
// directory, or an archive (docker save or OCI layout tar, detected). ok is false when
// nothing exists at p.
func openPath(ctx context.Context, p string, opts Options) (img *Image, ok bool, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, false, nil
	}
	var r Ref
	switch {
	case st.IsDir():
		if _, err := os.Stat(filepath.Join(p, "index.json")); err != nil {
			return nil, true, usageErrorf("%s is a directory but not an OCI image layout (no index.json): name an image with a transport, see --help", p)
		}
		r = Ref{Transport: TransportLayout, Path: p}
		img, err = openLayout(ctx, r, opts)
	case st.Mode().IsRegular():
		r = Ref{Transport: TransportArchive, Path: p}
		img, err = openArchive(ctx, r, opts)
	default:
		return nil, true, usageErrorf("%s is neither a file nor a directory", p)
	}
	if err != nil {
		return nil, true, err
	}
	if len(img.Notes) == 0 {
		img.Notes = append(img.Notes, fmt.Sprintf("%s: read as %s:%s", p, img.Transport, p))
	}
	return img, true, nil
}

// ctxReader stops a long read when ctx is cancelled (Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// platformString prints os/arch[/variant].
func platformString(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// kindError gives an error a kind (ErrUsage, ErrNotFound) without changing its text.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func usageErrorf(format string, args ...any) error {
	return &kindError{kind: ErrUsage, err: fmt.Errorf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &kindError{kind: ErrNotFound, err: fmt.Errorf(format, args...)}
}
