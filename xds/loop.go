package xds

import (
	"context"
	"errors"
	"io"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errShutdown ends every stream when the server stops.
var errShutdown = status.Error(codes.Unavailable, "xds server shutting down")

// errMoved ends a stream whose node.cluster gained or lost a fleet profile:
// the client reconnects and is served by its new state (see fleets.go).
var errMoved = status.Error(codes.Unavailable, "the fleet profile of this node.cluster changed; reconnect")

// run serves one stream until the client ends it, its context ends or the
// server stops. Requests are received on their own goroutine and handled
// here, one at a time; after each request and each wake-up from
// publishing, flush sends whatever the stream is owed, a bulk sync only
// once the gate lets it.
func run[Req any](ctx context.Context, done <-chan struct{}, gate *syncGate, st *stream, recv func() (*Req, error), handle func(*Req) error, flush func() error) error {
	defer gate.leave(st, true)
	reqs := make(chan *Req)
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return errShutdown
		case err := <-errc:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case req := <-reqs:
			if err := handle(req); err != nil {
				return err
			}
		case <-st.wake:
		case <-st.moved:
			return errMoved
		}
		if !gate.enter(ctx, done, st) {
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		gate.leave(st, false)
	}
}

// open attaches a stream, on its first request, to its node, its group and
// the state of its kind of client. Envoy sends the node only on the first
// request of a stream.
func (s *Server) open(st *stream, node *corev3.Node) {
	if st.state != nil {
		return
	}
	if node == nil {
		node = &corev3.Node{}
	}
	st.node, st.group = node, GroupOf(node)
	s.addGroup(st.group)
	s.attach(st)
	s.trackProxy(st)
}

// closeStream detaches a stream from everything it subscribed to.
func (s *Server) closeStream(st *stream) {
	if st.state != nil {
		st.state.unregister(st)
		s.dropGroup(st.group)
	}
	s.untrackProxy(st)
	s.metrics.streams.Dec()
	s.log.Debug("stream closed", "stream", st.id, "node", st.node.GetId())
}

// requestType returns the type a request asks for: its type URL, or on a
// single-type stream that stream's type. A type Switchyard does not serve
// is not an error (ok is false): the client waits for it in vain, as from
// any server that does not have it.
func (s *Server) requestType(st *stream, typeURL, only string) (typeID, bool, error) {
	if typeURL == "" {
		typeURL = only
	}
	if only != "" && typeURL != only {
		return 0, false, status.Errorf(codes.InvalidArgument, "type %q requested on a %s stream", typeURL, only)
	}
	t, ok := typeOf(typeURL)
	if !ok {
		s.log.Debug("request for a type not served", "node", st.node.GetId(), "type", typeURL)
	}
	return t, ok, nil
}

// withoutWildcard returns names without "*", and whether "*" was among them.
func withoutWildcard(names []string) ([]string, bool) {
	out := make([]string, 0, len(names))
	star := false
	for _, n := range names {
		if n == "*" {
			star = true
			continue
		}
		out = append(out, n)
	}
	return out, star
}
