//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// What the containerd image store calls a layer's size, and how it relates to ours.
//
// Its history API gives, for each layer, the snapshotter's usage of that layer's
// snapshot (containerd's fs.DiskUsage: the blocks allocated to every inode of the
// snapshot directory, hardlinks once). With overlayfs the snapshot directory holds the
// layer's own entries; with the native snapshotter it holds the whole tree up to that
// layer, so the figures are cumulative. On ext4 with 4 KiB blocks that is: each regular
// file rounded up to whole blocks, each directory (the snapshot's root included) one
// block or more, a symlink of 60 bytes or more one block, anything else nothing.

const fsBlock = 4096

// snapshotFiles is the content of a snapshot directory: path → entry.
type snapshotFiles map[string]analyze.File

// apply lays a layer's entries over s, as the snapshotter unpacks it.
func (s snapshotFiles) apply(files []analyze.File) {
	for _, f := range files {
		switch f.Kind {
		case analyze.KindWhiteout:
			s.removeTree(f.Path)
		case analyze.KindOpaque:
			s.removeTree(f.Path)
			s[f.Path] = analyze.File{Path: f.Path, Kind: analyze.KindDir}
		default:
			s[f.Path] = f
		}
	}
}

func (s snapshotFiles) removeTree(p string) {
	for q := range s {
		if q == p || strings.HasPrefix(q, p+"/") {
			delete(s, q)
		}
	}
}

// usageRange is the disk use the snapshot of s can report: at least a block per
// directory; at most what the directories' entries can take (ext4 spends 8 bytes plus
// the name, 4-byte aligned, per entry, and an index block once a directory outgrows
// one block).
func (s snapshotFiles) usageRange() (lo, hi int64) {
	var data int64
	dirs := map[string]int64{"/": 24} // entry bytes per directory; "." and ".." first
	for p, f := range s {
		for d := path.Dir(p); ; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 24
			}
			if d == "/" {
				break
			}
		}
		dirs[path.Dir(p)] += int64(8+len(path.Base(p))+3) &^ 3
		switch f.Kind {
		case analyze.KindDir, analyze.KindOpaque:
			if _, ok := dirs[p]; !ok {
				dirs[p] = 24
			}
		case analyze.KindFile:
			// A hardlink's entry has size 0: the content counts once.
			data += (f.Size + fsBlock - 1) / fsBlock * fsBlock
		case analyze.KindSymlink:
			if len(f.Link) >= 60 {
				data += fsBlock
			}
		}
	}
	lo, hi = data, data
	for _, bytes := range dirs {
		lo += fsBlock
		blocks := (bytes + fsBlock - 1) / fsBlock
		if blocks > 1 {
			blocks++
		}
		hi += blocks * fsBlock
	}
	return lo, hi
}

// snapshotRanges returns, per layer of a saved image, the range of sizes the containerd
// store's history may report for it under the snapshotter in use.
func snapshotRanges(t *testing.T, archive string) [][2]int64 {
	t.Helper()
	files := layerFiles(t, archive)
	out := make([][2]int64, len(files))
	tree := snapshotFiles{}
	for i, fs := range files {
		snap := snapshotFiles{}
		if storageDriver() == "native" {
			tree.apply(fs)
			snap = tree
		} else {
			for _, f := range fs {
				snap[f.Path] = f
			}
		}
		lo, hi := snap.usageRange()
		out[i] = [2]int64{lo, hi}
	}
	return out
}

