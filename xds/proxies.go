package xds

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/peer"
)

// SyncState is where one proxy stands with one type, or overall.
type SyncState string

// The sync states, from best to worst. A response the client has not
// answered yet is PENDING until Config.StaleAfter has passed, then STALE.
const (
	StateSynced   SyncState = "SYNCED"
	StateNotSent  SyncState = "NOT SENT"
	StatePending  SyncState = "PENDING"
	StateStale    SyncState = "STALE"
	StateRejected SyncState = "REJECTED"
)

// rank orders states from best to worst, for a proxy's overall state.
func (s SyncState) rank() int {
	return slices.Index([]SyncState{StateSynced, StateNotSent, StatePending, StateStale, StateRejected}, s)
}

// Rejection is a version a client rejected, with its error message.
type Rejection struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
}

// TypeStatus is one proxy's state for one xDS type.
type TypeStatus struct {
	// Type is "CDS", "EDS", "LDS", "RDS" or "SDS"; SDS is left out of a
	// proxy that was never sent a secret.
	Type  string    `json:"type"`
	State SyncState `json:"state"`
	// Sent is the version of the last response sent, Accepted the last
	// version the client acknowledged.
	Sent       string    `json:"sent_version,omitempty"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	Accepted   string    `json:"accepted_version,omitempty"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// PendingSince is when the oldest response the client has not
	// answered was sent; zero when every response is answered.
	PendingSince time.Time `json:"pending_since,omitzero"`
	// Rejection is the last rejection since the last acknowledgement.
	Rejection  *Rejection `json:"rejection,omitempty"`
	Responses  uint64     `json:"responses"`
	Rejections uint64     `json:"rejections"`
}

// ProxyStatus is what the server knows of one connected client stream.
type ProxyStatus struct {
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
	Group   string `json:"group"`
	// Kind is "envoy" or "grpc".
	Kind             string    `json:"kind"`
	UserAgent        string    `json:"user_agent"`
	UserAgentVersion string    `json:"user_agent_version,omitempty"`
	Remote           string    `json:"remote"`
	ConnectedAt      time.Time `json:"connected_at"`
	// Protocol is "sotw" (state of the world) or "delta".
	Protocol string `json:"protocol"`
	// State is the worst of the types' states.
	State SyncState    `json:"state"`
	Types []TypeStatus `json:"types"`
}

// typeNames are the short names of the types, in typeID order.
var typeNames = [numTypes]string{"CDS", "EDS", "LDS", "RDS", "SDS"}

// proxyTrack records one stream's exchanges for Proxies. The stream's
// goroutine writes it; Proxies reads it; mu guards both.
type proxyTrack struct {
	mu          sync.Mutex
	info        ProxyStatus
	types       [numTypes]TypeStatus
	lastNonce   [numTypes]string
	connectedAt time.Time
	// since is when the oldest change the proxy has not acknowledged yet
	// was observed; converged is told how long it took once every
	// response is acknowledged.
	since     time.Time
	converged func(time.Duration)
}

// newProxyTrack starts tracking a stream from its context (for the
// client's address) and protocol.
func newProxyTrack(ctx context.Context, protocol string, converged func(time.Duration)) *proxyTrack {
	t := &proxyTrack{connectedAt: time.Now(), converged: converged}
	t.info.Protocol = protocol
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		t.info.Remote = p.Addr.String()
	}
	return t
}

// opened records the stream's node and group.
func (t *proxyTrack) opened(st *stream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := st.node
	t.info.ID, t.info.Cluster, t.info.Group = n.GetId(), n.GetCluster(), st.group.String()
	t.info.Kind, t.info.UserAgent = st.group.Kind.String(), n.GetUserAgentName()
	t.info.UserAgentVersion = n.GetUserAgentVersion()
	if bv := n.GetUserAgentBuildVersion(); t.info.UserAgentVersion == "" && bv != nil {
		v := bv.GetVersion()
		t.info.UserAgentVersion = formatSemver(v.GetMajorNumber(), v.GetMinorNumber(), v.GetPatch())
	}
}

// changeSeen records that a change observed at when is on its way to
// the proxy; the oldest such change times its convergence.
func (t *proxyTrack) changeSeen(when time.Time) {
	if t == nil || when.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.since.IsZero() {
		t.since = when
	}
}

