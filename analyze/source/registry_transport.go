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

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultTimeout is how long a registry may stay silent: to accept a connection, to
// send response headers, or between bytes of a body (see Options.Timeout).
const DefaultTimeout = 30 * time.Second

// minBytesPerTimeout is the least a body must deliver per Timeout of waiting: a
// registry that trickles a byte a second is as stalled as one that sends nothing.
const minBytesPerTimeout = 32 << 10

// maxRetryAfter is the longest Retry-After that is waited out; a longer one is an error
// saying when to try again.
const maxRetryAfter = 10 * time.Second

// StallError is a registry that stopped answering.
type StallError struct {
	// What stalled: "connecting to 127.0.0.1:5000", "response headers for GET /v2/…".
	What  string
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("no progress for %s on %s (--timeout sets how long to wait)", e.After, e.What)
}

// Timeout is a network timeout.
func (e *StallError) Timeout() bool { return true }

// RateLimitError is a 429 whose Retry-After is too long to wait.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("rate limiting requests (429): try again in %s", e.RetryAfter.Round(time.Second))
	}
	return "rate limiting requests (429): try again later"
}

// registryTransport is the base of every registry request: bounded waits, capped
// manifests, and 429 answered as Retry-After says when that is short.
type registryTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func newRegistryTransport(timeout time.Duration) *registryTransport {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	return &registryTransport{base: t, timeout: timeout}
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, t.stall(req, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			wait := retryAfter(resp.Header.Get("Retry-After"), time.Now(), 0)
			if wait > maxRetryAfter || attempt >= 2 || req.Body != nil && req.GetBody == nil {
				resp.Body.Close()
				return nil, &RateLimitError{RetryAfter: wait}
			}
			resp.Body.Close()
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(max(wait, 500*time.Millisecond)):
			}
			continue
		}
		what := req.Method + " " + req.URL.Path
		if strings.Contains(req.URL.Path, "/manifests/") {
			if resp.ContentLength > maxMetadataFile {
				resp.Body.Close()
				return nil, fmt.Errorf("%s: the manifest is %d bytes, more than the %d MiB a metadata document may have", what, resp.ContentLength, maxMetadataFile>>20)
			}
			resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxMetadataFile, what: what}
		}
		resp.Body = newWatchedBody(resp.Body, t.timeout, "the body of "+what)
		return resp, nil
	}
}

// stall names what a timed-out request was waiting for.
func (t *registryTransport) stall(req *http.Request, err error) error {
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() || req.Context().Err() != nil {
		return err
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Op == "dial" {
		return &StallError{What: "connecting to " + req.URL.Host, After: t.timeout}
	}
	if strings.Contains(err.Error(), "TLS handshake") {
		return &StallError{What: "the TLS handshake with " + req.URL.Host, After: t.timeout}
	}
	return &StallError{What: "the response headers to " + req.Method + " " + req.URL.Path, After: t.timeout}
}

// registryRetry says which failures ggcr may retry: a dropped connection, not a stall
// (already waited for long enough) nor a refusal.
func registryRetry(err error) bool {
	var stall *StallError
	var limit *RateLimitError
	if errors.As(err, &stall) || errors.As(err, &limit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

type cappedBody struct {
	io.ReadCloser
	left int64
	what string
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%s: the manifest is larger than the %d MiB a metadata document may have", b.what, maxMetadataFile>>20)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("%s: the manifest is larger than the %d MiB a metadata document may have", b.what, maxMetadataFile>>20)
	}
	return n, err
}

// watchedBody fails a body read that waits longer than timeout for a byte, or that
// delivers fewer than minBytesPerTimeout in timeout of waiting.
type watchedBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	what    string
	stalled atomic.Bool

	waited time.Duration // time spent inside Read since the last rate check
	got    int64         // bytes read since then
}

func newWatchedBody(rc io.ReadCloser, timeout time.Duration, what string) *watchedBody {
	return &watchedBody{rc: rc, timeout: timeout, what: what}
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.stalled.Load() {
		return 0, &StallError{What: b.what, After: b.timeout}
	}
	timer := time.AfterFunc(b.timeout, func() {
		b.stalled.Store(true)
		b.rc.Close()
	})
	start := time.Now()
	n, err := b.rc.Read(p)
	timer.Stop()
	if b.stalled.Load() {
		return n, &StallError{What: b.what, After: b.timeout}
	}
	b.waited += time.Since(start)
	b.got += int64(n)
	if b.waited >= b.timeout {
		if b.got < minBytesPerTimeout {
			b.stalled.Store(true)
			b.rc.Close()
			return n, &StallError{What: b.what + fmt.Sprintf(" (%d bytes in %s of waiting)", b.got, b.waited.Round(time.Second)), After: b.timeout}
		}
		b.waited, b.got = 0, 0
	}
	return n, err
}

func (b *watchedBody) Close() error { return b.rc.Close() }
