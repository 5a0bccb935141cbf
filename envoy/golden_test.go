package envoy

import (
	"encoding/json"
	"flag"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchyard/switchyard/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// compareGolden compares msgs with a golden file of Any-wrapped Envoy JSON
// resources (snake_case, as in Envoy's documentation), or rewrites it with
// -update.
func compareGolden(t *testing.T, path string, msgs []proto.Message) {
	t.Helper()
	golden.File{Path: path, ProtoNames: true, Update: *update, Hint: "go test ./envoy -update"}.Compare(t, msgs)
}

// envoyJSON returns m rendered as Envoy's JSON (the snake_case field names
// of Envoy's documentation and config files), decoded into plain Go
// values so that it can be walked or re-indented deterministically.
func envoyJSON(t *testing.T, m proto.Message) any {
	t.Helper()
	b, err := (protojson.MarshalOptions{UseProtoNames: true}).Marshal(m)
	if err != nil {
		t.Fatalf("marshal %s: %v", proto.MessageName(m), err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// validateDeep runs ValidateAll on m and on every message inside it,
// including those packed in Any values, which ValidateAll does not open.
func validateDeep(t *testing.T, m proto.Message) {
	t.Helper()
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			t.Errorf("%s: %v", proto.MessageName(m), err)
		}
	}
	if a, ok := m.(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			t.Errorf("unpack %s: %v", a.GetTypeUrl(), err)
			return
		}
		validateDeep(t, inner)
		return
	}
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					validateDeep(t, mv.Message().Interface())
					return true
				})
			}
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				validateDeep(t, v.List().Get(i).Message().Interface())
			}
		case fd.Message() != nil:
			validateDeep(t, v.Message().Interface())
		}
		return true
	})
}
