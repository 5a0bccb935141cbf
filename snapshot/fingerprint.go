package snapshot

import (
	"encoding/binary"
	"hash/maphash"
	"sync"

	"github.com/switchyard/switchyard/discovery"
)

// fingerprint identifies one service's model: two 64-bit hashes of every
// field under two random seeds. It is no wire contract (it never leaves
// the process and is not stable across restarts), so it can be the
// cheapest hash there is; 128 bits of it make two different models
// collide with odds of 2^-128.
type fingerprint [2]uint64

// fingerprinter hashes service models with the builder's own seeds. It is
// safe for concurrent use.
type fingerprinter struct {
	// seeds are the two halves' seeds and the seed of meta entries.
	seeds [3]maphash.Seed
}

// newFingerprinter returns a fingerprinter with fresh random seeds.
func newFingerprinter() fingerprinter {
	return fingerprinter{seeds: [3]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed(), maphash.MakeSeed()}}
}

// fingerprintBuffers recycles the encoding buffers.
var fingerprintBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// service fingerprints every field of a service, each length-prefixed so
// that no two different models encode alike.
func (f fingerprinter) service(svc *discovery.Service) fingerprint {
	bp := fingerprintBuffers.Get().(*[]byte)
	b := appendString((*bp)[:0], svc.Name)
	b = appendString(b, svc.Datacenter)
	b = appendStrings(b, svc.Tags)
	b = appendMeta(b, svc.Meta, f.seeds[2])
	b = binary.AppendUvarint(b, uint64(len(svc.Instances)))
	for i := range svc.Instances {
		in := &svc.Instances[i]
		b = appendString(b, in.ID)
		b = appendString(b, in.Node)
		b = appendString(b, in.Address)
		b = binary.AppendVarint(b, int64(in.Port))
		b = appendStrings(b, in.Tags)
		b = appendMeta(b, in.Meta, f.seeds[2])
		b = binary.AppendVarint(b, int64(in.Health))
		b = binary.AppendVarint(b, int64(in.Weights.Passing))
		b = binary.AppendVarint(b, int64(in.Weights.Warning))
		b = appendString(b, in.Locality.Region)
		b = appendString(b, in.Locality.Zone)
		// Subset filters read the node's fields and the checks.
		b = appendString(b, in.NodeAddress)
		b = appendMeta(b, in.NodeMeta, f.seeds[2])
		b = binary.AppendUvarint(b, uint64(len(in.Checks)))
		for _, c := range in.Checks {
			b = appendString(b, c.CheckID)
			b = appendString(b, c.Name)
			b = appendString(b, c.Status)
			b = appendString(b, c.ServiceID)
		}
	}
	fp := fingerprint{maphash.Bytes(f.seeds[0], b), maphash.Bytes(f.seeds[1], b)}
	*bp = b
	fingerprintBuffers.Put(bp)
	return fp
}

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendStrings appends a counted list of strings.
func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

// appendMeta appends a map's entries; map order is random, so each entry
// is hashed on its own and the hashes are summed, which does not depend on
// the order.
func appendMeta(b []byte, meta map[string]string, seed maphash.Seed) []byte {
	b = binary.AppendUvarint(b, uint64(len(meta)))
	if len(meta) == 0 {
		return b
	}
	var sum [2]uint64
	var n [binary.MaxVarintLen64]byte
	for k, v := range meta {
		var h maphash.Hash
		h.SetSeed(seed)
		h.Write(binary.AppendUvarint(n[:0], uint64(len(k))))
		h.WriteString(k)
		h.WriteString(v)
		sum[0] += h.Sum64()
		h.WriteByte(1)
		sum[1] += h.Sum64()
	}
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(b, sum[0]), sum[1])
}