// layerFiles reads every layer's entries from a saved image.
func layerFiles(t *testing.T, archive string) [][]analyze.File {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, "docker-archive:"+archive, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	all := make([]int, len(img.Layers))
	for i := range all {
		all[i] = i
	}
	files := make([][]analyze.File, len(img.Layers))
	err = img.ScanLayers(ctx, all, true, func(i int, s source.LayerScan) error {
		files[i] = s.Files
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// legacyBuildExtra bounds what the legacy builder adds to an image's figures on the
// containerd store: its snapshots are the builder's committed containers, which also
// hold what running a step leaves behind (mount points and the like), a few whole
// blocks. With the native snapshotter every snapshot is a whole tree and the image's
// size walks more snapshots than it has layers, so there it bounds only the history
// sizes; the image size then is only at least what the layers make.
const legacyBuildExtra = 32 * fsBlock

// checkStoreImageSize checks the containerd store's size of an image (docker image
// inspect): its snapshots' disk use (the history's sizes, snapshotUse) plus its content
// blobs (manifest, config, compressed layers) — exactly for a BuildKit image, plus a few
// whole blocks for a legacy-builder one.
func checkStoreImageSize(t *testing.T, ref string, engineSize, snapshotUse, content int64, legacy bool) {
	t.Helper()
	extra := engineSize - snapshotUse - content
	switch {
	case !legacy && extra != 0:
		t.Errorf("%s: the engine's size %d; snapshot use %d plus content blobs %d make %d", ref, engineSize, snapshotUse, content, snapshotUse+content)
	case legacy && (extra < 0 || extra%fsBlock != 0 || (extra > legacyBuildExtra && storageDriver() != "native")):
		t.Errorf("%s: the engine's size %d; snapshot use %d plus content blobs %d make %d, and a legacy build adds up to %d in whole blocks",
			ref, engineSize, snapshotUse, content, snapshotUse+content, legacyBuildExtra)
	}
	t.Logf("%s: engine size %d = snapshot use %d + content %d + %d", ref, engineSize, snapshotUse, content, extra)
}

// checkStoreHistory checks the engine's history sizes of a containerd-store image against
// our layers (from its docker save archive): each within the range the snapshotter's
// disk use allows, and never equal to ours by definition — so never shown as ours.
func checkStoreHistory(t *testing.T, archive string, layerSizes []int64, historyOfLayer []int64, legacy bool) {
	t.Helper()
	ranges := snapshotRanges(t, archive)
	if len(ranges) != len(historyOfLayer) {
		t.Fatalf("%d layers, %d history sizes", len(ranges), len(historyOfLayer))
	}
	var rows []string
	for i, r := range ranges {
		got := historyOfLayer[i]
		rows = append(rows, fmt.Sprintf("layer %d: ours %d, engine %d, model [%d, %d]", i, layerSizes[i], got, r[0], r[1]))
		hi := r[1]
		if legacy && storageDriver() == "native" {
			hi += legacyBuildExtra // see legacyBuildExtra
		}
		if got < r[0] || got > hi || got%fsBlock != 0 {
			t.Errorf("layer %d: the engine's history size %d is not %s disk use of a snapshot holding our %d bytes (want %d..%d, whole blocks)",
				i, got, storageDriver(), layerSizes[i], r[0], hi)
		}
	}
	t.Logf("containerd store, %s snapshotter:\n%s", storageDriver(), strings.Join(rows, "\n"))
}

// contentSize is what the containerd store counts as an image's content: the image
// manifest, its config and its compressed layer blobs, as `docker save` holds them.
func contentSize(t *testing.T, archive string) int64 {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, "docker-archive:"+archive, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	size := img.CompressedSize()
	if size == analyze.Unknown {
		t.Fatalf("%s: compressed sizes unknown", archive)
	}
	cfgHex := strings.TrimPrefix(img.ID, "sha256:")
	files := tarFiles(t, archive, func(name string) bool { return strings.HasPrefix(name, "blobs/sha256/") })
	for name, b := range files {
		switch {
		case strings.HasSuffix(name, cfgHex):
			size += int64(len(b))
		case strings.Contains(string(b), `"config"`) && strings.Contains(string(b), cfgHex):
			size += int64(len(b)) // the manifest naming this config
		}
	}
	return size
}

// engineID is the engine's ID of an image (`docker image inspect`): the config digest on
// the classic store, the index or manifest digest on the containerd store. `shared`
// reports config digests, GET /system/df the engine's IDs.
func engineID(t testing.TB, ref string) string {
	t.Helper()
	return strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", ref))
}

// sameContentKey marks, in checkDiskUsage's sharedChains, a diffID that `shared` lists
// as the same content on several parents.
const sameContentKey = "same-content:"

// checkDiskUsage checks one image's `shared` figures against the engine's GET /system/df.
//
// On the classic store they are the same figures. On the containerd store the engine's
// are other figures on the same layers: an image's size is its layers' snapshot disk use
// (the history sizes) plus its content blobs (compressed layers, config, manifest, and
// any attestation), and its shared size is, for the layers `shared` calls shared (by
// chain ID), their snapshot disk use plus their compressed blobs, plus any other blob it
// shares: every BuildKit attestation has the same 2-byte empty config, and a layer blob
// is one blob wherever its content sits (what `shared` lists as the same content on
// other parents, when both builds compressed it alike). Where the store
// holds one image (one config) under two IDs — two builds whose attestations differ —
// `shared` sees one image and the engine two that share everything (sameConfigElsewhere).
// exact asks for both relations to hold to the byte, with the content blobs counted from
// a `docker save` of the image (legacy-builder images, which have no attestation).
func checkDiskUsage(t *testing.T, ref string, size, sharedSize int64, d dfImage, sharedChains map[string]bool, sameConfigElsewhere, exact bool) {
	t.Helper()
	if !containerdStore() {
		if size != d.Size || sharedSize != d.SharedSize || size-sharedSize != d.UniqueSize() {
			t.Errorf("%s: size/shared/unique = %d/%d/%d, docker system df -v says %d/%d/%d",
				ref, size, sharedSize, size-sharedSize, d.Size, d.SharedSize, d.UniqueSize())
		}
		return
	}
	img := inspectJSON(t, ref)
	hist := engineHistory(t, ref)
	var use, blobs, wantShared int64
	var diffIDs []v1.Hash
	for _, l := range img.Layers {
		h, err := v1.NewHash(l.DiffID)
		if err != nil {
			t.Fatal(err)
		}
		diffIDs = append(diffIDs, h)
	}
	chains := analyze.ChainIDs(diffIDs)
	var sameContentBlobs int64
	for i, s := range img.Steps {
		if s.Layer == nil {
			continue
		}
		l := img.Layers[*s.Layer]
		use += hist[i].size
		blobs += l.CompressedSize
		switch {
		case sameConfigElsewhere || sharedChains[chains[*s.Layer].String()]:
			wantShared += hist[i].size + l.CompressedSize
		case sharedChains[sameContentKey+l.DiffID]:
			// The same content on another parent: another chain, so another snapshot,
			// but the store keeps one blob when both builds compressed it alike.
			sameContentBlobs += l.CompressedSize
		}
	}
	if ours := img.Size; ours != size {
		t.Errorf("%s: shared says %d bytes, inspect %d", ref, size, ours)
	}
	meta := d.Size - use - blobs // config, manifest, attestations
	if other := d.SharedSize - wantShared; (exact && other != 0) || other < 0 || other > meta+sameContentBlobs {
		t.Errorf("%s: the engine's shared size %d; the snapshot use and blobs of the layers shared calls shared make %d, other shared content can add 0..%d",
			ref, d.SharedSize, wantShared, meta+sameContentBlobs)
	}
	if exact {
		archive := filepath.Join(t.TempDir(), "save.tar")
		docker(t, "save", "-o", archive, ref)
		checkStoreImageSize(t, ref, d.Size, use, contentSize(t, archive), true)
	} else if meta <= 0 || (meta > 64<<10+legacyBuildExtra && storageDriver() != "native") {
		t.Errorf("%s: the engine's size %d less snapshot use %d and layer blobs %d leaves %d bytes for config and manifests", ref, d.Size, use, blobs, meta)
	}
	t.Logf("%s: ours size %d shared %d; engine size %d shared %d (snapshot use %d, layer blobs %d, other content %d)",
		ref, size, sharedSize, d.Size, d.SharedSize, use, blobs, meta)
}

// TestStoreFigures builds one image and logs its figures as the engine and its archive
// give them, for comparing the two stores side by side (go test -v -run StoreFigures).
// Every figure it prints is checked by the other tests.
func TestStoreFigures(t *testing.T) {
	const tag = "e2e/figures:v1"
	build(t, "app", "Dockerfile.pro", tag, true)
	archive := filepath.Join(t.TempDir(), "save.tar")
	docker(t, "save", "-o", archive, tag)
	if dump := os.Getenv("E2E_DUMP"); dump != "" {
		if b, err := os.ReadFile(archive); err == nil {
			_ = os.WriteFile(dump, b, 0o644)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "engine %s, store %s, driver %s\n", strings.TrimSpace(docker(t, "version", "--format", "{{.Server.Version}}")),
		map[bool]string{true: "containerd", false: "classic"}[containerdStore()], storageDriver())
	fmt.Fprintf(&b, "$ docker history --human=false %s\n%s", tag, docker(t, "history", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", tag))
	fmt.Fprintf(&b, "$ docker image inspect -f '{{.Id}} {{.Size}}' %s\n%s", tag, docker(t, "image", "inspect", "-f", "{{.Id}} {{.Size}}", tag))
	for _, ref := range []string{tag, "docker-archive:" + archive} {
		out, errOut, code := layers(t, "inspect", "--no-trunc", ref)
		if code != 0 {
			t.Fatalf("inspect %s: exit %d: %s", ref, code, errOut)
		}
		fmt.Fprintf(&b, "$ docker layers inspect %s\n%s", ref, out)
		j := inspectJSON(t, ref)
		fmt.Fprintf(&b, "id %s engineID %s size %d\n", j.ID, j.EngineID, j.Size)
	}
	t.Log("\n" + b.String())
}
