package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
)

// selfPath is the agent endpoint the datacenter is read from.
const selfPath = "/v1/agent/self"

// ConsulSource watches one Consul datacenter and sends a complete Model each
// time what it reports changes. It never sends a model before the first full
// load, and never turns a failing Consul into an empty one: while queries fail
// the last model stays the latest.
type ConsulSource struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	status  statusTracker
	models  chan Model
	started atomic.Bool
}

// NewConsulSource checks cfg, fills its defaults and registers the metrics.
// Nothing talks to Consul until Run.
func NewConsulSource(cfg Config) (*ConsulSource, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, cfg.Conns)
	if err != nil {
		return nil, err
	}
	return &ConsulSource{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "discovery"),
		metrics: m,
		models:  make(chan Model, 1),
	}, nil
}

// Models returns the channel models are sent on. It holds at most one: a new
// model replaces one the consumer has not read yet (and hands on its
// Changed names), so the consumer always gets the latest and never slows
// the source down. A consumer may keep a model, but must not change it:
// models share the slices and maps of the services that did not change
// between them, the config entries until one changes and the fleet inputs
// until a key changes. The channel is never closed.
func (s *ConsulSource) Models() <-chan Model {
	return s.models
}

// Status returns the source's current status. It is safe to call at any
// time from any goroutine.
func (s *ConsulSource) Status() Status {
	return s.status.get()
}

// Run watches Consul until ctx is done, when it returns nil, or until Consul
// refuses a query for lack of permission before the first complete model,
// when it returns an error wrapping a *PermissionError (check with
// errors.As). Every other failure, and a refusal after the first model, is
// retried for as long as ctx lasts. Run may be called once.
func (s *ConsulSource) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("discovery: ConsulSource.Run called twice")
	}
	dc, err := s.datacenter(ctx)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	s.log.InfoContext(ctx, "watching consul", "datacenter", dc)
	return newWatchSet(s, dc).run(ctx)
}

// datacenter returns Config.Datacenter, or else asks the agent for its own,
// retrying failures with backoff until ctx is done (then it returns "", nil).
func (s *ConsulSource) datacenter(ctx context.Context) (string, error) {
	if s.cfg.Datacenter != "" {
		return s.cfg.Datacenter, nil
	}
	for failures := 1; ctx.Err() == nil; failures++ {
		var self struct{ Config struct{ Datacenter string } }
		_, err := s.cfg.Client.Raw().Query(selfPath, &self, (&api.QueryOptions{}).WithContext(ctx))
		if err == nil && self.Config.Datacenter != "" {
			s.status.succeeded(selfPath, time.Now())
			return self.Config.Datacenter, nil
		}
		if err == nil {
			err = errors.New("agent reported no datacenter")
		}
		if ctx.Err() != nil {
			break
		}
		if perr := asPermissionError(selfPath, err); perr != nil {
			s.status.failed(selfPath, perr, time.Now())
			return "", fmt.Errorf("read the agent's datacenter (a token without agent:read needs the datacenter set explicitly): %w", perr)
		}
		delay := backoff(failures, s.cfg.MinBackoff, s.cfg.MaxBackoff)
		s.status.failed(selfPath, err, time.Now())
		s.log.WarnContext(ctx, "consul query failed", "path", selfPath, "error", err, "retry_in", delay)
		sleepCtx(ctx, delay)
	}
	return "", nil
}

// querySucceeded records an answered query.
func (s *ConsulSource) querySucceeded(endpoint, path string, meta *api.QueryMeta, took time.Duration) {
	now := time.Now()
	s.metrics.queryTime.WithLabelValues(endpoint).Observe(took.Seconds())
	s.status.succeeded(path, now)
	s.metrics.requests.WithLabelValues(endpoint, "ok").Inc()
	s.metrics.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	if meta != nil && meta.ResultsFilteredByACLs {
		// The answer is what the token may see, not everything there is.
		s.metrics.aclFiltered.Inc()
		s.log.Warn("consul filtered results by ACLs; the token cannot see every service or instance", "path", path)
	}
}

// watchStopped forgets the failure of a watch that stopped.
func (s *ConsulSource) watchStopped(path string) {
	s.status.forget(path)
}

// loaded reports whether the first complete model has been sent.
func (s *ConsulSource) loaded() bool {
	return s.status.get().Ready
}

// queryFailed records a failed query that is retried after retryIn, or not
// at all when retryIn is zero. A query failing again and again is logged
// at its 1st, 2nd, 4th, 8th… failure in a row, so that an outage with many
// watches does not flood the log; status and metrics count every one.
func (s *ConsulSource) queryFailed(endpoint, path string, err error, retryIn time.Duration, failures int) {
	s.status.failed(path, err, time.Now())
	s.metrics.requests.WithLabelValues(endpoint, "error").Inc()
	if retryIn == 0 {
		s.log.Error("consul refused query; not retrying", "path", path, "error", err)
		return
	}
	level := slog.LevelWarn
	if failures&(failures-1) != 0 {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "consul query failed; keeping the last known state",
		"path", path, "error", err, "retry_in", retryIn, "failures_in_a_row", failures)
}

// publish sends m, replacing a model the consumer has not read yet; m then
// also names the services the replaced one changed, so that the consumer
// misses no change. Status is updated first, so a consumer that got m sees
// a status that counts it.
func (s *ConsulSource) publish(m Model) {
	s.status.published(m)
	select {
	case old := <-s.models:
		m = Coalesce(old, m)
	default:
	}
	// This goroutine is the only sender and the channel was just emptied,
	// so the send cannot block.
	s.models <- m
}
