// Package echo runs real gRPC backends that answer with their instance id.
//
// A Backend serves the interop TestService from grpc-go, whose UnaryCall
// returns the backend's id as ServerId, plus the standard health service so
// that Consul GRPC checks can probe it and the health can be flipped at will.
// Demos and end-to-end tests use it to see where each RPC lands.
package echo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// ServiceName is the fully qualified name of the gRPC service a Backend
// serves; its health status is set alongside the overall ("") status.
const ServiceName = "grpc.testing.TestService"

// Backend is one running echo server. Its fields are set by Start and must
// not be changed.
type Backend struct {
	// ID is the instance id that every UnaryCall answers with.
	ID string
	// Addr is the address the server listens on, as host:port.
	Addr string
	// Port is the TCP port of Addr.
	Port int

	server   *grpc.Server
	health   *health.Server
	service  *testService
	done     chan struct{}
	stopOnce sync.Once
}

// Start listens on addr (for example "127.0.0.1:0") and serves the
// TestService and the health service, both reporting SERVING, until Stop.
func Start(addr, id string) (*Backend, error) {
	if id == "" {
		return nil, errors.New("echo: empty backend id")
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo: listen on %s: %w", addr, err)
	}
	tcpAddr, ok := lis.Addr().(*net.TCPAddr)
	if !ok {
		_ = lis.Close()
		return nil, fmt.Errorf("echo: listener address %v is not TCP", lis.Addr())
	}
	b := &Backend{
		ID:      id,
		Addr:    tcpAddr.String(),
		Port:    tcpAddr.Port,
		server:  grpc.NewServer(),
		health:  health.NewServer(),
		service: &testService{id: id},
		done:    make(chan struct{}),
	}
	testgrpc.RegisterTestServiceServer(b.server, b.service)
	healthpb.RegisterHealthServer(b.server, b.health)
	// Reflection lets grpcurl call the backend (directly or through Envoy)
	// without the proto files at hand.
	reflection.Register(b.server)
	b.SetServing(true)
	go func() {
		defer close(b.done)
		// Serve returns nil after Stop; any other error means the listener
		// broke, and the backend then simply stops answering, which is
		// exactly what its health check will report.
		_ = b.server.Serve(lis)
	}()
	return b, nil
}

// SetServing flips the health status reported for the whole server and for
// the TestService, so that a Consul GRPC check passes or fails.
func (b *Backend) SetServing(serving bool) {
	status := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		status = healthpb.HealthCheckResponse_SERVING
	}
	b.health.SetServingStatus("", status)
	b.health.SetServingStatus(ServiceName, status)
}

// Stop stops the server at once, closing open connections, and waits for
// the serving goroutine to end. It is safe to call more than once.
func (b *Backend) Stop() {
	b.stopOnce.Do(func() {
		b.health.Shutdown()
		b.server.Stop()
		<-b.done
	})
}

// testService answers UnaryCall with the backend's id, or fails it as
// its failures say.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	id       string
	failures failures
}

// UnaryCall returns the backend id as both ServerId and Hostname, unless
// the call is one of those the failure rate fails.
func (s *testService) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if s.failures.next() {
		return nil, status.Errorf(codes.Unavailable, "echo: backend %s fails this call (failure rate)", s.id)
	}
	return &testgrpc.SimpleResponse{ServerId: s.id, Hostname: s.id}, nil
}
