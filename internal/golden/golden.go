// Package golden compares generated Envoy resources with golden files:
// JSON arrays of Any-wrapped resources, compared as protos (protojson's
// output is deliberately unstable), rewritten on request.
package golden

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

// File is one golden file and how it is written.
type File struct {
	Path string
	// ProtoNames writes Envoy's snake_case field names (as in Envoy's
	// documentation) instead of protojson's camelCase; both read back.
	ProtoNames bool
	// Update rewrites the file instead of comparing (a test's -update
	// flag).
	Update bool
	// Hint is the command that rewrites the file, for the error when it
	// is missing.
	Hint string
}

// Compare fails t unless got equals the file's resources, or rewrites the
// file with them when f.Update is set.
func (f File) Compare(t testing.TB, got []proto.Message) {
	t.Helper()
	if f.Update {
		f.write(t, got)
		return
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatalf("read golden (run %s): %v", f.Hint, err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", f.Path, err)
	}
	want := make([]proto.Message, 0, len(raw))
	for _, r := range raw {
		a := &anypb.Any{}
		if err := protojson.Unmarshal(r, a); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		want = append(want, m)
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", f.Path, d)
	}
}

// write writes msgs as an indented JSON array of Any messages.
func (f File) write(t testing.TB, msgs []proto.Message) {
	t.Helper()
	out := make([]any, 0, len(msgs))
	for _, m := range msgs {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := (protojson.MarshalOptions{UseProtoNames: f.ProtoNames}).Marshal(a)
		if err != nil {
			t.Fatalf("marshal %s: %v", proto.MessageName(m), err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
