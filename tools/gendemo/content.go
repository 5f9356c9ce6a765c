package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one tar member of a layer. Directory names end in "/".
type entry struct {
	name     string
	typ      byte
	mode     int64
	data     []byte
	linkname string
	mtime    time.Time
}

func file(name string, mode int64, data []byte, mtime time.Time) entry {
	return entry{name: name, typ: tar.TypeReg, mode: mode, data: data, mtime: mtime}
}

func dir(name string, mode int64, mtime time.Time) entry {
	return entry{name: strings.TrimSuffix(name, "/") + "/", typ: tar.TypeDir, mode: mode, mtime: mtime}
}

func symlink(name, target string, mtime time.Time) entry {
	return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, linkname: target, mtime: mtime}
}

func hardlink(name, target string, mtime time.Time) entry {
	return entry{name: name, typ: tar.TypeLink, mode: 0o755, linkname: target, mtime: mtime}
}

// withParents adds a directory entry for every missing parent of the given
// entries, the way a layer diff records the directories a change lives in.
func withParents(entries []entry, mtime time.Time) []entry {
	have := make(map[string]bool, len(entries))
	for _, e := range entries {
		have[e.name] = true
	}
	out := append([]entry(nil), entries...)
	for _, e := range entries {
		for p := path.Dir(strings.TrimSuffix(e.name, "/")); p != "." && p != "/"; p = path.Dir(p) {
			if !have[p+"/"] {
				have[p+"/"] = true
				out = append(out, dir(p, 0o755, mtime))
			}
		}
	}
	return out
}

// layerOptions describe how a builder writes its layer tarballs.
type layerOptions struct {
	// format is the tar header format; PAX keeps sub-second mtimes.
	format tar.Format
	// mediaType is the layer's descriptor media type.
	mediaType types.MediaType
}

// layerTar writes the entries, sorted by name, as an uncompressed tarball.
func layerTar(entries []entry, format tar.Format) ([]byte, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range sorted {
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Linkname: e.linkname,
			Mode:     e.mode,
			Size:     int64(len(e.data)),
			ModTime:  e.mtime,
			Format:   format,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing tar header %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing tar member %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newLayer gzips the tarball of entries in memory and wraps it as a layer.
// The gzip header carries no name or mtime, so equal entries give equal blobs.
func newLayer(entries []entry, opts layerOptions) (v1.Layer, error) {
	raw, err := layerTar(entries, opts.format)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	blob := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(opts.mediaType))
}

// seeded returns a generator seeded from name only, so a file's content does
// not depend on the order in which files are generated.
func seeded(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewSource(int64(h.Sum64())))
}

var words = strings.Fields(`var const let function return if else for require module exports
	this req res next err app router route layer options value name type path
	null undefined true false new throw Error status send json body headers
	length index key callback done self args settings engine view render`)

// textContent is source-like text of exactly size bytes: a small vocabulary
// keeps it compressible, like real code, so the layout stays small.
func textContent(name string, size int) []byte {
	r := seeded(name)
	var b bytes.Buffer
	for b.Len() < size {
		indent := r.Intn(4)
		b.WriteString(strings.Repeat("  ", indent))
		n := 3 + r.Intn(8)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.Intn(len(words))])
		}
		b.WriteString(";\n")
	}
	return b.Bytes()[:size]
}

// binaryContent looks like an executable: an ELF magic, runs of zeros and
// bytes from a small alphabet, compressing about three to one.
func binaryContent(name string, size int) []byte {
	r := seeded(name)
	alphabet := []byte{0x00, 0x48, 0x89, 0x8b, 0xe8, 0xff, 0x0f, 0xc3, 0x41, 0x5d}
	b := []byte("\x7fELF\x02\x01\x01")
	for len(b) < size {
		if r.Intn(3) == 0 {
			b = append(b, make([]byte, 8+r.Intn(56))...)
			continue
		}
		n := 16 + r.Intn(48)
		for i := 0; i < n; i++ {
			b = append(b, alphabet[r.Intn(len(alphabet))])
		}
	}
	return b[:size]
}

