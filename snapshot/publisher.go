package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/discovery"
)

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	Sink Sink
	// Translate holds the translation options; its Flavour is ignored
	// because the publisher builds every flavour.
	Translate Options
	// Quiet is how long a burst of model changes must pause before a
	// snapshot is built; MaxDelay bounds how long a busy burst can delay it.
	Quiet    time.Duration
	MaxDelay time.Duration
	Logger   *slog.Logger
	// Registerer registers the publisher's metrics; nil registers none.
	Registerer prometheus.Registerer
	// SettleDelay is how long gRPC clients get to build the clusters of a
	// target a route is about to send to before the route does (see
	// planner.warm); zero means DefaultSettleDelay.
	SettleDelay time.Duration
	// RemovalDelay is how long clusters and endpoint assignments removed
	// by an update that also changes other resources are kept, so that
	// clients take the routes that stop using them first (make before
	// break); zero means DefaultRemovalDelay.
	RemovalDelay time.Duration
	// DropGuard holds back models that take most of a service's endpoints
	// away at once (see dropGuard); the zero value holds nothing.
	DropGuard DropGuardConfig
	// CertDir, when set, is a directory of certificate bundles
	// (<name>.pem) that fleets may serve besides those in Consul KV; it
	// is read every CertDirInterval (zero means DefaultCertDirInterval).
	CertDir         string
	CertDirInterval time.Duration
}

// DefaultCertDirInterval is PublisherConfig.CertDirInterval's default.
const DefaultCertDirInterval = 5 * time.Second

// DefaultRemovalDelay is PublisherConfig.RemovalDelay's default.
const DefaultRemovalDelay = time.Second

// DefaultSettleDelay is PublisherConfig.SettleDelay's default.
const DefaultSettleDelay = 200 * time.Millisecond

// PublishStatus is what the publisher has in force.
type PublishStatus struct {
	// Ready is true once every flavour has been published once.
	Ready       bool
	Versions    map[Flavour]Versions
	LastPublish time.Time
	LastError   string
	LastErrorAt time.Time
	// Services holds, by name, every service whose L7 config entries are
	// rejected or partly expressed, or whose endpoints' drop is held;
	// services with nothing to report are left out.
	Services map[string]ServiceStatus
	// Fleets holds, by node.cluster, every fleet profile stored or in
	// force; Certs every certificate stored or in force, by name.
	Fleets map[string]FleetStatus
	Certs  map[string]CertStatus
}

// ServiceStatus is what the publisher reports of one service's config
// entries.
type ServiceStatus struct {
	// Rejected says why the service's entries cannot be applied (the
	// entry, the field and the reason); its last good routing stays in
	// force. It is empty when they apply.
	Rejected string `json:"rejected,omitempty"`
	// Downgrades lists, by flavour, each setting that flavour's clients
	// cannot take and how it was mapped or left out.
	Downgrades map[string][]string `json:"downgrades,omitempty"`
	// HeldDrop is the drop of the service's endpoints the drop guard
	// holds back, while it does: the endpoints in force keep serving.
	HeldDrop *HeldDrop `json:"held_drop,omitempty"`
}

// Publisher turns discovery models into validated, versioned updates: it
// coalesces bursts, builds every flavour, skips a build whose versions are
// already published, and on any error keeps the last good state in force.
// Each update carries only the resources that changed since the sink's
// last accepted one.
type Publisher struct {
	cfg     PublisherConfig
	log     *slog.Logger
	metrics *metrics
	// builders hold one memoizing builder per flavour; only the goroutine
	// that publishes touches them.
	builders map[Flavour]*memoBuilder
	// removals is set while some flavour holds back removals for a
	// follow-up publish, settle while one published a warming step;
	// last is the model published last.
	removals, settle bool
	last             discovery.Model
	// guard holds back mass drops of endpoints; last is the model before
	// it, so that a re-run (a follow-up, a hold's expiry) guards it again.
	guard *dropGuard
	// fleets are the fleet profiles in force and their builders;
	// haveModel is set once a model was published; certDirNote is the
	// last reported problem of the certificate directory.
	fleets      *fleetSet
	haveModel   bool
	certDirNote string

	mu     sync.Mutex
	status PublishStatus
	// view is the last model published whole and its plans, for Services.
	view struct {
		model discovery.Model
		plans planSet
	}
	// secretHashes are the content hashes of the good certificates'
	// secrets, by name, for FleetPreview.
	secretHashes map[string]string
}