// settle times convergence once no response is unanswered. mu is held.
func (t *proxyTrack) settle(now time.Time) {
	if t.since.IsZero() {
		return
	}
	for _, ts := range t.types {
		if !ts.PendingSince.IsZero() {
			return
		}
	}
	if t.converged != nil {
		t.converged(now.Sub(t.since))
	}
	t.since = time.Time{}
}

// sent records a response of a type; nonce identifies it for sotw.
func (t *proxyTrack) sent(typ typeID, version, nonce string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := &t.types[typ]
	ts.Sent, ts.SentAt = version, now
	ts.Responses++
	if ts.PendingSince.IsZero() {
		ts.PendingSince = now
	}
	t.lastNonce[typ] = nonce
}

// acked records that the client accepted version; pending tells whether
// responses of the type are still unanswered.
func (t *proxyTrack) acked(typ typeID, version string, pending bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := &t.types[typ]
	ts.Accepted, ts.AcceptedAt, ts.Rejection = version, now, nil
	if !pending {
		ts.PendingSince = time.Time{}
	}
	t.settle(now)
}

// rejected records that the client rejected version with message.
func (t *proxyTrack) rejected(typ typeID, version, message string, pending bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := &t.types[typ]
	ts.Rejection = &Rejection{Version: version, At: now, Error: message}
	ts.Rejections++
	if !pending {
		ts.PendingSince = time.Time{}
	}
	// A rejected change did not converge: nothing is timed.
	t.since = time.Time{}
}

// status returns the stream's status at now, with staleAfter as the
// longest a response may go unanswered before the type is STALE.
func (t *proxyTrack) status(now time.Time, staleAfter time.Duration) ProxyStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.info
	out.ConnectedAt = t.connectedAt
	out.State = StateSynced
	out.Types = make([]TypeStatus, 0, numTypes)
	sentAny := false
	for typ, ts := range t.types {
		if typeID(typ) == typeSecret && ts.Sent == "" {
			continue
		}
		ts.Type = typeNames[typ]
		ts.State = typeState(ts, now, staleAfter)
		sentAny = sentAny || ts.Sent != ""
		if ts.State != StateNotSent && ts.State.rank() > out.State.rank() {
			out.State = ts.State
		}
		if ts.Rejection != nil {
			r := *ts.Rejection
			ts.Rejection = &r
		}
		out.Types = append(out.Types, ts)
	}
	if !sentAny {
		out.State = StateNotSent
	}
	return out
}

// typeState is one type's state.
func typeState(ts TypeStatus, now time.Time, staleAfter time.Duration) SyncState {
	switch {
	case ts.Rejection != nil:
		return StateRejected
	case !ts.PendingSince.IsZero() && now.Sub(ts.PendingSince) > staleAfter:
		return StateStale
	case !ts.PendingSince.IsZero():
		return StatePending
	case ts.Sent == "":
		return StateNotSent
	default:
		return StateSynced
	}
}

// trackProxy registers a stream's track, once its node is known.
func (s *Server) trackProxy(st *stream) {
	if st.track == nil {
		return
	}
	st.track.opened(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proxies[st.track] = struct{}{}
}

// untrackProxy forgets a closed stream.
func (s *Server) untrackProxy(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.proxies, st.track)
}

// Proxies returns every connected stream's status, sorted by proxy id,
// then connection time.
func (s *Server) Proxies() []ProxyStatus {
	s.mu.Lock()
	tracks := make([]*proxyTrack, 0, len(s.proxies))
	for t := range s.proxies {
		tracks = append(tracks, t)
	}
	s.mu.Unlock()
	now := time.Now()
	out := make([]ProxyStatus, 0, len(tracks))
	for _, t := range tracks {
		out = append(out, t.status(now, s.cfg.StaleAfter))
	}
	slices.SortFunc(out, func(a, b ProxyStatus) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), a.ConnectedAt.Compare(b.ConnectedAt))
	})
	return out
}

// formatSemver prints a version as major.minor.patch.
func formatSemver(major, minor, patch uint32) string {
	return strconv.FormatUint(uint64(major), 10) + "." + strconv.FormatUint(uint64(minor), 10) + "." + strconv.FormatUint(uint64(patch), 10)
}
