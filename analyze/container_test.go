package analyze

import (
	"reflect"
	"strings"
	"testing"
)

// changes builds a change list from "KIND PATH [SIZE]" lines; a path without a size is
// unmeasured, and directories are found by MarkDirs.
func changes(t *testing.T, lines ...string) []Change {
	t.Helper()
	var out []Change
	for _, l := range lines {
		f := strings.Fields(l)
		ch := Change{Kind: ChangeKind(f[0]), Path: f[1], Size: Unknown}
		if ch.Kind == ChangeDeleted {
			ch.Size = 0
		}
		if len(f) == 3 {
			var n int64
			for _, r := range f[2] {
				n = n*10 + int64(r-'0')
			}
			ch.Size = n
		}
		out = append(out, ch)
	}
	c := Container{Changes: out}
	c.MarkDirs()
	return out
}

func kinds(ws []ContainerWarning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Kind+" "+w.Path)
	}
	return out
}

func TestMarkDirs(t *testing.T) {
	cs := changes(t, "C /var", "C /var/lib", "A /var/lib/mysql", "A /var/lib/mysql/ibdata1", "A /empty", "D /etc/motd")
	var dirs []string
	for _, c := range cs {
		if c.Dir {
			dirs = append(dirs, c.Path)
			if c.Size != 0 {
				t.Errorf("%s: directory size %d, want 0", c.Path, c.Size)
			}
		}
	}
	if want := []string{"/var", "/var/lib", "/var/lib/mysql"}; !reflect.DeepEqual(dirs, want) {
		t.Errorf("dirs %v, want %v", dirs, want)
	}
}

func TestChangesToMeasure(t *testing.T) {
	c := Container{SizeRw: 5000, Changes: changes(t,
		"C /var", "C /var/lib", "A /var/lib/mysql", "A /var/lib/mysql/ibdata1",
		"C /tmp", "A /tmp/app.sqlite3", "A /tmp/x.log", "D /etc/motd")}
	paths := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, c.Changes[i].Path)
		}
		return out
	}
	if got, want := paths(ChangesToMeasure(c, ContainerOptions{})), []string{"/var/lib/mysql/ibdata1", "/tmp/app.sqlite3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("below the threshold: %v, want %v", got, want)
	}
	all := []string{"/var/lib/mysql/ibdata1", "/tmp/app.sqlite3", "/tmp/x.log"}
	if got := paths(ChangesToMeasure(c, ContainerOptions{GrowthThreshold: 4000})); !reflect.DeepEqual(got, all) {
		t.Errorf("over the threshold: %v, want %v", got, all)
	}
	if got := paths(ChangesToMeasure(c, ContainerOptions{AllSizes: true})); !reflect.DeepEqual(got, all) {
		t.Errorf("all sizes: %v, want %v", got, all)
	}
}

func TestDatabaseInWritableLayer(t *testing.T) {
	c := Container{Name: "db", Image: "e2e/app", SizeRw: 3000, Changes: changes(t,
		"A /data", "A /data/db", "A /data/db/collection-0.wt 2000", "A /data/db/journal", "A /data/db/journal/log.1 900",
		"C /srv", "A /srv/app.sqlite 100", "C /etc", "C /etc/hosts 0")}
	r := InspectContainer(c, nil, nil, nil, ContainerOptions{})
	want := []ContainerWarning{
		{Kind: WarnDatabaseInLayer, Path: "/data/db", Bytes: 2900},
		{Kind: WarnDatabaseInLayer, Path: "/srv/app.sqlite", Bytes: 100},
	}
	if len(r.Warnings) != len(want) {
		t.Fatalf("warnings %v, want %v", kinds(r.Warnings), want)
	}
	for i, w := range want {
		got := r.Warnings[i]
		if got.Kind != w.Kind || got.Path != w.Path || got.Bytes != w.Bytes || got.Unmeasured != 0 {
			t.Errorf("warning %d: %+v, want %+v", i, got, w)
		}
		if !strings.Contains(got.Message, got.Path) {
			t.Errorf("message %q does not name %s", got.Message, got.Path)
		}
	}
	if !strings.Contains(r.Warnings[0].Message, "MongoDB") || !strings.Contains(r.Warnings[0].Message, "-v NAME:/data/db") {
		t.Errorf("database message: %q", r.Warnings[0].Message)
	}
}

