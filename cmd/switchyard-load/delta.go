package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// deltaClient is one simulated Envoy on an incremental (delta) ADS stream:
// wildcard clusters and listeners, endpoint assignments and route
// configurations subscribed by name as they appear, every response ACKed by
// nonce. It keeps the names it holds of each type, since a delta response
// carries only what changed.
type deltaClient struct {
	cfg    streamConfig
	st     *streamState
	stream discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	// held maps each type URL to its resources: for clusters and listeners
	// the names they reference, for the others nothing.
	held       map[string]map[string][]string
	subscribed map[string][]string
	nodeSent   bool
}

// runDelta runs one delta stream until ctx ends or it fails.
func runDelta(ctx context.Context, cfg streamConfig, st *streamState) error {
	conn, err := dial(cfg.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open delta ADS stream: %w", err)
	}
	c := &deltaClient{cfg: cfg, st: st, stream: stream,
		held: map[string]map[string][]string{}, subscribed: map[string][]string{}}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
		c.held[typ] = map[string][]string{}
	}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType} {
		if err := c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typ}); err != nil {
			return err
		}
	}
	return receiveAll(stream.Recv, stallable(ctx, cfg.stalls, st.id, c.handle))
}

// send sends a request, with the node on the first one only.
func (c *deltaClient) send(req *discoveryv3.DeltaDiscoveryRequest) error {
	if !c.nodeSent {
		req.Node = node(c.cfg, c.st.id)
		c.nodeSent = true
	}
	if err := c.stream.Send(req); err != nil {
		err = sendFailure(err, c.stream.Recv)
		return fmt.Errorf("send delta %s request: %w", req.GetTypeUrl(), err)
	}
	return nil
}

// handle applies a response, ACKs it and subscribes to what new clusters and
// listeners reference.
func (c *deltaClient) handle(resp *discoveryv3.DeltaDiscoveryResponse, at time.Time) error {
	c.st.received(proto.Size(resp))
	typ := resp.GetTypeUrl()
	held := c.held[typ]
	if held == nil {
		return fmt.Errorf("delta response of unexpected type %q", typ)
	}
	for _, n := range resp.GetRemovedResources() {
		delete(held, n)
	}
	for _, r := range resp.GetResources() {
		refs, err := c.references(typ, r.GetResource().GetValue(), at)
		if err != nil {
			return fmt.Errorf("resource %s: %w", r.GetName(), err)
		}
		held[r.GetName()] = refs
	}
	c.count()
	c.st.checkSynced(c.cfg, at)
	if err := c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce()}); err != nil {
		return err
	}
	switch typ {
	case resourcev3.ClusterType:
		return c.follow(resourcev3.EndpointType, held)
	case resourcev3.ListenerType:
		return c.follow(resourcev3.RouteType, held)
	}
	return nil
}

// references decodes what a resource of typ names, and reports endpoint
// assignments to the tracker.
func (c *deltaClient) references(typ string, value []byte, at time.Time) ([]string, error) {
	switch typ {
	case resourcev3.ClusterType:
		n, ok, err := edsServiceName(value)
		if !ok || err != nil {
			return nil, err
		}
		return []string{n}, nil
	case resourcev3.ListenerType:
		return routeConfigNames(value)
	case resourcev3.EndpointType:
		return nil, observeEndpoints(c.cfg, c.st.id, value, at)
	}
	return nil, nil
}

// count updates the stream's counts from what it holds.
func (c *deltaClient) count() {
	c.st.clusters = len(c.held[resourcev3.ClusterType])
	c.st.endpoints = len(c.held[resourcev3.EndpointType])
	c.st.listeners = len(c.held[resourcev3.ListenerType])
	c.st.routes = len(c.held[resourcev3.RouteType])
	c.st.edsWant = len(c.subscribed[resourcev3.EndpointType])
	c.st.rdsWant = len(c.subscribed[resourcev3.RouteType])
}

// follow subscribes to the names the held parents reference and
// unsubscribes from those no longer referenced.
func (c *deltaClient) follow(typ string, parents map[string][]string) error {
	var want []string
	for _, refs := range parents {
		want = append(want, refs...)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	have := c.subscribed[typ]
	add, drop := diffSorted(have, want), diffSorted(want, have)
	if len(add) == 0 && len(drop) == 0 {
		return nil
	}
	c.subscribed[typ] = want
	c.st.edsWant = len(c.subscribed[resourcev3.EndpointType])
	c.st.rdsWant = len(c.subscribed[resourcev3.RouteType])
	return c.send(&discoveryv3.DeltaDiscoveryRequest{
		TypeUrl: typ, ResourceNamesSubscribe: add, ResourceNamesUnsubscribe: drop,
	})
}

// diffSorted returns the elements of b not in a; both are sorted.
func diffSorted(a, b []string) []string {
	var out []string
	for _, s := range b {
		if _, found := slices.BinarySearch(a, s); !found {
			out = append(out, s)
		}
	}
	return out
}
