package analyze

import "testing"

// blay is a registry layer: its blob digest derives from its content, as a registry's
// would for the same compressed bytes.
func blay(t *testing.T, name string, csize int64) Layer {
	return Layer{DiffID: content(t, name), Digest: content(t, "blob of "+name), Size: Unknown, CompressedSize: csize}
}

func TestRegistryTallyAgreesWithShare(t *testing.T) {
	base, runtime, vendor := blay(t, "base", 1000), blay(t, "runtime", 300), blay(t, "vendor", 50)
	imgs := []Image{
		crafted(t, "r/a:1", "", base, runtime, blay(t, "a", 10)),
		crafted(t, "r/b:1", "", base, runtime, blay(t, "b", 20)),
		crafted(t, "r/c:1", "", base, vendor, blay(t, "c", 30)),
		// vendor again, on another parent: another chain ID, the same blob.
		crafted(t, "r/d:1", "", base, runtime, vendor),
	}
	imgs = append(imgs, imgs[0])
	imgs[4].Ref = "r/a:latest" // a second tag of the same image

	tally := NewRegistryTally()
	var repeats int
	for i, img := range imgs {
		got := tally.Add(img, ImageBlobs{ManifestDigest: content(t, "manifest "+img.Ref), ManifestSize: 500, ConfigSize: 200})
		if got.Repeat {
			repeats++
		}
		if i == 1 && (got.NewBlobs != 3 || got.NewCompressedSize != 20+200+500) {
			t.Errorf("r/b:1 brought %d blobs, %d bytes; want its own layer, config and manifest", got.NewBlobs, got.NewCompressedSize)
		}
	}
	if repeats != 1 {
		t.Errorf("%d repeats, want 1 (r/a:latest)", repeats)
	}
	s := tally.Summary(-1)
	share := Share(imgs)
	if s.CompressedTotalSize != share.CompressedTotalSize || s.CompressedDiskSize != share.CompressedDiskSize || s.CompressedSavedSize != share.CompressedSavedSize {
		t.Errorf("tally %d/%d/%d, Share %d/%d/%d", s.CompressedTotalSize, s.CompressedDiskSize, s.CompressedSavedSize,
			share.CompressedTotalSize, share.CompressedDiskSize, share.CompressedSavedSize)
	}
	if s.Refs != 5 || s.Images != 4 {
		t.Errorf("refs %d images %d, want 5 and 4", s.Refs, s.Images)
	}
	// Distinct layer blobs: base, runtime, vendor, a, b, c = 1410 bytes; by chain ID
	// vendor counts twice (1460).
	if s.LayerBlobs != 6 || s.StoredLayerSize != 1410 || s.CompressedDiskSize != 1460 {
		t.Errorf("layer blobs %d (%d bytes), disk by chain %d; want 6 (1410), 1460", s.LayerBlobs, s.StoredLayerSize, s.CompressedDiskSize)
	}
	// Blobs: 6 layers, 4 configs, 5 manifests.
	if s.Blobs != 15 || s.StoredSize != 1410+4*200+5*500 {
		t.Errorf("blobs %d (%d bytes), want 15 (%d)", s.Blobs, s.StoredSize, 1410+4*200+5*500)
	}
	total := int64(1310 + 1320 + 1080 + 1350)
	if s.CompressedTotalSize != total || s.DedupSavedSize != total-1410 {
		t.Errorf("total %d, dedup saves %d; want %d, %d", s.CompressedTotalSize, s.DedupSavedSize, total, total-1410)
	}
	if len(s.SharedLayers) != 2 || s.SharedLayers[0].ChainID != base.DiffID || s.SharedLayers[0].Images != 4 ||
		s.SharedLayers[0].SavedSize != 3000 || s.SharedLayers[1].Images != 3 || s.SharedLayers[0].FirstRef != "r/a:1" {
		t.Errorf("shared layers %+v", s.SharedLayers)
	}
	if s.SharedLayers[0].Instruction == "" {
		t.Error("the shared layer has no instruction")
	}
	if top := tally.Summary(1); len(top.SharedLayers) != 1 {
		t.Errorf("Summary(1) kept %d layers", len(top.SharedLayers))
	}
}

func TestRegistryTallyUnknownSizes(t *testing.T) {
	tally := NewRegistryTally()
	l := blay(t, "raw", 10)
	l.CompressedSize = Unknown
	tally.Add(crafted(t, "r/x:1", "", blay(t, "base", 5), l), ImageBlobs{})
	s := tally.Summary(-1)
	if s.CompressedTotalSize != Unknown || s.CompressedDiskSize != Unknown || s.CompressedSavedSize != Unknown {
		t.Errorf("an uncompressed layer: %+v, want Unknown totals", s)
	}
	if s.LayerBlobs != 1 || s.StoredLayerSize != 5 {
		t.Errorf("blobs %d, %d bytes; want the known one", s.LayerBlobs, s.StoredLayerSize)
	}
}
