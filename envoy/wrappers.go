package envoy

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// optionalUInt32 wraps v, or returns nil for zero so that the field stays
// unset and the client applies its own default.
func optionalUInt32(v uint32) *wrapperspb.UInt32Value {
	if v == 0 {
		return nil
	}
	return wrapperspb.UInt32(v)
}

// optionalUInt64 wraps v, or returns nil for zero so that the field stays
// unset and the client applies its own default.
func optionalUInt64(v uint64) *wrapperspb.UInt64Value {
	if v == 0 {
		return nil
	}
	return wrapperspb.UInt64(v)
}

// uint32Value wraps *p, or returns nil when p is nil. It serves fields where
// zero is a meaningful setting, distinct from unset.
func uint32Value(p *uint32) *wrapperspb.UInt32Value {
	if p == nil {
		return nil
	}
	return wrapperspb.UInt32(*p)
}

// optionalDuration converts d, or returns nil for zero so that the field
// stays unset.
func optionalDuration(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}
