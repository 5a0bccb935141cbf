package envoy

import (
	"path/filepath"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
)

// Fixed test values for the secrets golden file: not real PEM, since Envoy
// never parses them here, and a fixed value keeps the file stable.
var (
	testCertPEM = []byte("-----BEGIN CERTIFICATE-----\ndGVzdCBjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n")
	testKeyPEM  = []byte("-----BEGIN PRIVATE KEY-----\ndGVzdCBrZXk=\n-----END PRIVATE KEY-----\n")
)

// profileHTTPSListener is the HTTPS listener of the golden files: SNI to
// two certificates, plus a default chain, with JSON access logs.
func profileHTTPSListener() *HTTPSListenerOptions {
	return &HTTPSListenerOptions{
		Name: "https_443", Address: "0.0.0.0", Port: 443, RouteConfigName: "https_443",
		Certificates: []CertificateGroup{
			{ServerNames: []string{"example.com", "*.example.com"}, SecretNames: []string{"example-com-rsa", "example-com-ecdsa"}},
			{ServerNames: []string{"example.org"}, SecretNames: []string{"example-org"}},
			{SecretNames: []string{"example-com-rsa"}},
		},
		HCM: HCMOptions{
			AccessLogs:       []AccessLogOptions{{JSONFields: goldenLogFields}},
			UseRemoteAddress: true,
		},
	}
}

// TestProfilesGolden renders the resources fleet profiles use, one golden
// file per resource type under testdata/profiles/, and checks that every
// one, down to the messages packed in Any values, passes ValidateAll.
func TestProfilesGolden(t *testing.T) {
	listeners := []proto.Message{
		HTTPSListener(*profileHTTPSListener()),
		RedirectListener("http_80", "0.0.0.0", 80, 443),
		RedirectListener("http_8080", "::", 8080, 8443),
		HTTPListenerWithOptions(HTTPListenerOptions{
			Name: "http_json_logs", Address: "0.0.0.0", Port: 10000, RouteConfigName: "http_json_logs",
			HCM: HCMOptions{
				AccessLogs:        []AccessLogOptions{{JSONFields: goldenLogFields}, {Path: "/var/log/envoy/access.log", TextFormat: "[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%\n"}},
				GenerateRequestID: ptr(true),
				XFFNumTrustedHops: 1,
			},
		}),
		TCPProxyListener("tcp_5432", "0.0.0.0", 5432, "postgres", "postgres"),
	}
	routes := []proto.Message{
		RouteConfig("https_443", []*routev3.VirtualHost{
			VirtualHostWithRoutes("example.com", []string{"example.com", "*.example.com"}, append(
				[]*routev3.Route{HealthRoute("/healthz")},
				Routes([]RouteSpec{{Action: RouteAction{Clusters: []WeightedCluster{{Name: "web"}}}}})...,
			)),
		}),
	}
	secrets := []proto.Message{
		TLSSecret("example-com-rsa", testCertPEM, testKeyPEM),
		TLSSecret("example-org", testCertPEM, testKeyPEM),
	}
	for _, tt := range []struct {
		file string
		msgs []proto.Message
	}{
		{file: "listeners.json", msgs: listeners},
		{file: "routes.json", msgs: routes},
		{file: "secrets.json", msgs: secrets},
	} {
		t.Run(tt.file, func(t *testing.T) {
			for _, m := range tt.msgs {
				validateDeep(t, m)
			}
			compareGolden(t, filepath.Join("testdata", "profiles", tt.file), tt.msgs)
		})
	}
}

// TestHTTPSListenerTypedConfigTypes walks the HTTPS listener's Envoy JSON and
// checks that every extension's typed_config names the type Envoy expects
// for that extension, as Envoy would when loading it.
func TestHTTPSListenerTypedConfigTypes(t *testing.T) {
	want := map[string]string{
		"envoy.filters.listener.tls_inspector":          "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
		"envoy.filters.network.http_connection_manager": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
		"envoy.filters.http.router":                     "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
		"envoy.transport_sockets.tls":                   "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
		"envoy.access_loggers.stdout":                   "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
	}
	seen := map[string]int{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if tc, ok := v["typed_config"].(map[string]any); ok {
				name, _ := v["name"].(string)
				seen[name]++
				if w, ok := want[name]; !ok || tc["@type"] != w {
					t.Errorf("%q: typed_config @type = %v, want %q", name, tc["@type"], w)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(envoyJSON(t, HTTPSListener(*profileHTTPSListener())))
	for name := range want {
		if seen[name] == 0 {
			t.Errorf("no %q in the listener", name)
		}
	}
}

// goldenLogFields are the JSON access-log fields of the golden listeners.
var goldenLogFields = map[string]string{
	"start_time": "%START_TIME%", "method": "%REQ(:METHOD)%", "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
	"response_code": "%RESPONSE_CODE%", "duration": "%DURATION%", "upstream_host": "%UPSTREAM_HOST%",
}
