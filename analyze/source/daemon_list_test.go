package source

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
)

func TestListDaemon(t *testing.T) {
	e := &fakeEngine{t: t, list: []image.Summary{
		{ID: "sha256:bbb", RepoTags: []string{"web:v2", "web:latest"}},
		{ID: "sha256:ccc"}, // dangling
		{ID: "sha256:aaa", RepoTags: []string{"<none>:<none>"}}, // dangling, as old engines list it
		{ID: "sha256:ddd", RepoTags: []string{"api:v1"}},
	}}
	opts := Options{Daemon: func() (DaemonClient, error) { return e, nil }}

	refs, _, err := ListDaemon(context.Background(), opts, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"api:v1", "web:latest", "web:v2"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("tagged: %v, want %v", refs, want)
	}

	var unlisted []string
	refs, unlisted, err = ListDaemon(context.Background(), opts, true, []string{"reference=web:*", "dangling=true", "label=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"api:v1", "web:latest", "web:v2", "sha256:aaa", "sha256:ccc"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("with dangling: %v, want %v", refs, want)
	}
	want := make(client.Filters).Add("reference", "web:*").Add("dangling", "true").Add("label", "a=b")
	// The filtered listing, then every image: those left out still hold layers.
	if got := e.listed[len(e.listed)-2]; !reflect.DeepEqual(got, want) {
		t.Errorf("filters sent %v, want %v", got, want)
	}
	if len(e.listed[len(e.listed)-1]) != 0 || len(unlisted) != 0 {
		t.Errorf("second listing %v, unlisted %v: want an unfiltered listing and nothing left out", e.listed[len(e.listed)-1], unlisted)
	}
}

func TestListDaemonErrors(t *testing.T) {
	e := &fakeEngine{t: t}
	opts := Options{Daemon: func() (DaemonClient, error) { return e, nil }}
	for _, f := range []string{"reference", "=x"} {
		if _, _, err := ListDaemon(context.Background(), opts, false, []string{f}); !errors.Is(err, ErrUsage) {
			t.Errorf("filter %q: %v, want a usage error", f, err)
		}
	}
	if len(e.listed) != 0 {
		t.Errorf("a bad filter still asked the engine")
	}
	if _, _, err := ListDaemon(context.Background(), Options{}, false, nil); !errors.Is(err, ErrUsage) {
		t.Errorf("no daemon configured: %v", err)
	}

	sock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	c, err := client.New(client.WithHost(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err = ListDaemon(context.Background(), Options{Daemon: func() (DaemonClient, error) { return c, nil }}, false, nil)
	if err == nil || !strings.Contains(err.Error(), "listing local images: cannot connect to the Docker engine at "+sock) {
		t.Errorf("no engine: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ListDaemon(ctx, Options{Daemon: func() (DaemonClient, error) { return c, nil }}, false, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
