package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// serviceName is the Consul service every echo backend registers as, and so
// the xds:///echo target the client dials.
const serviceName = "echo"

// registration describes one echo instance of service to the Consul agent,
// with a gRPC health check that probes the backend's overall health status
// every second.
func registration(service, id, address string, port int) *api.AgentServiceRegistration {
	checkAddr := fmt.Sprintf("%s:%d", address, port)
	return &api.AgentServiceRegistration{
		ID:      id,
		Name:    service,
		Address: address,
		Port:    port,
		Meta:    map[string]string{"instance": id},
		Check: &api.AgentServiceCheck{
			Name:       "grpc health of " + id,
			GRPC:       checkAddr,
			GRPCUseTLS: false,
			Interval:   "1s",
			Timeout:    "1s",
		},
	}
}

// waitPassing waits, with blocking queries bounded by timeout, until Consul
// reports exactly want passing instances of service. It returns the ids it
// last saw in the error so a stuck check is easy to spot.
func waitPassing(ctx context.Context, c *api.Client, service string, want int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		index uint64
		seen  []string
	)
	// Each query returns at the latest after its one-second wait, so the
	// count bound is reached only if the time bound somehow is not.
	maxQueries := int(timeout/time.Second)*4 + 4
	for range maxQueries {
		opts := (&api.QueryOptions{WaitIndex: index, WaitTime: time.Second}).WithContext(ctx)
		entries, meta, err := c.Health().Service(service, "", true, opts)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return fmt.Errorf("query health of %s: %w", service, err)
		}
		seen = seen[:0]
		for _, e := range entries {
			seen = append(seen, e.Service.ID)
		}
		if len(seen) == want {
			return nil
		}
		index = meta.LastIndex
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for %d passing %s instances (passing: %v): %w", want, service, seen, err)
	}
	return fmt.Errorf("%d of %d %s instances passing after %d queries (passing: %v)", len(seen), want, service, maxQueries, seen)
}

// defaultsEntry is the service-defaults entry of service: protocol grpc,
// because Consul accepts a service-splitter only for a service whose
// protocol is of the HTTP family.
func defaultsEntry(service string) *api.ServiceConfigEntry {
	return &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: service, Protocol: "grpc"}
}

// resolverEntry is the service-resolver entry of service with one subset
// per version, each selecting the instances whose Service.Meta.version is
// that version.
func resolverEntry(service string, versions []string) *api.ServiceResolverConfigEntry {
	subsets := make(map[string]api.ServiceResolverSubset, len(versions))
	for _, v := range versions {
		subsets[v] = api.ServiceResolverSubset{Filter: "Service.Meta.version == " + v}
	}
	return &api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: service, Subsets: subsets}
}

// splitterEntry is the service-splitter entry of service that sends each
// version, as a resolver subset, its share of s.
func splitterEntry(service string, s splitStep) *api.ServiceSplitterConfigEntry {
	splits := make([]api.ServiceSplit, len(s))
	for i, w := range s {
		splits[i] = api.ServiceSplit{Weight: float32(w.Percent), ServiceSubset: w.Version}
	}
	return &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: service, Splits: splits}
}

// setEntry writes e to Consul; Consul validates it against the entries it
// already holds, so a splitter needs its defaults and resolver first.
func setEntry(ctx context.Context, c *api.Client, e api.ConfigEntry) error {
	ok, _, err := c.ConfigEntries().Set(e, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("write %s %s: %w", e.GetKind(), e.GetName(), err)
	}
	if !ok {
		return fmt.Errorf("write %s %s: consul did not apply it", e.GetKind(), e.GetName())
	}
	return nil
}