// contentHash is the legacy builder's "dir:"/"multi:" source hash: the
// sha256 over the copied files' names and contents, ignoring mtimes.
func contentHash(files []entry) string {
	sorted := append([]entry(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	h := sha256.New()
	for _, f := range sorted {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var (
	// baseTime is when the pulled node:20-slim-like base was built.
	baseTime = time.Date(2024, 1, 10, 2, 15, 0, 0, time.UTC)
	// sourceTime is the mtime of the unchanged app files in the build context.
	sourceTime = time.Date(2024, 2, 28, 16, 42, 7, 0, time.UTC)
	// editTime is the mtime of util.js after the v2 edit.
	editTime = time.Date(2024, 3, 2, 9, 31, 44, 0, time.UTC)
)

const (
	passwdBase = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	groupBase  = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nnogroup:x:65534:\n"
)

// rootfsEntries is the Debian-slim-like root filesystem of the base's first
// layer: about 300 KB, with symlinks and a hardlink.
func rootfsEntries() []entry {
	t := baseTime
	bins := []struct {
		name string
		size int
	}{
		{"bin/bash", 56000}, {"bin/cat", 9000}, {"bin/dash", 18000}, {"bin/gzip", 11000},
		{"bin/ls", 14000}, {"bin/mkdir", 7000}, {"bin/rm", 7000},
		{"lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 9000},
		{"lib/x86_64-linux-gnu/libc.so.6", 70000},
		{"lib/x86_64-linux-gnu/libtinfo.so.6", 12000},
		{"usr/bin/apt-get", 6000}, {"usr/bin/dpkg", 16000},
		{"usr/lib/x86_64-linux-gnu/libstdc++.so.6", 36000},
	}
	var es []entry
	for _, b := range bins {
		es = append(es, file(b.name, 0o755, binaryContent(b.name, b.size), t))
	}
	texts := []struct {
		name string
		size int
	}{
		{"usr/share/doc/bash/copyright", 3000}, {"usr/share/doc/libc6/copyright", 4000},
		{"usr/share/doc/dpkg/changelog.Debian", 6000}, {"var/lib/dpkg/status", 24000},
	}
	for _, x := range texts {
		es = append(es, file(x.name, 0o644, textContent(x.name, x.size), t))
	}
	es = append(es,
		file("bin/gunzip", 0o755, []byte("#!/bin/sh\nexec gzip -d \"$@\"\n"), t),
		hardlink("bin/uncompress", "bin/gunzip", t),
		symlink("bin/sh", "dash", t),
		symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", t),
		symlink("etc/os-release", "../usr/lib/os-release", t),
		file("usr/lib/os-release", 0o644, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"), t),
		file("etc/passwd", 0o644, []byte(passwdBase), t),
		file("etc/group", 0o644, []byte(groupBase), t),
		file("etc/hostname", 0o644, []byte("localhost\n"), t),
		dir("tmp", 0o1777, t),
		dir("root", 0o700, t),
		dir("home", 0o755, t),
	)
	return withParents(es, t)
}

// nodeEntries is the base's second layer, the result of the node install
// RUN: about 100 KB under /usr/local, plus the node user in /etc.
func nodeEntries() []entry {
	t := baseTime.Add(2 * time.Hour)
	npm := "usr/local/lib/node_modules/npm/"
	es := []entry{
		file("usr/local/bin/node", 0o755, binaryContent("usr/local/bin/node", 74000), t),
		symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js", t),
		symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js", t),
		file("usr/local/include/node/node.h", 0o644, textContent("node.h", 7000), t),
		file(npm+"bin/npm-cli.js", 0o755, []byte("#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n"), t),
		file(npm+"bin/npx-cli.js", 0o755, []byte("#!/usr/bin/env node\nrequire('../lib/cli.js')(process, 'exec')\n"), t),
		file(npm+"lib/cli.js", 0o644, textContent(npm+"lib/cli.js", 4000), t),
		file(npm+"lib/npm.js", 0o644, textContent(npm+"lib/npm.js", 12000), t),
		file(npm+"package.json", 0o644, []byte("{\n  \"name\": \"npm\",\n  \"version\": \"10.2.4\"\n}\n"), t),
		file("etc/passwd", 0o644, []byte(passwdBase+"node:x:1000:1000::/home/node:/bin/sh\n"), t),
		file("etc/group", 0o644, []byte(groupBase+"node:x:1000:\n"), t),
		dir("home/node", 0o755, t),
	}
	return withParents(es, t)
}

const packageJSON = `{
  "name": "demo-app",
  "version": "1.0.0",
  "main": "index.js",
  "scripts": {
    "start": "node index.js"
  },
  "dependencies": {
    "express": "^4.18.2"
  }
}
`

const indexJS = `const express = require('express');
const routes = require('./src/routes');

const app = express();
app.use(express.json());
app.use('/', routes);

const port = process.env.PORT || 3000;
app.listen(port, () => {
  console.log('listening on ' + port);
});
`

const routesJS = `const express = require('express');
const { greet, uptime } = require('./util');

const router = express.Router();

router.get('/', (req, res) => {
  res.send(greet(req.query.name));
});

router.get('/health', (req, res) => {
  res.json({ status: 'ok', uptime: uptime() });
});

module.exports = router;
`

// utilJS is src/util.js; v2 edits the greeting line only.
func utilJS(version int) string {
	greeting := `const GREETING = 'Hello';`
	if version == 2 {
		greeting = `const GREETING = 'Hello there';`
	}
	return greeting + `
const started = Date.now();

function greet(name) {
  return GREETING + ', ' + (name || 'world') + '!';
}

function uptime() {
  return Math.round((Date.now() - started) / 1000);
}

module.exports = { greet, uptime };
`
}

// packageFiles are what "COPY package*.json ./" copies.
func packageFiles() []entry {
	return []entry{
		file("app/package.json", 0o644, []byte(packageJSON), sourceTime),
		file("app/package-lock.json", 0o644, lockJSON("package-lock.json"), sourceTime),
	}
}

// appFiles are what "COPY . ." copies from the build context of version.
func appFiles(version int) []entry {
	utilTime := sourceTime
	if version == 2 {
		utilTime = editTime
	}
	return append(packageFiles(),
		file("app/index.js", 0o644, []byte(indexJS), sourceTime),
		file("app/src/routes.js", 0o644, []byte(routesJS), sourceTime),
		file("app/src/util.js", 0o644, []byte(utilJS(version)), utilTime),
	)
}

// modules are the packages npm installs for packageJSON, with file sizes.
var modules = []struct {
	name  string
	files []string
	sizes []int
}{
	{"accepts", []string{"index.js", "package.json"}, []int{5200, 1100}},
	{"body-parser", []string{"index.js", "lib/read.js", "package.json"}, []int{2700, 4300, 1400}},
	{"cookie", []string{"index.js", "package.json"}, []int{7000, 1000}},
	{"debug", []string{"package.json", "src/index.js", "src/node.js"}, []int{1100, 300, 4400}},
	{"express", []string{"LICENSE", "Readme.md", "index.js", "lib/application.js", "lib/express.js",
		"lib/request.js", "lib/response.js", "lib/router/index.js", "lib/router/layer.js",
		"lib/router/route.js", "lib/utils.js", "lib/view.js", "package.json"},
		[]int{1200, 9000, 224, 14500, 2400, 12500, 28000, 15000, 3300, 4400, 5900, 3300, 2800}},
	{"mime", []string{"cli.js", "mime.js", "package.json"}, []int{200, 2600, 900}},
	{"mime-db", []string{"db.json", "package.json"}, []int{12000, 1600}},
	{"mime-types", []string{"index.js", "package.json"}, []int{3600, 1100}},
	{"ms", []string{"index.js", "package.json"}, []int{3000, 700}},
}

// lockJSON is a package-lock.json listing the modules; name seeds nothing,
// it only distinguishes the app's lock file from node_modules/.package-lock.json.
func lockJSON(name string) []byte {
	var b strings.Builder
	b.WriteString("{\n  \"name\": \"demo-app\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n")
	if name == "package-lock.json" {
		b.WriteString("    \"\": {\n      \"name\": \"demo-app\",\n      \"version\": \"1.0.0\",\n      \"dependencies\": {\n        \"express\": \"^4.18.2\"\n      }\n    },\n")
	}
	for i, m := range modules {
		sum := sha256.Sum256([]byte(m.name))
		fmt.Fprintf(&b, "    \"node_modules/%s\": {\n      \"version\": \"1.%d.0\",\n      \"resolved\": \"https://registry.npmjs.org/%s/-/%s-1.%d.0.tgz\",\n      \"integrity\": \"sha512-%s\"\n    }",
			m.name, i, m.name, m.name, i, hex.EncodeToString(sum[:]))
		if i < len(modules)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  }\n}\n")
	return []byte(b.String())
}

// nodeModules is what "npm install" writes: content depends only on
// package.json, mtimes are the time the step ran.
func nodeModules(mtime time.Time) []entry {
	es := []entry{
		file("app/node_modules/.package-lock.json", 0o644, lockJSON(".package-lock.json"), mtime),
		symlink("app/node_modules/.bin/mime", "../mime/cli.js", mtime),
	}
	for _, m := range modules {
		for i, f := range m.files {
			name := "app/node_modules/" + m.name + "/" + f
			es = append(es, file(name, 0o644, textContent(name, m.sizes[i]), mtime))
		}
	}
	return es
}
