package xds

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// HTTP/2 frame types and the error code the ping tests read (RFC 9113).
const (
	frameSettings       = 0x4
	framePing           = 0x6
	frameGoAway         = 0x7
	errEnhanceYourCalm  = 0xb
	http2ClientPreface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	http2FrameHeaderLen = 9
)

// writeFrame writes one HTTP/2 frame on stream 0.
func writeFrame(w io.Writer, typ byte, payload []byte) error {
	hdr := make([]byte, http2FrameHeaderLen, http2FrameHeaderLen+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3] = typ
	_, err := w.Write(append(hdr, payload...))
	return err
}

// goAway is a GOAWAY frame a server sent.
type goAway struct {
	code  uint32
	debug string
}

// readGoAway reads frames until a GOAWAY, the end of the connection or
// the deadline, and returns the GOAWAY (nil without one) and how the
// reading ended.
func readGoAway(conn net.Conn, deadline time.Time) (*goAway, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	hdr := make([]byte, http2FrameHeaderLen)
	for range 1000 {
		if _, err := io.ReadFull(conn, hdr); err != nil {
			return nil, err
		}
		payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(conn, payload); err != nil {
			return nil, err
		}
		if hdr[3] == frameGoAway && len(payload) >= 8 {
			return &goAway{code: binary.BigEndian.Uint32(payload[4:8]), debug: string(payload[8:])}, nil
		}
	}
	return nil, errors.New("no GOAWAY in 1000 frames")
}

// TestPingsMoreOftenThanAllowedCloseTheConnection pings a server whose
// MinPingInterval is 1s from a raw HTTP/2 client (gRPC's own clients
// refuse to ping more often than every 10s): pinging every 100ms earns a
// GOAWAY with ENHANCE_YOUR_CALM ("too_many_pings") and a closed
// connection; pinging less often than allowed keeps it.
func TestPingsMoreOftenThanAllowedCloseTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		pings    int
		closed   bool
	}{
		{name: "every 100ms", interval: 100 * time.Millisecond, pings: 10, closed: true},
		{name: "every 1.2s", interval: 1200 * time.Millisecond, pings: 3, closed: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServerWith(t, Config{ShutdownGrace: time.Second, MinPingInterval: time.Second})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, http2ClientPreface); err != nil {
				t.Fatal(err)
			}
			if err := writeFrame(conn, frameSettings, nil); err != nil {
				t.Fatal(err)
			}
			got := make(chan *goAway, 1)
			readErr := make(chan error, 1)
			end := time.Now().Add(time.Duration(tc.pings)*tc.interval + 500*time.Millisecond)
			go func() {
				ga, err := readGoAway(conn, end)
				got <- ga
				readErr <- err
			}()
			// The pace of the pings is what is tested.
			tick := time.NewTicker(tc.interval)
			defer tick.Stop()
			for i := range tc.pings {
				if i > 0 {
					<-tick.C
				}
				if err := writeFrame(conn, framePing, make([]byte, 8)); err != nil {
					break // the server closed the connection
				}
			}
			ga, err := <-got, <-readErr
			if !tc.closed {
				if ga != nil {
					t.Fatalf("GOAWAY %+v for pings every %s, want none", *ga, tc.interval)
				}
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("connection ended with %v, want it open until the read deadline", err)
				}
				return
			}
			if ga == nil {
				t.Fatalf("no GOAWAY for pings every %s (read ended with %v)", tc.interval, err)
			}
			if ga.code != errEnhanceYourCalm || ga.debug != "too_many_pings" {
				t.Fatalf("GOAWAY code %#x debug %q, want ENHANCE_YOUR_CALM too_many_pings", ga.code, ga.debug)
			}
			if _, err := readGoAway(conn, time.Now().Add(5*time.Second)); !errors.Is(err, io.EOF) {
				t.Fatalf("after the GOAWAY the connection read %v, want EOF", err)
			}
		})
	}
}

// countingListener counts the connections it accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

// Accept accepts and counts a connection.
func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// serveOn serves srv on lis until the test ends, and returns a function
// that stops it and waits for Serve.
func serveOn(t *testing.T, srv *Server, lis net.Listener) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return stop
}

// dialServer opens a gRPC connection that ends with the test.
func dialServer(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// openCDS opens a state-of-the-world ADS stream and asks for clusters;
// extra resource names make the request as large as a test needs.
func openCDS(ctx context.Context, cc *grpc.ClientConn, id string, names ...string) (grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse], error) {
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	req := &discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: envoyNode(id), ResourceNames: names}
	// A stream the server already ended (a refused one) fails Send with
	// io.EOF; its status comes from Recv, as gRPC documents.
	if err := st.Send(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return st, nil
}

// TestMaxConnectionAgeReconnects serves with a short connection age: the
// first connection is closed after it (and its grace), ending its stream,
// and the client reconnects and is served again.
func TestMaxConnectionAgeReconnects(t *testing.T) {
	srv := New(Config{ShutdownGrace: time.Second, MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond})
	if err := srv.Apply(KindEnvoy, benchWorld(1)); err != nil {
		t.Fatal(err)
	}
	inner, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	serveOn(t, srv, lis)
	cc := dialServer(t, lis.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := openCDS(ctx, cc, "aged")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("first response: %v", err)
	}
	_, err = st.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("stream on an aged connection ended with %v, want Unavailable", err)
	}
	again, err := openCDS(ctx, cc, "aged")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Recv(); err != nil {
		t.Fatalf("first response after reconnecting: %v", err)
	}
	if n := lis.accepted.Load(); n < 2 {
		t.Fatalf("%d connections accepted, want a reconnection", n)
	}
}

