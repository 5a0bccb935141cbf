package snapshot

import (
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/fleet"
)

// FleetRouteName is the route configuration that every http and https
// listener of a fleet loads: a virtual host per service in its scope.
const FleetRouteName = "fleet_routes"

// fleetHealthHost is the virtual host of a fleet's health endpoint.
const fleetHealthHost = "fleet_health"

// fleetListeners returns the listeners of a fleet's profile, in its order,
// each https listener followed by its HTTP → HTTPS redirect listener if it
// has one, then the health listener if the profile gives it a port.
func fleetListeners(p *fleet.Profile, plans planSet) []types.Resource {
	hcm := fleetHCM(p)
	var out []types.Resource
	for _, l := range p.Listeners {
		port := uint32(l.Port)
		switch l.Protocol {
		case fleet.ProtocolHTTP:
			out = append(out, envoy.HTTPListenerWithOptions(envoy.HTTPListenerOptions{
				Name: l.Name, Address: l.Address, Port: port, RouteConfigName: FleetRouteName, HCM: hcm,
			}))
		case fleet.ProtocolHTTPS:
			out = append(out, envoy.HTTPSListener(envoy.HTTPSListenerOptions{
				Name: l.Name, Address: l.Address, Port: port, RouteConfigName: FleetRouteName,
				Certificates: certificateGroups(l.Certificates), MinTLSVersion: tlsVersion(l.MinTLSVersion),
				ALPN: l.ALPN, HCM: hcm,
			}))
			if l.RedirectHTTPPort != 0 {
				out = append(out, envoy.RedirectListener(l.Name+"_redirect", l.Address, uint32(l.RedirectHTTPPort), port))
			}
		case fleet.ProtocolTCP:
			out = append(out, envoy.TCPProxyListener(l.Name, l.Address, port, l.Name, defaultCluster(l.Service, plans)))
		}
	}
	if h := p.Health; h != nil && h.Port != 0 {
		out = append(out, envoy.HealthListener(envoy.HealthListenerOptions{
			Name: "fleet_health", Address: fleet.DefaultAddress, Port: uint32(h.Port), Path: h.Path,
		}))
	}
	return out
}

// fleetHCM returns the connection manager settings every HTTP listener of
// a fleet shares: access log, request ids and client address handling.
func fleetHCM(p *fleet.Profile) envoy.HCMOptions {
	generate := p.RequestID
	opts := envoy.HCMOptions{
		GenerateRequestID: &generate,
		UseRemoteAddress:  p.UseRemoteAddress,
		XFFNumTrustedHops: uint32(p.XFFNumTrustedHops),
	}
	if a := p.AccessLog; a != nil {
		log := envoy.AccessLogOptions{Path: a.Path}
		if a.Path == fleet.DefaultAccessLogPath {
			log.Path = ""
		}
		if a.Format == "json" {
			log.JSONFields = a.JSONFields()
		} else {
			log.TextFormat = a.TextFormat()
		}
		opts.AccessLogs = []envoy.AccessLogOptions{log}
	}
	return opts
}

// certificateGroups turns an https listener's certificates into its
// filter chains, one per certificate.
func certificateGroups(certs []fleet.Certificate) []envoy.CertificateGroup {
	out := make([]envoy.CertificateGroup, 0, len(certs))
	for _, c := range certs {
		out = append(out, envoy.CertificateGroup{ServerNames: c.SNI, SecretNames: []string{c.Secret}})
	}
	return out
}

// tlsVersion maps a profile's minimum TLS version.
func tlsVersion(v string) envoy.TLSVersion {
	if v == "TLSv1_3" {
		return envoy.TLS13
	}
	return envoy.TLS12
}

// defaultCluster is the cluster a service's default route sends to first:
// the one a TCP listener forwards to.
func defaultCluster(service string, plans planSet) string {
	p := plans.plan(service)
	if !configured(p) || len(p.Routes) == 0 || len(p.Routes[len(p.Routes)-1].Splits) == 0 {
		return service
	}
	return splitClusterName(p.Routes[len(p.Routes)-1].Splits[0])
}

// applyFleetRoutes gives every route of a fleet's route configuration the
// profile's defaults where the route has none of its own (timeout, retry
// policy), and, if the profile serves the health endpoint on every
// listener, adds it in a catch-all virtual host: Envoy picks a host by its
// most specific domain, so the services' hosts keep their requests.
func applyFleetRoutes(rc *routev3.RouteConfiguration, p *fleet.Profile) {
	timeout, _ := time.ParseDuration(p.Routes.Timeout)
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			action := r.GetRoute()
			if action == nil {
				continue
			}
			if action.Timeout == nil && p.Routes.Timeout != "" {
				action.Timeout = durationpb.New(timeout)
			}
			if action.RetryPolicy == nil && p.Routes.RetryOn != "" {
				action.RetryPolicy = &routev3.RetryPolicy{RetryOn: p.Routes.RetryOn, NumRetries: wrapperspb.UInt32(uint32(p.Routes.NumRetries))}
			}
		}
	}
	if h := p.Health; h != nil && h.Port == 0 {
		health := envoy.VirtualHostWithRoutes(fleetHealthHost, []string{"*"}, []*routev3.Route{envoy.HealthRoute(h.Path)})
		rc.VirtualHosts = append(rc.VirtualHosts, health)
	}
}
