package snapshot

import (
	"errors"
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/discovery"
)

// sharedState is the Envoy flavour's one HTTP listener and one route
// configuration, which every service shares. The route configuration reads
// only the services' names and datacenters, so it is rebuilt only when
// those change.
type sharedState struct {
	listener   *builtResource
	route      *builtResource
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
	if s.listener != nil && s.route != nil && !topology && datacenter == s.datacenter {
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
		if s.listener == nil {
			l, err := buildResource(types.Listener, envoyListener(opts))
			s.listener, s.listenerErr = &l, err
			ed.put = append(ed.put, l)
		}
		<-done
		if s.route != nil {
			ed.remove = append(ed.remove, *s.route)
		}
		ed.put = append(ed.put, r)
		s.route, s.datacenter, s.warnings, s.routeErr, s.stale = &r, datacenter, warnings, routeErr, true
	}
}

// checkReferences checks, after a route change, that the listener's route
// configuration and every cluster the route sends to exist.
func (s *sharedState) checkReferences(b *memoBuilder) {
	if !s.stale {
		return
	}
	s.stale = false
	errs := []error{s.listenerErr, s.routeErr}
	l := s.listener.res.(*listenerv3.Listener)
	for _, name := range listenerRouteNames(l) {
		if _, ok := b.types[types.Route].items[name]; !ok {
			errs = append(errs, fmt.Errorf("listener %q: route configuration %q does not exist", l.GetName(), name))
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
