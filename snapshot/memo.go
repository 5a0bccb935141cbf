package snapshot

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/snapshot/chain"
)

// built is what the publisher logs about one flavour's rebuild.
type built struct {
	versions  Versions
	warnings  []string
	clusters  int
	endpoints int
}

// typeState is one xDS type's resources as the last rebuild left them, by
// name, and the order-independent digest of the set. Its map is the
// builder's own: nothing outside the builder holds it.
type typeState struct {
	items  map[string]builtResource
	digest typeDigest
}

// memoBuilder rebuilds one flavour incrementally. It gives exactly the
// resources and versions of Translate and Build, but translates, validates
// and hashes only the services whose model changed, and rebuilds the Envoy
// flavour's route configuration only when the services' names or
// datacenters change. Given a model that says which services changed
// (discovery.Model.Delta), it looks at those alone, so a one-service change
// costs the same at any catalog size. It also remembers what the sink last
// accepted (see sinkState), so that a publish carries only what changed
// since. It is not safe for concurrent use.
type memoBuilder struct {
	opts Options
	fp   fingerprinter
	// entries are the last followed model's services, by name.
	entries map[string]*serviceEntry
	// inSync is set while entries are exactly the last model's, so that the
	// next model's Changed list is relative to them.
	inSync bool
	// gen marks the entries a full comparison saw.
	gen   uint64
	types [numTypes]typeState
	// failing are the entries whose resources did not validate, by name,
	// and endpoints counts the endpoints of all entries.
	failing   map[string]*serviceEntry
	endpoints int
	shared    sharedState
	sink      sinkState
	// planner compiles the routing plans; plans are the last model's and
	// config the entries they were compiled from. noted are the entries
	// with translation notes, by name.
	planner *planner
	plans   planSet
	config  *discovery.ConfigEntries
	noted   map[string]*serviceEntry
	// holding is set while removals are held back for the next publish.
	holding bool
}

// newMemoBuilder returns an empty builder for one flavour.
func newMemoBuilder(opts Options) *memoBuilder {
	b := &memoBuilder{opts: opts, fp: newFingerprinter(), entries: map[string]*serviceEntry{}, failing: map[string]*serviceEntry{},
		planner: newPlanner(opts.Flavour == FlavourGRPC), noted: map[string]*serviceEntry{}}
	for typ := range b.types {
		b.types[typ].items = map[string]builtResource{}
	}
	b.sink.init()
	return b
}

// rebuild brings the builder to a model and returns its versions, or the
// validation error that keeps it from being published. Either way the
// builder follows the model, so the next one is diffed against it; what
// changed stays pending for the sink until a publish is accepted.
func (b *memoBuilder) rebuild(m discovery.Model) (built, error) {
	var ed edits
	services, todo, topology, ok := b.diffChanged(m, &ed)
	if !ok {
		services, ok = fullyOrdered(m.Services)
		if !ok {
			// Translate keeps both services of a name, which the per-name
			// memo cannot follow, so this model goes the reference way.
			// The memo still holds the last model it could follow, whole
			// and consistent, and the next model is compared with it in
			// full.
			b.inSync = false
			return b.sink.reference(m, b.opts)
		}
		todo, topology = b.diffAll(services, &ed)
	}
	b.inSync, b.sink.ref = true, nil
	replanned := false
	if topology || m.Config != b.config || b.plans.plans == nil || b.plans.unsettled {
		todo, replanned = b.replan(m.Config, services, todo)
	}
	todo = b.withPlans(todo)
	var shared func(*edits)
	if b.opts.Flavour == FlavourEnvoy {
		// The route configuration reads only names, datacenters and plans,
		// so it is built while the services are.
		shared = b.shared.start(b.opts, services, m.Datacenter, topology || replanned, b.plans)
	}
	b.build(todo, &ed)
	if shared != nil {
		shared(&ed)
	}
	b.apply(&ed)
	b.shared.checkReferences(b)
	if err := b.err(); err != nil {
		return built{}, fmt.Errorf("validate: %w", err)
	}
	return b.summary(), nil
}

// fullyOrdered returns the services sorted by name, and false if two share
// a name.
func fullyOrdered(services []discovery.Service) ([]discovery.Service, bool) {
	if !slices.IsSortedFunc(services, compareServices) {
		services = sortedServices(services)
	}
	return services, !hasDuplicateNames(services)
}

// pendingService is a service whose entry must be rebuilt: its model, its
// fingerprint if comparing it with old's needed it, and the entry it
// replaces (nil for a new service).
type pendingService struct {
	svc   *discovery.Service
	fp    fingerprint
	hasFP bool
	old   *serviceEntry
	plan  *chain.Plan
}

// diffChanged follows a model that names its changed services, looking at
// those alone: it drops the entries of removed services and returns the
// sorted services, the services to rebuild and whether the set of names or
// any service's datacenter changed. It returns false, having changed
// nothing, when it cannot: the model is not a delta, the builder does not
// hold the model it is a delta from, or a changed name is duplicated. A
// delta model's services are sorted by name (discovery guarantees it),
// which is trusted here: checking it would cost a walk over the catalog.
func (b *memoBuilder) diffChanged(m discovery.Model, ed *edits) ([]discovery.Service, []pendingService, bool, bool) {
	if !m.Delta || !b.inSync || !isStrictlySorted(m.Changed) {
		return nil, nil, false, false
	}
	found := make([]int, len(m.Changed))
	for k, name := range m.Changed {
		i, ok := slices.BinarySearchFunc(m.Services, name, compareServiceName)
		if !ok {
			i = -1
		} else if i+1 < len(m.Services) && m.Services[i+1].Name == name {
			return nil, nil, false, false
		}
		found[k] = i
	}
	topology := false
	var todo []pendingService
	for k, name := range m.Changed {
		old := b.entries[name]
		if found[k] < 0 {
			if old != nil {
				b.replace(old, nil, ed)
				delete(b.entries, name)
				topology = true
			}
			continue
		}
		svc := &m.Services[found[k]]
		if p, ok := b.pending(svc, old); ok {
			topology = topology || old == nil || old.datacenter != svc.Datacenter
			todo = append(todo, p)
		}
	}
	return m.Services, todo, topology, true
}

