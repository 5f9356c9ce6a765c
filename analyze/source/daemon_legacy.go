package source

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"

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

// legacyLayers recognises the layers of a classic export by their v1 metadata.
type legacyLayers struct {
	// diffIDs maps the chain ID of every layer of the images exported to its diffID.
	diffIDs map[v1.Hash]v1.Hash
	// dirs maps a directory whose json was recognised to the diffID of its layer.
	dirs map[string]v1.Hash
}

// newLegacyLayers knows the layers of images with these diffIDs (bottom first, each).
func newLegacyLayers(images ...[]v1.Hash) *legacyLayers {
	l := &legacyLayers{diffIDs: map[v1.Hash]v1.Hash{}, dirs: map[string]v1.Hash{}}
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

// observe reads the json of directory dir; when it proves which layer the directory
// holds, that is remembered.
func (l *legacyLayers) observe(dir string, raw []byte) {
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

// diffID returns the diffID of the layer in directory dir, if its json told.
func (l *legacyLayers) diffID(dir string) (v1.Hash, bool) {
	d, ok := l.dirs[dir]
	return d, ok
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
