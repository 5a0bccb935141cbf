package snapshot

import (
	"fmt"
	"strings"
)

// The naming scheme lives in this one file so that every resource kind is
// named the same way everywhere.
//
//   - Cluster and endpoint assignment of a Consul service: the service name
//     ("web"); of a service-resolver subset: "<service>~<subset>"
//     ("web~v2"). Consul subset names cannot hold "~".
//   - Failover (an aggregate cluster of a target and its failover targets,
//     in order): "<service>~<subset>~failover", the subset empty for the
//     whole service ("web~~failover", "web~v1~failover").
//   - Envoy flavour: one HTTP listener and one route configuration, both named
//     "http_<port>" ("http_10000"); one virtual host per service, named by the
//     service.
//   - Envoy flavour, a service whose service-defaults protocol is tcp: a
//     TCP proxy listener "tcp_<service>" on the port in its service meta
//     "switchyard-tcp-port".
//   - gRPC flavour: an API listener and a route configuration per service, both
//     named by the service, because a gRPC client dialing xds:///web asks for
//     the Listener "web".

// ClusterName returns the cluster (and endpoint assignment) name of a service.
func ClusterName(service string) string {
	return service
}

// SubsetClusterName returns the cluster (and endpoint assignment) name of
// a subset of a service; the empty subset is the whole service.
func SubsetClusterName(service, subset string) string {
	if subset == "" {
		return ClusterName(service)
	}
	return service + "~" + subset
}

// FailoverClusterName returns the name of the aggregate cluster that
// fails a service's subset (empty for the whole service) over to its
// failover targets.
func FailoverClusterName(service, subset string) string {
	return service + "~" + subset + "~failover"
}

// EnvoyHTTPListenerName returns the name of the Envoy flavour's HTTP
// listener, and of its route configuration, on a port.
func EnvoyHTTPListenerName(port uint32) string {
	return fmt.Sprintf("http_%d", port)
}

// TCPPortMetaKey is the service meta key that names the port of a tcp
// service's Envoy listener.
const TCPPortMetaKey = "switchyard-tcp-port"

// TCPListenerName returns the name of a tcp service's Envoy listener.
func TCPListenerName(service string) string {
	return "tcp_" + service
}

// GRPCListenerName returns the API listener (and route configuration) name a
// gRPC client uses for a service.
func GRPCListenerName(service string) string {
	return service
}

// virtualHostDomains returns the authorities under which the Envoy flavour
// routes to a service: its bare name and its Consul DNS names, each also with
// any port. Envoy compares domains case-insensitively, so they are lowercased.
func virtualHostDomains(service, datacenter string) []string {
	names := []string{service, service + ".service.consul"}
	if datacenter != "" {
		names = append(names, service+".service."+datacenter+".consul")
	}
	domains := make([]string, 0, 2*len(names))
	for _, n := range names {
		n = strings.ToLower(n)
		domains = append(domains, n, n+":*")
	}
	return domains
}
