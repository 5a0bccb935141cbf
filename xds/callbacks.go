package xds

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// sent is the last response of one type on one stream.
type sent struct {
	nonce   string
	version string
}

// callbacks watch every stream, state of the world and delta: they register
// the client's group, count responses, log and count every ACK and NACK,
// and stop the state-of-the-world NACK loop go-control-plane would
// otherwise run.
type callbacks struct {
	serverv3.CallbackFuncs
	log      *slog.Logger
	metrics  *metrics
	onGroup  func(Group)
	mu       sync.Mutex
	lastSent map[int64]map[string]sent
	// deltaStreams are keyed by the delta server's stream ids, which are
	// counted apart from the state-of-the-world ones.
	deltaStreams map[int64]*deltaStream
	// versions returns the version table of the snapshot in force for a
	// kind of client, nil before the first.
	versions func(Kind) *versionTable
}

// newCallbacks returns callbacks that call onGroup with the group of every
// request's node.
func newCallbacks(log *slog.Logger, m *metrics, onGroup func(Group), versions func(Kind) *versionTable) *callbacks {
	return &callbacks{log: log, metrics: m, onGroup: onGroup, lastSent: map[int64]map[string]sent{},
		deltaStreams: map[int64]*deltaStream{}, versions: versions}
}

// OnStreamOpen counts the stream.
func (c *callbacks) OnStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.metrics.streams.Inc()
	c.mu.Lock()
	c.lastSent[id] = map[string]sent{}
	c.mu.Unlock()
	c.log.Debug("stream opened", "stream", id, "type", typeURL)
	return nil
}

// OnStreamClosed forgets the stream.
func (c *callbacks) OnStreamClosed(id int64, node *corev3.Node) {
	c.metrics.streams.Dec()
	c.mu.Lock()
	delete(c.lastSent, id)
	c.mu.Unlock()
	c.log.Debug("stream closed", "stream", id, "node", node.GetId())
}

// OnStreamRequest registers the node's group and handles ACKs and NACKs. A
// request that answers an older response than the last one sent is stale:
// go-control-plane ignores it, and so do the counts. On a NACK it rewrites the request's version to the rejected one: the cache then
// sees a client that is up to date and answers only when the snapshot
// changes, instead of re-sending the rejected resources in a tight loop
// (go-control-plane issues #46, #962).
func (c *callbacks) OnStreamRequest(id int64, req *discoveryv3.DiscoveryRequest) error {
	c.onGroup(GroupOf(req.GetNode()))
	if req.GetResponseNonce() == "" {
		return nil
	}
	typ := shortType(req.GetTypeUrl())
	c.mu.Lock()
	last := c.lastSent[id][req.GetTypeUrl()]
	c.mu.Unlock()
	if last.nonce != req.GetResponseNonce() {
		c.log.Debug("stale request ignored", "node", req.GetNode().GetId(), "type", typ, "nonce", req.GetResponseNonce())
		return nil
	}
	if req.GetErrorDetail() == nil {
		c.metrics.acks.WithLabelValues(typ).Inc()
		c.log.Debug("ack", "node", req.GetNode().GetId(), "type", typ, "version", req.GetVersionInfo())
		return nil
	}
	rejected := last.version
	c.metrics.nacks.WithLabelValues(typ).Inc()
	c.log.Warn("nack: client rejected config", "node", req.GetNode().GetId(),
		"group", GroupOf(req.GetNode()).String(), "type", typ, "version", rejected,
		"accepted_version", req.GetVersionInfo(), "error", req.GetErrorDetail().GetMessage())
	req.VersionInfo = rejected
	return nil
}

// OnStreamResponse remembers which version each nonce carried.
func (c *callbacks) OnStreamResponse(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
	c.metrics.responses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.lastSent[id]; ok {
		m[resp.GetTypeUrl()] = sent{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
	}
}

// shortType turns a type URL into its message name ("Cluster").
func shortType(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, ".")+1:]
}
