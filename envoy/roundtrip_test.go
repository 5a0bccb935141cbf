package envoy

import (
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestProtoJSONRoundTrip renders every kind of resource the newer builders
// make as JSON and parses it back, as ParseBootstrapYAML does: an Any whose
// type is not linked into the binary fails to render or to parse.
func TestProtoJSONRoundTrip(t *testing.T) {
	allOptions := ClusterOptions{
		Name:             "web",
		Protocol:         UpstreamHTTP2,
		LB:               LoadBalancing{Policy: LBRingHash, MinRingSize: 1024, MaxRingSize: 4096},
		CircuitBreakers:  &CircuitBreakers{MaxConnections: ptr(uint32(10)), MaxPendingRequests: ptr(uint32(20)), MaxRequests: ptr(uint32(30))},
		OutlierDetection: &OutlierDetection{Interval: time.Second, Consecutive5xx: 5, EnforcingConsecutive5xx: ptr(uint32(100)), MaxEjectionPercent: ptr(uint32(10)), BaseEjectionTime: time.Minute},
		LoadReporting:    true,
	}
	routes := Routes([]RouteSpec{
		{
			Match: RouteMatch{PathRegex: "/v[0-9]+/.*", Methods: []string{"GET"}, Headers: []HeaderMatch{{Name: "x-a", Suffix: "z", Invert: true}}, QueryParams: []QueryParamMatch{{Name: "q", Exact: "1"}}},
			Action: RouteAction{
				Clusters:      []WeightedCluster{{Name: "a", Weight: 9000}, {Name: "b", Weight: 1000}},
				PrefixRewrite: "/", Timeout: time.Second, MaxStreamDuration: time.Second,
				Retry:        &RetryPolicy{NumRetries: 2, RetryOn: []string{"unavailable"}},
				HashPolicies: []HashPolicy{{Header: "x-user"}, {Cookie: &CookieHash{Name: "c", TTL: time.Hour}}, {SourceIP: true}, {QueryParameter: "u", Terminal: true}},
			},
		},
		{Action: RouteAction{Clusters: []WeightedCluster{{Name: "web"}}}},
	})
	tests := []struct {
		name string
		msg  interface {
			proto.Message
			validator
		}
	}{
		{name: "eds cluster with all options", msg: EDSCluster(allOptions)},
		{name: "least request dns cluster", msg: DNSCluster(ClusterOptions{Name: "ext", LB: LoadBalancing{Policy: LBLeastRequest, ChoiceCount: 3}}, DNSLogical, oneHost())},
		{name: "aggregate cluster", msg: AggregateCluster("web", []string{"web-dc1", "web-dc2"})},
		{name: "route config", msg: RouteConfig("routes", []*routev3.VirtualHost{VirtualHostWithRoutes("web", []string{"*"}, routes)})},
		{name: "tcp proxy listener", msg: TCPProxyListener("tcp_5432", "0.0.0.0", 5432, "pg", "pg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustValidate(t, tt.msg)
			j, err := protojson.Marshal(tt.msg)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			got := tt.msg.ProtoReflect().New().Interface()
			if err := (protojson.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(j, got); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, j)
			}
			diffProto(t, tt.msg, got)
		})
	}
}
