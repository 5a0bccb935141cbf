package fleet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseProfile checks that Parse never panics on any input, and that
// a profile that validates encodes and parses back to the same value.
func FuzzParseProfile(f *testing.F) {
	files, _ := filepath.Glob("../examples/fleets/*")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"version":1,"listeners":[{"name":"a","port":80,"protocol":"http"}],"health":{"path":"/h"}}`))
	f.Add([]byte("version: 1\nlisteners: [{name: t, port: 9, protocol: tcp, service: db}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal a valid profile: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded profile %s does not parse: %v", out, err)
		}
		if diff := cmp.Diff(p, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-encoded profile differs (-first +again):\n%s", diff)
		}
	})
}
