package xds

import (
	"context"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sotwStream and deltaStream are the two kinds of xDS stream, whatever
// service they come from.
type (
	sotwStream  = grpc.BidiStreamingServer[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	deltaStream = grpc.BidiStreamingServer[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]
)

// adsService serves every type on one stream.
type adsService struct{ s *Server }

// StreamAggregatedResources serves an aggregated state-of-the-world stream.
func (a adsService) StreamAggregatedResources(st sotwStream) error {
	return a.s.serveSotW(st, "")
}

// DeltaAggregatedResources serves an aggregated delta stream.
func (a adsService) DeltaAggregatedResources(st deltaStream) error {
	return a.s.serveDelta(st, "")
}

// errFetch answers the unary fetch calls, which no client of Switchyard uses.
var errFetch = status.Error(codes.Unimplemented, "xDS fetch is not served; use a stream")

// cdsService serves clusters alone.
type cdsService struct {
	clusterservice.UnimplementedClusterDiscoveryServiceServer
	s *Server
}

// StreamClusters serves a state-of-the-world cluster stream.
func (c cdsService) StreamClusters(st sotwStream) error {
	return c.s.serveSotW(st, resourcev3.ClusterType)
}

// DeltaClusters serves a delta cluster stream.
func (c cdsService) DeltaClusters(st deltaStream) error {
	return c.s.serveDelta(st, resourcev3.ClusterType)
}

// FetchClusters is not served.
func (cdsService) FetchClusters(context.Context, *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	return nil, errFetch
}

// edsService serves endpoint assignments alone.
type edsService struct {
	endpointservice.UnimplementedEndpointDiscoveryServiceServer
	s *Server
}

// StreamEndpoints serves a state-of-the-world endpoint stream.
func (e edsService) StreamEndpoints(st sotwStream) error {
	return e.s.serveSotW(st, resourcev3.EndpointType)
}

// DeltaEndpoints serves a delta endpoint stream.
func (e edsService) DeltaEndpoints(st deltaStream) error {
	return e.s.serveDelta(st, resourcev3.EndpointType)
}

// FetchEndpoints is not served.
func (edsService) FetchEndpoints(context.Context, *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	return nil, errFetch
}

// ldsService serves listeners alone.
type ldsService struct {
	listenerservice.UnimplementedListenerDiscoveryServiceServer
	s *Server
}

// StreamListeners serves a state-of-the-world listener stream.
func (l ldsService) StreamListeners(st sotwStream) error {
	return l.s.serveSotW(st, resourcev3.ListenerType)
}

// DeltaListeners serves a delta listener stream.
func (l ldsService) DeltaListeners(st deltaStream) error {
	return l.s.serveDelta(st, resourcev3.ListenerType)
}

// FetchListeners is not served.
func (ldsService) FetchListeners(context.Context, *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	return nil, errFetch
}

// rdsService serves route configurations alone.
type rdsService struct {
	routeservice.UnimplementedRouteDiscoveryServiceServer
	s *Server
}

// StreamRoutes serves a state-of-the-world route stream.
func (r rdsService) StreamRoutes(st sotwStream) error {
	return r.s.serveSotW(st, resourcev3.RouteType)
}

// DeltaRoutes serves a delta route stream.
func (r rdsService) DeltaRoutes(st deltaStream) error {
	return r.s.serveDelta(st, resourcev3.RouteType)
}

// FetchRoutes is not served.
func (rdsService) FetchRoutes(context.Context, *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	return nil, errFetch
}
