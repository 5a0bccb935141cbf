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
	"github.com/switchyard/switchyard/snapshot/chain"
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
		return translateGRPC(m, opts), nil
	default:
		return Resources{}, fmt.Errorf("translate: unknown flavour %d", opts.Flavour)
	}
}

// translateEnvoy builds one HTTP listener whose route configuration has a
// virtual host per service, plus a cluster (and, unless it resolves by DNS,
// an endpoint assignment) per service. Envoy rejects a whole route
// configuration in which two virtual hosts share a domain, so a service whose
// domains are taken (a service named "web.service.consul" next to "web", or
// names differing only in case) keeps its cluster but gets no virtual host,
// and a warning says so.
func translateEnvoy(m discovery.Model, opts Options) Resources {
	var res Resources
	services := sortedServices(m.Services)
	plans := newPlanner(false).compile(m.Config, services)
	if opts.Fleet != nil {
		services = fleetScope(services, opts.Fleet, plans)
	}
	res.Warnings = plans.rejectionWarnings()
	for _, svc := range services {
		p := plans.plan(svc.Name)
		notes := addPlanUpstreams(&res, svc, p, opts)
		notes = append(notes, addTCPListener(&res, svc, p, opts)...)
		res.Warnings = append(res.Warnings, serviceNotes(svc.Name, notes)...)
	}
	rc, warnings := envoyRoute(services, m.Datacenter, opts, plans)
	res.Listeners = append(envoyListeners(opts, plans), res.Listeners...)
	res.Routes = []types.Resource{rc}
	res.Warnings = append(res.Warnings, warnings...)
	return res
}

// serviceNotes prefixes a service's translation notes with its name.
func serviceNotes(service string, notes []string) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = fmt.Sprintf("service %q: %s", service, n)
	}
	return out
}

// envoyListeners returns the Envoy flavour's listeners other than the TCP
// listeners of services: its one HTTP listener, or a fleet's listeners.
func envoyListeners(opts Options, plans planSet) []types.Resource {
	if opts.Fleet != nil {
		return fleetListeners(opts.Fleet, plans)
	}
	return []types.Resource{envoyListener(opts)}
}

// envoyRouteName is the name of the Envoy flavour's route configuration.
func envoyRouteName(opts Options) string {
	if opts.Fleet != nil {
		return FleetRouteName
	}
	return EnvoyHTTPListenerName(opts.ListenerPort)
}

// envoyListener returns the Envoy flavour's one HTTP listener.
func envoyListener(opts Options) types.Resource {
	name := EnvoyHTTPListenerName(opts.ListenerPort)
	address := opts.ListenerAddress
	if address == "" {
		address = "0.0.0.0"
	}
	return envoy.HTTPListener(name, address, opts.ListenerPort, name)
}

// envoyRoute returns the Envoy flavour's route configuration over services
// sorted by name, and a warning per service left without a virtual host. It
// reads only the names and datacenters of the services, and their plans.
func envoyRoute(services []discovery.Service, datacenter string, opts Options, plans planSet) (*routev3.RouteConfiguration, []string) {
	var warnings []string
	vhosts := make([]*routev3.VirtualHost, 0, len(services))
	owner := make(map[string]string, 6*len(services))
	for _, svc := range services {
		domains := virtualHostDomains(svc.Name, effectiveDatacenter(svc, datacenter))
		if taken := takenDomain(owner, domains); taken != "" {
			warnings = append(warnings, fmt.Sprintf("service %q gets no Envoy virtual host: domain %q already belongs to service %q", svc.Name, taken, owner[taken]))
			continue
		}
		for _, d := range domains {
			owner[d] = svc.Name
		}
		vh, notes := serviceVirtualHost(svc.Name, domains, plans.plan(svc.Name), FlavourEnvoy)
		warnings = append(warnings, serviceNotes(svc.Name, notes)...)
		vhosts = append(vhosts, vh)
	}
	rc := envoy.RouteConfig(envoyRouteName(opts), vhosts)
	if opts.Fleet != nil {
		applyFleetRoutes(rc, opts.Fleet)
	}
	return rc, warnings
}

// effectiveDatacenter returns the service's datacenter, else the model's.
func effectiveDatacenter(svc discovery.Service, datacenter string) string {
	if svc.Datacenter != "" {
		return svc.Datacenter
	}
	return datacenter
}

// takenDomain returns the first of domains that already has an owner.
func takenDomain(owner map[string]string, domains []string) string {
	for _, d := range domains {
		if _, ok := owner[d]; ok {
			return d
		}
	}
	return ""
}

