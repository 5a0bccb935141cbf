package snapshot

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// TestRolloutWeight reads rollout weights back from the route
// configurations Translate builds for both flavours.
func TestRolloutWeight(t *testing.T) {
	tests := []struct {
		name        string
		v1, v2      int // the splitter's weights, in hundredths
		from, to    string
		weight      int
		wantCarries bool
	}{
		{"split carried", 9000, 1000, "v1", "v2", 10, true},
		{"another weight", 9000, 1000, "v1", "v2", 50, false},
		{"half", 5000, 5000, "v1", "v2", 50, true},
		{"all to the canary", 0, 10000, "v1", "v2", 100, true},
		{"all back", 10000, 0, "v1", "v2", 0, true},
		{"reversed rollout", 9000, 1000, "v2", "v1", 90, true},
		{"unknown subsets", 9000, 1000, "v3", "v4", 0, false},
	}
	for _, flavour := range []Flavour{FlavourEnvoy, FlavourGRPC} {
		for _, tt := range tests {
			t.Run(flavour.String()+"/"+tt.name, func(t *testing.T) {
				res, err := Translate(splitModel(tt.v1, tt.v2), Options{Flavour: flavour, ListenerPort: 10000})
				if err != nil {
					t.Fatal(err)
				}
				hosted := 0
				for _, r := range res.Routes {
					hosts, carries := RolloutWeight(r.(*routev3.RouteConfiguration), "web", tt.from, tt.to, tt.weight)
					if !hosts {
						continue
					}
					hosted++
					if carries != tt.wantCarries {
						t.Errorf("route %s: carries %d%% = %v, want %v", r.(*routev3.RouteConfiguration).GetName(), tt.weight, carries, tt.wantCarries)
					}
				}
				if hosted != 1 {
					t.Errorf("%d route configurations host web, want 1", hosted)
				}
			})
		}
	}
}
