// Package simenvoy is a simulated Envoy for tests: it speaks state-of-the-world
// ADS the way Envoy (v1.3x) does — the node on the first request only,
// wildcard CDS and LDS, EDS and RDS by the names the clusters and listeners
// reference — and ACKs (or NACKs) every response, keeping what it has
// accepted.
//
// Like Envoy it warms what changed: an EDS cluster that an accepted CDS
// response adds or modifies is warming until an EDS response carries its
// ClusterLoadAssignment, and a listener that an accepted LDS response adds or
// modifies and that loads its routes over RDS is warming until an RDS
// response carries its RouteConfiguration. After such a CDS (LDS) update it
// sends an EDS (RDS) request again, at the version and nonce it already has,
// even when the names it asks for did not change — a server that answers
// only new versions leaves those clusters warming (FAILURE_MODES row 5).
//
// With Config.Delta it speaks DeltaAggregatedResources instead: wildcard
// CDS and LDS with an empty first subscribe list, EDS and RDS subscribed and
// unsubscribed by name as clusters and listeners come and go, removals
// applied, every response ACKed (or NACKed) by its nonce, and, with
// Config.Resume, a reconnect that declares what it holds as
// initial_resource_versions. After a cluster (listener) change it re-lists
// the changed EDS (RDS) names in resource_names_subscribe and keeps the
// cluster warming until its endpoints arrive.
//
// It NACKs what Envoy rejects beyond the protos' own validation (see check):
// duplicate virtual host domains, LOGICAL_DNS clusters without exactly one
// endpoint, hostnames over EDS, a router that is not the last HTTP filter.
package simenvoy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
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
	// NACKs it with that error's message. A delta response is shown as a
	// state-of-the-world one: its system version, type and resources.
	Reject func(resp *discoveryv3.DiscoveryResponse) error
	// Silent, when set, is asked about every state-of-the-world response;
	// true leaves it unanswered, neither ACKed nor NACKed, like a proxy
	// that stopped processing its config. It is counted but not applied.
	Silent func(resp *discoveryv3.DiscoveryResponse) bool
	// Delta speaks incremental xDS (DeltaAggregatedResources) instead of
	// state of the world.
	Delta bool
	// Resume, with Delta, is the state of an earlier stream to reconnect
	// with: its resources are kept and their versions sent as
	// initial_resource_versions, as Envoy does after losing its server.
	Resume State
	// TLS, when set, connects over TLS with this client configuration
	// (RootCAs to trust the server, Certificates for mutual TLS);
	// nil connects in plaintext.
	TLS *tls.Config
}

// TypeState is what the proxy has accepted of one type. For EDS and RDS,
// whose responses may carry only some resources, Resources are the latest
// accepted resource of each name the proxy subscribes to.
type TypeState struct {
	Version   string
	Resources map[string]proto.Message
}

// State is everything the proxy has accepted, by type URL, plus counts of
// what it received and what is still warming.
type State struct {
	Types     map[string]TypeState
	Responses map[string]int
	NACKs     map[string]int
	// LastNACK is the error detail of the latest NACK of each type.
	LastNACK map[string]string
	// Warming lists, sorted, the EDS clusters that an accepted CDS response
	// added or changed and that have not received their endpoints since.
	Warming []string
	// WarmingListeners lists, sorted, the listeners that an accepted LDS
	// response added or changed and that still wait for a route
	// configuration over RDS.
	WarmingListeners []string
	// ResourceVersions are, in delta mode, the version of each accepted
	// resource by type URL and name.
	ResourceVersions map[string]map[string]string
	// Subscribed are, in delta mode, the EDS and RDS names subscribed to.
	Subscribed map[string][]string
	// Received counts the resources received by type, Removed the names
	// received in removed_resources (delta), Bytes the encoded size of the
	// responses; all since this stream started, accepted or not.
	Received map[string]int
	Removed  map[string]int
	Bytes    map[string]int
}

// newState returns an empty state.
func newState() State {
	return State{
		Types: map[string]TypeState{}, Responses: map[string]int{},
		NACKs: map[string]int{}, LastNACK: map[string]string{},
		ResourceVersions: map[string]map[string]string{}, Subscribed: map[string][]string{},
		Received: map[string]int{}, Removed: map[string]int{}, Bytes: map[string]int{},
	}
}

// Envoy is one simulated proxy with one ADS stream.
type Envoy struct {
	cfg    Config
	conn   *grpc.ClientConn
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	delta  discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	cancel context.CancelFunc
	done   chan struct{}
	// nodeSent is only used by the goroutine that sends: Start, then
	// receive.
	nodeSent bool

	mu     sync.Mutex
	state  State
	nonces map[string]string
	// names are the EDS and RDS resource names subscribed to.
	names map[string][]string
	// warmingClusters maps each warming cluster to its EDS service name;
	// warmingListeners each warming listener to the route configurations
	// it still waits for.
	warmingClusters  map[string]string
	warmingListeners map[string][]string
	changed          chan struct{}
	err              error
}

