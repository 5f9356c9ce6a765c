package source

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// pingCache answers the registry's version check (GET /v2/) once per scheme and host.
// ggcr pings the registry each time it opens a repository (to learn how to
// authenticate), and on a plain-HTTP registry it also tries HTTPS first: a walk of
// 1,000 repositories would send 1,000 pings and open 1,000 doomed TLS connections. The
// answer (status and challenge headers, or the dial error) cannot change during a walk.
type pingCache struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string]*pingAnswer // by scheme://host
}

type pingAnswer struct {
	status int
	header http.Header
	err    error
}

func newPingCache(base http.RoundTripper) *pingCache {
	return &pingCache{base: base, seen: map[string]*pingAnswer{}}
}

func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.Header.Get("Authorization") != "" {
		return p.base.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + strings.ToLower(req.URL.Host)
	p.mu.Lock()
	a := p.seen[key]
	p.mu.Unlock()
	if a == nil {
		resp, err := p.base.RoundTrip(req)
		switch {
		case err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized):
			a = &pingAnswer{status: resp.StatusCode, header: resp.Header.Clone()}
		case err != nil && definitive(req, err):
			a = &pingAnswer{err: err}
		}
		if a != nil {
			p.mu.Lock()
			p.seen[key] = a
			p.mu.Unlock()
		}
		return resp, err
	}
	if a.err != nil {
		return nil, a.err
	}
	return &http.Response{
		Status:     http.StatusText(a.status),
		StatusCode: a.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  a.header.Clone(),
		Body:    io.NopCloser(strings.NewReader("")),
		Request: req,
	}, nil
}

// definitive is true for a ping error that the next ping would meet too (HTTPS to a
// plain-HTTP port, a refused connection), not for a timeout or a cancelled ping (ggcr
// cancels the slower of its parallel HTTPS and HTTP pings).
func definitive(req *http.Request, err error) bool {
	if req.Context().Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var nerr net.Error
	return !errors.As(err, &nerr) || !nerr.Timeout()
}
