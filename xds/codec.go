package xds

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// unpooledCodec is gRPC's protobuf codec, except that it marshals every
// message into a buffer of its own rather than one from gRPC's shared pool.
// The pool hands out buffers in tiers (…, 32 KiB, 1 MiB), so each response
// over 32 KiB — a route configuration naming every service — would take a
// 1 MiB buffer, and a fleet syncing at once leaves a 1 MiB buffer per
// stream parked in the pool long after it was written. Unpooled, a sent
// message is ordinary garbage.
type unpooledCodec struct {
	encoding.CodecV2
}

// newUnpooledCodec returns the codec; it decodes as gRPC's own does.
func newUnpooledCodec() unpooledCodec {
	return unpooledCodec{CodecV2: encoding.GetCodecV2("proto")}
}

// Marshal encodes v into a buffer of its own.
func (unpooledCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal: %T is not a protobuf message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}
