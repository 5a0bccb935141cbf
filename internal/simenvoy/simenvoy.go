// Package simenvoy is a simulated Envoy for tests: it speaks state-of-the-world
// ADS the way Envoy does — wildcard CDS and LDS, EDS and RDS by the names the
// clusters and listeners reference — and ACKs (or, when told to, NACKs) every
// response, keeping what it has accepted.
package simenvoy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// Config describes the simulated proxy.
type Config struct {
	NodeID  string
	Cluster string
	// UserAgent is the node's user_agent_name; "envoy" when empty.
	UserAgent string
	// Reject, when set, is asked about every response; a non-nil error
	// NACKs it with that error's message.
	Reject func(resp *discoveryv3.DiscoveryResponse) error
}

// TypeState is what the proxy has accepted of one type.
type TypeState struct {
	Version   string
	Resources map[string]proto.Message
}

// State is everything the proxy has accepted, by type URL, plus counts of
// what it received.
type State struct {
	Types     map[string]TypeState
	Responses map[string]int
	NACKs     map[string]int
}

// Envoy is one simulated proxy with one ADS stream.
type Envoy struct {
	cfg    Config
	conn   *grpc.ClientConn
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	state   State
	nonces  map[string]string
	names   map[string][]string
	changed chan struct{}
	err     error
}

// Start connects to an xDS server and subscribes like Envoy does.
func Start(ctx context.Context, addr string, cfg Config) (*Envoy, error) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = "envoy"
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx)
	if err != nil {
		cancel()
		conn.Close()
		return nil, fmt.Errorf("open ADS stream: %w", err)
	}
	e := &Envoy{
		cfg: cfg, conn: conn, stream: stream, cancel: cancel, done: make(chan struct{}),
		state:   State{Types: map[string]TypeState{}, Responses: map[string]int{}, NACKs: map[string]int{}},
		nonces:  map[string]string{},
		names:   map[string][]string{},
		changed: make(chan struct{}),
	}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType} {
		if err := e.send(typ, "", "", nil, nil); err != nil {
			cancel()
			conn.Close()
			return nil, err
		}
	}
	go e.receive()
	return e, nil
}

// Close ends the stream and waits for the receiver to stop.
func (e *Envoy) Close() {
	e.cancel()
	<-e.done
	e.conn.Close()
}

// State returns a copy of what the proxy has accepted so far.
func (e *Envoy) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := State{Types: map[string]TypeState{}, Responses: map[string]int{}, NACKs: map[string]int{}}
	for k, v := range e.state.Types {
		out.Types[k] = v
	}
	for k, v := range e.state.Responses {
		out.Responses[k] = v
	}
	for k, v := range e.state.NACKs {
		out.NACKs[k] = v
	}
	return out
}

// Wait blocks until cond holds for the accepted state, the stream fails, or
// ctx is done.
func (e *Envoy) Wait(ctx context.Context, cond func(State) bool) error {
	for {
		e.mu.Lock()
		changed, err := e.changed, e.err
		e.mu.Unlock()
		if cond(e.State()) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for simulated envoy state: %w", ctx.Err())
		case <-changed:
		}
	}
}

// receive handles responses until the stream ends.
func (e *Envoy) receive() {
	defer close(e.done)
	for {
		resp, err := e.stream.Recv()
		if err != nil {
			e.finish(err)
			return
		}
		if err := e.handle(resp); err != nil {
			e.finish(err)
			return
		}
	}
}

// finish records why the stream ended and wakes waiters.
func (e *Envoy) finish(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		err = context.Canceled
	}
	e.err = fmt.Errorf("ads stream ended: %w", err)
	close(e.changed)
	e.changed = make(chan struct{})
}

// handle ACKs or NACKs one response and subscribes to what it references.
func (e *Envoy) handle(resp *discoveryv3.DiscoveryResponse) error {
	typ := resp.GetTypeUrl()
	var rejectErr error
	if e.cfg.Reject != nil {
		rejectErr = e.cfg.Reject(resp)
	}
	resources, err := unpack(resp)
	if err != nil && rejectErr == nil {
		rejectErr = err
	}
	e.mu.Lock()
	e.nonces[typ] = resp.GetNonce()
	e.state.Responses[typ]++
	accepted := e.state.Types[typ].Version
	if rejectErr == nil {
		e.state.Types[typ] = TypeState{Version: resp.GetVersionInfo(), Resources: resources}
		accepted = resp.GetVersionInfo()
	} else {
		e.state.NACKs[typ]++
	}
	names := e.names[typ]
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()

	var detail *status.Status
	if rejectErr != nil {
		detail = &status.Status{Code: 3, Message: rejectErr.Error()}
	}
	if err := e.send(typ, accepted, resp.GetNonce(), names, detail); err != nil {
		return err
	}
	if rejectErr != nil {
		return nil
	}
	return e.subscribeReferences(typ, resources)
}

// subscribeReferences asks for the EDS and RDS names that accepted clusters
// and listeners reference, when they changed.
func (e *Envoy) subscribeReferences(typ string, resources map[string]proto.Message) error {
	var child string
	var want []string
	switch typ {
	case resourcev3.ClusterType:
		child, want = resourcev3.EndpointType, edsNames(resources)
	case resourcev3.ListenerType:
		child, want = resourcev3.RouteType, rdsNames(resources)
	default:
		return nil
	}
	e.mu.Lock()
	if slices.Equal(e.names[child], want) {
		e.mu.Unlock()
		return nil
	}
	e.names[child] = want
	version, nonce := e.state.Types[child].Version, e.nonces[child]
	e.mu.Unlock()
	return e.send(child, version, nonce, want, nil)
}

// send writes one discovery request.
func (e *Envoy) send(typ, version, nonce string, names []string, detail *status.Status) error {
	req := &discoveryv3.DiscoveryRequest{
		Node: &corev3.Node{
			Id: e.cfg.NodeID, Cluster: e.cfg.Cluster, UserAgentName: e.cfg.UserAgent,
			UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.33.0"},
		},
		TypeUrl: typ, VersionInfo: version, ResponseNonce: nonce,
		ResourceNames: names, ErrorDetail: detail,
	}
	if err := e.stream.Send(req); err != nil {
		return fmt.Errorf("send %s request: %w", typ, err)
	}
	return nil
}