// diffAll compares every service of a model, sorted by name and without
// duplicates, with the entries: it drops the entries of removed services
// and returns the services to rebuild and whether the set of names or any
// service's datacenter changed.
func (b *memoBuilder) diffAll(services []discovery.Service, ed *edits) ([]pendingService, bool) {
	b.gen++
	topology := false
	var todo []pendingService
	for j := range services {
		svc := &services[j]
		old := b.entries[svc.Name]
		if old != nil {
			old.gen = b.gen
		}
		if p, ok := b.pending(svc, old); ok {
			topology = topology || old == nil || old.datacenter != svc.Datacenter
			todo = append(todo, p)
		}
	}
	for name, e := range b.entries {
		if e.gen != b.gen {
			b.replace(e, nil, ed)
			delete(b.entries, name)
			topology = true
		}
	}
	return todo, topology
}

// pending returns the rebuild a service needs, and false when its entry
// already comes from an equal model. A new service's fingerprint is left
// to the worker that builds it.
func (b *memoBuilder) pending(svc *discovery.Service, old *serviceEntry) (pendingService, bool) {
	if old == nil {
		return pendingService{svc: svc}, true
	}
	fp := b.fp.service(svc)
	if old.fp == fp && old.plan == b.plans.plan(svc.Name) {
		return pendingService{}, false
	}
	return pendingService{svc: svc, fp: fp, hasFP: true, old: old}, true
}

// build translates, validates and digests the pending services, in
// parallel when there are many, and puts their entries in place.
func (b *memoBuilder) build(todo []pendingService, ed *edits) {
	entries := newServiceEntries(todo, b.opts, b.fp)
	if len(b.entries) == 0 && len(todo) > 0 {
		// A first model: size the maps once rather than growing them
		// through every doubling.
		b.entries = make(map[string]*serviceEntry, len(todo))
		ed.put = slices.Grow(ed.put, len(todo)*len(entries[0].resources))
	}
	for i, p := range todo {
		e := entries[i]
		e.gen = b.gen
		b.replace(p.old, e, ed)
		b.entries[e.name] = e
	}
}

// replace records that entry old (nil for a new service) gives way to entry
// e (nil for a removed service). A resource that comes out of both the same
// is neither removed nor put, and e keeps old's proto of it, so a change
// touches only the types whose resources really changed.
func (b *memoBuilder) replace(old, e *serviceEntry, ed *edits) {
	if old != nil && old.err != nil {
		delete(b.failing, old.name)
	}
	if old != nil {
		delete(b.noted, old.name)
	}
	if e != nil && len(e.notes) > 0 {
		b.noted[e.name] = e
	}
	var kept []builtResource
	if e != nil {
		b.endpoints += e.endpoints
		if e.err != nil {
			b.failing[e.name] = e
		}
		for k, r := range e.resources {
			if prev, ok := old.find(r); ok {
				e.resources[k] = prev
				kept = append(kept, prev)
				continue
			}
			ed.put = append(ed.put, r)
		}
	}
	if old != nil {
		b.endpoints -= old.endpoints
		for _, r := range old.resources {
			if !slices.Contains(kept, r) {
				ed.remove = append(ed.remove, r)
			}
		}
	}
}

// err joins the validation errors of every failing entry, in name order,
// and of the shared resources. It looks at the failing entries alone, so a
// catalog with one bad service does not cost a walk over every service.
func (b *memoBuilder) err() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(b.failing)) {
		errs = append(errs, b.failing[name].err)
	}
	errs = append(errs, b.shared.err)
	return errors.Join(errs...)
}

// compareServices orders services by name.
func compareServices(a, b discovery.Service) int {
	return strings.Compare(a.Name, b.Name)
}

// compareServiceName orders a service against a name.
func compareServiceName(s discovery.Service, name string) int {
	return strings.Compare(s.Name, name)
}

// isStrictlySorted reports whether names are sorted without repeats.
func isStrictlySorted(names []string) bool {
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			return false
		}
	}
	return true
}

// hasDuplicateNames reports whether two of the services, sorted by name,
// share a name.
func hasDuplicateNames(services []discovery.Service) bool {
	for i := 1; i < len(services); i++ {
		if services[i].Name == services[i-1].Name {
			return true
		}
	}
	return false
}

// buildReference builds a model with Translate and Build.
func buildReference(m discovery.Model, opts Options) (Resources, built, error) {
	res, err := Translate(m, opts)
	if err != nil {
		return Resources{}, built{}, err
	}
	_, v, err := Build(res)
	if err != nil {
		return Resources{}, built{}, err
	}
	return res, built{versions: v, warnings: res.Warnings, clusters: len(res.Clusters), endpoints: endpointCount(res.Endpoints)}, nil
}
