package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	pathEnv    = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	nodeEnv    = "NODE_VERSION=20.11.0"
	sourceURL  = "https://example.invalid/app"
	sourceKey  = "org.opencontainers.image.source"
	buildkitV0 = "buildkit.dockerfile.v0"
)

var (
	// v1Start and v2Start are when the first step of each build ran; step i
	// runs i seconds later.
	v1Start = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	v2Start = time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
)

// baseImage is the node:20-slim-like image both Dockerfiles start FROM. It
// is built once, so every demo image holds the very same base layers and
// history, as a pulled base would.
func baseImage() (v1.Image, error) {
	dockerLayer := layerOptions{mediaType: types.DockerLayer}
	rootfs, err := newLayer(rootfsEntries(), dockerLayer)
	if err != nil {
		return nil, fmt.Errorf("building base rootfs layer: %w", err)
	}
	node, err := newLayer(nodeEntries(), dockerLayer)
	if err != nil {
		return nil, fmt.Errorf("building base node layer: %w", err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Env: []string{pathEnv, nodeEnv},
			Cmd: []string{"node"},
		},
	})
	if err != nil {
		return nil, err
	}
	at := func(d time.Duration) v1.Time { return v1.Time{Time: baseTime.Add(d)} }
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: rootfs, History: v1.History{
			Created:   at(0),
			CreatedBy: "/bin/sh -c #(nop) ADD file:" + contentHash(rootfsEntries()) + " in / ",
		}},
		mutate.Addendum{History: v1.History{
			Created:    at(time.Second),
			CreatedBy:  `/bin/sh -c #(nop)  CMD ["bash"]`,
			EmptyLayer: true,
		}},
		mutate.Addendum{Layer: node, History: v1.History{
			Created: at(2 * time.Hour),
			CreatedBy: "/bin/sh -c set -eux; ARCH=x64; " +
				"curl -fsSLO --compressed \"https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-$ARCH.tar.xz\"; " +
				"tar -xJf \"node-v$NODE_VERSION-linux-$ARCH.tar.xz\" -C /usr/local --strip-components=1 --no-same-owner; " +
				"rm \"node-v$NODE_VERSION-linux-$ARCH.tar.xz\"; groupadd --gid 1000 node; " +
				"useradd --uid 1000 --gid node --shell /bin/bash --create-home node; node --version; npm --version",
		}},
		mutate.Addendum{History: v1.History{
			Created:    at(2*time.Hour + time.Second),
			CreatedBy:  "/bin/sh -c #(nop)  ENV " + nodeEnv,
			EmptyLayer: true,
		}},
		mutate.Addendum{History: v1.History{
			Created:    at(2*time.Hour + 2*time.Second),
			CreatedBy:  `/bin/sh -c #(nop)  CMD ["node"]`,
			EmptyLayer: true,
		}},
	)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, at(2*time.Hour+2*time.Second))
}

// instruction is one Dockerfile instruction after FROM.
type instruction struct {
	// cacheKey identifies the instruction and its inputs (the copied
	// content, not its mtimes), the way both builders key their cache.
	cacheKey string
	// legacy and buildkit are the history created_by each builder records.
	legacy, buildkit string
	// layer returns the files the step adds, given when the step ran and
	// the builder; nil for metadata-only steps.
	layer func(ran time.Time, b *builder) []entry
	// apply records the step's effect on the image config.
	apply func(c *v1.Config)
}

func workdirApp() instruction {
	return instruction{
		cacheKey: "WORKDIR /app",
		legacy:   "/bin/sh -c #(nop) WORKDIR /app",
		buildkit: "WORKDIR /app",
		layer: func(ran time.Time, b *builder) []entry {
			// The legacy builder commits an empty diff; BuildKit records the
			// directory it created. Either way the layer has no file bytes.
			if b.name == "legacy" {
				return []entry{}
			}
			return []entry{dir("app", 0o755, b.stamp(ran))}
		},
		apply: func(c *v1.Config) { c.WorkingDir = "/app" },
	}
}