func TestNoWarningsWhenDataIsInVolumes(t *testing.T) {
	// A database that writes into a named volume leaves only the mount point behind.
	c := Container{Name: "db", Image: "mongo:7", SizeRw: 12, Changes: changes(t, "A /data", "A /data/db", "C /tmp", "A /tmp/mongodb-27017.sock 0"),
		Mounts: []Mount{{Type: "volume", Name: "mongo_data", Destination: "/data/db", ReadWrite: true}}}
	c.MarkDirs()
	if want := []int(nil); !reflect.DeepEqual(ChangesToMeasure(c, ContainerOptions{}), want) {
		t.Errorf("measuring %v, want nothing", ChangesToMeasure(c, ContainerOptions{}))
	}
	others := []ContainerRef{{ID: "other", Name: "web", Image: "node:20", Mounts: []Mount{{Type: "volume", Name: "mongo_data", Destination: "/srv/data"}}}}
	if r := InspectContainer(c, []string{"/data/db"}, others, nil, ContainerOptions{}); len(r.Warnings) != 0 {
		t.Errorf("warnings: %+v", r.Warnings)
	}
}

func TestLayerGrowth(t *testing.T) {
	c := Container{SizeRw: 4600, Changes: changes(t,
		"C /var", "C /var/log", "A /var/log/app", "A /var/log/app/a.log 1500", "A /var/log/app/b.log 1500",
		"C /tmp", "A /tmp/x 700", "A /tmp/y 700",
		"C /var/lib", "A /var/lib/mysql", "A /var/lib/mysql/ibdata1 200")}
	r := InspectContainer(c, nil, nil, nil, ContainerOptions{GrowthThreshold: 1000})
	got := kinds(r.Warnings)
	// /var/log/app is the deepest directory over 1000 bytes; /tmp has 1400 in two small
	// files; MySQL's bytes are named once, by the database warning.
	want := []string{WarnDatabaseInLayer + " /var/lib/mysql", WarnLayerGrowth + " /tmp", WarnLayerGrowth + " /var/log/app"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings %v, want %v", got, want)
	}
	if b := r.Warnings[2].Bytes; b != 3000 {
		t.Errorf("/var/log/app bytes %d, want 3000", b)
	}

	// Below the threshold nothing grows too much.
	c.SizeRw = 999
	if r := InspectContainer(c, nil, nil, nil, ContainerOptions{GrowthThreshold: 1000}); len(r.Warnings) != 1 {
		t.Errorf("below the threshold: %v", kinds(r.Warnings))
	}
}

func TestLayerGrowthUnmeasured(t *testing.T) {
	c := Container{SizeRw: 5000, Changes: changes(t, "A /big", "A /big/a 3000", "A /big/b")}
	r := InspectContainer(c, nil, nil, nil, ContainerOptions{GrowthThreshold: 1000})
	if len(r.Warnings) != 1 || r.Warnings[0].Path != "/big" || r.Warnings[0].Bytes != 3000 || r.Warnings[0].Unmeasured != 1 {
		t.Errorf("warnings %+v", r.Warnings)
	}
}

func TestAnonymousVolume(t *testing.T) {
	anon := strings.Repeat("ab", 32)
	c := Container{Name: "app", Image: "e2e/vol", SizeRw: 0, Mounts: []Mount{
		{Type: "volume", Name: anon, Destination: "/var/lib/app", Anonymous: true},
		{Type: "volume", Name: "cache", Destination: "/cache"},
		{Type: "bind", Source: "/srv/conf", Destination: "/etc/app"},
	}}
	r := InspectContainer(c, []string{"/var/lib/app"}, nil, map[string]int64{anon: 4096}, ContainerOptions{})
	if len(r.Warnings) != 1 {
		t.Fatalf("warnings %v", kinds(r.Warnings))
	}
	w := r.Warnings[0]
	if w.Kind != WarnAnonymousVolume || w.Path != "/var/lib/app" || w.Volume != anon || w.Bytes != 4096 {
		t.Errorf("warning %+v", w)
	}
	if !strings.Contains(w.Message, "the image's VOLUME /var/lib/app") || !strings.Contains(w.Message, "named volume") {
		t.Errorf("message %q", w.Message)
	}
	// Not known to be declared, and no size: still anonymous, bytes unknown.
	r = InspectContainer(c, nil, nil, nil, ContainerOptions{})
	if w := r.Warnings[0]; strings.Contains(w.Message, "VOLUME") || w.Bytes != Unknown {
		t.Errorf("undeclared: %+v", w)
	}
}

