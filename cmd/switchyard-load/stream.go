package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// maxRecvBytes lifts gRPC's 4 MiB default: a state-of-the-world EDS
// response for thousands of services is larger.
const maxRecvBytes = 256 << 20

// streamConfig is what every simulated proxy shares.
type streamConfig struct {
	addr    string
	cluster string
	nodeID  func(i int) string
	// minClusters is how many clusters a stream must have received to
	// count as synced: the services the churn generator registered.
	minClusters int
	// noRoutes marks a target whose listeners use no RDS (Consul's default
	// discovery chain): a stream is then synced without route
	// configurations.
	noRoutes bool
	// claService maps an endpoint assignment's name to the service the
	// tracker knows; nil keeps the name (Switchyard names both alike).
	claService func(name string) string
	tracker    *tracker
	// stalls holds the streams stalled on purpose; nil when none ever are.
	stalls *stallSet
}

// streamState is what a simulated proxy reports to the fleet. Only its own
// goroutine writes the plain fields; the fleet reads the atomics.
type streamState struct {
	id        int
	bytes     atomic.Int64
	responses atomic.Int64
	// syncedAt is the Unix nanoseconds at which the stream first held
	// clusters, endpoints, listeners and routes; 0 before.
	syncedAt atomic.Int64

	clusters, endpoints, listeners, routes int
	edsWant, rdsWant                       int
}

// received counts one response of size bytes.
func (s *streamState) received(size int) {
	s.bytes.Add(int64(size))
	s.responses.Add(1)
}

// checkSynced marks the stream synced once it has every type, all the
// endpoint assignments and routes it asked for, and enough clusters.
func (s *streamState) checkSynced(cfg streamConfig, at time.Time) {
	if s.syncedAt.Load() != 0 {
		return
	}
	if s.clusters >= cfg.minClusters && s.clusters > 0 && s.edsWant > 0 && s.endpoints >= s.edsWant &&
		s.listeners > 0 && (s.rdsWant > 0 || cfg.noRoutes) && s.routes >= s.rdsWant {
		s.syncedAt.Store(at.UnixNano())
	}
}

// node is the node a simulated Envoy announces.
func node(cfg streamConfig, i int) *corev3.Node {
	return &corev3.Node{
		Id: cfg.nodeID(i), Cluster: cfg.cluster, UserAgentName: "envoy",
		UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.33.0"},
	}
}

// dial opens a connection of the stream's own.
func dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return conn, nil
}

// observeEndpoints reports a received endpoint assignment to the tracker
// while a change is in flight; otherwise it costs nothing.
func observeEndpoints(cfg streamConfig, id int, cla []byte, at time.Time) error {
	if !cfg.tracker.active() {
		return nil
	}
	name, err := nameField(cla, fieldCLAName)
	if err != nil {
		return err
	}
	if cfg.claService != nil {
		name = cfg.claService(name)
	}
	if !cfg.tracker.watching(name) {
		return nil
	}
	_, n, err := claEndpoints(cla)
	if err != nil {
		return err
	}
	cfg.tracker.observe(id, name, n, len(cla), at)
	return nil
}

// runStream is how the fleet runs one proxy of either protocol.
type runStream func(ctx context.Context, cfg streamConfig, st *streamState) error

// receiveAll hands every response of a stream to handle, stamped with its
// arrival time, until the stream or handle fails.
func receiveAll[R any](recv func() (R, error), handle func(R, time.Time) error) error {
	for {
		resp, err := recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if err := handle(resp, time.Now()); err != nil {
			return err
		}
	}
}

// sendFailure explains a failed Send: after io.EOF the server has ended the
// stream, and the reason (such as Unimplemented) comes from Recv.
func sendFailure[R any](err error, recv func() (R, error)) error {
	if errors.Is(err, io.EOF) {
		if _, recvErr := recv(); recvErr != nil {
			return recvErr
		}
	}
	return err
}
