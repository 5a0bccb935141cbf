package xds

import (
	"fmt"
	"slices"
)

// A fleet is the Envoy proxies of one node.cluster that has a fleet
// profile: they are served a state of their own, with the listeners,
// secrets and scoped services their profile gives, instead of the state
// every other Envoy shares. gRPC clients are never part of a fleet.
//
// A stream is attached to a state on its first request. When a fleet
// gains its first update or is removed, the Envoy streams of its
// node.cluster are ended with codes.Unavailable, so that the proxies
// reconnect and are served by the state now in force: Envoy keeps its
// configuration while it reconnects.

// attach registers a stream with the state that serves its group. It holds
// s.mu across the choice and the registration, so that a fleet added or
// removed meanwhile sees the stream and moves it.
func (s *Server) attach(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.state = s.kinds[st.group.Kind]
	if f, ok := s.fleets[st.group.Cluster]; ok && st.group.Kind == KindEnvoy {
		st.state = f
	}
	st.state.register(st)
}

// ApplyFleet puts an update in force for the Envoy proxies of one fleet,
// as Apply does for a kind. The first update of a fleet creates its state
// and moves the fleet's proxies onto it.
func (s *Server) ApplyFleet(cluster string, u Update) error {
	s.mu.Lock()
	k, ok := s.fleets[cluster]
	s.mu.Unlock()
	if ok {
		if err := s.applyTo(k, u); err != nil {
			return fmt.Errorf("apply fleet %q update: %w", cluster, err)
		}
		return nil
	}
	k = newKindState(KindEnvoy)
	if err := s.applyTo(k, u); err != nil {
		return fmt.Errorf("apply fleet %q update: %w", cluster, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fleets[cluster] = k
	moved := s.kinds[KindEnvoy].moveCluster(cluster)
	s.log.Info("fleet profile in force", "fleet", cluster, "proxies_reconnecting", moved)
	return nil
}

// RemoveFleet drops a fleet's state and moves its proxies back to the
// state every other Envoy shares. It is a no-op for a fleet without one.
func (s *Server) RemoveFleet(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.fleets[cluster]
	if !ok {
		return
	}
	delete(s.fleets, cluster)
	moved := k.moveCluster(cluster)
	s.log.Info("fleet profile removed", "fleet", cluster, "proxies_reconnecting", moved)
}

// Fleets returns the node.clusters that have a fleet state, sorted.
func (s *Server) Fleets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.fleets))
	for c := range s.fleets {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// FleetResources is Resources for the proxies of one fleet; ok is false
// when the fleet has no state.
func (s *Server) FleetResources(cluster string) ([]TypeResources, bool) {
	k, ok := s.fleet(cluster)
	if !ok {
		return nil, false
	}
	return k.resources(), true
}

// FleetConfigDump is ConfigDump for the proxies of one fleet, private keys
// redacted; ok is false when the fleet has no state.
func (s *Server) FleetConfigDump(cluster string) (map[string][]any, bool, error) {
	k, ok := s.fleet(cluster)
	if !ok {
		return nil, false, nil
	}
	dump, err := k.configDump()
	return dump, true, err
}

// fleet returns a fleet's state.
func (s *Server) fleet(cluster string) (*kindState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.fleets[cluster]
	return k, ok
}

// moveCluster ends every Envoy stream of a node.cluster attached to the
// state, and returns how many.
func (k *kindState) moveCluster(cluster string) int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	n := 0
	for st := range k.streams {
		if st.group.Kind == KindEnvoy && st.group.Cluster == cluster {
			st.move()
			n++
		}
	}
	return n
}
