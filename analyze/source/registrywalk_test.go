package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/internal/imagetest"
)

// walkRegistry is an in-process registry that pages its catalog and tag lists with Link
// headers (ggcr's own registry does not), logs every request, and lets a test answer
// chosen paths itself.
type walkRegistry struct {
	host string
	page int

	mu       sync.Mutex
	requests []string                                           // "METHOD /path"
	override map[string]func(w http.ResponseWriter, n int) bool // by "METHOD /path"; n counts calls
	calls    map[string]int
}

func newWalkRegistry(t testing.TB, page int) *walkRegistry {
	t.Helper()
	r := &walkRegistry{page: page, override: map[string]func(http.ResponseWriter, int) bool{}, calls: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		key := req.Method + " " + req.URL.Path
		r.mu.Lock()
		r.requests = append(r.requests, key)
		r.calls[key]++
		n, f := r.calls[key], r.override[key]
		r.mu.Unlock()
		if f != nil && f(w, n) {
			return
		}
		if req.Method == http.MethodGet && (req.URL.Path == "/v2/_catalog" || strings.HasSuffix(req.URL.Path, "/tags/list")) {
			r.paged(w, req, inner)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// paged answers a list request from the full list, n entries after last, with a Link
// header to the next page as the distribution spec describes.
func (r *walkRegistry) paged(w http.ResponseWriter, req *http.Request, inner http.Handler) {
	full := httptest.NewRecorder()
	all := req.Clone(req.Context())
	all.URL.RawQuery = ""
	inner.ServeHTTP(full, all)
	if full.Code != http.StatusOK {
		w.WriteHeader(full.Code)
		w.Write(full.Body.Bytes())
		return
	}
	var body map[string]any
	json.Unmarshal(full.Body.Bytes(), &body)
	field := "tags"
	if req.URL.Path == "/v2/_catalog" {
		field = "repositories"
	}
	var list []string
	for _, v := range body[field].([]any) {
		list = append(list, v.(string))
	}
	sort.Strings(list)
	q := req.URL.Query()
	n := r.page
	if s := q.Get("n"); s != "" {
		if v, _ := strconv.Atoi(s); v > 0 && v < n {
			n = v
		}
	}
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(list, last)
		if i < len(list) && list[i] == last {
			i++
		}
		list = list[i:]
	}
	if len(list) > n {
		list = list[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {list[n-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, req.URL.Path, next.Encode()))
	}
	body[field] = list
	json.NewEncoder(w).Encode(body)
}

func (r *walkRegistry) answer(method, path string, f func(w http.ResponseWriter, n int) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.override[method+" "+path] = f
}

func (r *walkRegistry) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

func (r *walkRegistry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

func (r *walkRegistry) count(method, contains string) int {
	n := 0
	for _, q := range r.log() {
		if strings.HasPrefix(q, method+" ") && strings.Contains(q, contains) {
			n++
		}
	}
	return n
}

func (r *walkRegistry) push(t testing.TB, repoTag string, img v1.Image) {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
}

func (r *walkRegistry) pushIndex(t *testing.T, repoTag string, idx v1.ImageIndex) {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
}

// appImage is a base layer (shared by every image with the same base) plus one layer of
// its own, with a history that matches.
func appImage(t *testing.T, base, own string) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: imagetest.FileLayer(t, map[string]string{"base": base}), History: v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:base in / "}},
		mutate.Addendum{Layer: imagetest.FileLayer(t, map[string]string{"app": own}), History: v1.History{CreatedBy: "COPY app /app # buildkit", Comment: "buildkit.dockerfile.v0"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type walkResults struct {
	images  map[string]WalkedImage
	skipped []WalkError
	stats   WalkStats
	err     error
}

func walk(t *testing.T, opts WalkOptions) walkResults {
	t.Helper()
	res := walkResults{images: map[string]WalkedImage{}}
	opts.Image = func(img WalkedImage) error {
		if _, dup := res.images[img.Ref]; dup {
			t.Errorf("%s reported twice", img.Ref)
		}
		res.images[img.Ref] = img
		return nil
	}
	opts.Skipped = func(e WalkError) { res.skipped = append(res.skipped, e) }
	if opts.wait == nil {
		opts.wait = func(context.Context, time.Duration) error { return nil }
	}
	res.stats, res.err = WalkRegistry(context.Background(), opts)
	return res
}

func TestWalkRegistryPaginates(t *testing.T) {
	reg := newWalkRegistry(t, 2)
	for i := range 5 {
		for j := range 3 {
			reg.push(t, fmt.Sprintf("team/app%d:v1.%d", i, j), appImage(t, "base", fmt.Sprintf("%d.%d", i, j)))
		}
	}
	reg.push(t, "other/tool:1", appImage(t, "base", "tool"))
	reg.reset()

	res := walk(t, WalkOptions{Registry: reg.host + "/team", Jobs: 3})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.images) != 15 || res.stats.Repos != 5 || res.stats.Tags != 15 {
		t.Fatalf("got %d images, %d repos, %d tags; want 15, 5, 15", len(res.images), res.stats.Repos, res.stats.Tags)
	}
	// 6 repositories two a page is three catalog pages; three tags two a page, two pages.
	if n := reg.count("GET", "/v2/_catalog"); n != 3 {
		t.Errorf("%d catalog requests, want 3 pages", n)
	}
	if n := reg.count("GET", "/v2/team/app0/tags/list"); n != 2 {
		t.Errorf("%d tag list requests for app0, want 2 pages", n)
	}
	img := res.images[reg.host+"/team/app3:v1.2"]
	if img.Repo != "team/app3" || img.Tag != "v1.2" || len(img.Layers) != 2 || img.Layers[0].CompressedSize <= 0 || img.Layers[1].Size != analyze.Unknown {
		t.Errorf("team/app3:v1.2: %+v", img)
	}
	if n := reg.count("GET", "/blobs/"); n != 15 {
		t.Errorf("%d blob GETs, want 15 (configs only, never a layer)", n)
	}
	// The registry's version check is asked once, not per repository (at most once per
	// worker when they start together).
	pings := 0
	for _, q := range reg.log() {
		if q == "GET /v2/" {
			pings++
		}
	}
	if pings > 4 {
		t.Errorf("%d pings for 5 repositories and 3 workers, want at most 4", pings)
	}
}

func TestWalkRegistryFilters(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	for _, tag := range []string{"v1.2", "v1.10", "v1.9", "latest", "dev-3"} {
		reg.push(t, "svc/api:"+tag, appImage(t, "base", tag))
	}
	reg.push(t, "svc/web:v1", appImage(t, "base", "web"))

	res := walk(t, WalkOptions{Registry: reg.host, Repo: "svc/api", Tags: "v*", Latest: 2})
	if res.err != nil {
		t.Fatal(res.err)
	}
	var got []string
	for _, img := range res.images {
		got = append(got, img.Tag)
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[v1.10 v1.9]" {
		t.Errorf("kept tags %v, want the two greatest v* versions [v1.10 v1.9]", got)
	}
	if n := reg.count("GET", "/v2/_catalog"); n != 0 {
		t.Errorf("a repository named without wildcards read the catalog %d times", n)
	}

	res = walk(t, WalkOptions{Registry: reg.host + "/svc", Repo: "w*"})
	if res.err != nil || len(res.images) != 1 {
		t.Errorf("--repo w* under svc: %d images, err %v; want svc/web:v1", len(res.images), res.err)
	}
}

func TestVersionLess(t *testing.T) {
	tags := []string{"v1.10", "latest", "v1.9", "1.2.3", "v1.9-rc1", "1.10.0", "v2", "v01.9"}
	sort.Slice(tags, func(a, b int) bool { return versionLess(tags[a], tags[b]) })
	want := "[1.2.3 1.10.0 latest v1.9 v01.9 v1.9-rc1 v1.10 v2]"
	if fmt.Sprint(tags) != want {
		t.Errorf("got %v, want %v", tags, want)
	}
}

func TestWalkRegistryIndex(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	amd := appImage(t, "base", "amd64")
	arm := appImage(t, "base-arm", "arm64")
	att, err := mutate.Append(empty.Image, mutate.Addendum{Layer: imagetest.FileLayer(t, map[string]string{"sbom.json": "{}"})})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	reg.pushIndex(t, "multi/app:v1", idx)
	idxDigest, _ := idx.Digest()

	for _, tc := range []struct {
		platform *v1.Platform
		want     v1.Image
		name     string
	}{{nil, amd, "linux/amd64"}, {&v1.Platform{OS: "linux", Architecture: "arm64"}, arm, "linux/arm64"}} {
		res := walk(t, WalkOptions{Registry: reg.host, Platform: tc.platform})
		if res.err != nil {
			t.Fatal(res.err)
		}
		img := res.images[reg.host+"/multi/app:v1"]
		id, _ := tc.want.ConfigName()
		md, _ := tc.want.Digest()
		if img.ID != id.String() || img.Platform != tc.name || img.Digest != idxDigest || img.Blobs.IndexDigest != idxDigest || img.Blobs.ManifestDigest != md {
			t.Errorf("platform %v: got %s %s digest %s blobs %+v; want %s %s", tc.platform, img.ID, img.Platform, img.Digest, img.Blobs, id, tc.name)
		}
	}
	attDigest, _ := att.Digest()
	if n := reg.count("GET", attDigest.String()); n != 0 {
		t.Errorf("the attestation manifest was read %d times", n)
	}

	res := walk(t, WalkOptions{Registry: reg.host, Platform: &v1.Platform{OS: "windows", Architecture: "amd64"}})
	if !errors.Is(res.err, ErrWalkIncomplete) || len(res.skipped) != 1 || !strings.Contains(res.skipped[0].Error(), "no image for platform windows/amd64") {
		t.Errorf("a missing platform: err %v, skipped %v", res.err, res.skipped)
	}
}

func TestWalkRegistryHonoursRetryAfter(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	reg.push(t, "busy/app:v1", appImage(t, "base", "busy"))
	reg.answer("GET", "/v2/busy/app/manifests/v1", func(w http.ResponseWriter, n int) bool {
		if n > 2 {
			return false
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	var mu sync.Mutex
	var waits []time.Duration
	res := walk(t, WalkOptions{Registry: reg.host, wait: func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}})
	if res.err != nil || len(res.images) != 1 {
		t.Fatalf("err %v, %d images", res.err, len(res.images))
	}
	if fmt.Sprint(waits) != "[7s 7s]" || res.stats.RateLimited != 2 || res.stats.Retries != 2 {
		t.Errorf("waits %v, %d rate limited, %d retries; want two waits of 7s", waits, res.stats.RateLimited, res.stats.Retries)
	}

	// A registry that never relents: the tag is skipped after the last attempt.
	reg.answer("GET", "/v2/busy/app/manifests/v1", func(w http.ResponseWriter, _ int) bool {
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	res = walk(t, WalkOptions{Registry: reg.host})
	if !errors.Is(res.err, ErrWalkIncomplete) || len(res.skipped) != 1 || !strings.Contains(res.skipped[0].Error(), "429") {
		t.Errorf("err %v, skipped %v", res.err, res.skipped)
	}
}

func TestWalkRegistrySkipsFailures(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	reg.push(t, "good/app:v1", appImage(t, "base", "good"))
	reg.push(t, "good/app:v2", appImage(t, "base", "good2"))
	reg.push(t, "denied/app:v1", appImage(t, "base", "denied"))
	reg.push(t, "bad/app:v1", appImage(t, "base", "bad"))
	reg.push(t, "gone/app:v1", appImage(t, "base", "gone"))
	reg.answer("GET", "/v2/denied/app/tags/list", func(w http.ResponseWriter, _ int) bool {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
		return true
	})
	reg.answer("GET", "/v2/bad/app/manifests/v1", func(w http.ResponseWriter, _ int) bool {
		w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
		w.Write([]byte(`{"schemaVersion": 2, "config": "not a descriptor"`))
		return true
	})
	reg.answer("GET", "/v2/gone/app/manifests/v1", func(w http.ResponseWriter, _ int) bool {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
		return true
	})

	res := walk(t, WalkOptions{Registry: reg.host})
	if !errors.Is(res.err, ErrWalkIncomplete) {
		t.Errorf("err %v, want ErrWalkIncomplete", res.err)
	}
	if len(res.images) != 2 || res.stats.Skipped != 3 {
		t.Errorf("%d images, %d skipped; want the two good ones and three skipped", len(res.images), res.stats.Skipped)
	}
	got := map[string]string{}
	for _, e := range res.skipped {
		got[e.Repo+":"+e.Tag] = e.Error()
	}
	for key, want := range map[string]string{
		"denied/app:": "refused access (401)",
		"bad/app:v1":  "malformed",
		"gone/app:v1": "no such image",
	} {
		if !strings.Contains(got[key], want) {
			t.Errorf("%s: %q, want it to say %q", key, got[key], want)
		}
		if strings.Contains(got[key], "\n") {
			t.Errorf("%s: the error spans lines: %q", key, got[key])
		}
	}
}

func TestWalkRegistryCacheReuse(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	for i := range 4 {
		reg.push(t, fmt.Sprintf("app%d:v1", i), appImage(t, "base", strconv.Itoa(i)))
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: appImage(t, "base", "m"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	reg.pushIndex(t, "multi:v1", idx)
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cold := walk(t, WalkOptions{Registry: reg.host, Cache: cache})
	if cold.err != nil || len(cold.images) != 5 {
		t.Fatalf("cold: %v, %d images", cold.err, len(cold.images))
	}

	reg.reset()
	warm := walk(t, WalkOptions{Registry: reg.host, Cache: cache})
	if warm.err != nil || len(warm.images) != 5 {
		t.Fatalf("warm: %v, %d images", warm.err, len(warm.images))
	}
	for ref, img := range warm.images {
		if !img.Cached || img.ID != cold.images[ref].ID || fmt.Sprint(img.Layers) != fmt.Sprint(cold.images[ref].Layers) {
			t.Errorf("%s: warm %+v differs from cold or was fetched", ref, img)
		}
	}
	for _, q := range reg.log() {
		if !strings.HasPrefix(q, "HEAD /v2/") && !strings.HasSuffix(q, "/tags/list") && q != "GET /v2/_catalog" && q != "GET /v2/" {
			t.Errorf("warm run sent %s; want only the catalog, tag lists and HEADs", q)
		}
	}

	// One tag moves: only it is fetched again.
	reg.push(t, "app2:v1", appImage(t, "base", "moved"))
	reg.reset()
	moved := walk(t, WalkOptions{Registry: reg.host, Cache: cache})
	if moved.err != nil {
		t.Fatal(moved.err)
	}
	if n := reg.count("GET", "/manifests/"); n != 1 || reg.count("GET", "/blobs/") != 1 || moved.images[reg.host+"/app2:v1"].Cached {
		t.Errorf("after app2 moved: %d manifest GETs, %d blob GETs; want 1 and 1 (app2 only)", n, reg.count("GET", "/blobs/"))
	}

	// --no-cache: nothing read from it, everything fetched.
	reg.reset()
	none := walk(t, WalkOptions{Registry: reg.host})
	if none.err != nil || reg.count("HEAD", "/manifests/") != 0 || reg.count("GET", "/blobs/") != 5 {
		t.Errorf("without a cache: %v, %d HEADs, %d blob GETs; want no HEAD and 5 configs", none.err, reg.count("HEAD", "/manifests/"), reg.count("GET", "/blobs/"))
	}
}

func TestWalkRegistryUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	res := walk(t, WalkOptions{Registry: host})
	if res.err == nil || errors.Is(res.err, ErrWalkIncomplete) || !strings.Contains(res.err.Error(), "cannot reach") {
		t.Errorf("err %v, want one line saying the registry cannot be reached", res.err)
	}
	if res := walk(t, WalkOptions{Registry: "/ns"}); !errors.Is(res.err, ErrUsage) {
		t.Errorf("no host: %v, want a usage error", res.err)
	}
}

func TestWalkRegistryStopsOnCancel(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	for i := range 20 {
		reg.push(t, fmt.Sprintf("app%d:v1", i), appImage(t, "base", strconv.Itoa(i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := WalkRegistry(ctx, WalkOptions{Registry: reg.host, Jobs: 2, Image: func(WalkedImage) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) || n > 3+4 {
		t.Errorf("err %v after %d images; want context.Canceled soon after the third", err, n)
	}
}

func TestWalkedImageAsSourceImage(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	reg.push(t, "app:v1", appImage(t, "base", "x"))
	res := walk(t, WalkOptions{Registry: reg.host})
	img := res.images[reg.host+"/app:v1"].SourceImage()
	if img.Transport != TransportRegistry || !img.Remote || !img.LayersCompressed || img.CompressedSize() <= 0 || img.Size() != analyze.Unknown {
		t.Errorf("%+v", img)
	}
	if err := img.ScanLayers(context.Background(), []int{0}, false, func(int, LayerScan) error { return nil }); err == nil {
		t.Error("a walked image read a layer")
	}
}

// An interrupted walk keeps what it cached: the rerun fetches only the rest.
func TestWalkRegistryResumesFromTheCache(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	for i := range 12 {
		reg.push(t, fmt.Sprintf("app%02d:v1", i), appImage(t, "base", strconv.Itoa(i)))
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	read := 0
	_, err = WalkRegistry(ctx, WalkOptions{Registry: reg.host, Cache: cache, Jobs: 1, Image: func(WalkedImage) error {
		if read++; read == 5 {
			cancel()
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	reg.reset()
	res := walk(t, WalkOptions{Registry: reg.host, Cache: cache})
	cached := 0
	for _, img := range res.images {
		if img.Cached {
			cached++
		}
	}
	if res.err != nil || len(res.images) != 12 || cached < 5 || reg.count("GET", "/blobs/") > 12-5 {
		t.Errorf("rerun: err %v, %d images, %d from the cache, %d config GETs; want the 5+ read before the interruption from the cache",
			res.err, len(res.images), cached, reg.count("GET", "/blobs/"))
	}
}

// A registry that answers without end is cut off at the cap, and only that repository
// or tag is skipped.
func TestWalkRegistryCapsAnswers(t *testing.T) {
	reg := newWalkRegistry(t, 100)
	reg.push(t, "flood/list:v1", appImage(t, "base", "a"))
	reg.push(t, "flood/manifest:v1", appImage(t, "base", "b"))
	reg.push(t, "fine/app:v1", appImage(t, "base", "c"))
	flood := func(w http.ResponseWriter, prefix string) {
		w.Write([]byte(prefix))
		chunk := []byte(strings.Repeat(`"x",`, 1<<14))
		for range (listLimit / len(chunk)) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	reg.answer("GET", "/v2/flood/list/tags/list", func(w http.ResponseWriter, _ int) bool {
		flood(w, `{"name":"flood/list","tags":[`)
		return true
	})
	reg.answer("GET", "/v2/flood/manifest/manifests/v1", func(w http.ResponseWriter, _ int) bool {
		w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
		flood(w, `{"schemaVersion":2,"layers":[`)
		return true
	})
	res := walk(t, WalkOptions{Registry: reg.host})
	if len(res.images) != 1 || len(res.skipped) != 2 {
		t.Fatalf("%d images, skipped %v; want fine/app only", len(res.images), res.skipped)
	}
	for _, e := range res.skipped {
		if !strings.Contains(e.Error(), "larger than") {
			t.Errorf("%s: %v", e.Repo, e)
		}
	}
}
