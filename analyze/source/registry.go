package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/client"
)

// openRegistry opens docker://REF. It reads the manifest (and index) and the config:
// no layer blob is downloaded until layer contents are asked for.
func openRegistry(ctx context.Context, r Ref, opts Options) (*Image, error) {
	where := "docker://" + r.Path
	var nameOpts []name.Option
	if isLoopback(r.Path) {
		// As docker does: a registry on this machine is spoken to over plain HTTP.
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(r.Path, nameOpts...)
	if err != nil {
		return nil, usageErrorf("%s: %v", where, err)
	}
	counter := &countingTransport{base: newRegistryTransport(opts.Timeout)}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.NewMultiKeychain(cliConfigKeychain{}, authn.DefaultKeychain)),
		remote.WithTransport(counter),
		remote.WithUserAgent("docker-layers"),
		// 429 is answered in registryTransport (Retry-After); a stall is not retried.
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithRetryPredicate(registryRetry),
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, registryError(ref, where, err)
	}
	var img v1.Image
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, registryError(ref, where, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, registryError(ref, where, err)
		}
		platform := opts.Platform
		if platform == nil {
			platform = enginePlatform(ctx, opts)
		}
		// The engine's platform is a default, not a demand.
		d, err := pickWithDefault(im, platform, opts.Platform == nil, where)
		if err != nil {
			return nil, err
		}
		if img, err = resolveImage(idx, d, platform, where); err != nil {
			return nil, registryError(ref, where, err)
		}
	default:
		if img, err = desc.Image(); err != nil {
			return nil, registryError(ref, where, err)
		}
	}
	out, err := fromV1(img, TransportRegistry)
	if err != nil {
		return nil, registryError(ref, where, err)
	}
	out.Remote = true
	out.downloaded = counter.n.Load
	if opts.Progress != nil {
		out.reader = progressReader{inner: out.reader, report: opts.Progress, ref: where, read: counter.n.Load}
	}
	return out, nil
}

// cliConfigKeychain reads credentials (and credential helpers) from the config directory
// the docker CLI settled on: --config, else DOCKER_CONFIG, else ~/.docker.
// authn.DefaultKeychain looks only at the environment, so `docker --config DIR layers`
// and `docker-layers --config DIR` would otherwise read another directory's logins.
type cliConfigKeychain struct{}

func (cliConfigKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return nil, err
	}
	// As the docker CLI and ggcr do: a repository-scoped entry first, then the registry;
	// Docker Hub's key is a historical URL.
	var empty types.AuthConfig
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, err
		}
		ac.ServerAddress = ""
		if ac != empty {
			return authn.FromConfig(authn.AuthConfig{
				Username:      ac.Username,
				Password:      ac.Password,
				Auth:          ac.Auth,
				IdentityToken: ac.IdentityToken,
				RegistryToken: ac.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// enginePlatform asks the local engine, if one is configured and answers quickly, for
// its platform.
func enginePlatform(ctx context.Context, opts Options) *v1.Platform {
	if opts.Daemon == nil {
		return nil
	}
	c, err := opts.Daemon()
	if err != nil || c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil || v.Os == "" || v.Arch == "" {
		return nil
	}
	return &v1.Platform{OS: v.Os, Architecture: v.Arch}
}

// isLoopback is true for references to localhost, 127.0.0.0/8 or ::1.
func isLoopback(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// registryError turns a registry error into one line saying what to do.
func registryError(ref name.Reference, where string, err error) error {
	if e := ctxErr(err); e != nil {
		return e
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUsage) {
		return err
	}
	registry := ref.Context().RegistryStr()
	var stall *StallError
	if errors.As(err, &stall) {
		return fmt.Errorf("%s: the registry %s stopped answering: %v", where, registry, stall)
	}
	var limit *RateLimitError
	if errors.As(err, &limit) {
		return fmt.Errorf("%s: the registry %s is %v", where, registry, limit)
	}
	if strings.Contains(err.Error(), "error verifying sha256 checksum") {
		return fmt.Errorf("%s: the registry %s served bytes that do not match their digest: %v", where, registry, firstLine(err.Error()))
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden || hasCode(terr, transport.UnauthorizedErrorCode, transport.DeniedErrorCode):
			return fmt.Errorf("%s: the registry %s refused access (%d): log in with docker login %s, or check the name", where, registry, terr.StatusCode, registry)
		case terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
			return notFoundf("%s: no such image in the registry %s: check the name and tag", where, registry)
		}
		return fmt.Errorf("%s: the registry %s answered %d: %v", where, registry, terr.StatusCode, firstLine(terr.Error()))
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		// ggcr tried HTTPS and HTTP; repeating both dial errors adds nothing.
		return fmt.Errorf("%s: cannot reach the registry %s: connection refused: check that it is running and the address is right", where, registry)
	}
	var nerr net.Error
	var oerr *net.OpError
	var derr *net.DNSError
	if errors.As(err, &derr) || errors.As(err, &oerr) || errors.As(err, &nerr) {
		return fmt.Errorf("%s: cannot reach the registry %s: %v: check the address and your network", where, registry, firstLine(err.Error()))
	}
	return fmt.Errorf("%s: %w", where, err)
}

func hasCode(e *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range e.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// countingTransport counts the response bytes read from a registry.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &t.n}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

// progressReader reports download progress while layers are read.
type progressReader struct {
	inner  layerReader
	report func(Progress)
	ref    string
	read   func() int64
}

func (p progressReader) readLayers(ctx context.Context, want []int, fn func(int, layerBlob) error) error {
	start := p.read()
	stop := startProgress(p.report, p.ref, "downloading layer blobs", func() int64 { return p.read() - start })
	defer stop()
	return p.inner.readLayers(ctx, want, fn)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// resolveImage follows desc to one image, through nested indexes by platform.
func resolveImage(idx v1.ImageIndex, desc v1.Descriptor, platform *v1.Platform, where string) (v1.Image, error) {
	for depth := 0; depth < 4; depth++ {
		switch {
		case desc.MediaType.IsImage():
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: reading image %s: %w", where, desc.Digest, err)
			}
			return img, nil
		case desc.MediaType.IsIndex():
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: reading index %s: %w", where, desc.Digest, err)
			}
			im, err := child.IndexManifest()
			if err != nil {
				return nil, fmt.Errorf("%s: reading index %s: %w", where, desc.Digest, err)
			}
			if desc, err = pickPlatform(im, platform, where); err != nil {
				return nil, err
			}
			idx = child
		default:
			return nil, fmt.Errorf("%s: %s is a %s, not an image", where, desc.Digest, desc.MediaType)
		}
	}
	return nil, fmt.Errorf("%s: indexes nested too deep", where)
}
