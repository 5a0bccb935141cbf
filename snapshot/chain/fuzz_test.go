package chain

import (
	"testing"

	"github.com/switchyard/switchyard/discovery"
)

// FuzzParseFilter feeds subset filters, which come from config entries
// anyone with write access to Consul can edit: parsing and matching must
// never panic, and a filter that parses must match or fail cleanly.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`Service.Meta.version == v1`, `canary in Service.Tags`, `Node.Meta.rack matches "r[0-9]"`,
		`not (Service.ID == "a") or Service.Port > 80`, `Service.Meta.x ==`, `((`} {
		f.Add(s)
	}
	in := &discovery.Instance{ID: "a", Node: "n", Port: 80, Tags: []string{"canary"}, Meta: map[string]string{"version": "v1", "x": "y"},
		NodeMeta: map[string]string{"rack": "r1"}, Checks: []discovery.Check{{CheckID: "c", Status: "passing"}}}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr)
		if err != nil {
			return
		}
		_, _ = flt.Match("web", "dc1", in)
	})
}
