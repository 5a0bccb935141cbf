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

// sotwClient is one simulated Envoy on a state-of-the-world ADS stream: it
// subscribes to all clusters and listeners, then to the endpoint
// assignments and route configurations they name, and ACKs every response
// with its version and nonce. Like Envoy, it keeps the endpoint assignments
// and route configurations a response leaves out: only listeners and
// clusters come whole in every response.
type sotwClient struct {
	cfg    streamConfig
	st     *streamState
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	// version, nonce and names are per type URL; held are the names of
	// the endpoint assignments and route configurations received and
	// still subscribed to.
	version, nonce map[string]string
	names          map[string][]string
	held           map[string]map[string]struct{}
	nodeSent       bool
}

// runSotW runs one state-of-the-world stream until ctx ends or it fails.
func runSotW(ctx context.Context, cfg streamConfig, st *streamState) error {
	conn, err := dial(cfg.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open ADS stream: %w", err)
	}
	c := &sotwClient{cfg: cfg, st: st, stream: stream,
		version: map[string]string{}, nonce: map[string]string{}, names: map[string][]string{},
		held: map[string]map[string]struct{}{resourcev3.EndpointType: {}, resourcev3.RouteType: {}}}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType} {
		if err := c.request(typ); err != nil {
			return err
		}
	}
	return receiveAll(stream.Recv, stallable(ctx, cfg.stalls, st.id, c.handle))
}

// request sends the current subscription of typ with the version and nonce
// last received; the node goes on the first request only, as Envoy does.
func (c *sotwClient) request(typ string) error {
	req := &discoveryv3.DiscoveryRequest{
		TypeUrl: typ, VersionInfo: c.version[typ], ResponseNonce: c.nonce[typ], ResourceNames: c.names[typ],
	}
	if !c.nodeSent {
		req.Node = node(c.cfg, c.st.id)
		c.nodeSent = true
	}
	if err := c.stream.Send(req); err != nil {
		err = sendFailure(err, c.stream.Recv)
		return fmt.Errorf("send %s request: %w", typ, err)
	}
	return nil
}

// handle ACKs a response and, for clusters and listeners, subscribes to what
// they reference.
func (c *sotwClient) handle(resp *discoveryv3.DiscoveryResponse, at time.Time) error {
	c.st.received(proto.Size(resp))
	typ := resp.GetTypeUrl()
	c.version[typ], c.nonce[typ] = resp.GetVersionInfo(), resp.GetNonce()
	var follow string
	switch typ {
	case resourcev3.ClusterType:
		names, err := clusterEDSNames(resp)
		if err != nil {
			return err
		}
		c.st.clusters, c.st.edsWant = len(resp.GetResources()), len(names)
		follow = c.resubscribe(resourcev3.EndpointType, names)
	case resourcev3.EndpointType:
		for _, r := range resp.GetResources() {
			if err := observeEndpoints(c.cfg, c.st.id, r.GetValue(), at); err != nil {
				return err
			}
		}
		if err := c.hold(typ, resp); err != nil {
			return err
		}
		c.st.endpoints = len(c.held[typ])
	case resourcev3.ListenerType:
		names, err := listenerRDSNames(resp)
		if err != nil {
			return err
		}
		c.st.listeners, c.st.rdsWant = len(resp.GetResources()), len(names)
		follow = c.resubscribe(resourcev3.RouteType, names)
	case resourcev3.RouteType:
		if err := c.hold(typ, resp); err != nil {
			return err
		}
		c.st.routes = len(c.held[typ])
	}
	c.st.checkSynced(c.cfg, at)
	if err := c.request(typ); err != nil {
		return err
	}
	if follow != "" {
		return c.request(follow)
	}
	return nil
}

// resubscribe records the names wanted of typ, forgets what it held of
// the others, and returns typ when they changed, so that a request follows
// the ACK.
func (c *sotwClient) resubscribe(typ string, names []string) string {
	if slices.Equal(c.names[typ], names) {
		return ""
	}
	c.names[typ] = names
	for name := range c.held[typ] {
		if _, ok := slices.BinarySearch(names, name); !ok {
			delete(c.held[typ], name)
		}
	}
	return typ
}

// hold records the names of the endpoint assignments or route
// configurations of a response that the client subscribes to; both carry
// their name in field 1.
func (c *sotwClient) hold(typ string, resp *discoveryv3.DiscoveryResponse) error {
	for _, r := range resp.GetResources() {
		name, err := nameField(r.GetValue(), 1)
		if err != nil {
			return fmt.Errorf("read %s name: %w", typ, err)
		}
		if _, ok := slices.BinarySearch(c.names[typ], name); ok {
			c.held[typ][name] = struct{}{}
		}
	}
	return nil
}

// clusterEDSNames returns, sorted, the endpoint assignments the clusters of
// a CDS response load over EDS.
func clusterEDSNames(resp *discoveryv3.DiscoveryResponse) ([]string, error) {
	names := make([]string, 0, len(resp.GetResources()))
	for _, r := range resp.GetResources() {
		n, ok, err := edsServiceName(r.GetValue())
		if err != nil {
			return nil, fmt.Errorf("read cluster: %w", err)
		}
		if ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// listenerRDSNames returns, sorted, the route configurations the listeners
// of an LDS response load over RDS.
func listenerRDSNames(resp *discoveryv3.DiscoveryResponse) ([]string, error) {
	var names []string
	for _, r := range resp.GetResources() {
		n, err := routeConfigNames(r.GetValue())
		if err != nil {
			return nil, err
		}
		names = append(names, n...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
