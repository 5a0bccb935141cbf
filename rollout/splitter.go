package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"
)

// WeightsFor is the service-splitter entry that sends percentTo percent of
// spec.Service's traffic to subset spec.To and the rest to spec.From.
func WeightsFor(spec Spec, percentTo int) *api.ServiceSplitterConfigEntry {
	return &api.ServiceSplitterConfigEntry{
		Kind: api.ServiceSplitter,
		Name: spec.Service,
		Splits: []api.ServiceSplit{
			{Weight: float32(100 - percentTo), ServiceSubset: spec.From},
			{Weight: float32(percentTo), ServiceSubset: spec.To},
		},
	}
}

// Resolver returns the service-resolver of service, after checking that
// the service is in the catalog. Either missing is an error that says so.
func Resolver(ctx context.Context, client *api.Client, service string) (*api.ServiceResolverConfigEntry, error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	instances, _, err := client.Catalog().Service(service, "", q)
	if err != nil {
		return nil, fmt.Errorf("look up service %s in the catalog: %w", service, err)
	}
	if len(instances) == 0 {
		return nil, fmt.Errorf("unknown service %s: it has no instance in the Consul catalog", service)
	}
	entry, _, err := client.ConfigEntries().Get(api.ServiceResolver, service, q)
	if isNotFound(err) {
		return nil, fmt.Errorf("service %s has no service-resolver: a rollout moves traffic between its subsets, so write one with Subsets (consul config write)", service)
	}
	if err != nil {
		return nil, fmt.Errorf("read the service-resolver of %s: %w", service, err)
	}
	r, ok := entry.(*api.ServiceResolverConfigEntry)
	if !ok {
		return nil, fmt.Errorf("read the service-resolver of %s: unexpected entry type %T", service, entry)
	}
	return r, nil
}

// CheckSubsets checks that spec.Service is in the catalog and that its
// service-resolver defines both spec.From and spec.To.
func CheckSubsets(ctx context.Context, client *api.Client, spec Spec) error {
	r, err := Resolver(ctx, client, spec.Service)
	if err != nil {
		return err
	}
	for _, s := range []struct{ flag, subset string }{{"--from", spec.From}, {"--to", spec.To}} {
		if _, ok := r.Subsets[s.subset]; !ok {
			known := slices.Sorted(maps.Keys(r.Subsets))
			return fmt.Errorf("unknown subset %q (%s): the service-resolver of %s defines [%s]", s.subset, s.flag, spec.Service, strings.Join(known, ", "))
		}
	}
	return nil
}

// WriteSplitter replaces spec.Service's service-splitter with the weights
// of percentTo, with check-and-set on the splitter's ModifyIndex, so that
// an edit made between the read and the write is not overwritten: that
// returns ErrConflict.
func WriteSplitter(ctx context.Context, client *api.Client, spec Spec, percentTo int) error {
	entries := client.ConfigEntries()
	var index uint64
	current, _, err := entries.Get(api.ServiceSplitter, spec.Service, (&api.QueryOptions{}).WithContext(ctx))
	switch {
	case isNotFound(err):
	case err != nil:
		return fmt.Errorf("read the service-splitter of %s: %w", spec.Service, err)
	default:
		index = current.GetModifyIndex()
	}
	ok, _, err := entries.CAS(WeightsFor(spec, percentTo), index, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("write the service-splitter of %s: %w", spec.Service, err)
	}
	if !ok {
		return fmt.Errorf("service-splitter of %s: %w", spec.Service, ErrConflict)
	}
	return nil
}

// isNotFound reports whether err is Consul's 404.
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}
