package analyze

import (
	"path"
	"sort"
	"strings"
)

// Container is a container as the engine describes it: an image plus one writable layer
// and the mounts that lie over both. It is a value of its own beside Image, which does
// not know about containers.
type Container struct {
	ID string
	// Name is the container's name without the engine's leading "/".
	Name string
	// Image is the image as the container was created from it ("mongo:7"); ImageID is
	// the ID of that image.
	Image   string
	ImageID string
	// State is the engine's state: "running", "exited", "created"…
	State string
	// SizeRw is the size of the writable layer as `docker ps -s` reports it
	// (uncompressed): the bytes of the files the container added or changed. Unknown
	// when the engine was not asked.
	SizeRw int64
	// SizeRootFs is the image's size plus SizeRw, "virtual" in `docker ps -s`
	// (uncompressed); Unknown when the engine was not asked.
	SizeRootFs int64
	Mounts     []Mount
	// Changes are what the container added, changed and deleted, as `docker diff`
	// lists them; nil when they were not read.
	Changes []Change
}

// Mount is a volume, bind mount or tmpfs lying over the container's filesystem.
type Mount struct {
	// Type is the engine's mount type: "volume", "bind", "tmpfs", "npipe"…
	Type string
	// Name is the volume's name; empty for other types.
	Name string
	// Source is where the data lives on the engine's host (empty for tmpfs).
	Source      string
	Destination string
	ReadWrite   bool
	// Anonymous is true for a volume the engine created and named itself, for an
	// image's VOLUME or a `-v /path` without a name.
	Anonymous bool
}

// ChangeKind is how a path changed, as `docker diff` prints it.
type ChangeKind string

// The kinds of change.
const (
	ChangeAdded    ChangeKind = "A"
	ChangeModified ChangeKind = "C"
	ChangeDeleted  ChangeKind = "D"
)

// Change is one path of the container's filesystem that differs from its image.
type Change struct {
	Kind ChangeKind
	Path string
	// Dir is true for a directory: one that another change lies under, or that the
	// engine said is one when the path was measured.
	Dir bool
	// Size is the uncompressed size the writable layer holds for an added or changed
	// file (a symlink's target length, as the engine counts it): 0 for directories and
	// deletions, Unknown when not measured.
	Size int64
}

// DefaultGrowthThreshold is the writable-layer size from which a path growing it
// without a volume is worth a warning (uncompressed bytes).
const DefaultGrowthThreshold int64 = 100 * 1000 * 1000

// ContainerOptions tune the container analysis.
type ContainerOptions struct {
	// GrowthThreshold is the number of bytes a directory must hold in the writable
	// layer to be warned about; 0 means DefaultGrowthThreshold.
	GrowthThreshold int64
	// AllSizes asks for the size of every changed file (to list them), not only of
	// those the warnings need.
	AllSizes bool
}

func (o ContainerOptions) threshold() int64 {
	if o.GrowthThreshold > 0 {
		return o.GrowthThreshold
	}
	return DefaultGrowthThreshold
}

// Warning kinds, as JSON carries them.
const (
	// WarnDatabaseInLayer: a database's files in the writable layer, which dies
	// with the container.
	WarnDatabaseInLayer = "database-in-writable-layer"
	// WarnLayerGrowth: a directory outside any volume holds more than the threshold in
	// the writable layer.
	WarnLayerGrowth = "writable-layer-growth"
	// WarnAnonymousVolume: a volume the engine named itself (an image's VOLUME): it
	// outlives the container but is easy to lose and hard to find again.
	WarnAnonymousVolume = "anonymous-volume"
	// WarnSharedDatabaseVolume: one volume mounted by several database containers.
	WarnSharedDatabaseVolume = "shared-database-volume"
)

// ContainerWarning is one finding about where a container keeps its data.
type ContainerWarning struct {
	// Kind is one of the Warn constants.
	Kind string
	// Path is the path in the container the warning is about.
	Path string
	// Bytes is how much data is at stake (uncompressed): the files under Path in the
	// writable layer, or the volume's size; Unknown when not measured.
	Bytes int64
	// Unmeasured counts the files under Path whose size was not measured, so Bytes
	// is a lower bound when it is not 0.
	Unmeasured int
	// Volume is the volume's name for the volume warnings.
	Volume string
	// Containers are the other containers mounting Volume.
	Containers []string
	// Message says, in one sentence, what is wrong and what to do about it.
	Message string
}

// ContainerReport is what `inspect` reports of a container beside its image.
type ContainerReport struct {
	Container
	// DeclaredVolumes are the image's VOLUME paths.
	DeclaredVolumes []string
	Warnings        []ContainerWarning
}

