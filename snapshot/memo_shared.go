package snapshot

import (
	"errors"
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/fleet"
)

// sharedState is the Envoy flavour's one HTTP listener (or a fleet's
// listeners) and one route configuration, which every service shares. The
// route configuration reads only the services' names and datacenters, so
// it is rebuilt only when those, or the fleet profile, change.
type sharedState struct {
	listeners  []builtResource
	route      *builtResource
	fleet      *fleet.Profile
	datacenter string
	warnings   []string
	// listenerErr and routeErr are the listener's and the route's own
	// validation errors; err adds the references between them and the
	// clusters.
	listenerErr, routeErr, err error
	// stale is set when the route changed and its references need checking.
	stale bool
}

// start rebuilds the listener on first use and the route configuration when
// the topology, the plans or the model's datacenter changed. The route is built on a
// goroutine of its own, since at 10,000 services it costs as much as a
// good part of them; the function start returns waits for it and records
// the edits. It returns nil when there is nothing to rebuild.
func (s *sharedState) start(opts Options, services []discovery.Service, datacenter string, topology bool, plans planSet) func(*edits) {
	relisten := s.listeners == nil || opts.Fleet != s.fleet || opts.Fleet != nil && topology
	if !relisten && s.route != nil && !topology && datacenter == s.datacenter {
		return nil
	}
	var (
		r        builtResource
		routeErr error
		warnings []string
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		var rc *routev3.RouteConfiguration
		rc, warnings = envoyRoute(services, datacenter, opts, plans)
		var err error
		r, err = buildResource(types.Route, rc)
		routeErr = errors.Join(append([]error{err}, checkDomains(Resources{Routes: []types.Resource{rc}})...)...)
	}()
	return func(ed *edits) {
		if relisten {
			s.relisten(opts, plans, ed)
		}
		<-done
		if s.route != nil {
			ed.remove = append(ed.remove, *s.route)
		}
		ed.put = append(ed.put, r)
		s.route, s.datacenter, s.warnings, s.routeErr, s.stale = &r, datacenter, warnings, routeErr, true
	}
}

// relisten builds the listeners anew and records the edits that replace
// the old ones. A fleet's TCP listeners name their service's default
// cluster, so a fleet's listeners follow the topology too.
func (s *sharedState) relisten(opts Options, plans planSet, ed *edits) {
	ed.remove = append(ed.remove, s.listeners...)
	s.listeners, s.listenerErr, s.fleet = nil, nil, opts.Fleet
	var errs []error
	for _, r := range envoyListeners(opts, plans) {
		l, err := buildResource(types.Listener, r)
		errs = append(errs, err)
		s.listeners = append(s.listeners, l)
		ed.put = append(ed.put, l)
	}
	s.listenerErr = errors.Join(errs...)
}

// checkReferences checks, after a route change, that the listeners' route
// configuration and every cluster the route and the TCP listeners send to
// exist.
func (s *sharedState) checkReferences(b *memoBuilder) {
	if !s.stale {
		return
	}
	s.stale = false
	errs := []error{s.listenerErr, s.routeErr}
	for _, built := range s.listeners {
		l := built.res.(*listenerv3.Listener)
		for _, name := range listenerRouteNames(l) {
			if _, ok := b.types[types.Route].items[name]; !ok {
				errs = append(errs, fmt.Errorf("listener %q: route configuration %q does not exist", l.GetName(), name))
			}
		}
		for _, c := range listenerTCPClusters(l) {
			if _, ok := b.types[types.Cluster].items[c]; !ok {
				errs = append(errs, fmt.Errorf("listener %q: cluster %q does not exist", l.GetName(), c))
			}
		}
	}
	rc := s.route.res.(*routev3.RouteConfiguration)
	for _, c := range routeClusterNames(rc) {
		if _, ok := b.types[types.Cluster].items[c]; !ok {
			errs = append(errs, fmt.Errorf("route configuration %q: cluster %q does not exist", rc.GetName(), c))
		}
	}
	s.err = errors.Join(errs...)
}
