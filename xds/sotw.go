package xds

import (
	"hash/fnv"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serveSotW serves one state-of-the-world stream; only is its type on a
// single-type service, "" on ADS.
func (s *Server) serveSotW(gs sotwStream, only string) error {
	st := newStream(s.ids.Add(1))
	st.track = newProxyTrack(gs.Context(), "sotw", s.metrics.observeConvergence)
	s.metrics.streams.Inc()
	defer s.closeStream(st)
	return run(gs.Context(), s.done, s.gate, st, gs.Recv,
		func(req *discoveryv3.DiscoveryRequest) error { return s.sotwRequest(st, req, only) },
		func() error { return s.sendSotW(st, gs) })
}

// sotwRequest handles one state-of-the-world request. A request that
// answers an older response than the last one sent of its type is stale
// and ignored: the client sends its whole subscription again with its
// answer to the newest. An ACK or NACK is logged and counted; a rejected
// version is never sent again, only the next change is (no NACK loop).
func (s *Server) sotwRequest(st *stream, req *discoveryv3.DiscoveryRequest, only string) error {
	s.open(st, req.GetNode())
	t, ok, err := s.requestType(st, req.GetTypeUrl(), only)
	if err != nil || !ok {
		return err
	}
	sub := st.subs[t]
	if t == typeRoute && req.GetResponseNonce() != "" {
		// Even a stale answer tells what the client made of the response
		// it answers.
		st.acks.answered(req.GetResponseNonce(), req.GetErrorDetail() != nil, req.GetErrorDetail().GetMessage(), true)
	}
	c := change{typ: t}
	if nonce := req.GetResponseNonce(); nonce == "" {
		c.reset, c.answer = true, t.fullState()
	} else {
		if sub == nil || nonce != sub.nonce {
			s.log.Debug("stale request ignored", "node", st.node.GetId(), "type", shortType(typeURLs[t]), "nonce", nonce)
			return nil
		}
		sub.answered = nonce
		s.answeredSotW(st, t, sub, req)
	}
	names, wildcard := withoutWildcard(req.GetResourceNames())
	wildcard = wildcard || t.fullState() && len(req.GetResourceNames()) == 0
	sum := namesSum(names)
	if sub != nil && !c.reset && sub.wildcard == wildcard && sub.namesSum == sum {
		return nil
	}
	c.wildcard = &wildcard
	c.names = names
	err = st.state.resubscribe(st, c)
	st.subs[t].namesSum = sum
	if err != nil {
		return status.Errorf(codes.ResourceExhausted, "subscribe: %v", err)
	}
	return nil
}

// namesSum is a 64-bit FNV-1a hash of a request's names, in order: a
// state-of-the-world client repeats its whole subscription in every
// request, and the sum tells a repeat from a change without keeping the
// names (about 28 kB per Envoy at 1,000 services).
func namesSum(names []string) uint64 {
	h := fnv.New64a()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// answeredSotW logs and counts the client's answer to the last response.
func (s *Server) answeredSotW(st *stream, t typeID, sub *subscription, req *discoveryv3.DiscoveryRequest) {
	typ := shortType(typeURLs[t])
	if req.GetErrorDetail() == nil {
		st.track.acked(t, req.GetVersionInfo(), false, time.Now())
		s.metrics.acks.WithLabelValues(typ).Inc()
		s.log.Debug("ack", "node", st.node.GetId(), "type", typ, "version", req.GetVersionInfo())
		return
	}
	st.track.rejected(t, sub.version, req.GetErrorDetail().GetMessage(), false, time.Now())
	s.metrics.nacks.WithLabelValues(typ).Inc()
	s.metrics.rejections.WithLabelValues(typ, st.group.String()).Inc()
	s.log.Warn("nack: client rejected config", "node", st.node.GetId(), "group", st.group.String(),
		"type", typ, "version", sub.version, "accepted_version", req.GetVersionInfo(),
		"error", req.GetErrorDetail().GetMessage())
}

// sendSotW sends, in ADS order, every response the stream is owed.
func (s *Server) sendSotW(st *stream, gs sotwStream) error {
	if st.state == nil {
		return nil
	}
	for t := range numTypes {
		resp := st.sotwResponse(t)
		if resp == nil {
			continue
		}
		if err := gs.Send(resp); err != nil {
			return err
		}
		st.track.sent(t, resp.GetVersionInfo(), resp.GetNonce(), time.Now())
		s.metrics.responses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
		s.metrics.groupResponses.WithLabelValues(shortType(resp.GetTypeUrl()), st.group.String()).Inc()
	}
	return nil
}
