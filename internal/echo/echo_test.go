package echo_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/switchyard/switchyard/internal/echo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startBackend(t *testing.T, id string) *echo.Backend {
	t.Helper()
	b, err := echo.Start("127.0.0.1:0", id)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(b.Stop)
	return b
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func TestBackendsAnswerWithTheirID(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, id := range []string{"echo-1", "echo-2"} {
		b := startBackend(t, id)
		if b.Port == 0 || b.Addr == "" {
			t.Fatalf("%s: empty address %q port %d", id, b.Addr, b.Port)
		}
		cc := dial(t, b.Addr)
		got, err := echo.Call(ctx, cc)
		if err != nil {
			t.Fatalf("call %s: %v", id, err)
		}
		if got != id {
			t.Errorf("call %s answered %q", id, got)
		}
		counts, failed, err := echo.Spread(ctx, cc, 10)
		if err != nil || failed != 0 || counts[id] != 10 || len(counts) != 1 {
			t.Errorf("spread %s = %v, %d failed, %v; want all 10 on %s", id, counts, failed, err, id)
		}
	}
}

func TestSetServingFlipsHealth(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b := startBackend(t, "echo-1")
	hc := healthpb.NewHealthClient(dial(t, b.Addr))

	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("health check %q: %v", service, err)
		}
		return resp.GetStatus()
	}
	for _, svc := range []string{"", echo.ServiceName} {
		if got := check(svc); got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("initial status of %q = %v, want SERVING", svc, got)
		}
	}
	b.SetServing(false)
	for _, svc := range []string{"", echo.ServiceName} {
		if got := check(svc); got != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("status of %q after SetServing(false) = %v, want NOT_SERVING", svc, got)
		}
	}
	b.SetServing(true)
	if got := check(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status after SetServing(true) = %v, want SERVING", got)
	}
}

func TestStopIsIdempotent(t *testing.T) {
	b := startBackend(t, "echo-1")
	b.Stop()
	b.Stop()
}

func TestStartRejectsEmptyID(t *testing.T) {
	if b, err := echo.Start("127.0.0.1:0", ""); err == nil {
		b.Stop()
		t.Fatal("Start with empty id succeeded")
	}
}
