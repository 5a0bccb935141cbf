package layering

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/switchyard/switchyard/"

// TestImportDirection reads `go list -deps` and fails on any import that
// runs against the data flow.
func TestImportDirection(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"discovery", []string{"github.com/envoyproxy/go-control-plane", module + "snapshot", module + "xds", module + "envoy"}},
		{"envoy", []string{module}},
		{"snapshot", []string{module + "xds", module + "cmd"}},
		{"xds", []string{module + "discovery", module + "snapshot", "github.com/hashicorp/consul"}},
		{"rollout", []string{module, "github.com/envoyproxy/go-control-plane"}},
		{"fleet", []string{module, "github.com/envoyproxy/go-control-plane", "github.com/hashicorp/consul"}},
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", module+r.pkg).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, dep := range strings.Fields(string(out)) {
				if dep == module+r.pkg {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s", r.pkg, dep)
					}
				}
			}
		})
	}
}

// TestRolloutImports checks rollout's own imports against an allow-list:
// the standard library, the Consul API and the Prometheus client.
func TestRolloutImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"rollout").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{"github.com/hashicorp/consul/api", "github.com/prometheus/client_golang/prometheus"}
	for _, imp := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") || slices.Contains(allowed, imp) {
			continue // the standard library, or allowed
		}
		t.Errorf("rollout imports %s; it may import only the standard library and %v", imp, allowed)
	}
}
