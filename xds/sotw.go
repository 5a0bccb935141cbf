package xds

import (
	"slices"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serveSotW serves one state-of-the-world stream; only is its type on a
// single-type service, "" on ADS.
func (s *Server) serveSotW(gs sotwStream, only string) error {
	st := newStream(s.ids.Add(1))
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
	if sub != nil && !c.reset && sub.wildcard == wildcard && slices.Equal(sub.list, names) {
		return nil
	}
	var old []string
	if sub != nil {
		old = sub.list
	}
	c.wildcard = &wildcard
	c.add, c.remove = diffNames(old, names)
	err = st.state.resubscribe(st, c)
	st.subs[t].list = names
	if err != nil {
		return status.Errorf(codes.ResourceExhausted, "subscribe: %v", err)
	}
	return nil
}

// answeredSotW logs and counts the client's answer to the last response.
func (s *Server) answeredSotW(st *stream, t typeID, sub *subscription, req *discoveryv3.DiscoveryRequest) {
	typ := shortType(typeURLs[t])
	if req.GetErrorDetail() == nil {
		s.metrics.acks.WithLabelValues(typ).Inc()
		s.log.Debug("ack", "node", st.node.GetId(), "type", typ, "version", req.GetVersionInfo())
		return
	}
	s.metrics.nacks.WithLabelValues(typ).Inc()
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
		s.metrics.responses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
	}
	return nil
}

// diffNames returns the names in next but not in prev, and those in prev
// but not in next.
func diffNames(prev, next []string) (add, remove []string) {
	before := make(map[string]struct{}, len(prev))
	for _, n := range prev {
		before[n] = struct{}{}
	}
	after := make(map[string]struct{}, len(next))
	for _, n := range next {
		after[n] = struct{}{}
		if _, ok := before[n]; !ok {
			add = append(add, n)
		}
	}
	for _, n := range prev {
		if _, ok := after[n]; !ok {
			remove = append(remove, n)
		}
	}
	return add, remove
}
