package envoy

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// mustAny wraps m in an Any, marshalled deterministically: a message with
// a map (a JSON access-log format is a Struct) must give the same bytes,
// and so the same content hash, every time it is built. Marshalling fails
// only when m cannot be marshalled, which for the well-formed messages
// this package builds would be a programming error, so it panics rather
// than burden every builder with an error return.
func mustAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic("envoy: marshal " + string(proto.MessageName(m)) + " to Any: " + err.Error())
	}
	return a
}
