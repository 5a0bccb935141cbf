package simenvoy

import (
	"fmt"
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
func unpack(resp *discoveryv3.DiscoveryResponse) (map[string]proto.Message, error) {
	out := make(map[string]proto.Message, len(resp.GetResources()))
	for _, a := range resp.GetResources() {
		msg, err := a.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", a.GetTypeUrl(), err)
		}
		if v, ok := msg.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				return nil, fmt.Errorf("invalid %s: %w", a.GetTypeUrl(), err)
			}
		}
		out[cachev3.GetResourceName(msg.(types.Resource))] = msg
	}
	return out, nil
}

// edsNames lists the EDS service names of the clusters that use EDS.
func edsNames(clusters map[string]proto.Message) []string {
	var out []string
	for name, m := range clusters {
		c := m.(*clusterv3.Cluster)
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		if sn := c.GetEdsClusterConfig().GetServiceName(); sn != "" {
			name = sn
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// rdsNames lists the route configurations the listeners' HTTP connection
// managers load over RDS.
func rdsNames(listeners map[string]proto.Message) []string {
	var out []string
	for _, m := range listeners {
		for _, fc := range m.(*listenerv3.Listener).GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(hcm) == nil && hcm.GetRds() != nil {
					out = append(out, hcm.GetRds().GetRouteConfigName())
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