// ContainerRef is another container of the engine, as a listing shows it: enough to
// tell who else mounts a volume.
type ContainerRef struct {
	ID, Name, Image string
	Mounts          []Mount
}

// A databaseDir is where a database server keeps its files by default.
type databaseDir struct {
	path, server string
}

// databaseDirs are the data directories of common database servers (their official
// images' VOLUME paths and package defaults).
var databaseDirs = []databaseDir{
	{"/data/db", "MongoDB"},
	{"/data/configdb", "MongoDB"},
	{"/var/lib/mongodb", "MongoDB"},
	{"/var/lib/mysql", "MySQL/MariaDB"},
	{"/var/lib/postgresql", "PostgreSQL"},
	{"/var/lib/pgsql", "PostgreSQL"},
	{"/var/lib/redis", "Redis"},
	{"/var/lib/cassandra", "Cassandra"},
	{"/var/lib/elasticsearch", "Elasticsearch"},
	{"/usr/share/elasticsearch/data", "Elasticsearch"},
	{"/usr/share/opensearch/data", "OpenSearch"},
	{"/var/lib/couchdb", "CouchDB"},
	{"/opt/couchdb/data", "CouchDB"},
	{"/var/lib/neo4j/data", "Neo4j"},
	{"/var/lib/influxdb", "InfluxDB"},
	{"/var/lib/influxdb2", "InfluxDB"},
	{"/var/lib/clickhouse", "ClickHouse"},
	{"/var/opt/mssql", "SQL Server"},
	{"/var/lib/rabbitmq", "RabbitMQ"},
	{"/var/lib/etcd", "etcd"},
}

// databaseImages are the repositories (last path element) of common database images.
var databaseImages = map[string]bool{
	"mongo": true, "mongodb": true, "mysql": true, "mariadb": true, "postgres": true,
	"postgresql": true, "redis": true, "valkey": true, "cassandra": true, "elasticsearch": true,
	"opensearch": true, "couchdb": true, "neo4j": true, "influxdb": true, "clickhouse-server": true,
	"mssql-server": true, "rabbitmq": true, "etcd": true, "cockroach": true,
}

// sqliteSuffixes mark SQLite database files wherever they are.
var sqliteSuffixes = []string{".sqlite", ".sqlite3"}

// databaseDirOf returns the database data directory p lies in (or is).
func databaseDirOf(p string) (databaseDir, bool) {
	for _, d := range databaseDirs {
		if under(p, d.path) {
			return d, true
		}
	}
	return databaseDir{}, false
}

func isSQLite(p string) bool {
	for _, s := range sqliteSuffixes {
		if strings.HasSuffix(strings.ToLower(p), s) {
			return true
		}
	}
	return false
}

// isDatabaseImage is true for an image reference whose repository is a database's.
func isDatabaseImage(ref string) bool {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	name := ref[strings.LastIndexByte(ref, '/')+1:]
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return databaseImages[name]
}

// under is true when p is dir or lies below it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// MarkDirs sets Dir (and a size of 0) on every change that another change lies under
// (the engine lists a directory whenever something inside it changed) and on every
// mount point and the directories above it: the engine creates a mount point in the
// writable layer empty, and what is written there goes to the mount.
func (c *Container) MarkDirs() {
	paths := make(map[string]int, len(c.Changes))
	for i, ch := range c.Changes {
		paths[ch.Path] = i
	}
	mark := func(p string) {
		for ; p != "/" && p != "."; p = path.Dir(p) {
			if i, ok := paths[p]; ok {
				if c.Changes[i].Dir {
					return
				}
				c.Changes[i].Dir, c.Changes[i].Size = true, 0
			}
		}
	}
	for _, ch := range c.Changes {
		mark(path.Dir(ch.Path))
	}
	for _, m := range c.Mounts {
		mark(path.Clean(m.Destination))
	}
}

// ChangesToMeasure returns the indexes of the changes whose sizes the analysis needs:
// added or changed paths that are not known directories, under a database directory or
// named like a SQLite file, or all of them when the writable layer has reached the
// growth threshold (or its size is unknown) or o.AllSizes is set. Call MarkDirs first.
func ChangesToMeasure(c Container, o ContainerOptions) []int {
	all := o.AllSizes || c.SizeRw < 0 || c.SizeRw >= o.threshold()
	var want []int
	for i, ch := range c.Changes {
		if ch.Kind == ChangeDeleted || ch.Dir || ch.Size >= 0 {
			continue
		}
		_, db := databaseDirOf(ch.Path)
		if all || db || isSQLite(ch.Path) {
			want = append(want, i)
		}
	}
	return want
}

