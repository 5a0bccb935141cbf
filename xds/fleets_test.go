package xds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// fleetUpdate is a fleet's whole world: service web behind an HTTPS
// listener that serves secret "site", holding cert.
func fleetUpdate(t *testing.T, cert *testcerts.Cert) Update {
	t.Helper()
	u := Update{Versions: map[string]string{}}
	add := func(typeURL string, r proto.Message) {
		b, err := cachev3.MarshalResource(r)
		if err != nil {
			t.Fatal(err)
		}
		h := cachev3.HashResource(b)
		u.Versions[typeURL] = h
		u.Changes = append(u.Changes, Change{TypeURL: typeURL, Name: cachev3.GetResourceName(r), Version: h, Resource: r})
	}
	add(resourcev3.ClusterType, envoy.EDSCluster(envoy.ClusterOptions{Name: "web"}))
	add(resourcev3.EndpointType, envoy.LoadAssignment("web", []envoy.LocalityEndpoints{{
		Endpoints: []envoy.Endpoint{{Address: "127.0.0.1", Port: 8080, Weight: 1}},
	}}))
	add(resourcev3.ListenerType, envoy.HTTPSListener(envoy.HTTPSListenerOptions{
		Name: "https_443", Address: "0.0.0.0", Port: 443, RouteConfigName: "https_443",
		Certificates: []envoy.CertificateGroup{{SecretNames: []string{"site"}}},
	}))
	add(resourcev3.RouteType, envoy.RouteConfig("https_443", []*routev3.VirtualHost{envoy.VirtualHost("web", []string{"web"}, "web")}))
	add(resourcev3.SecretType, envoy.TLSSecret("site", cert.CertPEM, cert.KeyPEM))
	return u
}

// holdsFleet reports whether the proxy holds the fleet's world: cluster
// web, the HTTPS listener and its route, and secret site at key.
func holdsFleet(key []byte) func(simenvoy.State) bool {
	return func(s simenvoy.State) bool {
		sec, ok := s.Types[resourcev3.SecretType].Resources["site"]
		return ok && string(sec.(*tlsv3.Secret).GetTlsCertificate().GetPrivateKey().GetInlineBytes()) == string(key) &&
			strings.Join(keys(s.Types[resourcev3.ClusterType].Resources), ",") == "web" &&
			strings.Join(keys(s.Types[resourcev3.ListenerType].Resources), ",") == "https_443" &&
			strings.Join(keys(s.Types[resourcev3.RouteType].Resources), ",") == "https_443" &&
			len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	}
}

// movedAway waits for a proxy's stream to be ended with Unavailable, as
// a fleet's creation or removal does.
func movedAway(t *testing.T, e *simenvoy.Envoy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := e.Wait(ctx, func(simenvoy.State) bool { return false })
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) || se.GRPCStatus().Code() != codes.Unavailable || !strings.Contains(err.Error(), "fleet profile") {
		t.Fatalf("stream ended with %v, want Unavailable naming the fleet profile", err)
	}
}

// TestFleetStates checks that a fleet's proxies are moved onto its own
// state when it gets one and back when it loses it, that other proxies
// are left alone, that a rotated secret is the only resource sent again,
// and that dumps never show a private key.
func TestFleetStates(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, deltaWorld(t, "v1", three)); err != nil {
		t.Fatal(err)
	}
	edge := startEnvoy(t, addr, simenvoy.Config{NodeID: "e1", Cluster: "edge"})
	other := startEnvoy(t, addr, simenvoy.Config{NodeID: "o1", Cluster: "other"})
	waitState(t, edge, holds("api", "db", "web"))
	waitState(t, other, holds("api", "db", "web"))

	ca := testcerts.NewCA(t, "fleet test CA")
	first, second := ca.Server(t), ca.Server(t)
	if err := srv.ApplyFleet("edge", fleetUpdate(t, first)); err != nil {
		t.Fatal(err)
	}
	movedAway(t, edge)
	edge = startEnvoy(t, addr, simenvoy.Config{NodeID: "e1", Cluster: "edge"})
	waitState(t, edge, holdsFleet(first.KeyPEM))
	waitFor(t, func() bool {
		ra := srv.RouteAcceptance("https_443")
		return len(ra) == 1 && ra[0].Fleet == "edge" && len(ra[0].Proxies) == 1 &&
			ra[0].Proxies[0].ID == "e1" && ra[0].Proxies[0].State == StateSynced
	})
	if s := other.State(); !holds("api", "db", "web")(s) {
		t.Fatalf("proxy of another cluster lost its resources: %+v", s)
	}

	before := edge.State()
	if err := srv.ApplyFleet("edge", fleetUpdate(t, second)); err != nil {
		t.Fatal(err)
	}
	waitState(t, edge, holdsFleet(second.KeyPEM))
	after := edge.State()
	for _, typ := range allTypes {
		if after.Responses[typ] != before.Responses[typ] {
			t.Errorf("rotating the secret sent %d %s responses, want none", after.Responses[typ]-before.Responses[typ], typ)
		}
	}
	if got := after.Responses[resourcev3.SecretType] - before.Responses[resourcev3.SecretType]; got != 1 {
		t.Errorf("rotating the secret sent %d SDS responses, want 1", got)
	}

	dump, ok, err := srv.FleetConfigDump("edge")
	if err != nil || !ok {
		t.Fatalf("FleetConfigDump: ok %v, err %v", ok, err)
	}
	b, err := json.Marshal(map[string]any{"dump": dump, "resources": must(srv.FleetResources("edge"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range [][]byte{first.KeyPEM, second.KeyPEM} {
		if strings.Contains(string(b), keyBody(key)) || strings.Contains(string(b), base64.StdEncoding.EncodeToString(key)[8:64]) {
			t.Fatal("the fleet's config dump shows a private key")
		}
	}
	if !strings.Contains(string(b), Redacted) {
		t.Fatalf("the dump does not mark the redacted key: %s", b)
	}

	srv.RemoveFleet("edge")
	movedAway(t, edge)
	edge = startEnvoy(t, addr, simenvoy.Config{NodeID: "e1", Cluster: "edge"})
	waitState(t, edge, holds("api", "db", "web"))
	if got := srv.Fleets(); len(got) != 0 {
		t.Fatalf("Fleets() = %v after removal", got)
	}
}

// must drops the ok of a two-valued call.
func must[T any](v T, _ bool) T {
	return v
}

// keyBody returns a line from the middle of a PEM key: the bytes that
// must never be shown, whatever the encoding around them.
func keyBody(pem []byte) string {
	lines := strings.Split(strings.TrimSpace(string(pem)), "\n")
	return lines[len(lines)/2]
}
