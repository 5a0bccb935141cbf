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
