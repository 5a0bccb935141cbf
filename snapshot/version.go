package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// Versions are the content-hash versions of one flavour's resources, one per
// xDS type.
type Versions struct {
	Clusters  string
	Endpoints string
	Listeners string
	Routes    string
}

// versionsOf hashes each type's resources. The same resources give the same
// versions in every process, so a restart or a second replica pushes nothing
// new. The endpoint version also covers the cluster version, and the route
// version the listener version: Envoy re-requests EDS after a CDS update and
// RDS after an LDS update at the version it already has, and a cluster or
// listener stays warming until it gets an answer, so a change of the parent
// type must always come with a new version of the child type.
func versionsOf(res Resources) (Versions, error) {
	var v Versions
	var err error
	if v.Clusters, err = hashResources(res.Clusters, ""); err != nil {
		return Versions{}, fmt.Errorf("hash clusters: %w", err)
	}
	if v.Endpoints, err = hashResources(res.Endpoints, v.Clusters); err != nil {
		return Versions{}, fmt.Errorf("hash endpoints: %w", err)
	}
	if v.Listeners, err = hashResources(res.Listeners, ""); err != nil {
		return Versions{}, fmt.Errorf("hash listeners: %w", err)
	}
	if v.Routes, err = hashResources(res.Routes, v.Listeners); err != nil {
		return Versions{}, fmt.Errorf("hash routes: %w", err)
	}
	return v, nil
}

// hashResources returns a short hex digest of the resources (sorted by name by
// the translation) and a parent version.
func hashResources(items []types.Resource, parent string) (string, error) {
	h := sha256.New()
	writeField(h, []byte(parent))
	marshal := proto.MarshalOptions{Deterministic: true}
	for _, item := range items {
		b, err := marshal.Marshal(item)
		if err != nil {
			return "", fmt.Errorf("marshal %s: %w", cachev3.GetResourceName(item), err)
		}
		writeField(h, []byte(cachev3.GetResourceName(item)))
		writeField(h, b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// writeField writes a length-prefixed field so that two different sequences
// of fields can never hash alike.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	for i := range n {
		n[i] = byte(uint64(len(b)) >> (8 * i))
	}
	h.Write(n[:])
	h.Write(b)
}
