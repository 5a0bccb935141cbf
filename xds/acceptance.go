package xds

import (
	"cmp"
	"slices"
	"sync"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// RouteAcceptance is how the connected clients of one kind stand with one
// route configuration in force.
type RouteAcceptance struct {
	// Kind is the client kind whose table holds the route: "envoy" or
	// "grpc".
	Kind string
	// Fleet is the node.cluster whose fleet state holds the route; "" for
	// a kind's shared state.
	Fleet string
	Name  string
	// Route is the route configuration in force; nil when none is.
	Route *routev3.RouteConfiguration
	// Hash is the content hash of the version in force; "" when none is.
	Hash string
	// Proxies are the connected streams that subscribe to the route, by
	// name or wildcard, sorted by ID.
	Proxies []ProxyAcceptance
}

// ProxyAcceptance is one client's standing with the version in force of a
// route configuration.
type ProxyAcceptance struct {
	ID, Group, Kind string
	// State is StateSynced when the client acknowledged a response
	// carrying the version in force (or, with no version in force, holds
	// none), StateRejected when it rejected one, StatePending otherwise:
	// owed, sent and not answered yet, or answered with an older version.
	State SyncState
	// Error is the client's message when State is StateRejected.
	Error string
}

// RouteAcceptance returns, for each named route configuration and each
// client kind or fleet whose table holds it (in force now or earlier),
// who subscribes to it and how each stands with the version in force.
// Unknown names are left out. It is meant for a handful of names at a
// time: each route in force is decoded.
func (s *Server) RouteAcceptance(names ...string) []RouteAcceptance {
	var out []RouteAcceptance
	fleets := s.Fleets()
	for _, name := range names {
		for _, kind := range []Kind{KindEnvoy, KindGRPC} {
			if ra, ok := s.routeAcceptance(s.kinds[kind], "", name); ok {
				out = append(out, ra)
			}
		}
		for _, cluster := range fleets {
			if k, ok := s.fleet(cluster); ok {
				if ra, ok := s.routeAcceptance(k, cluster, name); ok {
					out = append(out, ra)
				}
			}
		}
	}
	return out
}

// routeSubscriber is a stream subscribed to a route, as seen under the kind
// state's lock.
type routeSubscriber struct {
	st *stream
	id string
}

// routeAcceptance is RouteAcceptance for one state, a kind's or a
// fleet's, and one name.
func (s *Server) routeAcceptance(k *kindState, fleet, name string) (RouteAcceptance, bool) {
	kind := k.kind
	k.mu.RLock()
	tb := k.tables[typeRoute]
	e, ok := tb.byName[name]
	if !ok || e.gen == 0 {
		k.mu.RUnlock()
		return RouteAcceptance{}, false
	}
	hash, res := e.hash, e.any
	subs := make([]routeSubscriber, 0, len(tb.wildcard)+len(e.subs))
	for st := range tb.wildcard {
		subs = append(subs, routeSubscriber{st: st, id: st.node.GetId()})
	}
	for _, st := range e.subs {
		if _, wild := tb.wildcard[st]; !wild {
			subs = append(subs, routeSubscriber{st: st, id: st.node.GetId()})
		}
	}
	k.mu.RUnlock()

	ra := RouteAcceptance{Kind: kind.String(), Fleet: fleet, Name: name, Hash: hash, Proxies: make([]ProxyAcceptance, 0, len(subs))}
	if res != nil {
		ra.Route = s.decodeRoute(res)
	}
	slices.SortFunc(subs, func(a, b routeSubscriber) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.st.id, b.st.id))
	})
	for _, sub := range subs {
		state, msg := sub.st.acks.standing(name, hash)
		ra.Proxies = append(ra.Proxies, ProxyAcceptance{
			ID: sub.id, Group: sub.st.group.String(), Kind: kind.String(), State: state, Error: msg,
		})
	}
	return ra, true
}

// decodeRoute decodes a route configuration in force. The server encoded
// it itself, so a failure is a bug: it is logged and the route left nil.
func (s *Server) decodeRoute(res *anypb.Any) *routev3.RouteConfiguration {
	rc := &routev3.RouteConfiguration{}
	if err := res.UnmarshalTo(rc); err != nil {
		s.log.Error("decode route configuration in force", "error", err)
		return nil
	}
	return rc
}

// routeAcks is what one stream's client made of the route configurations it
// was sent: the responses it has not answered yet, and by name the last
// version it accepted and its rejection since. The stream's goroutine writes
// it; RouteAcceptance reads it from others; mu guards it. Only routes the
// stream subscribes to are kept: an unsubscribed name is forgotten, and so
// is a removal once acknowledged, as holding nothing needs no record.
type routeAcks struct {
	mu       sync.Mutex
	inflight []routesSent
	held     map[string]routeStanding
}

