package source

import (
	"context"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BenchmarkWalkRegistry walks 300 repositories × 5 tags in an in-process registry: the
// client's own ceiling, without a real registry's storage (make bench-registry has that).
func BenchmarkWalkRegistry(b *testing.B) {
	const repos, tags = 300, 5
	reg := newWalkRegistry(b, 1000)
	base := static.NewLayer([]byte("base layer"), types.DockerLayer)
	for r := range repos {
		deps := static.NewLayer([]byte(fmt.Sprintf("deps %d", r)), types.DockerLayer)
		for t := range tags {
			img, err := mutate.Append(empty.Image,
				mutate.Addendum{Layer: base, History: v1.History{CreatedBy: "ADD base"}},
				mutate.Addendum{Layer: deps, History: v1.History{CreatedBy: "RUN deps"}},
				mutate.Addendum{Layer: static.NewLayer([]byte(fmt.Sprintf("app %d %d", r, t)), types.DockerLayer), History: v1.History{CreatedBy: "COPY app"}},
			)
			if err != nil {
				b.Fatal(err)
			}
			reg.push(b, fmt.Sprintf("svc%03d:1.%d", r, t), img)
		}
	}
	walkOnce := func(b *testing.B, cache *Cache) {
		n := 0
		_, err := WalkRegistry(context.Background(), WalkOptions{Registry: reg.host, Cache: cache, Image: func(WalkedImage) error {
			n++
			return nil
		}})
		if err != nil || n != repos*tags {
			b.Fatalf("%d images, %v", n, err)
		}
	}
	b.Run("no-cache", func(b *testing.B) {
		for b.Loop() {
			walkOnce(b, nil)
		}
		b.ReportMetric(float64(repos*tags*b.N)/b.Elapsed().Seconds(), "manifests/s")
	})
	b.Run("warm", func(b *testing.B) {
		cache, err := OpenCache(b.TempDir(), 0)
		if err != nil {
			b.Fatal(err)
		}
		walkOnce(b, cache)
		for b.Loop() {
			walkOnce(b, cache)
		}
		b.ReportMetric(float64(repos*tags*b.N)/b.Elapsed().Seconds(), "manifests/s")
	})
}