// InspectContainer decides what is worth a warning about where a container keeps its
// data. declared are the image's VOLUME paths; others are the engine's other
// containers (for volumes mounted by several); volumeSizes are volume sizes by name
// where known.
func InspectContainer(c Container, declared []string, others []ContainerRef, volumeSizes map[string]int64, o ContainerOptions) ContainerReport {
	r := ContainerReport{Container: c, DeclaredVolumes: declared}
	layer, claimed := databaseWarnings(c.Changes)
	r.Warnings = append(r.Warnings, layer...)
	r.Warnings = append(r.Warnings, growthWarnings(c, claimed, o.threshold())...)
	r.Warnings = append(r.Warnings, volumeWarnings(c, declared, others, volumeSizes)...)
	return r
}

// fileChange is true for a change that put data in the writable layer.
func fileChange(ch Change) bool {
	return ch.Kind != ChangeDeleted && !ch.Dir
}

// tally adds up sizes, counting the unknown ones apart.
type tally struct {
	bytes      int64
	unmeasured int
	files      int
}

func (t *tally) add(ch Change) {
	t.files++
	if ch.Size < 0 {
		t.unmeasured++
		return
	}
	t.bytes += ch.Size
}

// databaseWarnings finds database files in the writable layer: under a database
// server's data directory, or SQLite files anywhere. claimed are the paths warned about,
// so the growth warning does not count their bytes again.
func databaseWarnings(changes []Change) (ws []ContainerWarning, claimed []string) {
	dirs := map[string]*tally{}
	var order []string
	var sqlite []Change
	for _, ch := range changes {
		if !fileChange(ch) {
			continue
		}
		if d, ok := databaseDirOf(ch.Path); ok {
			t := dirs[d.path]
			if t == nil {
				t = &tally{}
				dirs[d.path] = t
				order = append(order, d.path)
			}
			t.add(ch)
			continue
		}
		if isSQLite(ch.Path) {
			sqlite = append(sqlite, ch)
		}
	}
	sort.Strings(order)
	for _, p := range order {
		d, _ := databaseDirOf(p)
		t := dirs[p]
		ws = append(ws, ContainerWarning{
			Kind: WarnDatabaseInLayer, Path: p, Bytes: t.bytes, Unmeasured: t.unmeasured,
			Message: d.server + " data in " + p + " is in the container's writable layer, not in a volume: it is lost when the container is removed; mount a named volume there (docker run -v NAME:" + p + ")",
		})
		claimed = append(claimed, p)
	}
	for _, ch := range sqlite {
		var t tally
		t.add(ch)
		ws = append(ws, ContainerWarning{
			Kind: WarnDatabaseInLayer, Path: ch.Path, Bytes: t.bytes, Unmeasured: t.unmeasured,
			Message: "the SQLite database " + ch.Path + " is in the container's writable layer, not in a volume: it is lost when the container is removed; keep it in a directory with a named volume mounted",
		})
		claimed = append(claimed, ch.Path)
	}
	return ws, claimed
}

// growthWarnings names the deepest directories that hold at least threshold bytes of
// the writable layer, leaving out the bytes a database warning already names. A volume
// keeps data out of the writable layer, so every byte counted here lies outside them.
func growthWarnings(c Container, claimed []string, threshold int64) []ContainerWarning {
	if c.SizeRw >= 0 && c.SizeRw < threshold {
		return nil
	}
	dirs := map[string]*tally{}
	for _, ch := range c.Changes {
		if !fileChange(ch) || claimedBy(ch.Path, claimed) {
			continue
		}
		for d := path.Dir(ch.Path); ; d = path.Dir(d) {
			t := dirs[d]
			if t == nil {
				t = &tally{}
				dirs[d] = t
			}
			t.add(ch)
			if d == "/" || d == "." {
				break
			}
		}
	}
	var over []string
	for d, t := range dirs {
		if t.bytes >= threshold {
			over = append(over, d)
		}
	}
	sort.Strings(over)
	var ws []ContainerWarning
	for i, d := range over {
		deeper := false
		for _, e := range over[i+1:] {
			if e != d && under(e, d) {
				deeper = true
				break
			}
		}
		if deeper {
			continue
		}
		t := dirs[d]
		ws = append(ws, ContainerWarning{
			Kind: WarnLayerGrowth, Path: d, Bytes: t.bytes, Unmeasured: t.unmeasured,
			Message: d + " grows the container's writable layer outside any volume: the data is lost when the container is removed and makes the layer slow to copy; mount a named volume there, or a tmpfs for scratch data",
		})
	}
	return ws
}