// TestMaxMsgSize sends requests under and over the server's MaxMsgSize:
// the one over it is refused with ResourceExhausted.
func TestMaxMsgSize(t *testing.T) {
	const limit = 64 << 10
	srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, MaxMsgSize: limit})
	if err := srv.Apply(KindEnvoy, benchWorld(1)); err != nil {
		t.Fatal(err)
	}
	cc := dialServer(t, addr)
	for _, tc := range []struct {
		name  string
		bytes int
		want  codes.Code
	}{
		{name: "under the limit", bytes: limit / 2, want: codes.OK},
		{name: "over the limit", bytes: 2 * limit, want: codes.ResourceExhausted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			names := []string{"service-00000", strings.Repeat("x", tc.bytes)}
			st, err := openCDS(ctx, cc, "big", names...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Recv(); status.Code(err) != tc.want {
				t.Fatalf("Recv() = %v, want code %s", err, tc.want)
			}
		})
	}
}

// TestNewStreamRate opens 200 streams at once against a rate of 50 new
// streams a second (a burst of 50): every stream is served, a burst's
// worth at once, and the rest no faster than the rate allows.
func TestNewStreamRate(t *testing.T) {
	const (
		streams   = 200
		perSecond = 50
	)
	reg := prometheus.NewRegistry()
	srv, addr := startServerWith(t, Config{
		ShutdownGrace: time.Second, Registerer: reg, MaxConcurrentSyncs: streams,
		MaxNewStreamsPerSecond: perSecond, NewStreamWait: 20 * time.Second,
	})
	if err := srv.Apply(KindEnvoy, benchWorld(1)); err != nil {
		t.Fatal(err)
	}
	cc := dialServer(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	took := make([]time.Duration, streams)
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			st, err := openCDS(ctx, cc, "storm")
			if err == nil {
				_, err = st.Recv()
			}
			took[i], errs[i] = time.Since(start), err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("not every stream was served: %v", err)
	}
	slices.Sort(took)
	// The other 150 cannot be admitted in less than 150/50 = 3s; allow
	// for the tokens that came back while the streams were being opened.
	if least := time.Duration(streams-perSecond) * time.Second / perSecond; took[streams-1] < least-500*time.Millisecond {
		t.Errorf("all %d streams were served within %s, faster than %d a second allows", streams, took[streams-1], perSecond)
	}
	// The first ones are not delayed: the throttle admitted at least a
	// burst's worth at once (more if the streams took long to open and
	// tokens came back meanwhile).
	delayed := testutil.ToFloat64(srv.throttle.throttled.WithLabelValues("delayed"))
	refused := testutil.ToFloat64(srv.throttle.throttled.WithLabelValues("refused"))
	if delayed > streams-perSecond || refused != 0 {
		t.Errorf("throttled: %v delayed, %v refused; want at most %d delayed and none refused", delayed, refused, streams-perSecond)
	}
	t.Logf("200 streams: first %s, median %s, last %s; %v delayed", took[0], took[streams/2], took[streams-1], delayed)
}

// TestNewStreamRateRefusesPastTheWait gives streams over the rate no time
// to wait: they are refused with Unavailable, which clients retry.
func TestNewStreamRateRefusesPastTheWait(t *testing.T) {
	srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, MaxNewStreamsPerSecond: 1, NewStreamWait: time.Millisecond})
	if err := srv.Apply(KindEnvoy, benchWorld(1)); err != nil {
		t.Fatal(err)
	}
	cc := dialServer(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, want := range []codes.Code{codes.OK, codes.Unavailable} {
		st, err := openCDS(ctx, cc, "refused")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); status.Code(err) != want {
			t.Fatalf("stream %d: Recv() = %v, want code %s", i, err, want)
		}
	}
}

// TestShutdownEndsStreamsWithinGrace stops a server with open streams,
// one of them from a client that stopped reading: every stream ends and
// Serve returns within the grace.
func TestShutdownEndsStreamsWithinGrace(t *testing.T) {
	const grace = 2 * time.Second
	srv := New(Config{ShutdownGrace: grace})
	if err := srv.Apply(KindEnvoy, benchWorld(1000)); err != nil {
		t.Fatal(err)
	}
	lis, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	stop := serveOn(t, srv, lis)
	stallClient(t, lis.Addr().String())
	cc := dialServer(t, lis.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ended := make(chan error, 5)
	for range cap(ended) {
		st, err := openCDS(ctx, cc, "reading")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				if _, err := st.Recv(); err != nil {
					ended <- err
					return
				}
			}
		}()
	}
	waitFor(t, func() bool { return testutil.ToFloat64(srv.metrics.streams) == float64(cap(ended)+1) })
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if took := time.Since(began); took > grace+2*time.Second {
		t.Fatalf("Serve returned %s after shutdown began, want within the %s grace", took, grace)
	}
	for range cap(ended) {
		select {
		case err := <-ended:
			if status.Code(err) == codes.OK {
				t.Errorf("stream ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a stream was still open after Serve returned")
		}
	}
}
