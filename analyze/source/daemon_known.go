package source

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A classic export (dockerd before 25) names each layer's directory by a legacy v1 ID
// and writes, before the directory's layer.tar, a "json" file: the layer's v1 metadata
// with that ID. The engine derived the ID from that same metadata (without the ID, with
// the parent as a full digest, and possibly without "os", which it adds afterwards)
// plus "layer_id", the layer's chain ID: the sha256 of that document is the ID. So the
// json tells which layer a directory holds before its bytes arrive, and a layer no
// image wants can pass unhashed. A layer read is still hashed and checked against its
// diffID; a json that proves nothing (another format, another engine) changes nothing.

// An OCI export (Docker 25+, the containerd image store) names blobs by digest: an
// uncompressed layer's name is its diffID, and a compressed one's is the digest the
// engine's manifest gives the layer, so neither needs reading to be told apart.

// knownLayers recognises the layers of an export before their bytes: in a classic
// export by their v1 metadata, in an OCI one by their blob names.
type knownLayers struct {
	// diffIDs maps the chain ID of every layer of the images exported to its diffID.
	diffIDs map[v1.Hash]v1.Hash
	// dirs maps a directory whose json was recognised to the diffID of its layer.
	dirs map[string]v1.Hash
	// blobs maps the hex digest of a compressed layer blob to the layer's diffID.
	blobs map[string]v1.Hash
}

// exportLayers knows the layers of the engine images ds.
func exportLayers(ds ...*daemonImage) *knownLayers {
	var images [][]v1.Hash
	for _, d := range ds {
		images = append(images, d.diffIDs)
	}
	l := newKnownLayers(images...)
	for _, d := range ds {
		if len(d.blobs) != len(d.diffIDs) {
			continue
		}
		for i, b := range d.blobs {
			l.blobs[b.Hex] = d.diffIDs[i]
		}
	}
	return l
}

// newKnownLayers knows the layers of images with these diffIDs (bottom first, each).
func newKnownLayers(images ...[]v1.Hash) *knownLayers {
	l := &knownLayers{diffIDs: map[v1.Hash]v1.Hash{}, dirs: map[string]v1.Hash{}, blobs: map[string]v1.Hash{}}
	for _, diffIDs := range images {
		var chain v1.Hash
		for i, d := range diffIDs {
			if i == 0 {
				chain = d
			} else {
				sum := sha256.Sum256([]byte(chain.String() + " " + d.String()))
				chain = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
			}
			l.diffIDs[chain] = d
		}
	}
	return l
}

// maxObserveBytes bounds the hashing spent recognising one classic layer directory.
const maxObserveBytes = 64 << 20

// observe reads the json of directory dir; when it proves which layer the directory
// holds, that is remembered.
//
// Each candidate chain costs a hash of the json, whose size the image's author controls
// (labels, container config): past maxObserveBytes of hashing the directory is left
// unknown, and its layer is read and hashed as any other.
func (l *knownLayers) observe(dir string, raw []byte) {
	if int64(len(raw))*int64(2*len(l.diffIDs)) > maxObserveBytes {
		return
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(raw, &meta) != nil {
		return
	}
	var id, parent string
	if json.Unmarshal(meta["id"], &id) != nil || id != dir || len(id) != 64 {
		return
	}
	delete(meta, "id")
	if p, ok := meta["parent"]; ok {
		if json.Unmarshal(p, &parent) != nil {
			return
		}
		meta["parent"] = json.RawMessage(strconv.Quote("sha256:" + parent))
	}
	osField, hasOS := meta["os"]
	for chain, diffID := range l.diffIDs {
		meta["layer_id"] = json.RawMessage(strconv.Quote(chain.String()))
		if hasOS {
			meta["os"] = osField
		}
		if digestHex(meta) == id {
			l.dirs[dir] = diffID
			return
		}
		if hasOS {
			delete(meta, "os")
			if digestHex(meta) == id {
				l.dirs[dir] = diffID
				return
			}
		}
	}
}

// legacyMetadata tells a classic export's layer metadata ("<v1 ID>/json") and returns
// its directory.
func legacyMetadata(name string) (dir string, ok bool) {
	dir, ok = strings.CutSuffix(name, "/json")
	return dir, ok && len(dir) == 64 && !strings.Contains(dir, "/")
}

// layerOf returns the diffID of the layer an export entry holds, when it is known
// without reading it: a classic layer.tar whose directory's json was recognised, or a
// compressed blob the engine's manifest names.
func (l *knownLayers) layerOf(name string) (v1.Hash, bool) {
	if dir, ok := strings.CutSuffix(name, "/layer.tar"); ok {
		d, ok := l.dirs[dir]
		return d, ok
	}
	if hex, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
		d, ok := l.blobs[hex]
		return d, ok
	}
	return v1.Hash{}, false
}

// digestHex is the sha256 of a JSON document as Go writes it (keys sorted, compact).
func digestHex(doc map[string]json.RawMessage) string {
	b, err := json.Marshal(doc)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