func claimedBy(p string, claimed []string) bool {
	for _, c := range claimed {
		if under(p, c) {
			return true
		}
	}
	return false
}

// volumeWarnings looks at the container's volumes: anonymous ones, and ones that
// several database containers mount.
func volumeWarnings(c Container, declared []string, others []ContainerRef, sizes map[string]int64) []ContainerWarning {
	var ws []ContainerWarning
	size := func(name string) int64 {
		if s, ok := sizes[name]; ok {
			return s
		}
		return Unknown
	}
	for _, m := range c.Mounts {
		if m.Type != "volume" || m.Name == "" {
			continue
		}
		if m.Anonymous {
			why := "an anonymous volume"
			if contains(declared, m.Destination) {
				why = "an anonymous volume for the image's VOLUME " + m.Destination
			}
			ws = append(ws, ContainerWarning{
				Kind: WarnAnonymousVolume, Path: m.Destination, Bytes: size(m.Name), Volume: m.Name,
				Message: m.Destination + " is served by " + why + ": the data outlives the container but is easy to lose (docker rm -v, docker volume prune) and hard to find again; use a named volume (docker run -v NAME:" + m.Destination + ")",
			})
		}
		if !isDatabaseMount(c.Image, m.Destination) {
			continue
		}
		var sharers []string
		for _, o := range others {
			if o.ID == c.ID {
				continue
			}
			for _, om := range o.Mounts {
				if om.Type == "volume" && om.Name == m.Name && isDatabaseMount(o.Image, om.Destination) {
					sharers = append(sharers, o.Name)
					break
				}
			}
		}
		if len(sharers) == 0 {
			continue
		}
		sort.Strings(sharers)
		ws = append(ws, ContainerWarning{
			Kind: WarnSharedDatabaseVolume, Path: m.Destination, Bytes: size(m.Name), Volume: m.Name, Containers: sharers,
			Message: "the volume " + m.Name + " at " + m.Destination + " is also mounted by the database container(s) " + strings.Join(sharers, ", ") + ": two servers writing one data directory corrupt it; give each database container its own volume",
		})
	}
	return ws
}

// isDatabaseMount is true when a container of image mounts a volume at dest as a
// database's data: a database image, or a database server's data directory.
func isDatabaseMount(image, dest string) bool {
	if isDatabaseImage(image) {
		return true
	}
	_, ok := databaseDirOf(dest)
	return ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WritableUsage is what the writable layers of the engine's containers take, per image.
type WritableUsage struct {
	// Images are the images containers run from, largest writable total first.
	Images []ImageWritable
	// SizeRw is the writable layers' total (uncompressed); Unknown if any is unknown.
	SizeRw     int64
	Containers int
}

// ImageWritable is the writable layers of the containers of one image.
type ImageWritable struct {
	ImageID string
	// Image is the image as the first container was created from it.
	Image string
	// Containers are the containers' names, sorted.
	Containers []string
	// SizeRw is the sum of their writable layers (uncompressed); Unknown if any is.
	SizeRw int64
}

// WritableLayers adds up the containers' writable layers per image.
func WritableLayers(cs []Container) WritableUsage {
	u := WritableUsage{Containers: len(cs)}
	byID := map[string]*ImageWritable{}
	var order []string
	for _, c := range cs {
		iw := byID[c.ImageID]
		if iw == nil {
			iw = &ImageWritable{ImageID: c.ImageID, Image: c.Image}
			byID[c.ImageID] = iw
			order = append(order, c.ImageID)
		}
		iw.Containers = append(iw.Containers, c.Name)
		iw.SizeRw = addKnown(iw.SizeRw, c.SizeRw)
		u.SizeRw = addKnown(u.SizeRw, c.SizeRw)
	}
	for _, id := range order {
		iw := byID[id]
		sort.Strings(iw.Containers)
		u.Images = append(u.Images, *iw)
	}
	sort.SliceStable(u.Images, func(i, j int) bool {
		if u.Images[i].SizeRw != u.Images[j].SizeRw {
			return u.Images[i].SizeRw > u.Images[j].SizeRw
		}
		return u.Images[i].ImageID < u.Images[j].ImageID
	})
	return u
}

// addKnown adds sizes, an Unknown on either side making the sum Unknown.
func addKnown(a, b int64) int64 {
	if a < 0 || b < 0 {
		return Unknown
	}
	return a + b
}
