package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// retryTransport is how a registry walk talks HTTP: each attempt has its own deadline,
// a 429 or 503 waits as long as Retry-After asks (capped) or backs off exponentially,
// and network errors are retried the same way. Only GET and HEAD are retried; that is
// all a walk sends besides token requests.
type retryTransport struct {
	base     http.RoundTripper
	timeout  time.Duration // per attempt, headers and body
	attempts int
	maxWait  time.Duration
	// wait sleeps for d unless ctx ends first (tests record the waits instead).
	wait func(ctx context.Context, d time.Duration) error

	requests atomic.Int64 // attempts sent
	retries  atomic.Int64 // attempts that were retries
	limited  atomic.Int64 // 429 answers
}

func newRetryTransport(base http.RoundTripper, timeout time.Duration) *retryTransport {
	return &retryTransport{base: base, timeout: timeout, attempts: 6, maxWait: time.Minute, wait: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	retryable := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 0; ; attempt++ {
		t.requests.Add(1)
		if attempt > 0 {
			t.retries.Add(1)
		}
		ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
		resp, err := t.base.RoundTrip(req.Clone(ctx))
		last := !retryable || attempt+1 >= t.attempts || req.Context().Err() != nil
		if err != nil {
			cancel()
			if last || !retryableError(err, req.Context()) {
				return nil, err
			}
			if werr := t.wait(req.Context(), backoff(attempt)); werr != nil {
				return nil, werr
			}
			continue
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			t.limited.Add(1)
		}
		if !last && retryStatus(resp.StatusCode) {
			d := retryAfter(resp.Header.Get("Retry-After"), time.Now(), backoff(attempt))
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			cancel()
			if werr := t.wait(req.Context(), min(d, t.maxWait)); werr != nil {
				return nil, werr
			}
			continue
		}
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
}

// retryableError is true for a dropped connection or an attempt that ran out of time,
// which the next attempt may not meet; a refused connection, a TLS or DNS failure will
// only repeat (and ggcr tries HTTPS first on plain-HTTP registries).
func retryableError(err error, parent context.Context) bool {
	switch {
	case parent.Err() != nil:
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

func retryStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is 250 ms doubling per attempt, with up to 25 % jitter so that parallel
// workers do not retry in step.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt, 7)
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date; def when absent
// or unreadable.
func retryAfter(h string, now time.Time, def time.Duration) time.Duration {
	if h == "" {
		return def
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return def
}

// cancelBody ends the attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Caps on what one response of a walk may hold: a walk reads metadata only, and a
// registry is untrusted input, so no answer can make it hold more than this.
const (
	listLimit = 16 << 20 // a catalog or tag list page
)

// capTransport fails a response body that grows past its cap: manifests at
// manifestLimit, blobs (configs: a walk never reads a layer) at configLimit, lists at
// listLimit.
type capTransport struct{ base http.RoundTripper }

func (t capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	limit := int64(listLimit)
	switch p := req.URL.Path; {
	case strings.Contains(p, "/manifests/"):
		limit = manifestLimit
	case strings.Contains(p, "/blobs/"):
		limit = configLimit
	}
	resp.Body = &capBody{ReadCloser: resp.Body, left: limit, limit: limit, what: req.Method + " " + req.URL.Path}
	return resp, nil
}

type capBody struct {
	io.ReadCloser
	left, limit int64
	what        string
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the cap from a longer one.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%s: the answer is larger than %d bytes: not metadata", b.what, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
