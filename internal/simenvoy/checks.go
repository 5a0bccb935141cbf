package simenvoy

import (
	"crypto/tls"
	"fmt"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"net/netip"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// routerType is the typed config of Envoy's router, the terminal HTTP filter.
const routerType = "envoy.extensions.filters.http.router.v3.Router"

// check runs the semantic checks Envoy makes beyond the protos' own
// validation, which NACK a response. clusters are the clusters the proxy
// knows, for a route configuration that asks for validate_clusters. Things
// Envoy accepts and only fails on at request time (a route to a cluster it
// does not know, without validate_clusters) pass.
func check(typ string, resources map[string]proto.Message, clusters map[string]proto.Message) error {
	var fail func(m proto.Message) error
	var format string
	switch typ {
	case resourcev3.ClusterType:
		fail = func(m proto.Message) error { return checkCluster(m.(*clusterv3.Cluster)) }
		format = "Error adding/updating cluster(s) %s"
	case resourcev3.EndpointType:
		fail = func(m proto.Message) error {
			return checkAssignment(m.(*endpointv3.ClusterLoadAssignment))
		}
		format = "Error updating endpoints %s"
	case resourcev3.ListenerType:
		fail = func(m proto.Message) error { return checkListener(m.(*listenerv3.Listener)) }
		format = "Error adding/updating listener(s) %s"
	case resourcev3.RouteType:
		fail = func(m proto.Message) error {
			return checkRouteConfig(m.(*routev3.RouteConfiguration), clusters)
		}
		format = "Error updating route configuration(s) %s"
	case resourcev3.SecretType:
		fail = func(m proto.Message) error { return checkSecret(m.(*tlsv3.Secret)) }
		format = "Error adding/updating secret(s) %s"
	default:
		return nil
	}
	var msgs []string
	for _, name := range sortedKeys(resources) {
		if err := fail(resources[name]); err != nil {
			msgs = append(msgs, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf(format, strings.Join(msgs, ", "))
}

// checkSecret checks what Envoy checks when it loads a TLS certificate: the
// certificate chain and the private key parse and belong together.
func checkSecret(sec *tlsv3.Secret) error {
	c := sec.GetTlsCertificate()
	if c == nil {
		return fmt.Errorf("secret %s holds no tls_certificate", sec.GetName())
	}
	if _, err := tls.X509KeyPair(c.GetCertificateChain().GetInlineBytes(), c.GetPrivateKey().GetInlineBytes()); err != nil {
		return fmt.Errorf("failed to load certificate chain and private key: %w", err)
	}
	return nil
}

// checkCluster checks what Envoy checks when it creates a cluster: a
// LOGICAL_DNS cluster resolves exactly one host, and a STATIC cluster's
// hosts are IP addresses.
func checkCluster(c *clusterv3.Cluster) error {
	switch c.GetType() {
	case clusterv3.Cluster_LOGICAL_DNS:
		eps := c.GetLoadAssignment().GetEndpoints()
		if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
			return fmt.Errorf("LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint")
		}
	case clusterv3.Cluster_STATIC:
		return checkIPs(c.GetLoadAssignment())
	}
	return nil
}

// checkAssignment checks an EDS assignment: Envoy does not resolve names
// that come over EDS, so every host is an IP address.
func checkAssignment(cla *endpointv3.ClusterLoadAssignment) error {
	return checkIPs(cla)
}

// checkIPs reports the first socket address of an assignment that is not an
// IP address (unless it names a custom resolver).
func checkIPs(cla *endpointv3.ClusterLoadAssignment) error {
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			if err := checkIP(lb.GetEndpoint().GetAddress()); err != nil {
				return err
			}
			for _, extra := range lb.GetEndpoint().GetAdditionalAddresses() {
				if err := checkIP(extra.GetAddress()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkIP fails for a socket address that Envoy would have to resolve.
func checkIP(a *corev3.Address) error {
	sa := a.GetSocketAddress()
	if sa == nil || sa.GetResolverName() != "" {
		return nil
	}
	if _, err := netip.ParseAddr(sa.GetAddress()); err != nil {
		return fmt.Errorf("malformed IP address: %s", sa.GetAddress())
	}
	return nil
}

// checkListener checks each HTTP connection manager's filter chain: the
// router, a terminal filter, comes last and only last.
func checkListener(l *listenerv3.Listener) error {
	for _, hcm := range listenerHCMs(l) {
		filters := hcm.GetHttpFilters()
		for i, f := range filters {
			typ := filterType(f.GetTypedConfig().GetTypeUrl())
			last := i == len(filters)-1
			switch {
			case typ == routerType && !last:
				return fmt.Errorf("terminal filter named %s of type %s must be the last filter in a http filter chain", f.GetName(), typ)
			case typ != routerType && last:
				return fmt.Errorf("non-terminal filter named %s of type %s is the last filter in a http filter chain", f.GetName(), typ)
			}
		}
	}
	return nil
}

// filterType turns a type URL into the proto name Envoy prints.
func filterType(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, "/")+1:]
}

// checkRouteConfig checks a route configuration the way Envoy's route
// matcher does: domains are compared lowercased and must be unique over all
// virtual hosts, with at most one "*". Routes to unknown clusters are only
// rejected when the configuration asks for validate_clusters.
func checkRouteConfig(rc *routev3.RouteConfiguration, clusters map[string]proto.Message) error {
	seen := map[string]bool{}
	wildcard := false
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			domain := strings.ToLower(d)
			if domain == "*" {
				if wildcard {
					return fmt.Errorf("only a single wildcard domain is permitted in route %s", rc.GetName())
				}
				wildcard = true
				continue
			}
			if seen[domain] {
				return fmt.Errorf("only unique values for domains are permitted: duplicate entry of domain %s in route %s", domain, rc.GetName())
			}
			seen[domain] = true
		}
	}
	if !rc.GetValidateClusters().GetValue() {
		return nil
	}
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			a := r.GetRoute()
			if c := a.GetCluster(); c != "" && clusters[c] == nil {
				return fmt.Errorf("route: unknown cluster '%s'", c)
			}
			for _, wc := range a.GetWeightedClusters().GetClusters() {
				if clusters[wc.GetName()] == nil {
					return fmt.Errorf("route: unknown weighted cluster '%s'", wc.GetName())
				}
			}
		}
	}
	return nil
}

// shortType turns a type URL into its message name ("Cluster").
func shortType(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, ".")+1:]
}
