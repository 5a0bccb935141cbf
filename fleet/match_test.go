package fleet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMatch checks which services a fleet sees.
func TestMatch(t *testing.T) {
	scoped := Services{Names: []string{"web-*", "api"}, Tags: []string{"edge"}, Meta: map[string]string{"team": "pay"}}
	tests := []struct {
		name     string
		services Services
		service  string
		tags     []string
		meta     map[string]string
		want     bool
	}{
		{"empty scope sees all", Services{}, "anything", nil, nil, true},
		{"glob", scoped, "web-1", []string{"edge"}, map[string]string{"team": "pay"}, true},
		{"exact", scoped, "api", []string{"x", "edge"}, map[string]string{"team": "pay", "v": "2"}, true},
		{"name misses", scoped, "db", []string{"edge"}, map[string]string{"team": "pay"}, false},
		{"tag missing", scoped, "api", []string{"x"}, map[string]string{"team": "pay"}, false},
		{"meta differs", scoped, "api", []string{"edge"}, map[string]string{"team": "ops"}, false},
		{"meta missing", scoped, "api", []string{"edge"}, nil, false},
		{"tags only", Services{Tags: []string{"internal"}}, "db", []string{"internal"}, nil, true},
		{"bad glob matches nothing", Services{Names: []string{"["}}, "[", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Profile{Services: tt.services}
			if got := p.Match(tt.service, tt.tags, tt.meta); got != tt.want {
				t.Errorf("Match(%q, %v, %v) = %v, want %v", tt.service, tt.tags, tt.meta, got, tt.want)
			}
		})
	}
}

// TestWarnings checks the warnings about names the catalog lacks.
func TestWarnings(t *testing.T) {
	p := Profile{
		Services:  Services{Names: []string{"web-*", "pay*", "api"}},
		Listeners: []Listener{{Protocol: ProtocolTCP, Service: "db"}, {Protocol: ProtocolTCP, Service: "cache"}, {Protocol: ProtocolHTTP}},
	}
	tests := []struct {
		name     string
		services []string
		want     []string
	}{
		{"all found", []string{"web-1", "payments", "api", "db", "cache"}, nil},
		{"missing", []string{"web-1", "cache"}, []string{
			`services.names[1]: "pay*" matches no service in the catalog`,
			`services.names[2]: "api" matches no service in the catalog`,
			`listeners[0].service: "db" is not in the catalog`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, p.Warnings(tt.services)); diff != "" {
				t.Errorf("warnings differ (-want +got):\n%s", diff)
			}
		})
	}
}