// translateGRPC builds, per service, the API listener a gRPC client asks for
// when it dials xds:///<service>, its route configuration, and exactly the
// cluster and endpoints that route references.
func translateGRPC(m discovery.Model, opts Options) Resources {
	var res Resources
	services := sortedServices(m.Services)
	plans := newPlanner(false).compile(m.Config, services)
	if opts.Fleet != nil {
		services = fleetScope(services, opts.Fleet, plans)
	}
	res.Warnings = plans.rejectionWarnings()
	for _, svc := range services {
		p := plans.plan(svc.Name)
		notes := addPlanUpstreams(&res, svc, p, opts)
		notes = append(notes, addGRPCRoute(&res, svc, p)...)
		res.Warnings = append(res.Warnings, serviceNotes(svc.Name, notes)...)
	}
	return res
}

// addGRPCRoute appends the API listener and route configuration of a
// service, and returns what its plan's routes could not express.
func addGRPCRoute(res *Resources, svc discovery.Service, p *chain.Plan) []string {
	name := GRPCListenerName(svc.Name)
	vhost, notes := serviceVirtualHost(svc.Name, []string{"*"}, p, FlavourGRPC)
	res.Listeners = append(res.Listeners, envoy.APIListener(name, name))
	res.Routes = append(res.Routes, envoy.RouteConfig(name, []*routev3.VirtualHost{vhost}))
	return notes
}

// serviceVirtualHost returns a service's virtual host under its plan: one
// route to its cluster without config entries, else the plan's routes.
func serviceVirtualHost(service string, domains []string, p *chain.Plan, flavour Flavour) (*routev3.VirtualHost, []string) {
	if !configured(p) {
		return envoy.VirtualHost(service, domains, ClusterName(service)), nil
	}
	routes, notes := planRoutes(p, flavour)
	return envoy.VirtualHostWithRoutes(service, domains, routes), notes
}

// addUpstream appends the cluster of a service and, for an EDS cluster, its
// endpoint assignment. Envoy speaks to the upstream in the protocol its
// client used, so gRPC through Envoy works before anyone declares a protocol.
// A service with a hostname among the endpoints that may take traffic
// resolves by DNS: Envoy gets STRICT_DNS over all of them; gRPC clients get
// LOGICAL_DNS (the only DNS type they accept), which holds exactly one host,
// the first hostname endpoint. A service with no such endpoint stays EDS, so
// one with nothing healthy is an empty assignment, never an empty DNS
// cluster (which gRPC clients reject).
func addUpstream(res *Resources, svc discovery.Service, opts Options) {
	copts := envoy.ClusterOptions{Name: ClusterName(svc.Name)}
	if opts.Flavour == FlavourEnvoy {
		copts.Protocol = envoy.UpstreamDownstream
	}
	addCluster(res, copts, svc.Instances, opts)
}

// addCluster appends one cluster over instances and, for an EDS cluster,
// its endpoint assignment (see addUpstream for when DNS is used). An EDS
// cluster names Switchyard its load reporting server if opts say so.
func addCluster(res *Resources, copts envoy.ClusterOptions, instances []discovery.Instance, opts Options) {
	localities := localityEndpoints(instances, opts.Flavour)
	host, ok := firstHostname(localities)
	switch {
	case !ok:
		copts.LoadReporting = opts.LoadReporting
		res.Clusters = append(res.Clusters, envoy.EDSCluster(copts))
		res.Endpoints = append(res.Endpoints, envoy.LoadAssignment(copts.Name, localities))
	case opts.Flavour == FlavourGRPC:
		res.Clusters = append(res.Clusters, envoy.DNSCluster(copts, envoy.DNSLogical, []envoy.LocalityEndpoints{host}))
	default:
		res.Clusters = append(res.Clusters, envoy.DNSCluster(copts, envoy.DNSStrict, localities))
	}
}

// firstHostname returns the first endpoint addressed by a hostname rather
// than an IP, alone in its locality.
func firstHostname(localities []envoy.LocalityEndpoints) (envoy.LocalityEndpoints, bool) {
	for _, l := range localities {
		for _, ep := range l.Endpoints {
			if net.ParseIP(ep.Address) == nil {
				return envoy.LocalityEndpoints{Locality: l.Locality, Endpoints: []envoy.Endpoint{ep}}, true
			}
		}
	}
	return envoy.LocalityEndpoints{}, false
}

// sortedServices returns the services sorted by name without touching the
// caller's slice.
func sortedServices(services []discovery.Service) []discovery.Service {
	out := slices.Clone(services)
	slices.SortFunc(out, func(a, b discovery.Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}
