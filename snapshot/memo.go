package snapshot

import (
	"errors"
	"fmt"
	"maps"
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
	items  map[string]types.ResourceWithTTL
	digest typeDigest
}

// memoBuilder rebuilds one flavour incrementally. It gives exactly the
// snapshot and versions of Translate and Build, but translates, validates
// and hashes only the services whose model changed, and rebuilds the Envoy
// flavour's route configuration only when the services' names or
// datacenters change. It is not safe for concurrent use.
type memoBuilder struct {
	opts     Options
	services map[string]*serviceEntry
	types    [types.UnknownType]typeState
	gen      uint64
	// failing counts the entries whose resources did not validate.
	failing   int
	endpoints int
	shared    sharedState
}

// newMemoBuilder returns an empty builder for one flavour.
func newMemoBuilder(opts Options) *memoBuilder {
	return &memoBuilder{opts: opts, services: map[string]*serviceEntry{}}
}

// rebuild builds the snapshot of a model, reusing whatever the previous
// models had in common with it.
func (b *memoBuilder) rebuild(m discovery.Model) (built, error) {
	services := m.Services
	if !slices.IsSortedFunc(services, compareServices) {
		services = sortedServices(services)
	}
	if hasDuplicateNames(services) {
		// Translate keeps both services of a name; so does the reference
		// path, which the builder's per-name memo cannot follow.
		*b = *newMemoBuilder(b.opts)
		return buildReference(m, b.opts)
	}
	var ch changes
	b.gen++
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

// diffServices rebuilds the entries of new and changed services, drops
// those of removed ones, and reports whether the set of names or any
// service's datacenter changed.
func (b *memoBuilder) diffServices(services []discovery.Service, ch *changes) bool {
	topology, matched := false, 0
	for _, svc := range services {
		old := b.services[svc.Name]
		if old != nil {
			old.seen = b.gen
			matched++
			if sameService(old.svc, svc) {
				continue
			}
			topology = topology || old.svc.Datacenter != svc.Datacenter
		} else {
			topology = true
		}
		e := newServiceEntry(svc, b.opts.Flavour)
		e.seen = b.gen
		b.replace(old, e, ch)
		b.services[svc.Name] = e
	}
	if matched == len(b.services)-ch.added {
		return topology
	}
	for name, e := range b.services {
		if e.seen != b.gen {
			b.replace(e, nil, ch)
			delete(b.services, name)
		}
	}
	return true
}

// replace records that entry old (nil for a new service) gives way to entry
// e (nil for a removed service).
func (b *memoBuilder) replace(old, e *serviceEntry, ch *changes) {
	if old != nil {
		ch.remove = append(ch.remove, old.resources...)
		b.endpoints -= old.endpoints
		if old.err != nil {
			b.failing--
		}
	}
	if e != nil {
		ch.put = append(ch.put, e.resources...)
		b.endpoints += e.endpoints
		if e.err != nil {
			b.failing++
		}
		if old == nil {
			ch.added++
		}
	}
}

// err joins the validation errors of every failing entry, in name order,
// and of the shared resources.
func (b *memoBuilder) err() error {
	var errs []error
	if b.failing > 0 {
		for _, name := range slices.Sorted(maps.Keys(b.services)) {
			if err := b.services[name].err; err != nil {
				errs = append(errs, err)
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
