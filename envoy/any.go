package envoy

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// mustAny wraps m in an Any. anypb.New fails only when m cannot be marshalled,
// which for the well-formed messages this package builds would be a
// programming error, so it panics rather than burden every builder with an
// error return.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic("envoy: marshal " + string(proto.MessageName(m)) + " to Any: " + err.Error())
	}
	return a
}