// NewPublisher returns a publisher; Run starts it.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.Sink == nil {
		return nil, fmt.Errorf("publisher: sink is required")
	}
	if cfg.Quiet <= 0 || cfg.MaxDelay < cfg.Quiet {
		return nil, fmt.Errorf("publisher: need 0 < quiet (%s) <= max delay (%s)", cfg.Quiet, cfg.MaxDelay)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RemovalDelay <= 0 {
		cfg.RemovalDelay = DefaultRemovalDelay
	}
	if cfg.SettleDelay <= 0 {
		cfg.SettleDelay = DefaultSettleDelay
	}
	if cfg.CertDirInterval <= 0 {
		cfg.CertDirInterval = DefaultCertDirInterval
	}
	builders := make(map[Flavour]*memoBuilder, len(Flavours()))
	for _, f := range Flavours() {
		opts := cfg.Translate
		opts.Flavour = f
		builders[f] = newMemoBuilder(opts)
	}
	return &Publisher{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "snapshot"),
		metrics:  newMetrics(cfg.Registerer),
		builders: builders,
		guard:    newDropGuard(cfg.DropGuard),
		fleets:   newFleetSet(cfg.Translate),
		status:   PublishStatus{Versions: map[Flavour]Versions{}},
	}, nil
}

// Run consumes models until ctx is done or the channel closes, publishing the
// latest model of each burst.
func (p *Publisher) Run(ctx context.Context, models <-chan discovery.Model) error {
	d := newDebouncer(p.cfg.Quiet, p.cfg.MaxDelay)
	defer d.stop()
	followUp := time.NewTimer(time.Hour)
	followUp.Stop()
	defer followUp.Stop()
	// guardDue fires when the earliest held drop is due, so that it is
	// applied even if no model comes; armed is the time it is set for.
	guardDue := time.NewTimer(time.Hour)
	guardDue.Stop()
	defer guardDue.Stop()
	var armed time.Time
	var pending *discovery.Model
	certTick := p.startCertDir()
	defer certTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-certTick.C:
			if p.readCertDir() && pending == nil && p.haveModel {
				// A changed bundle carries no change discovery saw.
				m := p.last
				m.Observed = time.Time{}
				p.publishModel(m)
			}
		case <-followUp.C:
			if pending == nil {
				// A follow-up carries no change discovery saw.
				m := p.last
				m.Observed = time.Time{}
				p.publishModel(m)
			}
		case <-guardDue.C:
			// A pending model is published soon and guarded then; armed
			// stays, so the timer is not re-armed in the past meanwhile.
			if pending == nil {
				armed = time.Time{}
				m := p.last
				m.Observed = time.Time{}
				p.publishModel(m)
			}
		case m, ok := <-models:
			if !ok {
				return nil
			}
			if pending != nil {
				// The builders never see the pending model, so the
				// changes it reported must travel with the next one.
				m = discovery.Coalesce(*pending, m)
			}
			pending = &m
			d.event()
		case <-d.C():
			d.fired()
			if pending != nil {
				p.publishModel(*pending)
				pending = nil
			}
		}
		switch {
		case p.settle:
			p.settle = false
			followUp.Reset(p.cfg.SettleDelay)
		case p.removals:
			p.removals = false
			followUp.Reset(p.cfg.RemovalDelay)
		}
		if due := p.guard.next(); !due.Equal(armed) {
			armed = due
			guardDue.Stop()
			if !due.IsZero() {
				guardDue.Reset(time.Until(due))
			}
		}
	}
}

// publishModel builds and publishes every flavour of one model at once,
// without coalescing. Only Run's goroutine calls it, which keeps publishes in
// order.
func (p *Publisher) publishModel(raw discovery.Model) {
	p.last, p.haveModel = raw, true
	m, drops := p.guard.apply(raw, time.Now())
	p.recordDrops(drops)
	ok := true
	for _, f := range Flavours() {
		if err := p.publishFlavour(m, f); err != nil {
			ok = false
			p.metrics.failures.WithLabelValues(f.String()).Inc()
			p.recordError(err)
			p.log.Error("snapshot rejected; the last good snapshot stays in force", "flavour", f.String(), "error", err)
		}
	}
	if ok {
		p.mu.Lock()
		p.view.model, p.view.plans = m, p.builders[FlavourEnvoy].plans
		p.mu.Unlock()
	}
	// Ready waits for the fleets too, so that no proxy of a fleet with a
	// profile is served the default first.
	p.publishFleets(m)
	p.mu.Lock()
	p.status.Ready = len(p.status.Versions) == len(Flavours())
	p.mu.Unlock()
}