// routesSent is one response carrying routes: what it put, at which content
// hash, and what it removed (hash "").
type routesSent struct {
	nonce  string
	routes []routeVersion
}

// routeVersion is one route configuration of a response.
type routeVersion struct {
	name, hash string
}

// routeStanding is where a client stands with one route configuration.
type routeStanding struct {
	// accepted is the content hash of the version it last acknowledged;
	// "" for none.
	accepted string
	// rejected is set when it rejected a version since: rejectedHash, with
	// its message.
	rejected     bool
	rejectedHash string
	message      string
}

// sent records the routes a response puts and removes. It runs under the
// kind state's read lock, which keeps the entries' hashes still.
func (a *routeAcks) sent(nonce string, d delta) {
	if len(d.put) == 0 && len(d.removed) == 0 {
		return
	}
	rs := routesSent{nonce: nonce, routes: make([]routeVersion, 0, len(d.put)+len(d.removed))}
	for _, e := range d.put {
		rs.routes = append(rs.routes, routeVersion{name: e.name, hash: e.hash})
	}
	for _, name := range d.removed {
		rs.routes = append(rs.routes, routeVersion{name: name})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.inflight) >= maxUnanswered {
		a.inflight = slices.Delete(a.inflight, 0, 1)
	}
	a.inflight = append(a.inflight, rs)
}

// answered records the client's answer to the response of a nonce: a NACK
// when rejected, with message. Cumulative is for state of the world, where
// an answer to a response means every earlier response of the type was
// processed: the earlier ones still unanswered (their answers coalesced or
// seen as stale) are taken as accepted. An unknown nonce changes nothing,
// so a repeated answer counts once.
func (a *routeAcks) answered(nonce string, rejected bool, message string, cumulative bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.inflight, func(rs routesSent) bool { return rs.nonce == nonce })
	if i < 0 {
		return
	}
	from := i
	if cumulative {
		from = 0
	}
	for j := from; j <= i; j++ {
		for _, r := range a.inflight[j].routes {
			if j == i && rejected {
				a.reject(r, message)
			} else {
				a.accept(r.name, r.hash)
			}
		}
	}
	a.inflight = slices.Delete(a.inflight, from, i+1)
}

// accept records that the client holds a version of a route; "" is none.
// mu is held.
func (a *routeAcks) accept(name, hash string) {
	if hash == "" {
		delete(a.held, name)
		return
	}
	if a.held == nil {
		a.held = map[string]routeStanding{}
	}
	a.held[name] = routeStanding{accepted: hash}
}

// reject records that the client rejected a version of a route and kept
// what it held. mu is held.
func (a *routeAcks) reject(r routeVersion, message string) {
	if a.held == nil {
		a.held = map[string]routeStanding{}
	}
	st := a.held[r.name]
	st.rejected, st.rejectedHash, st.message = true, r.hash, message
	a.held[r.name] = st
}

// declared records the version a reconnecting delta client declares it
// holds, when it is the one in force: nothing is sent, so no ACK comes.
func (a *routeAcks) declared(name, hash string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accept(name, hash)
}

// forget drops what is known of a route the stream no longer subscribes
// to, including in the responses not answered yet: the client forgets it
// too, and is sent it again if it subscribes again.
func (a *routeAcks) forget(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, name)
	for i := range a.inflight {
		a.inflight[i].routes = slices.DeleteFunc(a.inflight[i].routes, func(r routeVersion) bool { return r.name == name })
	}
}

// retain forgets every route but those keep reports.
func (a *routeAcks) retain(keep func(name string) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name := range a.held {
		if !keep(name) {
			delete(a.held, name)
		}
	}
	for i := range a.inflight {
		a.inflight[i].routes = slices.DeleteFunc(a.inflight[i].routes, func(r routeVersion) bool { return !keep(r.name) })
	}
}

// reset forgets everything: a new state-of-the-world subscription starts
// from nothing.
func (a *routeAcks) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight, a.held = nil, nil
}

// standing returns where the client stands with the version of a route
// whose content hash is hash ("" for none in force), and the client's
// message if it rejected it.
func (a *routeAcks) standing(name, hash string) (SyncState, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.held[name]
	switch {
	case st.rejected && st.rejectedHash == hash:
		return StateRejected, st.message
	case st.accepted == hash:
		return StateSynced, ""
	default:
		return StatePending, ""
	}
}