// Start connects to an xDS server and subscribes like Envoy does.
func Start(ctx context.Context, addr string, cfg Config) (*Envoy, error) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = "envoy"
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	e := &Envoy{
		cfg: cfg, conn: conn, cancel: cancel, done: make(chan struct{}),
		state:            newState(),
		nonces:           map[string]string{},
		names:            map[string][]string{},
		warmingClusters:  map[string]string{},
		warmingListeners: map[string][]string{},
		changed:          make(chan struct{}),
	}
	if cfg.Delta {
		err = e.openDelta(sctx)
	} else {
		err = e.openSotW(sctx)
	}
	if err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	go e.receive()
	return e, nil
}

// openSotW opens the state-of-the-world ADS stream and asks for every
// cluster and listener.
func (e *Envoy) openSotW(ctx context.Context) error {
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(e.conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open ADS stream: %w", err)
	}
	e.stream = stream
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType} {
		if err := e.send(&discoveryv3.DiscoveryRequest{TypeUrl: typ}); err != nil {
			return err
		}
	}
	return nil
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
	// Resource maps are never changed once stored, so sharing them is safe.
	out := State{
		Types: maps.Clone(e.state.Types), Responses: maps.Clone(e.state.Responses),
		NACKs: maps.Clone(e.state.NACKs), LastNACK: maps.Clone(e.state.LastNACK),
		Warming:          sortedKeys(e.warmingClusters),
		WarmingListeners: sortedKeys(e.warmingListeners),
		ResourceVersions: map[string]map[string]string{},
		Subscribed:       map[string][]string{},
		Received:         maps.Clone(e.state.Received),
		Removed:          maps.Clone(e.state.Removed),
		Bytes:            maps.Clone(e.state.Bytes),
	}
	for k, v := range e.state.ResourceVersions {
		out.ResourceVersions[k] = maps.Clone(v)
	}
	if e.cfg.Delta {
		for k, v := range e.names {
			out.Subscribed[k] = slices.Clone(v)
		}
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
	if e.cfg.Delta {
		e.receiveDelta()
		return
	}
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
	e.notify()
}

// notify wakes waiters; e.mu is held.
func (e *Envoy) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// handle ACKs or NACKs one response and, after a cluster or listener update,
// asks for what the new clusters and listeners need, as Envoy does: first
// the ACK, then the request of the dependent type.
func (e *Envoy) handle(resp *discoveryv3.DiscoveryResponse) error {
	typ := resp.GetTypeUrl()
	if e.cfg.Silent != nil && e.cfg.Silent(resp) {
		e.mu.Lock()
		e.state.Responses[typ]++
		e.notify()
		e.mu.Unlock()
		return nil
	}
	var rejectErr error
	if e.cfg.Reject != nil {
		rejectErr = e.cfg.Reject(resp)
	}
	resources, err := unpack(resp)
	if rejectErr == nil {
		rejectErr = err
	}
	e.mu.Lock()
	if rejectErr == nil {
		rejectErr = check(typ, resources, e.state.Types[resourcev3.ClusterType].Resources)
	}
	e.nonces[typ] = resp.GetNonce()
	e.state.Responses[typ]++
	e.state.Received[typ] += len(resp.GetResources())
	e.state.Bytes[typ] += proto.Size(resp)
	var follow []*discoveryv3.DiscoveryRequest
	if rejectErr == nil {
		follow = e.accept(typ, resp.GetVersionInfo(), resources)
	} else {
		e.state.NACKs[typ]++
		e.state.LastNACK[typ] = rejectErr.Error()
	}
	ack := &discoveryv3.DiscoveryRequest{
		TypeUrl:       typ,
		VersionInfo:   e.state.Types[typ].Version,
		ResponseNonce: resp.GetNonce(),
		ResourceNames: e.names[typ],
	}
	if rejectErr != nil {
		ack.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: rejectErr.Error()}
	}
	e.notify()
	e.mu.Unlock()

	if err := e.send(ack); err != nil {
		return err
	}
	for _, req := range follow {
		if err := e.send(req); err != nil {
			return err
		}
	}
	return nil
}

// accept stores an accepted response, updates what is warming, and returns
// the requests of the dependent types that Envoy would send next, if any:
// EDS after CDS; RDS, then SDS after LDS. e.mu is held.
func (e *Envoy) accept(typ, version string, resources map[string]proto.Message) []*discoveryv3.DiscoveryRequest {
	prev := e.state.Types[typ].Resources
	switch typ {
	case resourcev3.ClusterType:
		e.state.Types[typ] = TypeState{Version: version, Resources: resources}
		return nonNil(e.clustersUpdated(prev, resources))
	case resourcev3.ListenerType:
		e.state.Types[typ] = TypeState{Version: version, Resources: resources}
		return nonNil(e.listenersUpdated(prev, resources), e.resubscribe(resourcev3.SecretType, sdsNames(resources), false))
	case resourcev3.EndpointType, resourcev3.RouteType, resourcev3.SecretType:
		e.state.Types[typ] = TypeState{Version: version, Resources: mergeSubscribed(prev, resources, e.names[typ])}
		e.warmed(typ, resources)
	default:
		e.state.Types[typ] = TypeState{Version: version, Resources: resources}
	}
	return nil
}

