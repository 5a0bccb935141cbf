package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
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
	_, index, err := ReadSplitter(ctx, client, spec.Service)
	if err != nil {
		return err
	}
	return CASSplitter(ctx, client, spec, percentTo, index)
}

// ReadSplitter returns service's service-splitter and its ModifyIndex, or
// nil and 0 when the service has none.
func ReadSplitter(ctx context.Context, client *api.Client, service string) (*api.ServiceSplitterConfigEntry, uint64, error) {
	entry, _, err := client.ConfigEntries().Get(api.ServiceSplitter, service, (&api.QueryOptions{}).WithContext(ctx))
	switch {
	case isNotFound(err):
		return nil, 0, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read the service-splitter of %s: %w", service, err)
	}
	sp, ok := entry.(*api.ServiceSplitterConfigEntry)
	if !ok {
		return nil, 0, fmt.Errorf("read the service-splitter of %s: unexpected entry type %T", service, entry)
	}
	return sp, sp.ModifyIndex, nil
}

// CASSplitter writes the weights of percentTo over the splitter read at
// index (0: none), returning ErrConflict if it changed since.
func CASSplitter(ctx context.Context, client *api.Client, spec Spec, percentTo int, index uint64) error {
	ok, _, err := client.ConfigEntries().CAS(WeightsFor(spec, percentTo), index, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("write the service-splitter of %s: %w", spec.Service, err)
	}
	if !ok {
		return fmt.Errorf("service-splitter of %s: %w", spec.Service, ErrConflict)
	}
	return nil
}

// weightTolerance absorbs float32 round trips through Consul and JSON, far
// below the whole percentages a rollout writes.
const weightTolerance = 0.01

// SplitterPercent is the percentage to spec.To that sp sends when it is a
// split between spec.From and spec.To alone, in whole percentages as
// WeightsFor writes them (in either order, tolerant to float formatting);
// otherwise, or for no splitter, -1.
func SplitterPercent(spec Spec, sp *api.ServiceSplitterConfigEntry) int {
	if sp == nil || len(sp.Splits) != 2 {
		return -1
	}
	weights := map[string]float64{}
	for _, s := range sp.Splits {
		if (s.Service != "" && s.Service != spec.Service) || s.ServiceSubset == "" || s.Namespace != "" || s.Partition != "" {
			return -1
		}
		weights[s.ServiceSubset] = float64(s.Weight)
	}
	from, okFrom := weights[spec.From]
	to, okTo := weights[spec.To]
	p := math.Round(to)
	if !okFrom || !okTo || math.Abs(to-p) > weightTolerance || math.Abs(from-(100-p)) > weightTolerance {
		return -1
	}
	return int(p)
}

// isNotFound reports whether err is Consul's 404.
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}
