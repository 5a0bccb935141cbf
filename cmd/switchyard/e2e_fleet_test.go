package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// edgeProfile is the fleet profile the end-to-end fleet tests store: an
// HTTPS listener serving site-a to a.example.com and site-b to everyone
// else, a redirect listener, a JSON access log, and the services tagged
// public.
const edgeProfile = `version: 1
listeners:
  - name: public-https
    port: 8443
    protocol: https
    certificates:
      - sni: [a.example.com]
        secret: site-a
      - secret: site-b
    redirect_http_port: 8080
services:
  tags: [public]
access_log:
  format: json
routes:
  timeout: 20s
health:
  path: /healthz
`

// kvPut stores a value in Consul KV.
func (c *consulFixture) kvPut(t *testing.T, key string, value []byte) {
	t.Helper()
	if _, err := c.client.KV().Put(&api.KVPair{Key: key, Value: value}, nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// registerTagged registers an instance of service with tags.
func (c *consulFixture) registerTagged(t *testing.T, service, id string, port int, tags ...string) {
	t.Helper()
	c.registerWith(t, &api.AgentServiceRegistration{ID: id, Name: service, Port: port, Tags: tags})
}

// registerFleetServices registers the fleet tests' catalog: web and api
// tagged public, db tagged internal.
func (c *consulFixture) registerFleetServices(t *testing.T) {
	t.Helper()
	c.registerTagged(t, "web", "web-1", 18081, "public")
	c.registerTagged(t, "api", "api-1", 18082, "public")
	c.registerTagged(t, "db", "db-1", 18083, "internal")
}

// bundle is a certificate and its key as one PEM bundle, as stored in KV.
func bundle(c *testcerts.Cert) []byte {
	return append(append([]byte{}, c.CertPEM...), c.KeyPEM...)
}

// names returns the sorted names of the resources of a type the proxy holds.
func names(s simenvoy.State, typeURL string) string {
	var out []string
	for n := range s.Types[typeURL].Resources {
		out = append(out, n)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// secretKey returns the private key the proxy holds in a secret.
func secretKey(s simenvoy.State, name string) string {
	sec, ok := s.Types[resourcev3.SecretType].Resources[name].(*tlsv3.Secret)
	if !ok {
		return ""
	}
	return string(sec.GetTlsCertificate().GetPrivateKey().GetInlineBytes())
}

// fleetVirtualHosts lists the virtual hosts of a fleet's route.
func fleetVirtualHosts(s simenvoy.State) string {
	rc, ok := s.Types[resourcev3.RouteType].Resources["fleet_routes"].(*routev3.RouteConfiguration)
	if !ok {
		return ""
	}
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		out = append(out, vh.GetName())
	}
	return strings.Join(out, ",")
}

// responsesSince returns, by short type, how many responses the proxy got
// since before.
func responsesSince(before, after simenvoy.State) map[string]int {
	out := map[string]int{}
	for typ, n := range after.Responses {
		if d := n - before.Responses[typ]; d > 0 {
			out[typ[strings.LastIndex(typ, ".")+1:]] = d
		}
	}
	return out
}

// TestFleetProfileEndToEnd stores a fleet profile and two certificates in
// Consul KV and checks, with simulated Envoys, that the fleet's proxies
// get only the services in its scope behind its HTTPS listener and the
// secrets it serves, every resource valid; that a rotated certificate
// changes only its secret; that an out-of-scope change sends them
// nothing; that a bad profile or certificate is rejected for that fleet
// only, visibly, keeping the last good; that deleting the profile puts the
// fleet back on the default; and that no private key shows anywhere.
func TestFleetProfileEndToEnd(t *testing.T) {
	c := startConsul(t)
	c.registerFleetServices(t)
	ca := testcerts.NewCA(t, "fleet e2e CA")
	siteA, siteB, siteA2 := ca.Server(t), ca.Server(t), ca.Server(t)
	c.kvPut(t, "switchyard/certs/site-a", bundle(siteA))
	c.kvPut(t, "switchyard/certs/site-b", bundle(siteB))
	c.kvPut(t, "switchyard/fleets/edge", []byte(edgeProfile))

	logs := &lockedBuffer{}
	sy, _ := startLoggedSwitchyard(t, c.agent.HTTPAddr, logs, func(cfg *serveConfig) { cfg.Register, cfg.DropConfirm = false, 0 })
	xdsAddr, admin := sy.XDSAddr(), sy.AdminAddr()
	edge := startFleetEnvoy(t, xdsAddr, "edge-1", "edge")
	other := startFleetEnvoy(t, xdsAddr, "other-1", "other")

	edgeWorld := func(s simenvoy.State) bool {
		return names(s, resourcev3.ClusterType) == "api,web" && names(s, resourcev3.EndpointType) == "api,web" &&
			names(s, resourcev3.ListenerType) == "public-https,public-https_redirect" &&
			fleetVirtualHosts(s) == "api,web,fleet_health" &&
			secretKey(s, "site-a") == string(siteA.KeyPEM) && secretKey(s, "site-b") == string(siteB.KeyPEM) &&
			len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	}
	waitEnvoy(t, edge, "the edge fleet's resources", edgeWorld)
	delta, err := simenvoy.Start(context.Background(), xdsAddr, simenvoy.Config{NodeID: "edge-delta", Cluster: "edge", Delta: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(delta.Close)
	waitEnvoy(t, delta, "the edge fleet's resources over delta xDS", edgeWorld)
	waitEnvoy(t, other, "the default resources", func(s simenvoy.State) bool {
		return names(s, resourcev3.ClusterType) == "api,consul,db,web" && names(s, resourcev3.SecretType) == ""
	})
	checkSNI(t, edge.State())

	// Rotating a certificate changes only its secret.
	before, beforeDelta := edge.State(), delta.State()
	c.kvPut(t, "switchyard/certs/site-a", bundle(siteA2))
	rotated := func(s simenvoy.State) bool { return secretKey(s, "site-a") == string(siteA2.KeyPEM) }
	waitEnvoy(t, edge, "the rotated certificate", rotated)
	waitEnvoy(t, delta, "the rotated certificate over delta xDS", rotated)
	if got := responsesSince(before, edge.State()); fmt.Sprint(got) != "map[Secret:1]" {
		t.Errorf("rotating a certificate sent %v, want one SDS response", got)
	}
	if got := responsesSince(beforeDelta, delta.State()); fmt.Sprint(got) != "map[Secret:1]" {
		t.Errorf("rotating a certificate sent the delta client %v, want one SDS response", got)
	}
	delta.Close()

	// A change out of the fleet's scope sends its proxies nothing: the
	// next in-scope change arrives alone.
	before = edge.State()
	c.registerTagged(t, "db", "db-2", 18084, "internal")
	waitEnvoy(t, other, "the out-of-scope change", func(s simenvoy.State) bool { return len(endpointAddrs(s, "db")) == 2 })
	c.registerTagged(t, "api", "api-2", 18085, "public")
	waitEnvoy(t, edge, "the in-scope change", func(s simenvoy.State) bool { return len(endpointAddrs(s, "api")) == 2 })
	if got := responsesSince(before, edge.State()); fmt.Sprint(got) != "map[ClusterLoadAssignment:1]" {
		t.Errorf("an out-of-scope then an in-scope change sent %v, want one EDS response", got)
	}

	// A new profile that scopes more services is followed.
	c.kvPut(t, "switchyard/fleets/edge", []byte(strings.Replace(edgeProfile, "tags: [public]", "names: [api, db, web]", 1)))
	waitEnvoy(t, edge, "the wider scope", func(s simenvoy.State) bool {
		return names(s, resourcev3.ClusterType) == "api,db,web" && len(endpointAddrs(s, "db")) == 2 &&
			fleetVirtualHosts(s) == "api,db,web,fleet_health"
	})
	c.kvPut(t, "switchyard/fleets/edge", []byte(edgeProfile))
	waitEnvoy(t, edge, "the scope back", func(s simenvoy.State) bool { return names(s, resourcev3.ClusterType) == "api,web" })
	// The narrowed clusters make the proxy ask for endpoints again; a
	// change it must see after that answer is a barrier before counting.
	c.deregister(t, "api-2")
	waitEnvoy(t, edge, "the barrier", func(s simenvoy.State) bool { return len(endpointAddrs(s, "api")) == 1 })

	// A bad profile and a bad certificate are rejected for this fleet,
	// named in /status and the metric; the last good stays in force.
	before = edge.State()
	c.kvPut(t, "switchyard/fleets/edge", []byte(strings.Replace(edgeProfile, "redirect_http_port: 8080", "redirect_http_port: 8443", 1)))
	c.kvPut(t, "switchyard/certs/site-b", []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"))
	var st adminStatus
	waitUntil(t, "the rejections in /status", func() bool {
		adminJSON(t, admin, "/status", &st)
		return strings.Contains(st.Fleets["edge"].Rejected, "redirect_http_port") && st.Certs["site-b"].Error != ""
	})
	if st.Fleets["edge"].Index == 0 || st.Fleets["edge"].Clusters != 2 {
		t.Errorf("edge status %+v: want the last good profile in force with 2 clusters", st.Fleets["edge"])
	}
	if m := adminText(t, admin, "/metrics"); !strings.Contains(m, `switchyard_fleet_profile_rejected{fleet="edge"} 1`) {
		t.Error("switchyard_fleet_profile_rejected{fleet=\"edge\"} is not 1")
	}
	if got := responsesSince(before, edge.State()); len(got) != 0 {
		t.Errorf("rejected input sent the fleet %v, want nothing", got)
	}
	if s := other.State(); names(s, resourcev3.ClusterType) != "api,consul,db,web" {
		t.Errorf("another fleet changed: %s", names(s, resourcev3.ClusterType))
	}

	assertNoKeys(t, logs, admin, siteA, siteB, siteA2)

	// Deleting the profile puts the fleet back on the default resources.
	if _, err := c.client.KV().Delete("switchyard/fleets/edge", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := edge.Wait(ctx, func(simenvoy.State) bool { return false }); err == nil || !strings.Contains(err.Error(), "fleet profile") {
		t.Fatalf("the edge proxy's stream ended with %v, want a reconnect naming the fleet profile", err)
	}
	back := startFleetEnvoy(t, xdsAddr, "edge-1", "edge")
	waitEnvoy(t, back, "the default resources again", func(s simenvoy.State) bool {
		return names(s, resourcev3.ClusterType) == "api,consul,db,web" && names(s, resourcev3.ListenerType) == "http_10000"
	})
}

// startFleetEnvoy connects a simulated Envoy of a node.cluster.
func startFleetEnvoy(t *testing.T, xdsAddr, nodeID, cluster string) *simenvoy.Envoy {
	t.Helper()
	e, err := simenvoy.Start(context.Background(), xdsAddr, simenvoy.Config{NodeID: nodeID, Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// checkSNI checks the HTTPS listener's filter chains: a.example.com gets
// site-a, every other name site-b.
func checkSNI(t *testing.T, s simenvoy.State) {
	t.Helper()
	l, ok := s.Types[resourcev3.ListenerType].Resources["public-https"].(*listenerv3.Listener)
	if !ok {
		t.Fatal("no listener public-https")
	}
	var got []string
	for _, fc := range l.GetFilterChains() {
		tc := &tlsv3.DownstreamTlsContext{}
		if err := fc.GetTransportSocket().GetTypedConfig().UnmarshalTo(tc); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v->%s", fc.GetFilterChainMatch().GetServerNames(),
			tc.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()[0].GetName()))
	}
	if strings.Join(got, " ") != "[a.example.com]->site-a []->site-b" {
		t.Errorf("filter chains %v, want a.example.com to site-a and the rest to site-b", got)
	}
}

// assertNoKeys fails if any private key shows in the log, /status,
// /metrics, a proxy's detail or a config dump, as PEM or base64.
func assertNoKeys(t *testing.T, logs *lockedBuffer, admin string, certs ...*testcerts.Cert) {
	t.Helper()
	places := map[string]string{
		"log":         logs.String(),
		"/status":     adminText(t, admin, "/status"),
		"/metrics":    adminText(t, admin, "/metrics"),
		"/v1/proxies": adminText(t, admin, "/v1/proxies/edge-1"),
		"config dump": adminText(t, admin, "/debug/config_dump?group=envoy/edge"),
	}
	if !strings.Contains(places["config dump"], "[redacted]") {
		t.Errorf("the config dump does not show the redacted keys: %.300s", places["config dump"])
	}
	for _, c := range certs {
		lines := strings.Split(strings.TrimSpace(string(c.KeyPEM)), "\n")
		needles := []string{lines[len(lines)/2], base64.StdEncoding.EncodeToString(c.KeyPEM)[8:64]}
		for where, text := range places {
			for _, n := range needles {
				if strings.Contains(text, n) {
					t.Errorf("private key bytes in the %s", where)
				}
			}
		}
	}
}