func TestSharedDatabaseVolume(t *testing.T) {
	c := Container{ID: "c1", Name: "mongo1", Image: "mongo:7", Mounts: []Mount{{Type: "volume", Name: "mongo_data", Destination: "/data/db"}}}
	others := []ContainerRef{
		{ID: "c1", Name: "mongo1", Image: "mongo:7", Mounts: c.Mounts}, // itself, as a listing has it
		{ID: "c2", Name: "mongo2", Image: "docker.io/library/mongo:6@sha256:abc", Mounts: []Mount{{Type: "volume", Name: "mongo_data", Destination: "/data/db"}}},
		{ID: "c3", Name: "pg", Image: "e2e/busybox", Mounts: []Mount{{Type: "volume", Name: "mongo_data", Destination: "/var/lib/postgresql/data"}}},
		{ID: "c4", Name: "backup", Image: "e2e/busybox", Mounts: []Mount{{Type: "volume", Name: "mongo_data", Destination: "/backup"}}},
		{ID: "c5", Name: "other", Image: "mongo:7", Mounts: []Mount{{Type: "volume", Name: "other_data", Destination: "/data/db"}}},
	}
	r := InspectContainer(c, nil, others, map[string]int64{"mongo_data": 1 << 20}, ContainerOptions{})
	if len(r.Warnings) != 1 {
		t.Fatalf("warnings %v", kinds(r.Warnings))
	}
	w := r.Warnings[0]
	if w.Kind != WarnSharedDatabaseVolume || w.Path != "/data/db" || w.Volume != "mongo_data" || w.Bytes != 1<<20 ||
		!reflect.DeepEqual(w.Containers, []string{"mongo2", "pg"}) {
		t.Errorf("warning %+v", w)
	}

	// A backup job reading a database's volume is not a second database.
	r = InspectContainer(c, nil, others[3:4], nil, ContainerOptions{})
	if len(r.Warnings) != 0 {
		t.Errorf("backup sharer: %v", kinds(r.Warnings))
	}
}

func TestIsDatabaseImage(t *testing.T) {
	for ref, want := range map[string]bool{
		"mongo": true, "mongo:7": true, "docker.io/library/postgres:16-alpine": true, "bitnami/redis@sha256:00": true,
		"registry:5000/mysql:8": true, "node:20": false, "mongo-express": false, "": false,
	} {
		if got := isDatabaseImage(ref); got != want {
			t.Errorf("isDatabaseImage(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestWritableLayers(t *testing.T) {
	u := WritableLayers([]Container{
		{Name: "b", Image: "app:v1", ImageID: "sha256:aa", SizeRw: 10},
		{Name: "a", Image: "app:v1", ImageID: "sha256:aa", SizeRw: 5},
		{Name: "c", Image: "db", ImageID: "sha256:bb", SizeRw: 100},
		{Name: "d", Image: "sha256:cc", ImageID: "sha256:cc", SizeRw: 0},
	})
	want := WritableUsage{Containers: 4, SizeRw: 115, Images: []ImageWritable{
		{ImageID: "sha256:bb", Image: "db", Containers: []string{"c"}, SizeRw: 100},
		{ImageID: "sha256:aa", Image: "app:v1", Containers: []string{"a", "b"}, SizeRw: 15},
		{ImageID: "sha256:cc", Image: "sha256:cc", Containers: []string{"d"}, SizeRw: 0},
	}}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got %+v\nwant %+v", u, want)
	}
	if u := WritableLayers([]Container{{ImageID: "x", SizeRw: Unknown}, {ImageID: "y", SizeRw: 3}}); u.SizeRw != Unknown {
		t.Errorf("unknown size total %d", u.SizeRw)
	}
}
