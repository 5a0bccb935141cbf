package xds

import (
	"context"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// maxPendingNonces bounds the responses remembered per delta stream while
// they wait for their ACK or NACK, so a client that never answers cannot
// grow the server's memory.
const maxPendingNonces = 64

// deltaSent is one delta response waiting for its ACK or NACK.
type deltaSent struct {
	typeURL string
	version string
}

// deltaStream is what the callbacks know of one delta stream: its node,
// which only the first request carries, and the responses not yet answered.
// Unlike state of the world, a delta client answers every response, so each
// nonce is remembered until its own answer comes.
type deltaStream struct {
	node    *corev3.Node
	pending map[string]deltaSent
	// initial are the initial_resource_versions the client declared, by
	// type URL.
	initial map[string]map[string]string
}

// OnDeltaStreamOpen counts the stream.
func (c *callbacks) OnDeltaStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.metrics.streams.Inc()
	c.mu.Lock()
	c.deltaStreams[id] = &deltaStream{pending: map[string]deltaSent{}, initial: map[string]map[string]string{}}
	c.mu.Unlock()
	c.log.Debug("delta stream opened", "stream", id, "type", typeURL)
	return nil
}

// OnDeltaStreamClosed forgets the stream.
func (c *callbacks) OnDeltaStreamClosed(id int64, node *corev3.Node) {
	c.metrics.streams.Dec()
	c.mu.Lock()
	delete(c.deltaStreams, id)
	c.mu.Unlock()
	c.log.Debug("delta stream closed", "stream", id, "node", node.GetId())
}

// OnStreamDeltaRequest registers the node's group and logs and counts ACKs
// and NACKs. go-control-plane records what it sent as known to the client
// whether the client accepts it or not, so a NACKed resource is not sent
// again until its version changes: delta has no NACK loop to break.
func (c *callbacks) OnStreamDeltaRequest(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
	node, answered, ok := c.deltaAnswer(id, req)
	group := GroupOf(node)
	c.onGroup(group)
	c.resumeRequest(id, group.Kind, req)
	if req.GetResponseNonce() == "" {
		return nil
	}
	typ := shortType(req.GetTypeUrl())
	if !ok {
		c.log.Debug("delta request for an unknown nonce", "node", node.GetId(), "type", typ, "nonce", req.GetResponseNonce())
		return nil
	}
	if req.GetErrorDetail() == nil {
		c.metrics.deltaAcks.WithLabelValues(typ).Inc()
		c.log.Debug("delta ack", "node", node.GetId(), "type", typ, "version", answered.version, "nonce", req.GetResponseNonce())
		return nil
	}
	c.metrics.deltaNacks.WithLabelValues(typ).Inc()
	c.log.Warn("nack: client rejected delta config", "node", node.GetId(), "group", group.String(),
		"type", typ, "version", answered.version, "nonce", req.GetResponseNonce(),
		"error", req.GetErrorDetail().GetMessage())
	return nil
}

// deltaAnswer remembers the stream's node from its first request and
// returns it, with the response the request answers, if any.
func (c *callbacks) deltaAnswer(id int64, req *discoveryv3.DeltaDiscoveryRequest) (*corev3.Node, deltaSent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.deltaStreams[id]
	if !ok {
		return req.GetNode(), deltaSent{}, false
	}
	if req.GetNode() != nil {
		st.node = req.GetNode()
	}
	answered, ok := st.pending[req.GetResponseNonce()]
	if ok && answered.typeURL != req.GetTypeUrl() && req.GetTypeUrl() != "" {
		ok = false
	}
	delete(st.pending, req.GetResponseNonce())
	return st.node, answered, ok
}

// resumeRequest records the versions a reconnecting client declares and
// translates those of EDS and RDS into the versions the cache compares (see
// versionTable.resumeVersions), so that what the client already has is not
// sent again. On a per-type delta stream the type URL is not in the request
// and nothing is translated: those resources are sent once more.
func (c *callbacks) resumeRequest(id int64, kind Kind, req *discoveryv3.DeltaDiscoveryRequest) {
	if len(req.GetInitialResourceVersions()) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.deltaStreams[id]
	if !ok {
		return
	}
	typ := req.GetTypeUrl()
	st.initial[typ] = req.GetInitialResourceVersions()
	parent, ok := parentType(typ)
	if !ok {
		return
	}
	req.InitialResourceVersions = c.versions(kind).resumeVersions(typ, req.GetInitialResourceVersions(), st.initial[parent])
}

// OnStreamDeltaResponse counts the response and remembers its nonce until
// the client answers it.
func (c *callbacks) OnStreamDeltaResponse(id int64, _ *discoveryv3.DeltaDiscoveryRequest, resp *discoveryv3.DeltaDiscoveryResponse) {
	c.metrics.deltaResponses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.deltaStreams[id]
	if !ok {
		return
	}
	if len(st.pending) >= maxPendingNonces {
		delete(st.pending, oldestNonce(st.pending))
	}
	st.pending[resp.GetNonce()] = deltaSent{typeURL: resp.GetTypeUrl(), version: resp.GetSystemVersionInfo()}
}

// oldestNonce returns the smallest of go-control-plane's nonces, which count
// up from 1 on each stream.
func oldestNonce(pending map[string]deltaSent) string {
	oldest, lowest := "", int64(-1)
	for nonce := range pending {
		n, err := strconv.ParseInt(nonce, 10, 64)
		if err != nil {
			return nonce
		}
		if lowest < 0 || n < lowest {
			oldest, lowest = nonce, n
		}
	}
	return oldest
}
