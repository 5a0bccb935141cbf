package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseErrors checks the exact message of each problem Parse reports,
// from decoding through validation.
func TestParseErrors(t *testing.T) {
	const web = `{"name":"web","port":8080,"protocol":"http"}`
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", ``, []string{"fleet profile is empty"}},
		{"not yaml", "version: [", []string{"fleet profile is not valid YAML: yaml: line 1: did not find expected node content"}},
		{"unknown fields", `{"version":1,"colour":"red","listeners":[` + web + `,{"name":"b","port":81,"protocol":"http","tls":true}]}`,
			[]string{"colour: unknown field", "listeners[1].tls: unknown field"}},
		{"wrong kinds", `{"version":"1","listeners":{},"services":{"meta":{"team":1}},"request_id":"yes"}`,
			[]string{"listeners: want a list, got an object", "request_id: want true or false, got a string", `services.meta["team"]: want a string, got a number`, "version: want a whole number, got a string"}},
		{"not whole", `{"version":1.5,"listeners":[{"name":"a","port":1e30}]}`,
			[]string{"listeners[0].port: 1e30 is not a whole number in range", "version: 1.5 is not a whole number in range"}},
		{"top level list", `[1]`, []string{"profile: want an object, got a list"}},
		{"version", `{"version":2,"listeners":[` + web + `]}`, []string{"version: 2 is not a supported version (want 1)"}},
		{"no listeners", `{"version":1}`, []string{"listeners: a fleet profile needs at least one listener"}},
		{"port range and clash", `{"version":1,"listeners":[` + web + `,{"name":"b","port":70000,"protocol":"http"},{"name":"c","port":8080,"protocol":"tcp","service":"db"}]}`,
			[]string{"listeners[1].port: 70000 is not a port (1–65535)", "listeners[2].port: 8080 is also listeners[0].port"}},
		{"same port other address", `{"version":1,"listeners":[{"name":"a","port":80,"protocol":"http","address":"10.0.0.1"},{"name":"b","port":80,"protocol":"http","address":"10.0.0.2"}]}`, nil},
		{"wildcard clashes", `{"version":1,"listeners":[{"name":"a","port":80,"protocol":"http","address":"10.0.0.1"},{"name":"b","port":80,"protocol":"http","address":"::"}]}`,
			[]string{"listeners[1].port: 80 is also listeners[0].port"}},
		{"names and address", `{"version":1,"listeners":[` + web + `,{"name":"web","port":81,"protocol":"udp","address":"host"},{"port":82,"protocol":"http"}]}`,
			[]string{`listeners[1].name: "web" is also listeners[0].name`, `listeners[1].address: "host" is not an IP address`, `listeners[1].protocol: "udp" is not one of http, https, tcp`, "listeners[2].name: empty name"}},
		{"https needs certificates", `{"version":1,"listeners":[{"name":"a","port":443,"protocol":"https"}]}`,
			[]string{"listeners[0].certificates: an https listener needs at least one certificate"}},
		{"https fields", `{"version":1,"listeners":[{"name":"a","port":443,"protocol":"https","min_tls_version":"TLSv1_1","alpn":["h2","h3","h2"],"redirect_http_port":443,
			"certificates":[{"sni":["a.example.com","bad_name","*.example.com"],"secret":"a"},{"sni":["A.example.com","*.com"],"secret":"b c"},{"secret":"d1"},{"sni":[],"secret":"d2"}]}]}`,
			[]string{
				`listeners[0].certificates[0].sni[1]: "bad_name" is not a DNS name`,
				`listeners[0].certificates[1].secret: "b c" has ' '; use letters, digits, '-', '_' and '.'`,
				`listeners[0].certificates[1].sni[0]: "A.example.com" is also listeners[0].certificates[0].sni[0]`,
				`listeners[0].certificates[1].sni[1]: "*.com" is not a DNS name`,
				"listeners[0].certificates[3].sni: no names, and listeners[0].certificates[2] is already the default certificate",
				`listeners[0].min_tls_version: "TLSv1_1" is not one of TLSv1_2, TLSv1_3`,
				`listeners[0].alpn[1]: "h3" is not one of h2, http/1.1`,
				`listeners[0].alpn[2]: "h2" is also listeners[0].alpn[0]`,
				"listeners[0].redirect_http_port: 443 is also listeners[0].port",
			}},
		{"https fields elsewhere", `{"version":1,"listeners":[{"name":"a","port":80,"protocol":"http","alpn":["h2"],"redirect_http_port":81,"service":"x"},{"name":"b","port":81,"protocol":"tcp","certificates":[{"secret":"s"}],"min_tls_version":"TLSv1_3"}]}`,
			[]string{
				"listeners[0].alpn: applies to https listeners only, not http",
				"listeners[0].redirect_http_port: applies to https listeners only, not http",
				"listeners[0].service: applies to tcp listeners only, not http",
				"listeners[1].certificates: applies to https listeners only, not tcp",
				"listeners[1].min_tls_version: applies to https listeners only, not tcp",
				"listeners[1].service: a tcp listener needs the service it forwards to",
			}},
		{"tcp service name", `{"version":1,"listeners":[{"name":"a","port":5432,"protocol":"tcp","service":"db/main"}]}`,
			[]string{`listeners[0].service: "db/main" has '/'; use letters, digits, '-', '_' and '.'`}},
		{"services", `{"version":1,"listeners":[` + web + `],"services":{"names":["web-[","","api"],"tags":[""],"meta":{"":"x"}}}`,
			[]string{`services.names[0]: "web-[" is not a valid glob`, "services.names[1]: empty name", "services.tags[0]: empty tag", `services.meta[""]: empty key`}},
		{"access log", `{"version":1,"listeners":[` + web + `],"access_log":{"path":"logs/a.log","format":"xml","fields":["method","colour","method"]}}`,
			[]string{`access_log.path: "logs/a.log" is neither "stdout" nor an absolute file path`, `access_log.format: "xml" is not one of text, json`,
				`access_log.fields[1]: "colour" is not a known field (see the fleet package documentation)`, `access_log.fields[2]: "method" is also access_log.fields[0]`}},
		{"routes", `{"version":1,"listeners":[` + web + `],"routes":{"timeout":"soon","retry_on":"5xx,teapot","num_retries":11},"xff_num_trusted_hops":-1}`,
			[]string{`routes.timeout: "soon" is not a duration such as 15s or 1m`,
				`routes.retry_on: "teapot" is not one of 5xx, gateway-error, reset, connect-failure, envoy-ratelimited, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers`,
				"routes.num_retries: 11 is not in range 0–10", "xff_num_trusted_hops: -1 is negative"}},
		{"retries without conditions", `{"version":1,"listeners":[` + web + `],"routes":{"timeout":"-1s","num_retries":2}}`,
			[]string{`routes.timeout: "-1s" is negative`, "routes.num_retries: retries need routes.retry_on"}},
		{"health", `{"version":1,"listeners":[{"name":"a","port":5432,"protocol":"tcp","service":"db"}],"health":{"path":"healthz"}}`,
			[]string{`health.path: "healthz" is not a path such as /healthz`, "health: no http or https listener to serve it on; set health.port"}},
		{"health port clash", `{"version":1,"listeners":[` + web + `],"health":{"path":"/healthz","port":8080}}`,
			[]string{"health.port: 8080 is also listeners[0].port"}},
		{"yaml", "version: 1\nlisteners:\n- name: web\n  port: 8080\n  protocol: http\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseDefaults checks the defaults Parse fills in.
func TestParseDefaults(t *testing.T) {
	p, err := Parse([]byte(`{"version":1,"listeners":[{"name":"a","port":443,"protocol":"https","certificates":[{"secret":"s"}]}],
		"access_log":{},"routes":{"retry_on":"5xx"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{
		Version: 1,
		Listeners: []Listener{{Name: "a", Port: 443, Protocol: "https", Address: "0.0.0.0",
			Certificates: []Certificate{{Secret: "s"}}, MinTLSVersion: "TLSv1_2", ALPN: []string{"h2", "http/1.1"}}},
		AccessLog: &AccessLog{Path: "stdout", Format: "text", Fields: DefaultAccessLogFields()},
		Routes:    Routes{Timeout: "15s", RetryOn: "5xx", NumRetries: 1},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("profile differs (-want +got):\n%s", diff)
	}
}

// TestExamples checks that the example profiles under examples/fleets
// are valid.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/fleets/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example profiles: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(data); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		})
	}
}

// TestCheckCluster checks the names a fleet may have in KV.
func TestCheckCluster(t *testing.T) {
	for _, ok := range []string{"edge", "edge-eu_1.prod", strings.Repeat("a", 128)} {
		if err := CheckCluster(ok); err != nil {
			t.Errorf("CheckCluster(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", "a b", "é", strings.Repeat("a", 129)} {
		if err := CheckCluster(bad); err == nil {
			t.Errorf("CheckCluster(%q) accepted it", bad)
		}
	}
	if got := Key("edge"); got != "switchyard/fleets/edge" {
		t.Errorf("Key: %q", got)
	}
}
