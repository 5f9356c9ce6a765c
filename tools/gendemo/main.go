// Command gendemo writes the demo OCI image layout under testdata/demo: a
// node app built with a "lazy" and a "professional" Dockerfile, before (v1)
// and after (v2) a one-line source edit, by the legacy builder and by
// BuildKit, with each builder's cache rules deciding which layers v2 reuses.
// The output is byte-for-byte reproducible.
//
//	go run ./tools/gendemo -out testdata/demo [-v]
package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// refName is the annotation that names a manifest in an OCI layout.
const refName = "org.opencontainers.image.ref.name"

// tagged is one entry of the layout's index.json.
type tagged struct {
	tag   string
	image v1.Image
	index v1.ImageIndex
}

func main() {
	out := flag.String("out", "", "directory to (re)create the OCI layout in")
	verbose := flag.Bool("v", false, "print each image's layers")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gendemo: -out is required")
		os.Exit(2)
	}
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendemo:", err)
		os.Exit(1)
	}
	if *verbose {
		if err := summarize(os.Stdout, *out); err != nil {
			fmt.Fprintln(os.Stderr, "gendemo:", err)
			os.Exit(1)
		}
	}
}

// generate removes out and writes the demo layout there.
func generate(out string) error {
	images, err := demoImages()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return fmt.Errorf("creating layout %s: %w", out, err)
	}
	for _, t := range images {
		opt := layout.WithAnnotations(map[string]string{refName: t.tag})
		if t.index != nil {
			err = p.AppendIndex(t.index, opt)
		} else {
			err = p.AppendImage(t.image, opt)
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", t.tag, err)
		}
	}
	return nil
}

// demoImages builds every tagged image in index.json order. Each builder
// builds lazy v1, lazy v2, pro v1 and pro v2 in turn against one cache.
func demoImages() ([]tagged, error) {
	base, err := baseImage()
	if err != nil {
		return nil, err
	}
	var out []tagged
	for _, name := range []string{"legacy", "buildkit"} {
		b := newBuilder(name)
		for _, df := range []struct {
			name  string
			steps func(version int) []instruction
		}{{"lazy", lazyDockerfile}, {"pro", proDockerfile}} {
			for _, v := range []int{1, 2} {
				start := v1Start
				if v == 2 {
					start = v2Start
				}
				img, err := b.build(base, df.steps(v), start)
				if err != nil {
					return nil, fmt.Errorf("building %s-v%d with the %s builder: %w", df.name, v, name, err)
				}
				out = append(out, tagged{tag: fmt.Sprintf("%s-v%d-%s", df.name, v, name), image: img})
			}
		}
	}
	squashed, err := squashedImage()
	if err != nil {
		return nil, err
	}
	multi, err := multiIndex()
	if err != nil {
		return nil, err
	}
	return append(out, tagged{tag: "squashed", image: squashed}, tagged{tag: "multi", index: multi}), nil
}

// summarize prints, for every image in the layout, each layer's diffID,
// uncompressed size (sum of regular file sizes) and the history entry that
// made it.
func summarize(w io.Writer, dir string) error {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		tag := d.Annotations[refName]
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			cm, err := child.IndexManifest()
			if err != nil {
				return err
			}
			for _, cd := range cm.Manifests {
				img, err := child.Image(cd.Digest)
				if err != nil {
					return err
				}
				if err := summarizeImage(w, tag+" "+cd.Platform.String(), img); err != nil {
					return err
				}
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := summarizeImage(w, tag, img); err != nil {
			return err
		}
	}
	return nil
}

func summarizeImage(w io.Writer, name string, img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var made []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			made = append(made, h.CreatedBy)
		}
	}
	fmt.Fprintf(w, "%s (%d layers, %d history entries)\n", name, len(layers), len(cf.History))
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return err
		}
		size, err := regularBytes(l)
		if err != nil {
			return fmt.Errorf("reading layer %d of %s: %w", i, name, err)
		}
		by := "(no history entry)"
		if i < len(made) {
			by = made[i]
		}
		if len(by) > 70 {
			by = by[:67] + "..."
		}
		fmt.Fprintf(w, "  %d  %s  %7d  %s\n", i, diffID.Hex[:12], size, strings.TrimSpace(by))
	}
	return nil
}

// regularBytes is the layer's uncompressed size as the sum of its regular
// files' sizes.
func regularBytes(l v1.Layer) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return 0, err
		}
		if hdr.Typeflag == tar.TypeReg {
			total += hdr.Size
		}
	}
}
