package envoy

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// compareGolden compares msgs with a golden file of Any-wrapped Envoy JSON
// resources, as protos (protojson's output is deliberately unstable), or
// rewrites the file with -update.
func compareGolden(t *testing.T, path string, msgs []proto.Message) {
	t.Helper()
	if *update {
		writeGolden(t, path, msgs)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./envoy -update): %v", err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want := make([]proto.Message, 0, len(raw))
	for _, r := range raw {
		a := &anypb.Any{}
		if err := protojson.Unmarshal(r, a); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want = append(want, m)
	}
	if d := cmp.Diff(want, msgs, protocmp.Transform()); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", path, d)
	}
}

// writeGolden writes msgs as an indented JSON array of Any messages.
func writeGolden(t *testing.T, path string, msgs []proto.Message) {
	t.Helper()
	out := make([]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, envoyJSON(t, mustAny(m)))
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
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
