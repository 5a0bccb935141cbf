package xds

import (
	"strconv"
	"strings"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxUnanswered bounds the responses remembered per delta stream while
// they wait for their ACK or NACK, so a client that never answers cannot
// grow the server's memory.
const maxUnanswered = 64

// deltaSent is one delta response waiting for its ACK or NACK.
type deltaSent struct {
	typ     typeID
	version string
}

// serveDelta serves one delta stream; only is its type on a single-type
// service, "" on ADS.
func (s *Server) serveDelta(gs deltaStream, only string) error {
	st := newStream(s.ids.Add(1))
	st.track = newProxyTrack(gs.Context(), "delta", s.metrics.observeConvergence)
	s.metrics.streams.Inc()
	defer s.closeStream(st)
	return run(gs.Context(), s.done, s.gate, st, gs.Recv,
		func(req *discoveryv3.DeltaDiscoveryRequest) error { return s.deltaRequest(st, req, only) },
		func() error { return s.sendDelta(st, gs) })
}

// deltaRequest handles one delta request: its answer to an earlier
// response, and the change to its subscription it carries. The first
// request of a type subscribes to every resource of it when it names none
// (Envoy's legacy wildcard), and may declare what a reconnecting client
// already holds: what is current is not sent again. A NACKed resource is
// not sent again until it changes.
func (s *Server) deltaRequest(st *stream, req *discoveryv3.DeltaDiscoveryRequest, only string) error {
	s.open(st, req.GetNode())
	t, ok, err := s.requestType(st, req.GetTypeUrl(), only)
	if err != nil || !ok {
		return err
	}
	if req.GetResponseNonce() != "" {
		s.answeredDelta(st, req)
	}
	first := st.subs[t] == nil
	add, star := withoutWildcard(req.GetResourceNamesSubscribe())
	remove, unstar := withoutWildcard(req.GetResourceNamesUnsubscribe())
	c := change{typ: t, add: add, remove: remove, initial: req.GetInitialResourceVersions(), answer: first && t.fullState()}
	switch {
	case star || first && len(req.GetResourceNamesSubscribe()) == 0:
		on := true
		c.wildcard = &on
	case unstar:
		off := false
		c.wildcard = &off
	}
	if !first && c.wildcard == nil && len(add) == 0 && len(remove) == 0 && len(c.initial) == 0 {
		return nil
	}
	if err := st.state.resubscribe(st, c); err != nil {
		return status.Errorf(codes.ResourceExhausted, "subscribe: %v", err)
	}
	return nil
}

// answeredDelta logs and counts the client's answer to one response.
func (s *Server) answeredDelta(st *stream, req *discoveryv3.DeltaDiscoveryRequest) {
	nonce := req.GetResponseNonce()
	answered, ok := st.unanswered[nonce]
	if !ok {
		s.log.Debug("delta answer to an unknown nonce", "node", st.node.GetId(), "nonce", nonce)
		return
	}
	delete(st.unanswered, nonce)
	if answered.typ == typeRoute {
		st.acks.answered(nonce, req.GetErrorDetail() != nil, req.GetErrorDetail().GetMessage(), false)
	}
	typ := shortType(typeURLs[answered.typ])
	pending := st.awaiting(answered.typ)
	if req.GetErrorDetail() == nil {
		st.track.acked(answered.typ, answered.version, pending, time.Now())
		s.metrics.deltaAcks.WithLabelValues(typ).Inc()
		s.log.Debug("delta ack", "node", st.node.GetId(), "type", typ, "version", answered.version, "nonce", nonce)
		return
	}
	st.track.rejected(answered.typ, answered.version, req.GetErrorDetail().GetMessage(), pending, time.Now())
	s.metrics.deltaNacks.WithLabelValues(typ).Inc()
	s.metrics.rejections.WithLabelValues(typ, st.group.String()).Inc()
	s.log.Warn("nack: client rejected delta config", "node", st.node.GetId(), "group", st.group.String(),
		"type", typ, "version", answered.version, "nonce", nonce, "error", req.GetErrorDetail().GetMessage())
}

// sendDelta sends, in ADS order, every response the stream is owed, and
// remembers each until the client answers it.
func (s *Server) sendDelta(st *stream, gs deltaStream) error {
	if st.state == nil {
		return nil
	}
	for t := range numTypes {
		resp := st.deltaResponse(t)
		if resp == nil {
			continue
		}
		if err := gs.Send(resp); err != nil {
			return err
		}
		st.remember(resp.GetNonce(), deltaSent{typ: t, version: resp.GetSystemVersionInfo()})
		st.track.sent(t, resp.GetSystemVersionInfo(), resp.GetNonce(), time.Now())
		s.metrics.deltaResponses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
		s.metrics.groupResponses.WithLabelValues(shortType(resp.GetTypeUrl()), st.group.String()).Inc()
	}
	return nil
}

// remember keeps a response until its answer comes, forgetting the oldest
// past maxUnanswered.
func (st *stream) remember(nonce string, sent deltaSent) {
	if st.unanswered == nil {
		st.unanswered = map[string]deltaSent{}
	}
	if len(st.unanswered) >= maxUnanswered {
		delete(st.unanswered, oldestNonce(st.unanswered))
	}
	st.unanswered[nonce] = sent
}

// awaiting reports whether a delta response of a type is still
// unanswered.
func (st *stream) awaiting(t typeID) bool {
	for _, sent := range st.unanswered {
		if sent.typ == t {
			return true
		}
	}
	return false
}

// oldestNonce returns the smallest nonce, nonces being counted up from 1 on
// each stream.
func oldestNonce(pending map[string]deltaSent) string {
	oldest, lowest := "", uint64(0)
	for nonce := range pending {
		n, err := strconv.ParseUint(nonce, 10, 64)
		if err != nil {
			return nonce
		}
		if oldest == "" || n < lowest {
			oldest, lowest = nonce, n
		}
	}
	return oldest
}

// shortType turns a type URL into its message name ("Cluster").
func shortType(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, ".")+1:]
}
