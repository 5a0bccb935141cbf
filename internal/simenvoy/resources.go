package simenvoy

import (
	"fmt"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"maps"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// unpack decodes and validates every resource of a response, keyed by name.
// Like Envoy it rejects a resource of another type than the response's and a
// name that appears twice.
func unpack(resp *discoveryv3.DiscoveryResponse) (map[string]proto.Message, error) {
	out := make(map[string]proto.Message, len(resp.GetResources()))
	for _, a := range resp.GetResources() {
		if a.GetTypeUrl() != resp.GetTypeUrl() {
			return nil, fmt.Errorf("type URL %s embedded in an individual Any does not match the message-wide type URL %s in DiscoveryResponse", a.GetTypeUrl(), resp.GetTypeUrl())
		}
		msg, err := a.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", a.GetTypeUrl(), err)
		}
		if v, ok := msg.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				return nil, fmt.Errorf("invalid %s: %w", a.GetTypeUrl(), err)
			}
		}
		r, ok := msg.(types.Resource)
		if !ok {
			return nil, fmt.Errorf("%s is not an xDS resource", a.GetTypeUrl())
		}
		name := cachev3.GetResourceName(r)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate %s %q found", shortType(resp.GetTypeUrl()), name)
		}
		out[name] = msg
	}
	return out, nil
}

// edsServiceName is the name under which an EDS cluster asks for its
// endpoints: its EDS service name, else its own name.
func edsServiceName(c *clusterv3.Cluster) string {
	if sn := c.GetEdsClusterConfig().GetServiceName(); sn != "" {
		return sn
	}
	return c.GetName()
}

// edsNames lists, sorted, the EDS service names of the clusters that use EDS.
func edsNames(clusters map[string]proto.Message) []string {
	var out []string
	for _, m := range clusters {
		c := m.(*clusterv3.Cluster)
		if c.GetType() == clusterv3.Cluster_EDS {
			out = append(out, edsServiceName(c))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listenerHCMs returns the HTTP connection managers of a listener's filter
// chains. An api_listener is not looked at: Envoy only takes one from its
// bootstrap and ignores one that comes over LDS.
func listenerHCMs(l *listenerv3.Listener) []*hcmv3.HttpConnectionManager {
	chains := l.GetFilterChains()
	if d := l.GetDefaultFilterChain(); d != nil {
		chains = append(slices.Clip(chains), d)
	}
	var out []*hcmv3.HttpConnectionManager
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			hcm := &hcmv3.HttpConnectionManager{}
			if tc := f.GetTypedConfig(); tc != nil && tc.MessageIs(hcm) && tc.UnmarshalTo(hcm) == nil {
				out = append(out, hcm)
			}
		}
	}
	return out
}

// listenerRouteNames lists, sorted, the route configurations one listener
// loads over RDS.
func listenerRouteNames(l *listenerv3.Listener) []string {
	var out []string
	for _, hcm := range listenerHCMs(l) {
		if rds := hcm.GetRds(); rds != nil {
			out = append(out, rds.GetRouteConfigName())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// rdsNames lists, sorted, the route configurations the listeners' HTTP
// connection managers load over RDS.
func rdsNames(listeners map[string]proto.Message) []string {
	var out []string
	for _, m := range listeners {
		out = append(out, listenerRouteNames(m.(*listenerv3.Listener))...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sdsNames lists, sorted, the SDS secrets the listeners' TLS filter chains
// name.
func sdsNames(listeners map[string]proto.Message) []string {
	var out []string
	for _, m := range listeners {
		l := m.(*listenerv3.Listener)
		for _, fc := range l.GetFilterChains() {
			tc := &tlsv3.DownstreamTlsContext{}
			if any := fc.GetTransportSocket().GetTypedConfig(); any == nil || !any.MessageIs(tc) || any.UnmarshalTo(tc) != nil {
				continue
			}
			for _, sds := range tc.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
				out = append(out, sds.GetName())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mergeSubscribed is what a proxy holds of a type whose responses carry only
// some resources (EDS, RDS): the previous resources updated by the response,
// restricted to the names it subscribes to.
func mergeSubscribed(prev, update map[string]proto.Message, subscribed []string) map[string]proto.Message {
	out := make(map[string]proto.Message, len(subscribed))
	for _, name := range subscribed {
		if m, ok := update[name]; ok {
			out[name] = m
		} else if m, ok := prev[name]; ok {
			out[name] = m
		}
	}
	return out
}

// sortedKeys returns a map's keys, sorted; nil for an empty map.
func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}
