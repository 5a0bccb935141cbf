package envoy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

// validator is implemented by every generated Envoy message.
type validator interface {
	ValidateAll() error
}

// mustValidate fails the test if m does not pass its proto validation.
func mustValidate(t *testing.T, m validator) {
	t.Helper()
	if err := m.ValidateAll(); err != nil {
		t.Fatalf("ValidateAll: %v", err)
	}
}

// unpack unmarshals a into a new message of type T and validates it, since
// ValidateAll does not look inside Any values.
func unpack[T interface {
	proto.Message
	validator
}](t *testing.T, a *anypb.Any, m T) T {
	t.Helper()
	if a == nil {
		t.Fatal("typed config is nil")
	}
	if err := a.UnmarshalTo(m); err != nil {
		t.Fatalf("unmarshal %s: %v", a.GetTypeUrl(), err)
	}
	mustValidate(t, m)
	return m
}

// diffProto fails the test if got and want differ.
func diffProto(t *testing.T, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("mismatch (-want +got):\n%s", d)
	}
}
