package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/switchyard/switchyard/discovery"
)

// built is one flavour's snapshot with what the publisher logs about it.
type built struct {
	snap      *cachev3.Snapshot
	versions  Versions
	warnings  []string
	clusters  int
	endpoints int
}

// typeState is one xDS type's resources as the last rebuild left them. Its
// items map may already be in a published snapshot, so it is never written
// to: a rebuild that changes the type clones it.
type typeState struct {
	items map[string]types.ResourceWithTTL
	// hashes are the hex digests of the items, by name: go-control-plane's
	// per-resource versions, shared with published snapshots like items.
	hashes map[string]string
	digest typeDigest
}

// memoBuilder rebuilds one flavour incrementally. It gives exactly the
// snapshot and versions of Translate and Build, but translates, validates
// and hashes only the services whose model changed, and rebuilds the Envoy
// flavour's route configuration only when the services' names or
// datacenters change. It is not safe for concurrent use.
type memoBuilder struct {
	opts Options
	// services are the entries of the last model's services, sorted by name.
	services []*serviceEntry
	types    [types.UnknownType]typeState
	// failing counts the entries whose resources did not validate, and
	// endpoints the endpoints of all entries.
	failing   int
	endpoints int
	shared    sharedState
}

// newMemoBuilder returns an empty builder for one flavour.
func newMemoBuilder(opts Options) *memoBuilder {
	return &memoBuilder{opts: opts}
}

// rebuild builds the snapshot of a model, reusing whatever the previous
// models had in common with it.
func (b *memoBuilder) rebuild(m discovery.Model) (built, error) {
	services := m.Services
	if !slices.IsSortedFunc(services, compareServices) {
		services = sortedServices(services)
	}
	if hasDuplicateNames(services) {
		// Translate keeps both services of a name, which the per-name memo
		// cannot follow, so this model goes the reference way. The memo
		// still holds the last model it could follow, whole and
		// consistent, so the next model is diffed against that.
		return buildReference(m, b.opts)
	}
	var ch changes
	topology := b.diffServices(services, &ch)
	if b.opts.Flavour == FlavourEnvoy {
		b.shared.update(b, services, m.Datacenter, topology, &ch)
	}
	b.apply(&ch)
	b.shared.checkReferences(b)
	if err := b.err(); err != nil {
		return built{}, fmt.Errorf("validate: %w", err)
	}
	return b.snapshot(), nil
}

// diffServices walks the sorted services alongside the sorted entries of
// the previous rebuild, rebuilds the entries of new and changed services,
// drops those of removed ones, and reports whether the set of names or any
// service's datacenter changed.
func (b *memoBuilder) diffServices(services []discovery.Service, ch *changes) bool {
	old := b.services
	b.services = make([]*serviceEntry, 0, len(services))
	topology, i := false, 0
	for j := range services {
		svc := &services[j]
		for i < len(old) && old[i].svc.Name < svc.Name {
			b.replace(old[i], nil, ch)
			topology, i = true, i+1
		}
		var prev *serviceEntry
		if i < len(old) && old[i].svc.Name == svc.Name {
			prev, i = old[i], i+1
			if sameService(&prev.svc, svc) {
				b.services = append(b.services, prev)
				continue
			}
			topology = topology || prev.svc.Datacenter != svc.Datacenter
		} else {
			topology = true
		}
		e := newServiceEntry(*svc, b.opts.Flavour)
		b.replace(prev, e, ch)
		b.services = append(b.services, e)
	}
	for _, e := range old[i:] {
		b.replace(e, nil, ch)
		topology = true
	}
	return topology
}

// replace records that entry old (nil for a new service) gives way to entry
// e (nil for a removed service). A resource that comes out of both the same
// is neither removed nor put, and e keeps old's proto of it, so a change
// touches only the types whose resources really changed.
func (b *memoBuilder) replace(old, e *serviceEntry, ch *changes) {
	var kept []builtResource
	if e != nil {
		b.endpoints += e.endpoints
		if e.err != nil {
			b.failing++
		}
		for k, r := range e.resources {
			if prev, ok := old.find(r); ok {
				e.resources[k] = prev
				kept = append(kept, prev)
				continue
			}
			ch.put = append(ch.put, r)
		}
	}
	if old != nil {
		b.endpoints -= old.endpoints
		if old.err != nil {
			b.failing--
		}
		for _, r := range old.resources {
			if !slices.Contains(kept, r) {
				ch.remove = append(ch.remove, r)
			}
		}
	}
}

// err joins the validation errors of every failing entry, in name order,
// and of the shared resources.
func (b *memoBuilder) err() error {
	var errs []error
	if b.failing > 0 {
		for _, e := range b.services {
			if e.err != nil {
				errs = append(errs, e.err)
			}
		}
	}
	errs = append(errs, b.shared.err)
	return errors.Join(errs...)
}

// compareServices orders services by name.
func compareServices(a, b discovery.Service) int {
	return strings.Compare(a.Name, b.Name)
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
func buildReference(m discovery.Model, opts Options) (built, error) {
	res, err := Translate(m, opts)
	if err != nil {
		return built{}, err
	}
	snap, v, err := Build(res)
	if err != nil {
		return built{}, err
	}
	return built{snap: snap, versions: v, warnings: res.Warnings, clusters: len(res.Clusters), endpoints: endpointCount(res.Endpoints)}, nil
}
