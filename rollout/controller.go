package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTick is how often the leading controller looks at the rollouts.
const DefaultTick = time.Second

// Actor is the actor of the controller's history events, or, followed by
// "@" and the replica's id, their prefix: see ControllerActor.
const Actor = "controller"

// ControllerActor is the actor of the history events of the controller of
// the replica replicaID ("controller@switchyard-web-1-9901"), Actor for
// a replica without an id.
func ControllerActor(replicaID string) string {
	if replicaID == "" {
		return Actor
	}
	return Actor + "@" + replicaID
}

// ByController reports whether a history event's actor is a controller.
func ByController(actor string) bool {
	return actor == Actor || strings.HasPrefix(actor, Actor+"@")
}

// ControllerConfig is what a Controller is built from.
type ControllerConfig struct {
	Client *api.Client
	// Tick is how often the leader looks at every rollout; DefaultTick
	// when zero.
	Tick time.Duration
	// Logger defaults to slog.Default.
	Logger *slog.Logger
	// Registerer receives the controller's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ReplicaID names this replica in the leader lock's value, which
	// Leader reads; the host name and process id when empty.
	ReplicaID string
	// LockTTL is the TTL of the leader lock's Consul session, between
	// MinLockTTL and MaxLockTTL; DefaultLockTTL when zero. Consul frees
	// the lock of a replica that vanished up to twice that after its last
	// renewal.
	LockTTL time.Duration
	// Fleet is the view of the proxies the --require-ack and
	// --max-error-rate gates need; without one, a rollout that asks for
	// either gate does not move.
	Fleet Fleet
}

// Controller drives running rollouts step by step while this replica holds
// the leader lock (see Run).
type Controller struct {
	client *api.Client
	store  *Store
	tick   time.Duration
	log    *slog.Logger
	now    func() time.Time
	aborts *prometheus.CounterVec
	errs   *prometheus.CounterVec
	hooks  *webhooks
	elect  *election
	fleet  Fleet
	// actor is ControllerActor of this replica.
	actor string
	// baselines are, by service, the canary's load when the controller
	// first looked at the current step; only the goroutine that ticks
	// uses them.
	baselines map[string]loadBaseline
}

// NewController builds a Controller and registers its metrics.
func NewController(cfg ControllerConfig) (*Controller, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("rollout controller: no Consul client")
	}
	elect, err := newElection(cfg.Client, cfg.ReplicaID, cfg.LockTTL)
	if err != nil {
		return nil, fmt.Errorf("rollout controller: %w", err)
	}
	c := &Controller{
		client: cfg.Client, store: NewStore(cfg.Client), tick: cfg.Tick, log: cfg.Logger, now: cfg.Now,
		hooks: newWebhooks(), elect: elect, fleet: cfg.Fleet, baselines: map[string]loadBaseline{},
		actor: ControllerActor(cfg.ReplicaID),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_rollout_aborts_total",
			Help: "Rollouts the controller aborted because a gate failed, by service.",
		}, []string{"service"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_rollout_errors_total",
			Help: "Ticks on which the controller could not judge or move a rollout (retried on the next tick), by service.",
		}, []string{"service"}),
	}
	if c.tick <= 0 {
		c.tick = DefaultTick
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "rollout")
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.Registerer != nil {
		for _, m := range []prometheus.Collector{c.aborts, c.errs, c.elect.leading} {
			if err := cfg.Registerer.Register(m); err != nil {
				return nil, fmt.Errorf("register rollout metrics: %w", err)
			}
		}
	}
	return c, nil
}

// Run takes the leader lock, drives the rollouts while it holds it, and
// tries again when it loses it, until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	return c.elect.run(ctx, c.log, c.drive)
}

// drive runs the ticks until ctx is done or lost is closed.
func (c *Controller) drive(ctx context.Context, lost <-chan struct{}) {
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		c.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-lost:
			return
		case <-t.C:
		}
	}
}

// Tick looks once at every running rollout and moves each as Decide says.
// Errors are logged and counted; the next tick tries again. Ticks must not
// run concurrently.
func (c *Controller) Tick(ctx context.Context) {
	states, err := c.store.List(ctx)
	if err != nil {
		c.fail(ctx, "", "list rollouts", err)
		return
	}
	running := map[string]bool{}
	for _, st := range states {
		if st.Phase != PhaseRunning {
			continue
		}
		running[st.Spec.Service] = true
		if err := c.step(ctx, st.Spec.Service); err != nil {
			c.fail(ctx, st.Spec.Service, "drive rollout", err)
		}
	}
	c.forgetBaselines(running)
}

// fail logs and counts an error of a tick, unless ctx ended it; a lost
// check-and-set is routine and logs at debug.
func (c *Controller) fail(ctx context.Context, service, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	if errors.Is(err, ErrConflict) {
		c.log.Debug(what+": retrying next tick", "service", service, "error", err)
		return
	}
	c.errs.WithLabelValues(service).Inc()
	c.log.Warn(what+": retrying next tick", "service", service, "error", err)
}

// step reads one rollout and the world around it afresh and acts on the
// decision.
func (c *Controller) step(ctx context.Context, service string) error {
	st, index, err := c.store.Get(ctx, service)
	if err != nil || st.Phase != PhaseRunning {
		return err
	}
	sp, spIndex, err := ReadSplitter(ctx, c.client, service)
	if err != nil {
		return err
	}
	passing, total, err := c.canaryHealth(ctx, st.Spec)
	if err != nil {
		return err
	}
	obs := Observation{Splitter: SplitterPercent(st.Spec, sp), Passing: passing, Total: total, Webhook: c.hooks.check(ctx, st)}
	if err := c.observeFleet(ctx, st, &obs); err != nil {
		return err
	}
	obs.Now = c.now()
	d := Decide(st, obs)
	if results := gateResults(st, obs); d.Verdict != Hold || gatesChanged(st, results, obs.Now) {
		st.Gates, st.GatesAt = results, obs.Now
		if d.Verdict == Hold {
			return c.store.Update(ctx, st, index)
		}
	}
	return c.apply(ctx, st, index, spIndex, d, obs.Now)
}

// canaryHealth counts the instances of spec's To subset and those passing,
// asking Consul's health endpoint with the subset's own filter.
func (c *Controller) canaryHealth(ctx context.Context, spec Spec) (passing, total int, err error) {
	r, _, err := c.client.ConfigEntries().Get(api.ServiceResolver, spec.Service, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, 0, fmt.Errorf("read the service-resolver of %s: %w", spec.Service, err)
	}
	resolver, ok := r.(*api.ServiceResolverConfigEntry)
	if !ok {
		return 0, 0, fmt.Errorf("read the service-resolver of %s: unexpected entry type %T", spec.Service, r)
	}
	subset, ok := resolver.Subsets[spec.To]
	if !ok {
		return 0, 0, fmt.Errorf("the service-resolver of %s no longer defines subset %q", spec.Service, spec.To)
	}
	q := (&api.QueryOptions{Filter: subset.Filter}).WithContext(ctx)
	entries, _, err := c.client.Health().Service(spec.Service, "", false, q)
	if err != nil {
		return 0, 0, fmt.Errorf("health of %s subset %s: %w", spec.Service, spec.To, err)
	}
	for _, e := range entries {
		if e.Checks.AggregatedStatus() == api.HealthPassing {
			passing++
		}
	}
	return passing, len(entries), nil
}
