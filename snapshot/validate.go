package snapshot

import (
	"errors"
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	aggregatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// validator is what every generated Envoy proto implements.
type validator interface {
	ValidateAll() error
}

// Validate checks every resource with its proto's ValidateAll and then checks
// references: every route configuration a listener names exists, every
// cluster a route names exists, and every EDS cluster has an endpoint
// assignment. go-control-plane's Snapshot.Consistent misses API listeners and
// route → cluster references, so it is not enough.
func Validate(res Resources) error {
	var errs []error
	for _, list := range [][]types.Resource{res.Clusters, res.Endpoints, res.Listeners, res.Routes} {
		for _, r := range list {
			if err := validateResource(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, checkReferences(res)...)
	errs = append(errs, checkDomains(res)...)
	return errors.Join(errs...)
}

// validateResource checks one resource with its proto's ValidateAll.
func validateResource(r types.Resource) error {
	v, ok := r.(validator)
	if !ok {
		return fmt.Errorf("%T %q: cannot be validated", r, cachev3.GetResourceName(r))
	}
	if err := v.ValidateAll(); err != nil {
		return fmt.Errorf("%T %q: %w", r, cachev3.GetResourceName(r), err)
	}
	return nil
}

// checkReferences reports every dangling reference between resources.
func checkReferences(res Resources) []error {
	return referenceErrors(res, func(string) bool { return true })
}

// ownReferences checks the references of one service's resources among
// themselves: a reference to another service's cluster is left to the
// plan, which only routes to clusters their services define.
func ownReferences(res Resources, service string) []error {
	return referenceErrors(res, func(cluster string) bool {
		return cluster == service || strings.HasPrefix(cluster, service+"~")
	})
}

// referenceErrors checks every reference whose cluster check selects.
func referenceErrors(res Resources, check func(cluster string) bool) []error {
	clusters, endpoints, routes := names(res.Clusters), names(res.Endpoints), names(res.Routes)
	var errs []error
	for _, r := range res.Listeners {
		l := r.(*listenerv3.Listener)
		for _, rc := range listenerRouteNames(l) {
			if !routes[rc] {
				errs = append(errs, fmt.Errorf("listener %q: route configuration %q does not exist", l.GetName(), rc))
			}
		}
	}
	for _, r := range res.Routes {
		rc := r.(*routev3.RouteConfiguration)
		for _, c := range routeClusterNames(rc) {
			if check(c) && !clusters[c] {
				errs = append(errs, fmt.Errorf("route configuration %q: cluster %q does not exist", rc.GetName(), c))
			}
		}
	}
	for _, r := range res.Clusters {
		c := r.(*clusterv3.Cluster)
		for _, m := range aggregateMembers(c) {
			if check(m) && !clusters[m] {
				errs = append(errs, fmt.Errorf("aggregate cluster %q: cluster %q does not exist", c.GetName(), m))
			}
		}
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		if !endpoints[name] {
			errs = append(errs, fmt.Errorf("cluster %q: endpoint assignment %q does not exist", c.GetName(), name))
		}
	}
	return errs
}

// checkDomains reports a domain that two virtual hosts of one route
// configuration share: Envoy rejects the whole configuration for it.
func checkDomains(res Resources) []error {
	var errs []error
	for _, r := range res.Routes {
		rc := r.(*routev3.RouteConfiguration)
		n := 0
		for _, vh := range rc.GetVirtualHosts() {
			n += len(vh.GetDomains())
		}
		owner := make(map[string]string, n)
		for _, vh := range rc.GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				key := strings.ToLower(d)
				if prev, ok := owner[key]; ok {
					errs = append(errs, fmt.Errorf("route configuration %q: domain %q is in virtual hosts %q and %q", rc.GetName(), d, prev, vh.GetName()))
					continue
				}
				owner[key] = vh.GetName()
			}
		}
	}
	return errs
}

// names returns the set of resource names in a list.
func names(list []types.Resource) map[string]bool {
	out := make(map[string]bool, len(list))
	for _, r := range list {
		out[cachev3.GetResourceName(r)] = true
	}
	return out
}

// listenerRouteNames returns the RDS route configuration names an HTTP
// connection manager in the listener (API listener or filter chain) uses.
func listenerRouteNames(l *listenerv3.Listener) []string {
	var hcms []*hcmv3.HttpConnectionManager
	if api := l.GetApiListener().GetApiListener(); api != nil {
		hcm := &hcmv3.HttpConnectionManager{}
		if err := api.UnmarshalTo(hcm); err == nil {
			hcms = append(hcms, hcm)
		}
	}
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			hcm := &hcmv3.HttpConnectionManager{}
			if tc := f.GetTypedConfig(); tc != nil && tc.UnmarshalTo(hcm) == nil {
				hcms = append(hcms, hcm)
			}
		}
	}
	var out []string
	for _, hcm := range hcms {
		if name := hcm.GetRds().GetRouteConfigName(); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// routeClusterNames returns every cluster a route configuration sends to.
func routeClusterNames(rc *routev3.RouteConfiguration) []string {
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			a := r.GetRoute()
			if c := a.GetCluster(); c != "" {
				out = append(out, c)
			}
			for _, wc := range a.GetWeightedClusters().GetClusters() {
				out = append(out, wc.GetName())
			}
		}
	}
	return out
}

// endpointCount returns how many endpoints an assignment list holds; it lets
// tests and logs compare snapshots.
func endpointCount(list []types.Resource) int {
	n := 0
	for _, r := range list {
		for _, lle := range r.(*endpointv3.ClusterLoadAssignment).GetEndpoints() {
			n += len(lle.GetLbEndpoints())
		}
	}
	return n
}

// aggregateMembers returns the clusters an aggregate cluster fails over
// between, nil for any other cluster.
func aggregateMembers(c *clusterv3.Cluster) []string {
	ct := c.GetClusterType()
	if ct == nil {
		return nil
	}
	var cfg aggregatev3.ClusterConfig
	if err := ct.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
		return nil
	}
	return cfg.GetClusters()
}

// listenerTCPClusters returns the clusters a listener's TCP proxies
// forward to.
func listenerTCPClusters(l *listenerv3.Listener) []string {
	var out []string
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			tp := &tcpproxyv3.TcpProxy{}
			if tc := f.GetTypedConfig(); tc != nil && tc.MessageIs(tp) && tc.UnmarshalTo(tp) == nil && tp.GetCluster() != "" {
				out = append(out, tp.GetCluster())
			}
		}
	}
	return out
}