// nonNil returns the requests that are not nil.
func nonNil(reqs ...*discoveryv3.DiscoveryRequest) []*discoveryv3.DiscoveryRequest {
	return slices.DeleteFunc(reqs, func(r *discoveryv3.DiscoveryRequest) bool { return r == nil })
}

// warmed ends the warming of the clusters (listeners) whose endpoints
// (route configurations) an EDS (RDS) response carried. e.mu is held.
func (e *Envoy) warmed(typ string, resources map[string]proto.Message) {
	if typ == resourcev3.EndpointType {
		for cluster, service := range e.warmingClusters {
			if _, ok := resources[service]; ok {
				delete(e.warmingClusters, cluster)
			}
		}
		return
	}
	for listener, waiting := range e.warmingListeners {
		waiting = slices.DeleteFunc(slices.Clone(waiting), func(name string) bool {
			_, ok := resources[name]
			return ok
		})
		if len(waiting) == 0 {
			delete(e.warmingListeners, listener)
		} else {
			e.warmingListeners[listener] = waiting
		}
	}
}

// clustersUpdated starts warming every EDS cluster that is new or changed,
// forgets removed ones, and returns the EDS request Envoy sends after such a
// CDS update: the full list of names at the EDS version and nonce it has,
// even when that list did not change. e.mu is held.
func (e *Envoy) clustersUpdated(prev, cur map[string]proto.Message) *discoveryv3.DiscoveryRequest {
	changed := e.changedEDS(prev, cur)
	return e.resubscribe(resourcev3.EndpointType, edsNames(cur), len(changed) > 0)
}

// changedEDS starts warming every EDS cluster that is new or changed,
// forgets removed ones, and returns, sorted, the EDS service names of the
// clusters that started warming. e.mu is held.
func (e *Envoy) changedEDS(prev, cur map[string]proto.Message) []string {
	var changed []string
	for name, m := range cur {
		c := m.(*clusterv3.Cluster)
		if c.GetType() != clusterv3.Cluster_EDS {
			delete(e.warmingClusters, name)
			continue
		}
		if old, ok := prev[name]; ok && proto.Equal(old, m) {
			continue
		}
		e.warmingClusters[name] = edsServiceName(c)
		changed = append(changed, edsServiceName(c))
	}
	for name := range e.warmingClusters {
		if _, ok := cur[name]; !ok {
			delete(e.warmingClusters, name)
		}
	}
	slices.Sort(changed)
	return slices.Compact(changed)
}

// listenersUpdated is clustersUpdated for listeners and their RDS routes.
// e.mu is held.
func (e *Envoy) listenersUpdated(prev, cur map[string]proto.Message) *discoveryv3.DiscoveryRequest {
	changed := e.changedRDS(prev, cur)
	return e.resubscribe(resourcev3.RouteType, rdsNames(cur), len(changed) > 0)
}

// changedRDS is changedEDS for listeners: it returns, sorted, the route
// configurations the listeners that started warming wait for. e.mu is held.
func (e *Envoy) changedRDS(prev, cur map[string]proto.Message) []string {
	var changed []string
	for name, m := range cur {
		routes := listenerRouteNames(m.(*listenerv3.Listener))
		if len(routes) == 0 {
			delete(e.warmingListeners, name)
			continue
		}
		if old, ok := prev[name]; ok && proto.Equal(old, m) {
			continue
		}
		e.warmingListeners[name] = routes
		changed = append(changed, routes...)
	}
	for name := range e.warmingListeners {
		if _, ok := cur[name]; !ok {
			delete(e.warmingListeners, name)
		}
	}
	slices.Sort(changed)
	return slices.Compact(changed)
}

// resubscribe sets the names subscribed to of a dependent type, drops what
// is no longer subscribed, and returns the request to send: when the names
// changed, or when force is set (something started warming). e.mu is held.
func (e *Envoy) resubscribe(typ string, want []string, force bool) *discoveryv3.DiscoveryRequest {
	if slices.Equal(e.names[typ], want) && !force {
		return nil
	}
	e.names[typ] = want
	ts, ok := e.state.Types[typ]
	if ok {
		e.state.Types[typ] = TypeState{Version: ts.Version, Resources: mergeSubscribed(nil, ts.Resources, want)}
	}
	return &discoveryv3.DiscoveryRequest{
		TypeUrl:       typ,
		VersionInfo:   ts.Version,
		ResponseNonce: e.nonces[typ],
		ResourceNames: want,
	}
}

// send writes one discovery request, the first one with the node: Envoy's
// bootstrap sets set_node_on_first_message_only and the server remembers it.
func (e *Envoy) send(req *discoveryv3.DiscoveryRequest) error {
	if !e.nodeSent {
		req.Node = &corev3.Node{
			Id: e.cfg.NodeID, Cluster: e.cfg.Cluster, UserAgentName: e.cfg.UserAgent,
			UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.33.0"},
		}
		e.nodeSent = true
	}
	if err := e.stream.Send(req); err != nil {
		return fmt.Errorf("send %s request: %w", req.GetTypeUrl(), err)
	}
	return nil
}
