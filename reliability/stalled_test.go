package reliability

import (
	"context"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// stalledWindow is the stalled client's HTTP/2 flow-control window, for
// its stream and its connection. Setting it turns off gRPC-Go's dynamic
// window, so Switchyard can never send it more than this unread.
const stalledWindow = 64 << 10

// stalledClient is a raw ADS client that subscribes like an Envoy and
// then never reads a response: no ACK, no NACK, no Recv at all, so once
// stalledWindow bytes are sent Switchyard's writes to it block.
type stalledClient struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
}

// startStalledClient opens a state-of-the-world ADS stream to addr as
// nodeID and asks for every cluster and listener, and for the endpoints
// of services, the way Envoy's first requests do.
func startStalledClient(addr, nodeID string, services ...string) (*stalledClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(stalledWindow), grpc.WithInitialConnWindowSize(stalledWindow))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &stalledClient{conn: conn, cancel: cancel}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("open ADS stream: %w", err)
	}
	node := &corev3.Node{
		Id: nodeID, Cluster: "reliability", UserAgentName: "envoy",
		UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.33.0"},
	}
	for _, req := range []*discoveryv3.DiscoveryRequest{
		{TypeUrl: resourcev3.ClusterType, Node: node},
		{TypeUrl: resourcev3.ListenerType},
		{TypeUrl: resourcev3.EndpointType, ResourceNames: services},
	} {
		if err := stream.Send(req); err != nil {
			c.close()
			return nil, fmt.Errorf("send %s request: %w", req.GetTypeUrl(), err)
		}
	}
	return c, nil
}

// close ends the stream and the connection; calling it again does
// nothing.
func (c *stalledClient) close() {
	c.cancel()
	_ = c.conn.Close()
}
