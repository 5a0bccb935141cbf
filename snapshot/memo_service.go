package snapshot

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/snapshot/chain"
)

// builtResource is one translated resource with its content digest.
type builtResource struct {
	typ    types.ResponseType
	name   string
	res    types.Resource
	digest resourceDigest
	// valid is true when the resource passed validation and was digested.
	valid bool
}

// find returns the entry's resource that is valid and has the same type,
// name and digest as r.
func (e *serviceEntry) find(r builtResource) (builtResource, bool) {
	if e == nil || !r.valid {
		return builtResource{}, false
	}
	for _, o := range e.resources {
		if o.valid && o.typ == r.typ && o.name == r.name && o.digest == r.digest {
			return o, true
		}
	}
	return builtResource{}, false
}

// serviceEntry is what the incremental builder remembers of one service:
// the fingerprint of the model it was built from (a copy of the model
// would cost more to make than to compare), the resources built from it,
// and whether they passed validation.
type serviceEntry struct {
	name       string
	datacenter string
	fp         fingerprint
	// gen is the builder's generation that last saw the service.
	gen       uint64
	resources []builtResource
	endpoints int
	err       error
	// plan is the routing plan the entry was built from; notes are what
	// the flavour could not express of it, routeNotes the part of them its
	// gRPC route configuration gave (kept with the route).
	plan              *chain.Plan
	notes, routeNotes []string
}

// newServiceEntry translates, validates and digests one service's own
// resources, keeping from old, the entry of the service's previous model
// (nil for a new service), those that depend on its name alone. Every
// reference among them (listener → route → cluster → endpoints) stays
// inside the service, so checking them here is the same check Validate
// makes over the whole set. It only reads old, so entries can be built in
// parallel.
func newServiceEntry(svc *discovery.Service, opts Options, old *serviceEntry, plan *chain.Plan) *serviceEntry {
	flavour := opts.Flavour
	var res Resources
	notes := addPlanUpstreams(&res, *svc, plan, opts)
	if flavour == FlavourEnvoy {
		notes = append(notes, addTCPListener(&res, *svc, plan, opts)...)
	}
	kept := nameOnly(old, flavour, plan)
	var routeNotes []string
	switch {
	case kept != nil:
		routeNotes = old.routeNotes
	case flavour == FlavourGRPC:
		routeNotes = addGRPCRoute(&res, *svc, plan)
	}
	e := &serviceEntry{
		name: svc.Name, datacenter: svc.Datacenter, endpoints: endpointCount(res.Endpoints), plan: plan,
		notes: append(notes, routeNotes...), routeNotes: routeNotes,
		resources: make([]builtResource, 0, len(res.Clusters)+len(res.Endpoints)+len(res.Listeners)+len(res.Routes)+len(kept)),
	}
	errs := ownReferences(res, svc.Name)
	for _, l := range []struct {
		typ  types.ResponseType
		list []types.Resource
	}{{types.Cluster, res.Clusters}, {types.Endpoint, res.Endpoints}, {types.Listener, res.Listeners}, {types.Route, res.Routes}} {
		for _, r := range l.list {
			br, err := buildResource(l.typ, r)
			if err != nil {
				errs = append(errs, err)
			}
			e.resources = append(e.resources, br)
		}
	}
	e.resources = append(e.resources, kept...)
	e.err = errors.Join(errs...)
	return e
}

// nameOnly returns the resources of old that depend on the service's name
// and plan alone, to keep as they are: a gRPC service's API listener and
// route configuration, which addGRPCRoute builds from nothing else, so
// that a health change translates and hashes only the clusters and
// endpoints. It returns nil unless old passed validation whole and was
// built from the same plan.
func nameOnly(old *serviceEntry, flavour Flavour, plan *chain.Plan) []builtResource {
	if old == nil || old.err != nil || flavour != FlavourGRPC || old.plan != plan {
		return nil
	}
	var out []builtResource
	for _, r := range old.resources {
		if r.typ == types.Listener || r.typ == types.Route {
			out = append(out, r)
		}
	}
	if len(out) != 2 {
		return nil
	}
	return out
}

// parallelChunk is how many services one worker takes at a time: enough
// to keep the shared counter cold, few enough to balance the workers.
const parallelChunk = 32

// newServiceEntries builds the entries of the pending services, with their
// fingerprints, spread over at most GOMAXPROCS workers when there are more
// than a chunk of them; a one-service change stays on the caller's
// goroutine.
func newServiceEntries(todo []pendingService, opts Options, fp fingerprinter) []*serviceEntry {
	out := make([]*serviceEntry, len(todo))
	one := func(i int) {
		p := &todo[i]
		e := newServiceEntry(p.svc, opts, p.old, p.plan)
		if e.fp = p.fp; !p.hasFP {
			e.fp = fp.service(p.svc)
		}
		out[i] = e
	}
	workers := min(runtime.GOMAXPROCS(0), (len(todo)+parallelChunk-1)/parallelChunk)
	if workers <= 1 {
		for i := range todo {
			one(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				end := int(next.Add(parallelChunk))
				start := end - parallelChunk
				if start >= len(todo) {
					return
				}
				for i := start; i < min(end, len(todo)); i++ {
					one(i)
				}
			}
		})
	}
	wg.Wait()
	return out
}

// buildResource validates and digests one resource.
func buildResource(typ types.ResponseType, r types.Resource) (builtResource, error) {
	br := builtResource{typ: typ, name: cachev3.GetResourceName(r), res: r}
	if err := validateResource(r); err != nil {
		return br, err
	}
	d, err := digestResource(r)
	br.digest, br.valid = d, err == nil
	return br, err
}