// copyFiles is a COPY of files into /app; legacyKind and dest make the
// legacy history text ("dir" for a directory source, "multi" for a glob).
func copyFiles(files []entry, src, dest, legacyKind string) instruction {
	hash := contentHash(files)
	return instruction{
		cacheKey: "COPY " + src + " " + dest + " " + hash,
		legacy:   "/bin/sh -c #(nop) COPY " + legacyKind + ":" + hash + " in " + dest + " ",
		buildkit: "COPY " + src + " " + dest + " # buildkit",
		layer: func(ran time.Time, b *builder) []entry {
			// COPY keeps the source mtimes; the directories it touches get
			// the time of the step.
			return withParents(files, b.stamp(ran))
		},
	}
}

func npmInstall() instruction {
	return instruction{
		cacheKey: "RUN /bin/sh -c npm install",
		legacy:   "/bin/sh -c npm install",
		buildkit: "RUN /bin/sh -c npm install # buildkit",
		layer: func(ran time.Time, b *builder) []entry {
			return withParents(nodeModules(b.stamp(ran)), b.stamp(ran))
		},
	}
}

func metadata(text string, legacy string, apply func(c *v1.Config)) instruction {
	return instruction{
		cacheKey: text,
		legacy:   "/bin/sh -c #(nop)  " + legacy,
		buildkit: text,
		apply:    apply,
	}
}

func envProduction() instruction {
	return metadata("ENV NODE_ENV=production", "ENV NODE_ENV=production", func(c *v1.Config) {
		c.Env = append(c.Env, "NODE_ENV=production")
	})
}

func expose3000() instruction {
	return metadata("EXPOSE map[3000/tcp:{}]", "EXPOSE 3000", func(c *v1.Config) {
		c.ExposedPorts = map[string]struct{}{"3000/tcp": {}}
	})
}

func volumeData() instruction {
	return metadata("VOLUME [/app/data]", "VOLUME [/app/data]", func(c *v1.Config) {
		c.Volumes = map[string]struct{}{"/app/data": {}}
	})
}

func labelSource() instruction {
	text := "LABEL " + sourceKey + "=" + sourceURL
	return metadata(text, text, func(c *v1.Config) {
		c.Labels = map[string]string{sourceKey: sourceURL}
	})
}

func cmdNode() instruction {
	return metadata(`CMD ["node" "index.js"]`, `CMD ["node" "index.js"]`, func(c *v1.Config) {
		c.Cmd = []string{"node", "index.js"}
	})
}

// lazyDockerfile copies everything before installing, so any source edit
// invalidates the install.
func lazyDockerfile(version int) []instruction {
	return []instruction{
		workdirApp(),
		copyFiles(appFiles(version), ".", ".", "dir"),
		npmInstall(),
		envProduction(),
		expose3000(),
		volumeData(),
		cmdNode(),
	}
}

// proDockerfile copies only the manifests before installing, so a source
// edit leaves the install cached.
func proDockerfile(version int) []instruction {
	return []instruction{
		labelSource(),
		workdirApp(),
		copyFiles(packageFiles(), "package*.json", "./", "multi"),
		npmInstall(),
		copyFiles(appFiles(version), ".", ".", "dir"),
		envProduction(),
		expose3000(),
		volumeData(),
		cmdNode(),
	}
}

// cached is a step result a builder can reuse: the very same layer value and
// history entry, so a cache hit reproduces blob, diffID and created time.
type cached struct {
	layer   v1.Layer
	history v1.History
}

// builder simulates one of Docker's builders with its build cache.
type builder struct {
	name string
	opts layerOptions
	// subsecond is added to the mtimes the builder itself sets: BuildKit
	// records nanoseconds, the legacy builder whole seconds.
	subsecond time.Duration
	cache     map[string]cached
}

func newBuilder(name string) *builder {
	b := &builder{name: name, cache: map[string]cached{}}
	switch name {
	case "legacy":
		b.opts = layerOptions{format: tar.FormatUSTAR, mediaType: types.DockerLayer}
	default:
		b.opts = layerOptions{format: tar.FormatPAX, mediaType: types.DockerLayer}
		b.subsecond = 417317021 * time.Nanosecond
	}
	return b
}

