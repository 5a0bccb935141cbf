package xds

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Defaults of the limits in Config.
const (
	// DefaultMaxMsgSize is four times gRPC's own 4 MiB receive limit: a
	// state-of-the-world response of every cluster or endpoint of a large
	// catalog outgrows 4 MiB well before the catalog is unusual.
	DefaultMaxMsgSize = 16 << 20
	// DefaultMaxNewStreamsPerSecond lets a fleet of a few thousand
	// proxies reconnect to a restarted replica within seconds without the
	// reconnect storm starving the streams that already run.
	DefaultMaxNewStreamsPerSecond = 200
	// DefaultNewStreamWait is the longest a stream over the rate waits
	// for its turn before it is refused with codes.Unavailable.
	DefaultNewStreamWait = 10 * time.Second
	// DefaultMaxConnectionAgeGrace is how long the streams of a
	// connection past its age may run on before the connection is closed.
	DefaultMaxConnectionAgeGrace = time.Minute
)

// limitOptions are the gRPC server options that bound what clients may
// use: streams per connection, message sizes, keepalive and its
// enforcement, connection age and the rate of new streams.
func (s *Server) limitOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(s.cfg.MaxConcurrentStreams),
		grpc.MaxRecvMsgSize(s.cfg.MaxMsgSize),
		grpc.MaxSendMsgSize(s.cfg.MaxMsgSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  s.cfg.KeepaliveTime,
			Timeout:               s.cfg.KeepaliveTimeout,
			MaxConnectionAge:      s.cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: s.cfg.MaxConnectionAgeGrace,
		}),
		// A client pinging more often than MinPingInterval gets a GOAWAY
		// (ENHANCE_YOUR_CALM, "too_many_pings") and loses its connection.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             s.cfg.MinPingInterval,
			PermitWithoutStream: true,
		}),
		grpc.ChainStreamInterceptor(s.throttle.intercept),
	}
}

// streamThrottle admits new streams at a bounded rate (a token bucket
// holding one second's worth), so that a reconnect storm after a restart
// is spread out instead of competing with the running streams for the
// CPU. A stream over the rate waits its turn, up to a bound; past it, it
// is refused with codes.Unavailable and its client retries with backoff.
type streamThrottle struct {
	limiter *rate.Limiter
	wait    time.Duration
	// throttled counts the streams that waited ("delayed") or were
	// refused ("refused").
	throttled *prometheus.CounterVec
}

// newStreamThrottle builds the throttle of cfg and registers its metric
// if reg is not nil.
func newStreamThrottle(cfg Config, reg prometheus.Registerer) *streamThrottle {
	burst := int(math.Ceil(cfg.MaxNewStreamsPerSecond))
	t := &streamThrottle{
		limiter: rate.NewLimiter(rate.Limit(cfg.MaxNewStreamsPerSecond), max(burst, 1)),
		wait:    cfg.NewStreamWait,
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_streams_throttled_total",
			Help: "New xDS streams over --max-new-streams-per-second, by result: delayed (served after waiting their turn) or refused (Unavailable after the longest wait).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(t.throttled)
	}
	return t
}

// intercept admits one stream: at once while the bucket holds a token,
// after its turn while that comes within the wait bound, else never.
func (t *streamThrottle) intercept(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := t.admit(ss.Context()); err != nil {
		return err
	}
	return handler(srv, ss)
}

// admit waits for the stream's turn.
func (t *streamThrottle) admit(ctx context.Context) error {
	r := t.limiter.Reserve()
	delay := r.Delay()
	if delay == 0 {
		return nil
	}
	if delay > t.wait {
		r.Cancel()
		t.throttled.WithLabelValues("refused").Inc()
		return status.Errorf(codes.Unavailable, "too many new streams: over %g per second; retry with backoff", float64(t.limiter.Limit()))
	}
	t.throttled.WithLabelValues("delayed").Inc()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return status.FromContextError(ctx.Err()).Err()
	}
}
