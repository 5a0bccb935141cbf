package simenvoy

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// openDelta opens a DeltaAggregatedResources stream and subscribes as Envoy
// does: CDS and LDS as (legacy) wildcards with an empty subscribe list, and,
// when resuming, EDS and RDS by the names the kept clusters and listeners
// reference. Every request carries the versions already held as
// initial_resource_versions.
func (e *Envoy) openDelta(ctx context.Context) error {
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(e.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open delta ADS stream: %w", err)
	}
	e.delta = stream
	e.resume(e.cfg.Resume)
	reqs := []*discoveryv3.DeltaDiscoveryRequest{
		{TypeUrl: resourcev3.ClusterType, InitialResourceVersions: e.state.ResourceVersions[resourcev3.ClusterType]},
		{TypeUrl: resourcev3.ListenerType, InitialResourceVersions: e.state.ResourceVersions[resourcev3.ListenerType]},
	}
	for _, typ := range []string{resourcev3.EndpointType, resourcev3.RouteType} {
		if names := e.names[typ]; len(names) > 0 {
			reqs = append(reqs, &discoveryv3.DeltaDiscoveryRequest{
				TypeUrl: typ, ResourceNamesSubscribe: names,
				InitialResourceVersions: e.state.ResourceVersions[typ],
			})
		}
	}
	for _, req := range reqs {
		if err := e.sendDelta(req); err != nil {
			return err
		}
	}
	return nil
}

// resume takes over the resources and versions of an earlier stream and the
// EDS and RDS names they reference. Nothing is warming: what was kept had
// been warm.
func (e *Envoy) resume(prev State) {
	for typ, ts := range prev.Types {
		e.state.Types[typ] = TypeState{Version: ts.Version, Resources: maps.Clone(ts.Resources)}
	}
	for typ, v := range prev.ResourceVersions {
		e.state.ResourceVersions[typ] = maps.Clone(v)
	}
	if names := edsNames(e.state.Types[resourcev3.ClusterType].Resources); len(names) > 0 {
		e.names[resourcev3.EndpointType] = names
	}
	if names := rdsNames(e.state.Types[resourcev3.ListenerType].Resources); len(names) > 0 {
		e.names[resourcev3.RouteType] = names
	}
}

// receiveDelta handles delta responses until the stream ends.
func (e *Envoy) receiveDelta() {
	for {
		resp, err := e.delta.Recv()
		if err != nil {
			e.finish(err)
			return
		}
		if err := e.handleDelta(resp); err != nil {
			e.finish(err)
			return
		}
	}
}

// handleDelta ACKs or NACKs one delta response and then, like Envoy, sends
// the subscription changes of the dependent type that it caused.
func (e *Envoy) handleDelta(resp *discoveryv3.DeltaDiscoveryResponse) error {
	typ := resp.GetTypeUrl()
	sotw := asSotW(resp)
	var rejectErr error
	if e.cfg.Reject != nil {
		rejectErr = e.cfg.Reject(sotw)
	}
	resources, err := unpack(sotw)
	if rejectErr == nil {
		rejectErr = err
	}
	e.mu.Lock()
	if rejectErr == nil {
		rejectErr = check(typ, resources, e.state.Types[resourcev3.ClusterType].Resources)
	}
	e.state.Responses[typ]++
	e.state.Received[typ] += len(resp.GetResources())
	e.state.Removed[typ] += len(resp.GetRemovedResources())
	e.state.Bytes[typ] += proto.Size(resp)
	var follow []*discoveryv3.DeltaDiscoveryRequest
	ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce()}
	if rejectErr == nil {
		follow = e.acceptDelta(resp, resources)
	} else {
		e.state.NACKs[typ]++
		e.state.LastNACK[typ] = rejectErr.Error()
		ack.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: rejectErr.Error()}
	}
	e.notify()
	e.mu.Unlock()

	if err := e.sendDelta(ack); err != nil {
		return err
	}
	for _, req := range follow {
		if err := e.sendDelta(req); err != nil {
			return err
		}
	}
	return nil
}

// asSotW shows a delta response as a state-of-the-world one, for Reject and
// for the checks shared with state of the world.
func asSotW(resp *discoveryv3.DeltaDiscoveryResponse) *discoveryv3.DiscoveryResponse {
	out := &discoveryv3.DiscoveryResponse{
		VersionInfo: resp.GetSystemVersionInfo(), TypeUrl: resp.GetTypeUrl(), Nonce: resp.GetNonce(),
	}
	for _, r := range resp.GetResources() {
		out.Resources = append(out.Resources, r.GetResource())
	}
	return out
}