// publishFlavour builds one flavour and hands its changes to the sink
// unless its versions are the ones already in force. The flavour's builder
// gives what Translate and Build would, rebuilding only what the model
// changed, and keeps every change the sink has not accepted yet.
func (p *Publisher) publishFlavour(m discovery.Model, f Flavour) error {
	start := time.Now()
	builder := p.builders[f]
	settles := builder.plans.unsettled
	b, err := builder.rebuild(m)
	if err != nil {
		return err
	}
	v := b.versions
	p.metrics.buildTime.Observe(time.Since(start).Seconds())
	p.recordServices(f, builder)
	p.mu.Lock()
	current, published := p.status.Versions[f]
	p.mu.Unlock()
	if published && current == v {
		p.metrics.unchanged.WithLabelValues(f.String()).Inc()
		return nil
	}
	for _, w := range b.warnings {
		p.metrics.warnings.WithLabelValues(f.String()).Inc()
		p.log.Warn("model partly translated", "flavour", f.String(), "warning", w)
	}
	changes, held := builder.changes(), []Change(nil)
	if !builder.holding || settles {
		// Removals held once go with the next publish, whatever else it
		// carries, so that steady churn cannot hold them for ever; but
		// not with the routes a warming step led up to.
		changes, held = holdRemovals(changes)
	}
	if len(held) > 0 {
		v = v.unsettled()
	}
	if err := p.cfg.Sink.Publish(Update{Flavour: f, Versions: v, Changes: changes, Observed: m.Observed}); err != nil {
		return fmt.Errorf("publish %s: %w", f, err)
	}
	builder.accept(changes)
	p.settle = p.settle || builder.plans.unsettled
	builder.holding = len(held) > 0
	if len(held) > 0 {
		builder.hold(held)
		p.removals = true
	}
	p.recordPublish(f, v)
	p.log.Info("snapshot published", "flavour", f.String(),
		"clusters", b.clusters, "endpoints", b.endpoints, "changes", len(changes),
		"cds", v.Clusters, "eds", v.Endpoints, "lds", v.Listeners, "rds", v.Routes)
	return nil
}

// recordPublish notes a published flavour.
func (p *Publisher) recordPublish(f Flavour, v Versions) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.Versions[f] = v
	p.status.LastPublish = now
	p.metrics.publishes.WithLabelValues(f.String()).Inc()
	p.metrics.lastPublish.WithLabelValues(f.String()).Set(float64(now.Unix()))
}

// recordServices notes the rejections and downgrades of a flavour's
// published state, in the status and the metrics.
func (p *Publisher) recordServices(f Flavour, b *memoBuilder) {
	rejected, notes := b.serviceReport()
	p.mu.Lock()
	defer p.mu.Unlock()
	next := map[string]ServiceStatus{}
	for name, st := range p.status.Services {
		st.Rejected = ""
		st.Downgrades = maps.Clone(st.Downgrades)
		delete(st.Downgrades, f.String())
		next[name] = st
	}
	for name, why := range rejected {
		st := next[name]
		st.Rejected = why
		next[name] = st
		if old := p.status.Services[name].Rejected; old != why && f == Flavours()[0] {
			p.log.Warn("config entry rejected; the service keeps its last good routing", "service", name, "error", why)
		}
	}
	for name, old := range p.status.Services {
		if _, still := rejected[name]; old.Rejected != "" && !still && f == Flavours()[0] {
			p.log.Info("config entries apply again", "service", name)
		}
	}
	total := 0
	for name, list := range notes {
		st := next[name]
		if st.Downgrades == nil {
			st.Downgrades = map[string][]string{}
		}
		st.Downgrades[f.String()] = list
		next[name] = st
		total += len(list)
	}
	for name, st := range next {
		if st.Rejected == "" && len(st.Downgrades) == 0 && st.HeldDrop == nil {
			delete(next, name)
		}
	}
	for name, st := range p.status.Services {
		if _, ok := rejected[name]; st.Rejected != "" && !ok {
			p.metrics.rejectedBy.DeleteLabelValues(name)
		}
		if _, ok := notes[name]; len(st.Downgrades[f.String()]) > 0 && !ok {
			p.metrics.downgradesBy.DeleteLabelValues(name, f.String())
		}
	}
	for name := range rejected {
		p.metrics.rejectedBy.WithLabelValues(name).Set(1)
	}
	for name, list := range notes {
		p.metrics.downgradesBy.WithLabelValues(name, f.String()).Set(float64(len(list)))
	}
	p.status.Services = next
	p.metrics.rejected.Set(float64(len(rejected)))
	p.metrics.downgrades.WithLabelValues(f.String()).Set(float64(total))
}

// recordError notes a rejected build.
func (p *Publisher) recordError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.LastError = err.Error()
	p.status.LastErrorAt = time.Now()
}

// Status returns a copy of what is in force.
func (p *Publisher) Status() PublishStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.status
	out.Versions = maps.Clone(p.status.Versions)
	out.Services = maps.Clone(p.status.Services)
	out.Fleets = maps.Clone(p.status.Fleets)
	out.Certs = maps.Clone(p.status.Certs)
	return out
}
