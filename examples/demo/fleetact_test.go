package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/fleet"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

// TestEdgeProfile checks that the act's profile is valid and says what
// the act checks the edge proxy against.
func TestEdgeProfile(t *testing.T) {
	p, err := fleet.Parse([]byte(edgeProfile))
	if err != nil {
		t.Fatalf("edgeProfile does not parse: %v", err)
	}
	if len(p.Listeners) != 1 {
		t.Fatalf("edgeProfile has %d listeners, want 1", len(p.Listeners))
	}
	l := p.Listeners[0]
	if l.Name+","+l.Name+"_redirect" != edgeListeners || l.Protocol != fleet.ProtocolHTTPS ||
		l.Address != "127.0.0.1" || l.Port != 8443 || l.RedirectHTTPPort != 8080 {
		t.Errorf("listener %+v, want public-https on 127.0.0.1:8443 with a redirect on 8080", l)
	}
	sni := map[string]string{}
	for _, c := range l.Certificates {
		sni[c.Secret] = strings.Join(c.SNI, ",")
	}
	if !maps.Equal(sni, certSNI()) || strings.Join(slices.Sorted(maps.Keys(sni)), ",") != edgeSecrets {
		t.Errorf("certificates %v, want %v", sni, certSNI())
	}
	if p.AccessLog == nil || p.AccessLog.Format != "json" || p.Routes.Timeout != "10s" {
		t.Errorf("access log %+v, routes %+v: want JSON and a 10s timeout", p.AccessLog, p.Routes)
	}
	// The services the demo registers before the act: the edge fleet
	// must see only edgeClusters of them.
	var scoped []string
	for _, service := range []string{"consul", serviceName, splitService} {
		if p.Match(service, nil, map[string]string{"instance": "x", "version": "v1"}) {
			scoped = append(scoped, service)
		}
	}
	if got := strings.Join(scoped, ","); got != edgeClusters {
		t.Errorf("edgeProfile scopes %q of the demo's services, want %q", got, edgeClusters)
	}
}

// TestNewDemoCert checks that a generated certificate is a bundle
// Switchyard accepts, for its DNS name, and that every one has its own key.
func TestNewDemoCert(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{"shop.demo.local", "api.demo.local", "shop.demo.local"} {
		c, err := newDemoCert(name)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := fleet.ParseCertBundle(c.bundle())
		if err != nil {
			t.Fatalf("%s: ParseCertBundle: %v", name, err)
		}
		if !slices.Equal(pair.Names, []string{name}) || !bytes.Equal(pair.KeyPEM, c.keyPEM) {
			t.Errorf("%s: bundle names %v, want [%s] and its own key", name, pair.Names, name)
		}
		if !bytes.Contains(c.keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Errorf("%s: key is not PKCS#8 PEM", name)
		}
		if seen[string(c.keyPEM)] {
			t.Errorf("%s: key reused", name)
		}
		seen[string(c.keyPEM)] = true
	}
}

// TestKeyLeaks checks that a private key is found in a dump as a PEM line
// or base64-encoded at any alignment, and that a redacted dump passes.
func TestKeyLeaks(t *testing.T) {
	c, err := newDemoCert("shop.demo.local")
	if err != nil {
		t.Fatal(err)
	}
	other, err := newDemoCert("api.demo.local")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(c.keyPEM)), "\n")
	encoded := func(prefix string) string {
		out, err := json.Marshal(map[string][]byte{"inline_bytes": append([]byte(prefix), c.keyPEM...)})
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	for _, tc := range []struct {
		name, dump string
		want       []int
	}{
		{"redacted", `{"private_key":{"inline_string":"[redacted]"}}` + string(c.certPEM), nil},
		{"other key only", string(other.keyPEM), nil},
		{"one PEM line", "key: " + lines[len(lines)/2], []int{0}},
		{"the whole PEM", string(c.keyPEM), []int{0}},
		{"base64", encoded(""), []int{0}},
		{"base64 after one byte", encoded("x"), []int{0}},
		{"base64 after two bytes", encoded("xy"), []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyLeaks(tc.dump, [][]byte{c.keyPEM}); !slices.Equal(got, tc.want) {
				t.Errorf("keyLeaks = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestResponsesSince checks that only the types that received responses
// in between are counted.
func TestResponsesSince(t *testing.T) {
	before := simenvoy.State{Responses: map[string]int{resourcev3.ClusterType: 2, resourcev3.SecretType: 1}}
	for _, tc := range []struct {
		name  string
		after map[string]int
		want  map[string]int
	}{
		{"nothing", map[string]int{resourcev3.ClusterType: 2, resourcev3.SecretType: 1}, map[string]int{}},
		{"one SDS", map[string]int{resourcev3.ClusterType: 2, resourcev3.SecretType: 2}, map[string]int{resourcev3.SecretType: 1}},
		{"a new type", map[string]int{resourcev3.ClusterType: 2, resourcev3.SecretType: 2, resourcev3.EndpointType: 1},
			map[string]int{resourcev3.SecretType: 1, resourcev3.EndpointType: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := responsesSince(before, simenvoy.State{Responses: tc.after}); !maps.Equal(got, tc.want) {
				t.Errorf("responsesSince = %v, want %v", got, tc.want)
			}
		})
	}
}
