package snapshot

import (
	"fmt"
	"net"
	"slices"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/envoy"
)

// Translate turns a discovery model into the xDS resources of one flavour. It
// is pure: no I/O, no clock, no logging, so a test can call it with a literal
// model. Clusters and endpoint assignments come from the same per-service step,
// so they can never disagree.
func Translate(m discovery.Model, opts Options) (Resources, error) {
	switch opts.Flavour {
	case FlavourEnvoy:
		return translateEnvoy(m, opts), nil
	case FlavourGRPC:
		return translateGRPC(m), nil
	default:
		return Resources{}, fmt.Errorf("translate: unknown flavour %d", opts.Flavour)
	}
}

// translateEnvoy builds one HTTP listener whose route configuration has a
// virtual host per service, plus a cluster (and, unless it resolves by DNS,
// an endpoint assignment) per service.
func translateEnvoy(m discovery.Model, opts Options) Resources {
	var res Resources
	vhosts := make([]*routev3.VirtualHost, 0, len(m.Services))
	seen := make(map[string]bool, len(m.Services))
	for _, svc := range sortedServices(m.Services) {
		addUpstream(&res, svc, FlavourEnvoy)
		// Envoy rejects a route configuration in which two virtual hosts
		// share a domain; Consul names differing only in case would.
		key := strings.ToLower(svc.Name)
		if seen[key] {
			continue
		}
		seen[key] = true
		dc := svc.Datacenter
		if dc == "" {
			dc = m.Datacenter
		}
		vhosts = append(vhosts, envoy.VirtualHost(svc.Name, virtualHostDomains(svc.Name, dc), ClusterName(svc.Name)))
	}
	name := EnvoyHTTPListenerName(opts.ListenerPort)
	address := opts.ListenerAddress
	if address == "" {
		address = "0.0.0.0"
	}
	res.Listeners = []types.Resource{envoy.HTTPListener(name, address, opts.ListenerPort, name)}
	res.Routes = []types.Resource{envoy.RouteConfig(name, vhosts)}
	return res
}

// translateGRPC builds, per service, the API listener a gRPC client asks for
// when it dials xds:///<service>, its route configuration, and exactly the
// cluster and endpoints that route references.
func translateGRPC(m discovery.Model) Resources {
	var res Resources
	for _, svc := range sortedServices(m.Services) {
		addUpstream(&res, svc, FlavourGRPC)
		name := GRPCListenerName(svc.Name)
		vhost := envoy.VirtualHost(svc.Name, []string{"*"}, ClusterName(svc.Name))
		res.Listeners = append(res.Listeners, envoy.APIListener(name, name))
		res.Routes = append(res.Routes, envoy.RouteConfig(name, []*routev3.VirtualHost{vhost}))
	}
	return res
}

// addUpstream appends the cluster of a service and, for an EDS cluster, its
// endpoint assignment. A service with any hostname address resolves by DNS:
// Envoy gets STRICT_DNS, gRPC clients LOGICAL_DNS (the only DNS type they
// accept). Envoy speaks to the upstream in the protocol its client used, so
// gRPC through Envoy works before anyone declares a protocol.
func addUpstream(res *Resources, svc discovery.Service, flavour Flavour) {
	name := ClusterName(svc.Name)
	opts := envoy.ClusterOptions{Name: name}
	if flavour == FlavourEnvoy {
		opts.Protocol = envoy.UpstreamDownstream
	}
	localities := localityEndpoints(svc.Instances, flavour)
	if !hasHostname(svc.Instances) {
		res.Clusters = append(res.Clusters, envoy.EDSCluster(opts))
		res.Endpoints = append(res.Endpoints, envoy.LoadAssignment(name, localities))
		return
	}
	dns := envoy.DNSStrict
	if flavour == FlavourGRPC {
		dns = envoy.DNSLogical
	}
	res.Clusters = append(res.Clusters, envoy.DNSCluster(opts, dns, localities))
}

// hasHostname reports whether any instance is addressed by a hostname
// rather than an IP.
func hasHostname(instances []discovery.Instance) bool {
	for _, inst := range instances {
		if net.ParseIP(inst.Address) == nil {
			return true
		}
	}
	return false
}

// sortedServices returns the services sorted by name without touching the
// caller's slice.
func sortedServices(services []discovery.Service) []discovery.Service {
	out := slices.Clone(services)
	slices.SortFunc(out, func(a, b discovery.Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}