func (b *builder) stamp(t time.Time) time.Time { return t.Add(b.subsecond) }

func (b *builder) createdBy(in instruction) string {
	if b.name == "legacy" {
		return in.legacy
	}
	return in.buildkit
}

// build runs the instructions on base starting at start. A step is reused
// when the same instruction with the same inputs ran on the same parent
// before; the first miss changes the parent key, so every later step reruns.
func (b *builder) build(base v1.Image, steps []instruction, start time.Time) (v1.Image, error) {
	baseDigest, err := base.Digest()
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := *cf.Config.DeepCopy()
	parent := baseDigest.String()
	img := base
	var last v1.Time
	for i, in := range steps {
		sum := sha256.Sum256([]byte(parent + "\x00" + in.cacheKey))
		key := hex.EncodeToString(sum[:])
		hit, ok := b.cache[key]
		if !ok {
			ran := start.Add(time.Duration(i) * time.Second)
			hit.history = v1.History{Created: v1.Time{Time: ran}, CreatedBy: b.createdBy(in)}
			if b.name != "legacy" {
				hit.history.Comment = buildkitV0
			}
			if in.layer == nil {
				hit.history.EmptyLayer = true
			} else if hit.layer, err = newLayer(in.layer(ran, b), b.opts); err != nil {
				return nil, fmt.Errorf("step %d (%s): %w", i+1, in.cacheKey, err)
			}
			b.cache[key] = hit
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: hit.layer, History: hit.history}); err != nil {
			return nil, err
		}
		if in.apply != nil {
			in.apply(&cfg)
		}
		parent, last = key, hit.history.Created
	}
	if img, err = mutate.Config(img, cfg); err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, last)
}

// squashedImage has three layers but a history that accounts for only one,
// like an image flattened or assembled by a tool that dropped history.
func squashedImage() (v1.Image, error) {
	t := time.Date(2024, 2, 5, 8, 0, 0, 0, time.UTC)
	opts := layerOptions{mediaType: types.DockerLayer}
	var adds []mutate.Addendum
	var all []entry
	for i, name := range []string{"etc/alpine-release", "usr/bin/tool", "srv/data.txt"} {
		files := []entry{file(name, 0o644, textContent(name, 2000*(i+1)), t)}
		all = append(all, files...)
		l, err := newLayer(withParents(files, t), opts)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config = v1.Config{Env: []string{pathEnv}, Cmd: []string{"/bin/sh"}}
	cf.History = []v1.History{
		{Created: v1.Time{Time: t}, CreatedBy: "/bin/sh -c #(nop) ADD file:" + contentHash(all) + " in / "},
		{Created: v1.Time{Time: t.Add(time.Second)}, CreatedBy: `/bin/sh -c #(nop)  CMD ["/bin/sh"]`, EmptyLayer: true},
	}
	cf.Created = v1.Time{Time: t.Add(time.Second)}
	return mutate.ConfigFile(img, cf)
}

// multiIndex is a tiny two-platform image index in OCI media types.
func multiIndex() (v1.ImageIndex, error) {
	t := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	opts := layerOptions{format: tar.FormatPAX, mediaType: types.OCILayer}
	idx := v1.ImageIndex(empty.Index)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		l, err := newLayer([]entry{file("hello", 0o755, binaryContent("hello-"+p.Architecture, 3000), t)}, opts)
		if err != nil {
			return nil, err
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.ConfigFile(img, &v1.ConfigFile{
			Architecture: p.Architecture,
			OS:           p.OS,
			Variant:      p.Variant,
			RootFS:       v1.RootFS{Type: "layers"},
			Config:       v1.Config{Cmd: []string{"/hello"}},
		})
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: t}, CreatedBy: "COPY hello / # buildkit", Comment: buildkitV0,
		}})
		if err != nil {
			return nil, err
		}
		if img, err = mutate.CreatedAt(img, v1.Time{Time: t}); err != nil {
			return nil, err
		}
		platform := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform}})
	}
	return idx, nil
}
