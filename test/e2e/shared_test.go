//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/docker/go-units"
)

// sharedReport is `shared --format json`, the fields the tests read.
type sharedReport struct {
	Images []struct {
		Image      string `json:"image"`
		ID         string `json:"id"`
		Size       int64  `json:"size"`
		SharedSize int64  `json:"sharedSize"`
		UniqueSize int64  `json:"uniqueSize"`
	} `json:"images"`
	Layers []struct {
		ChainID     string   `json:"chainID"`
		Size        int64    `json:"size"`
		Instruction string   `json:"instruction"`
		Images      []string `json:"images"`
	} `json:"layers"`
	SameContent []struct {
		DiffID string `json:"diffID"`
	} `json:"sameContent"`
	TotalSize int64 `json:"totalSize"`
	DiskSize  int64 `json:"diskSize"`
	SavedSize int64 `json:"savedSize"`
}

func sharedJSON(t testing.TB, args ...string) sharedReport {
	t.Helper()
	out, errOut, code := layers(t, append([]string{"shared", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("shared %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	var r sharedReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("shared %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return r
}

// dfImage is one image of the engine's disk usage, in bytes.
type dfImage struct {
	ID         string `json:"Id"`
	RepoTags   []string
	Size       int64
	SharedSize int64
}

// UniqueSize is what `docker system df -v` prints as UNIQUE SIZE.
func (d dfImage) UniqueSize() int64 { return d.Size - d.SharedSize }

// engineDiskUsage asks the engine for what `docker system df -v` prints (GET /system/df),
// in bytes: the CLI's table rounds them to human units.
func engineDiskUsage(t testing.TB) map[string]dfImage {
	t.Helper()
	sock := strings.TrimPrefix(dockerHost(), "unix://")
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://docker/system/df", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var df struct{ Images []dfImage }
	if err := json.NewDecoder(resp.Body).Decode(&df); err != nil {
		t.Fatalf("GET /system/df: %v", err)
	}
	out := map[string]dfImage{}
	for _, im := range df.Images {
		out[im.ID] = im
	}
	return out
}

// dfVerboseImages parses the images section of `docker system df -v`: REPOSITORY:TAG →
// the SIZE, SHARED SIZE and UNIQUE SIZE columns as printed.
func dfVerboseImages(t testing.TB) map[string][3]string {
	t.Helper()
	out := docker(t, "system", "df", "-v")
	rows := map[string][3]string{}
	in := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Images space usage"):
			in = true
			continue
		case strings.TrimSpace(line) == "":
			if in && len(rows) > 0 {
				return rows
			}
			continue
		}
		f := strings.Fields(line)
		// REPOSITORY TAG IMAGE-ID CREATED(several words) SIZE SHARED-SIZE UNIQUE-SIZE CONTAINERS
		if !in || f[0] == "REPOSITORY" || len(f) < 8 {
			continue
		}
		n := len(f)
		rows[f[0]+":"+f[1]] = [3]string{f[n-4], f[n-3], f[n-2]}
	}
	return rows
}

// humanEqual reports whether printed is how docker prints n: its tables use 3 or 4
// significant digits depending on the column and the release.
func humanEqual(printed string, n int64) bool {
	return printed == units.HumanSizeWithPrecision(float64(n), 3) || printed == units.HumanSizeWithPrecision(float64(n), 4)
}

const (
	svcA = "e2e/shared-svc-a:v1"
	svcB = "e2e/shared-svc-b:v1"
)

func buildServices(t testing.TB) {
	t.Helper()
	build(t, "shared", "Dockerfile.svc-a", svcA, false)
	build(t, "shared", "Dockerfile.svc-b", svcB, false)
}

// TestSharedServices builds two services on one base with one shared runtime layer and
// checks each image's shared and unique sizes against `docker system df -v`.
func TestSharedServices(t *testing.T) {
	buildServices(t)
	r := sharedJSON(t, svcA, svcB)
	df := engineDiskUsage(t)
	if len(r.Images) != 2 {
		t.Fatalf("want 2 images, got %+v", r.Images)
	}
	sharedChains := map[string]bool{}
	for _, l := range r.Layers {
		sharedChains[l.ChainID] = true
	}
	for _, im := range r.Images {
		d, ok := df[engineID(t, im.Image)]
		if !ok {
			t.Fatalf("%s (%s) not in the engine's disk usage", im.Image, im.ID)
		}
		checkDiskUsage(t, im.Image, im.Size, im.SharedSize, d, sharedChains, false, true)
		t.Logf("%s: size %d, shared %d, unique %d (system df: %d, %d, %d)",
			im.Image, im.Size, im.SharedSize, im.UniqueSize, d.Size, d.SharedSize, d.UniqueSize())
	}
	// The runtime layer is one of the shared layers, made by the RUN step.
	var runtime bool
	for _, l := range r.Layers {
		if strings.Contains(l.Instruction, "/opt/runtime") {
			runtime = true
			if l.Size < 300000 || len(l.Images) != 2 {
				t.Errorf("runtime layer = %+v, want ≥300000 bytes in both services", l)
			}
		}
	}
	if !runtime {
		t.Errorf("no shared runtime layer in %+v", r.Layers)
	}
	// What each service adds on its own is its unique size: code and data only.
	a, b := r.Images[0], r.Images[1]
	if a.UniqueSize < 40000 || a.UniqueSize > 50000 || b.UniqueSize < 90000 || b.UniqueSize > 100000 {
		t.Errorf("unique sizes %d and %d, want about 40 kB and 90 kB", a.UniqueSize, b.UniqueSize)
	}
	if r.DiskSize != r.TotalSize-a.SharedSize || r.SavedSize != a.SharedSize {
		t.Errorf("totals %d/%d/%d: two images share exactly their shared size once", r.TotalSize, r.DiskSize, r.SavedSize)
	}

	// The human columns agree too, for the two services: with ours on the classic store,
	// with the engine's own bytes on the containerd store.
	rows := dfVerboseImages(t)
	for _, im := range r.Images {
		got, ok := rows[im.Image]
		if !ok {
			t.Errorf("%s not in docker system df -v: %v", im.Image, rows)
			continue
		}
		want := []int64{im.Size, im.SharedSize, im.UniqueSize}
		if containerdStore() {
			d := df[engineID(t, im.Image)]
			want = []int64{d.Size, d.SharedSize, d.UniqueSize()}
		}
		for i, n := range want {
			if !humanEqual(got[i], n) {
				t.Errorf("%s: docker system df -v prints %v, want %v bytes", im.Image, got, want)
				break
			}
		}
	}
}

// TestSharedAll checks --all --include-dangling against the engine's own figures for
// every image: the same set of images (tagged, and untagged leaves) and the same sizes.
func TestSharedAll(t *testing.T) {
	buildServices(t)
	r := sharedJSON(t, "--all", "--include-dangling")
	df := engineDiskUsage(t)
	sharedChains := map[string]bool{}
	for _, l := range r.Layers {
		sharedChains[l.ChainID] = true
	}
	for _, c := range r.SameContent {
		sharedChains[sameContentKey+c.DiffID] = true
	}
	seen := map[string]bool{}
	ids := map[string]string{}                  // reference → engine ID
	engineIDsOf := map[string]map[string]bool{} // config digest → engine IDs
	for _, im := range r.Images {
		ids[im.Image] = engineID(t, im.Image)
		if engineIDsOf[im.ID] == nil {
			engineIDsOf[im.ID] = map[string]bool{}
		}
		engineIDsOf[im.ID][ids[im.Image]] = true
	}
	for _, im := range r.Images {
		id := ids[im.Image]
		seen[id] = true
		d, ok := df[id]
		if !ok {
			t.Errorf("%s (%s) not in the engine's disk usage", im.Image, id)
			continue
		}
		checkDiskUsage(t, im.Image, im.Size, im.SharedSize, d, sharedChains, len(engineIDsOf[im.ID]) > 1, false)
	}
	var missing []string
	for id, d := range df {
		if !seen[id] {
			missing = append(missing, id+" "+strings.Join(d.RepoTags, ","))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("in the engine's disk usage but not in shared --all --include-dangling: %v", missing)
	}
	t.Logf("%d references, %d images: total %d, disk %d, saved %d", len(r.Images), len(seen), r.TotalSize, r.DiskSize, r.SavedSize)

	// --filter reference narrows the set as docker image ls does.
	r = sharedJSON(t, "--all", "--filter", "reference=e2e/shared-svc-*")
	var refs []string
	for _, im := range r.Images {
		refs = append(refs, im.Image)
	}
	if strings.Join(refs, " ") != svcA+" "+svcB {
		t.Errorf("--filter reference=e2e/shared-svc-*: images %v, want %s and %s", refs, svcA, svcB)
	}
}
