package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/fleet"
)

// TestFleetGolden translates the fleet model for each profile under
// testdata/fleets and compares each resource type with its golden file:
// edge has an HTTPS listener with SNI to two certificates, a redirect
// listener, a JSON access log and scoping by name; internal has an HTTP
// and a TCP listener, a text access log to a file, scoping by tag and
// meta, and a health listener of its own.
func TestFleetGolden(t *testing.T) {
	m, err := loadModel("testdata/fleets/model.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"edge", "internal"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata/fleets", name)
			data, err := os.ReadFile(filepath.Join(dir, "profile.json"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := fleet.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Translate(m, Options{Flavour: FlavourEnvoy, LoadReporting: true, Fleet: &p})
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if err := Validate(res); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for kind, list := range map[string][]types.Resource{
				"clusters": res.Clusters, "endpoints": res.Endpoints,
				"listeners": res.Listeners, "routes": res.Routes,
			} {
				compareGolden(t, filepath.Join(dir, kind+".json"), list)
			}
			compareWarnings(t, filepath.Join(dir, "warnings.txt"), res.Warnings)
		})
	}
}
