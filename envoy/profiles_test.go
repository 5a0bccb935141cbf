package envoy

import (
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestAccessLog(t *testing.T) {
	text := &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_TextFormatSource{
		TextFormatSource: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "%RESPONSE_CODE%\n"}},
	}}
	custom := &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_JsonFormat{
		JsonFormat: &structpb.Struct{Fields: map[string]*structpb.Value{"code": structpb.NewStringValue("%RESPONSE_CODE%")}},
	}}
	tests := []struct {
		name string
		opts AccessLogOptions
		want *accesslogv3.AccessLog
	}{
		{
			name: "stdout default text",
			want: &accesslogv3.AccessLog{Name: "envoy.access_loggers.stdout", ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(&streamv3.StdoutAccessLog{})}},
		},
		{
			name: "stdout text format",
			opts: AccessLogOptions{TextFormat: "%RESPONSE_CODE%\n"},
			want: &accesslogv3.AccessLog{Name: "envoy.access_loggers.stdout", ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(
				&streamv3.StdoutAccessLog{AccessLogFormat: &streamv3.StdoutAccessLog_LogFormat{LogFormat: text}})}},
		},
		{
			name: "file json custom fields",
			opts: AccessLogOptions{Path: "/tmp/a.log", JSONFields: map[string]string{"code": "%RESPONSE_CODE%"}},
			want: &accesslogv3.AccessLog{Name: "envoy.access_loggers.file", ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(
				&filev3.FileAccessLog{Path: "/tmp/a.log", AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: custom}})}},
		},
		{
			name: "file default text",
			opts: AccessLogOptions{Path: "/tmp/a.log"},
			want: &accesslogv3.AccessLog{Name: "envoy.access_loggers.file", ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(
				&filev3.FileAccessLog{Path: "/tmp/a.log"})}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AccessLog(tt.opts)
			validateDeep(t, got)
			diffProto(t, unpackAny(t, tt.want.GetTypedConfig()), unpackAny(t, got.GetTypedConfig()))
			if got.GetName() != tt.want.GetName() {
				t.Errorf("name = %q, want %q", got.GetName(), tt.want.GetName())
			}
		})
	}
}

// TestHCMOptions checks that zero options leave the HTTP listener as
// HTTPListener builds it and that each option lands in the connection
// manager.
func TestHCMOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   HCMOptions
		change func(*hcmv3.HttpConnectionManager)
	}{
		{name: "zero", change: func(*hcmv3.HttpConnectionManager) {}},
		{
			name: "all",
			opts: HCMOptions{AccessLogs: []AccessLogOptions{{}}, GenerateRequestID: ptr(false), UseRemoteAddress: true, XFFNumTrustedHops: 2},
			change: func(h *hcmv3.HttpConnectionManager) {
				h.AccessLog = []*accesslogv3.AccessLog{AccessLog(AccessLogOptions{})}
				h.GenerateRequestId = wrapperspb.Bool(false)
				h.UseRemoteAddress = wrapperspb.Bool(true)
				h.XffNumTrustedHops = 2
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := httpConnectionManager("l", "r")
			tt.change(want)
			got := HTTPListenerWithOptions(HTTPListenerOptions{Name: "l", Address: "0.0.0.0", Port: 80, RouteConfigName: "r", HCM: tt.opts})
			validateDeep(t, got)
			diffProto(t, networkListener("l", "0.0.0.0", 80, "envoy.filters.network.http_connection_manager", want), got)
		})
	}
	diffProto(t, HTTPListener("l", "0.0.0.0", 80, "r"), networkListener("l", "0.0.0.0", 80, "envoy.filters.network.http_connection_manager", httpConnectionManager("l", "r")))
}

func TestHTTPSListener(t *testing.T) {
	tests := []struct {
		name        string
		opts        HTTPSListenerOptions
		wantVersion tlsv3.TlsParameters_TlsProtocol
		wantALPN    []string
	}{
		{
			name:        "defaults",
			opts:        HTTPSListenerOptions{Name: "h", Address: "0.0.0.0", Port: 443, RouteConfigName: "h", Certificates: []CertificateGroup{{ServerNames: []string{"a.test"}, SecretNames: []string{"a"}}}},
			wantVersion: tlsv3.TlsParameters_TLSv1_2,
			wantALPN:    []string{"h2", "http/1.1"},
		},
		{
			name:        "tls 1.3 http/1.1 only",
			opts:        HTTPSListenerOptions{Name: "h", Address: "::", Port: 8443, RouteConfigName: "h", MinTLSVersion: TLS13, ALPN: []string{"http/1.1"}, Certificates: []CertificateGroup{{SecretNames: []string{"a", "b"}}}},
			wantVersion: tlsv3.TlsParameters_TLSv1_3,
			wantALPN:    []string{"http/1.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HTTPSListener(tt.opts)
			validateDeep(t, got)
			chains := got.GetFilterChains()
			if len(chains) != len(tt.opts.Certificates) {
				t.Fatalf("got %d chains, want %d", len(chains), len(tt.opts.Certificates))
			}
			for i, c := range chains {
				g := tt.opts.Certificates[i]
				if len(g.ServerNames) == 0 && c.GetFilterChainMatch() != nil {
					t.Errorf("chain %d: match = %v, want none", i, c.GetFilterChainMatch())
				}
				checkHCM(t, c.GetFilters()[0].GetTypedConfig(), tt.opts.Name, tt.opts.RouteConfigName)
				tc := unpack(t, c.GetTransportSocket().GetTypedConfig(), &tlsv3.DownstreamTlsContext{})
				var secrets []*tlsv3.SdsSecretConfig
				for _, n := range g.SecretNames {
					secrets = append(secrets, &tlsv3.SdsSecretConfig{Name: n, SdsConfig: adsConfigSource()})
				}
				diffProto(t, &tlsv3.CommonTlsContext{
					TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tt.wantVersion},
					TlsCertificateSdsSecretConfigs: secrets,
					AlpnProtocols:                  tt.wantALPN,
				}, tc.GetCommonTlsContext())
			}
		})
	}
}

func TestRedirectListener(t *testing.T) {
	tests := []struct {
		name      string
		httpsPort uint32
		wantPort  uint32
	}{
		{name: "default https port", httpsPort: 443, wantPort: 0},
		{name: "other https port", httpsPort: 8443, wantPort: 8443},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedirectListener("http_80", "0.0.0.0", 80, tt.httpsPort)
			validateDeep(t, got)
			hcm := unpack(t, got.GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{})
			routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
			if len(routes) != 1 || routes[0].GetMatch().GetPrefix() != "/" {
				t.Fatalf("routes = %v, want one on prefix /", routes)
			}
			diffProto(t, &routev3.RedirectAction{
				SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true},
				PortRedirect:           tt.wantPort,
			}, routes[0].GetRedirect())
		})
	}
}

func TestHealthRoute(t *testing.T) {
	for _, path := range []string{"/healthz", "/ready"} {
		t.Run(path, func(t *testing.T) {
			got := HealthRoute(path)
			validateDeep(t, got)
			diffProto(t, &routev3.Route{
				Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: path}},
				Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
					Status: 200,
					Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "ok"}},
				}},
			}, got)
		})
	}
}

func TestTLSSecret(t *testing.T) {
	got := TLSSecret("example", testCertPEM, testKeyPEM)
	validateDeep(t, got)
	diffProto(t, &tlsv3.Secret{Name: "example", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: testCertPEM}},
		PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: testKeyPEM}},
	}}}, got)
}

// unpackAny returns the message packed in a.
func unpackAny(t *testing.T, a *anypb.Any) proto.Message {
	t.Helper()
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
