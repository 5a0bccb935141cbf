package snapshot

import (
	"errors"
	"maps"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/switchyard/switchyard/discovery"
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

// serviceEntry is what the incremental builder remembers of one service: a
// private copy of the model it was built from, the resources built from it,
// and whether they passed validation.
type serviceEntry struct {
	svc       discovery.Service
	resources []builtResource
	endpoints int
	err       error
}

// newServiceEntry translates, validates and digests one service's own
// resources. Every reference among them (listener → route → cluster →
// endpoints) stays inside the service, so checking them here is the same
// check Validate makes over the whole set.
func newServiceEntry(svc discovery.Service, flavour Flavour) *serviceEntry {
	var res Resources
	addUpstream(&res, svc, flavour)
	if flavour == FlavourGRPC {
		addGRPCRoute(&res, svc)
	}
	e := &serviceEntry{svc: cloneService(svc), endpoints: endpointCount(res.Endpoints)}
	errs := checkReferences(res)
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
	e.err = errors.Join(errs...)
	return e
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

// cloneService deep-copies a service, so that a caller changing its model in
// place cannot change what the builder remembers.
func cloneService(svc discovery.Service) discovery.Service {
	svc.Tags = slices.Clone(svc.Tags)
	svc.Meta = maps.Clone(svc.Meta)
	svc.Instances = slices.Clone(svc.Instances)
	for i := range svc.Instances {
		svc.Instances[i].Tags = slices.Clone(svc.Instances[i].Tags)
		svc.Instances[i].Meta = maps.Clone(svc.Instances[i].Meta)
	}
	return svc
}

// sameService reports whether two services are equal field by field; it is
// the builder's cheap test for "nothing to rebuild".
func sameService(a, b *discovery.Service) bool {
	if a.Name != b.Name || a.Datacenter != b.Datacenter || len(a.Instances) != len(b.Instances) ||
		!slices.Equal(a.Tags, b.Tags) || !sameMeta(a.Meta, b.Meta) {
		return false
	}
	for i := range a.Instances {
		if !sameInstance(&a.Instances[i], &b.Instances[i]) {
			return false
		}
	}
	return true
}

// sameInstance reports whether two instances are equal field by field.
func sameInstance(a, b *discovery.Instance) bool {
	return a.Port == b.Port && a.Health == b.Health && a.Weights == b.Weights &&
		a.Address == b.Address && a.ID == b.ID && a.Node == b.Node && a.Locality == b.Locality &&
		slices.Equal(a.Tags, b.Tags) && sameMeta(a.Meta, b.Meta)
}

// sameMeta is maps.Equal without starting an iteration over empty maps,
// which is most of them and, per instance, most of the cost.
func sameMeta(a, b map[string]string) bool {
	return len(a) == len(b) && (len(a) == 0 || maps.Equal(a, b))
}
