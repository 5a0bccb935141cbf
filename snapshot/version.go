package snapshot

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

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
	// Secrets is set for a fleet only: the version of its SDS secrets.
	Secrets string
}

// versionsOf hashes each type's resources. The same resources give the same
// versions in every process, so a restart or a second replica pushes nothing
// new. The endpoint version also covers the cluster version, and the route
// version the listener version: Envoy re-requests EDS after a CDS update and
// RDS after an LDS update at the version it already has, and a cluster or
// listener stays warming until it gets an answer, so a change of the parent
// type must always come with a new version of the child type.
func versionsOf(res Resources) (Versions, error) {
	var d [4]typeDigest
	for i, list := range [][]types.Resource{res.Clusters, res.Endpoints, res.Listeners, res.Routes} {
		for _, r := range list {
			rd, err := digestResource(r)
			if err != nil {
				return Versions{}, err
			}
			d[i].add(rd)
		}
	}
	return versionsFromDigests(d[0], d[1], d[2], d[3]), nil
}

// versionsFromDigests turns the digests of the four types into versions,
// folding each parent type's version into its child's.
func versionsFromDigests(clusters, endpoints, listeners, routes typeDigest) Versions {
	var v Versions
	v.Clusters = clusters.version("")
	v.Endpoints = endpoints.version(v.Clusters)
	v.Listeners = listeners.version("")
	v.Routes = routes.version(v.Listeners)
	return v
}

// resourceDigest is the SHA-256 of one resource's deterministic encoding,
// which holds its name: the per-resource version go-control-plane computes
// (cachev3.HashResource) and the xds package's delta version map uses.
type resourceDigest [sha256.Size]byte

// digestResource hashes one resource's deterministic encoding, the one
// cachev3.MarshalResource gives, into a recycled buffer.
func digestResource(r types.Resource) (resourceDigest, error) {
	bp := marshalBuffers.Get().(*[]byte)
	defer marshalBuffers.Put(bp)
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend((*bp)[:0], r)
	if err != nil {
		return resourceDigest{}, fmt.Errorf("marshal %s: %w", cachev3.GetResourceName(r), err)
	}
	if cap(b) <= maxPooledBuffer {
		*bp = b
	}
	return sha256.Sum256(b), nil
}

// maxPooledBuffer bounds the buffers kept for reuse, so that one huge route
// configuration does not stay allocated.
const maxPooledBuffer = 64 << 10

// marshalBuffers recycles the buffers resources are encoded into to be
// hashed.
var marshalBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// typeDigest is an order-independent digest of a set of uniquely named
// resources: the lane-wise sum of their digests, and their count. Adding or
// removing one resource updates it in constant time, which is what lets an
// incremental rebuild version a type without rehashing its unchanged
// resources; names are part of each resource's encoding, so two sets only
// collide by accident of SHA-256.
type typeDigest struct {
	sum   [4]uint64
	count uint64
}

// add folds one resource into the digest.
func (d *typeDigest) add(r resourceDigest) {
	for i := range d.sum {
		d.sum[i] += binary.LittleEndian.Uint64(r[8*i:])
	}
	d.count++
}

// remove takes out a resource that add folded in.
func (d *typeDigest) remove(r resourceDigest) {
	for i := range d.sum {
		d.sum[i] -= binary.LittleEndian.Uint64(r[8*i:])
	}
	d.count--
}

// version returns a short hex digest of the set and a parent version.
func (d typeDigest) version(parent string) string {
	h := sha256.New()
	writeField(h, []byte(parent))
	var b [40]byte
	for i, s := range d.sum {
		binary.LittleEndian.PutUint64(b[8*i:], s)
	}
	binary.LittleEndian.PutUint64(b[32:], d.count)
	writeField(h, b[:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// writeField writes a length-prefixed field so that two different sequences
// of fields can never hash alike.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