// acceptDelta applies an accepted delta response: updated resources replace
// those of the same name, removed ones go. It returns the subscription
// requests of the dependent types Envoy would send next: EDS after CDS;
// RDS, then SDS after LDS. e.mu is held.
func (e *Envoy) acceptDelta(resp *discoveryv3.DeltaDiscoveryResponse, updated map[string]proto.Message) []*discoveryv3.DeltaDiscoveryRequest {
	typ := resp.GetTypeUrl()
	prev := e.state.Types[typ].Resources
	cur := maps.Clone(prev)
	if cur == nil {
		cur = map[string]proto.Message{}
	}
	versions := maps.Clone(e.state.ResourceVersions[typ])
	if versions == nil {
		versions = map[string]string{}
	}
	maps.Copy(cur, updated)
	for _, r := range resp.GetResources() {
		versions[r.GetName()] = r.GetVersion()
	}
	for _, name := range resp.GetRemovedResources() {
		delete(cur, name)
		delete(versions, name)
	}
	e.state.Types[typ] = TypeState{Version: resp.GetSystemVersionInfo(), Resources: cur}
	e.state.ResourceVersions[typ] = versions
	switch typ {
	case resourcev3.ClusterType:
		return nonNilDelta(e.deltaResubscribe(resourcev3.EndpointType, edsNames(cur), e.changedEDS(prev, cur)))
	case resourcev3.ListenerType:
		return nonNilDelta(e.deltaResubscribe(resourcev3.RouteType, rdsNames(cur), e.changedRDS(prev, cur)),
			e.deltaResubscribe(resourcev3.SecretType, sdsNames(cur), nil))
	case resourcev3.EndpointType, resourcev3.RouteType:
		e.warmed(typ, updated)
	}
	return nil
}

// nonNilDelta returns the requests that are not nil.
func nonNilDelta(reqs ...*discoveryv3.DeltaDiscoveryRequest) []*discoveryv3.DeltaDiscoveryRequest {
	return slices.DeleteFunc(reqs, func(r *discoveryv3.DeltaDiscoveryRequest) bool { return r == nil })
}

// deltaResubscribe moves the subscription of a dependent type (EDS, RDS) to
// want: it subscribes to new names, unsubscribes from names no longer
// referenced and drops what it held of them, and re-lists the names of the
// clusters (listeners) that started warming, as Envoy may. It returns nil
// when nothing is to be sent. e.mu is held.
func (e *Envoy) deltaResubscribe(typ string, want, relist []string) *discoveryv3.DeltaDiscoveryRequest {
	have := e.names[typ]
	var subscribe, unsubscribe []string
	for _, name := range want {
		if !slices.Contains(have, name) || slices.Contains(relist, name) {
			subscribe = append(subscribe, name)
		}
	}
	for _, name := range have {
		if !slices.Contains(want, name) {
			unsubscribe = append(unsubscribe, name)
		}
	}
	e.names[typ] = want
	if len(unsubscribe) > 0 {
		ts := e.state.Types[typ]
		e.state.Types[typ] = TypeState{Version: ts.Version, Resources: mergeSubscribed(nil, ts.Resources, want)}
		versions := maps.Clone(e.state.ResourceVersions[typ])
		for _, name := range unsubscribe {
			delete(versions, name)
		}
		e.state.ResourceVersions[typ] = versions
	}
	if len(subscribe) == 0 && len(unsubscribe) == 0 {
		return nil
	}
	return &discoveryv3.DeltaDiscoveryRequest{
		TypeUrl: typ, ResourceNamesSubscribe: subscribe, ResourceNamesUnsubscribe: unsubscribe,
	}
}

// sendDelta writes one delta request, the first one with the node.
func (e *Envoy) sendDelta(req *discoveryv3.DeltaDiscoveryRequest) error {
	if !e.nodeSent {
		req.Node = &corev3.Node{
			Id: e.cfg.NodeID, Cluster: e.cfg.Cluster, UserAgentName: e.cfg.UserAgent,
			UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.33.0"},
		}
		e.nodeSent = true
	}
	if err := e.delta.Send(req); err != nil {
		return fmt.Errorf("send delta %s request: %w", req.GetTypeUrl(), err)
	}
	return nil
}
