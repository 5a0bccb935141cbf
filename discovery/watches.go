package discovery

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// catalogPath is the query that lists service names.
const catalogPath = "/v1/catalog/services"

// serviceWatch is the state of one service: either it has a blocking health
// watch of its own (cancel is set) or the change detector covers it and
// targeted reads fetch it. Only the watchSet goroutine touches it.
type serviceWatch struct {
	name   string
	cancel context.CancelFunc
	// queued, reading and again track its targeted reads.
	queued, reading, again bool
	// answered is set by the first health answer; until then the service
	// is left out of models.
	answered  bool
	instances []Instance
	// service is the service as models carry it, built from instances on
	// first use and shared by every model until they change; nil until
	// then.
	service *Service
	// epoch counts the health watches started for the service, so that a
	// late answer of a cancelled one is ignored.
	epoch int
	// changedAt is when the service last changed, as its watch or the
	// detector saw it; zero if never since it was followed.
	changedAt time.Time
}

// healthUpdate is a changed health answer for one watch.
type healthUpdate struct {
	watch     *serviceWatch
	epoch     int
	instances []Instance
	// read marks the answer of a targeted read, which is sent whether or
	// not it changed.
	read bool
}

// watchSet owns the catalog watch, the health watches, the change detector,
// the targeted readers, the config-entry watches, the KV prefix watches and
// the state they build.
// The first Config.serviceWatches() service names get a blocking health
// watch each, the fastest way to see a change; every later name is covered
// by one catalog-wide change detector plus targeted reads, so the
// connections held stay within Config.MaxConns however many services there
// are. A single goroutine (run) applies all results in order, so the state
// needs no lock.
type watchSet struct {
	src        *ConsulSource
	datacenter string
	catalogCh  chan []string
	healthCh   chan healthUpdate
	detectCh   chan map[string]uint64
	configCh   chan configUpdate
	kvCh       chan kvUpdate
	readCh     chan *serviceWatch
	fatalCh    chan error
	wg         sync.WaitGroup
	// epoch is set by run: the watches' queries are abandoned together
	// when Consul's indexes go backwards.
	epoch *epoch

	watches map[string]*serviceWatch
	// names are the keys of watches, sorted, so that a model is not a
	// sort of the whole catalog.
	names   []string
	watched int // services with a health watch of their own
	// detecting is set once the detector and readers run; fingerprints is
	// the detector's last answer, nil until its first, which is the
	// baseline that targeted reads must come after.
	detecting    bool
	fingerprints map[string]uint64
	readQueue    []*serviceWatch

	catalogLoaded bool
	pending       int  // watches without a first answer
	ready         bool // a model has been published
	// changed are the services added, changed or removed since the last
	// publish, and the names whose config entries did; the model changed
	// when it is not empty.
	changed map[string]struct{}

	// config is the value models carry, replaced (never modified) when an
	// entry changes; configAnswered holds the kinds whose watch answered.
	config         *ConfigEntries
	configAnswered map[string]struct{}

	// fleets is the value models carry, replaced (never modified) when a
	// key changes; kvAnswered holds the prefixes whose watch answered.
	// fleetsChanged is set when fleets changed since the last publish:
	// that changes the model without naming a service in changed.
	fleets        *FleetInputs
	kvAnswered    map[string]struct{}
	fleetsChanged bool
}

// newWatchSet returns an idle watch set for datacenter.
func newWatchSet(src *ConsulSource, datacenter string) *watchSet {
	return &watchSet{
		src:        src,
		datacenter: datacenter,
		catalogCh:  make(chan []string),
		healthCh:   make(chan healthUpdate),
		detectCh:   make(chan map[string]uint64),
		configCh:   make(chan configUpdate),
		kvCh:       make(chan kvUpdate),
		readCh:     make(chan *serviceWatch),
		fatalCh:    make(chan error),
		watches:    make(map[string]*serviceWatch),
		changed:    make(map[string]struct{}),

		configAnswered: make(map[string]struct{}),
		kvAnswered:     make(map[string]struct{}),
	}
}

// run starts the catalog, config-entry and KV watches and applies results
// until ctx is done or a watch fails for good. It returns only after every watch has stopped.
func (ws *watchSet) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer ws.wg.Wait()
	defer cancel()
	ws.epoch = newEpoch(ctx)
	sentinel := &indexSentinel{src: ws.src, datacenter: ws.datacenter, epoch: ws.epoch, last: map[string]uint64{}}
	ws.wg.Go(func() { sentinel.run(ctx) })
	ws.start(ctx, ws.catalogWatch())
	ws.startConfigWatches(ctx)
	ws.startKVWatches(ctx)
	for {
		readCh, next := ws.nextRead()
		select {
		case <-ctx.Done():
			return nil
		case err := <-ws.fatalCh:
			return err
		case names := <-ws.catalogCh:
			ws.applyCatalog(ctx, names)
		case fp := <-ws.detectCh:
			ws.applyDetector(ctx, fp)
		case readCh <- next:
			ws.readStarted()
		case u := <-ws.healthCh:
			ws.applyHealth(u)
		case u := <-ws.configCh:
			ws.applyConfig(u)
		case u := <-ws.kvCh:
			ws.applyKV(u)
		}
		ws.maybePublish()
	}
}

// runner is a watch that can be started; blockingWatch[T] is one for any T.
type runner interface {
	run(ctx context.Context) error
}

// start runs w in its own goroutine, counted in the watches gauge. A
// permanent failure is handed to run, unless the set is stopping.
func (ws *watchSet) start(ctx context.Context, w runner) {
	ws.wg.Add(1)
	ws.src.metrics.watches.Inc()
	go func() {
		defer ws.wg.Done()
		defer ws.src.metrics.watches.Dec()
		if err := w.run(ctx); err != nil {
			select {
			case ws.fatalCh <- err:
			case <-ctx.Done():
			}
		}
	}()
}

// catalogWatch watches the set of service names.
func (ws *watchSet) catalogWatch() *blockingWatch[[]string] {
	var guard aclGuard
	return &blockingWatch[[]string]{
		endpoint:   "catalog",
		path:       catalogPath,
		datacenter: ws.src.cfg.Datacenter,
		fetch: func(q *api.QueryOptions) ([]string, *api.QueryMeta, error) {
			services, meta, err := ws.src.cfg.Client.Catalog().Services(q)
			if err != nil {
				return nil, nil, err
			}
			if err := filteredEmpty(catalogPath, len(services), meta); err != nil {
				return nil, nil, err
			}
			if err := guard.check(catalogPath, len(services), meta); err != nil {
				return nil, nil, err
			}
			return slices.Sorted(maps.Keys(services)), meta, nil
		},
		equal: slices.Equal[[]string],
		deliver: func(ctx context.Context, names []string) {
			select {
			case ws.catalogCh <- names:
			case <-ctx.Done():
			}
		},
		observer: ws.src, epoch: ws.epoch,
		cfg: ws.src.cfg,
	}
}

// healthWatch watches every instance of one service, healthy or not.
func (ws *watchSet) healthWatch(sw *serviceWatch) *blockingWatch[[]Instance] {
	epoch := sw.epoch
	var guard aclGuard
	return &blockingWatch[[]Instance]{
		endpoint:   "health",
		path:       "/v1/health/service/" + sw.name,
		datacenter: ws.src.cfg.Datacenter,
		fetch: func(q *api.QueryOptions) ([]Instance, *api.QueryMeta, error) {
			entries, meta, err := ws.src.cfg.Client.Health().Service(sw.name, "", false, q)
			if err != nil {
				return nil, nil, err
			}
			if err := filteredEmpty("/v1/health/service/"+sw.name, len(entries), meta); err != nil {
				return nil, nil, err
			}
			if err := guard.check("/v1/health/service/"+sw.name, len(entries), meta); err != nil {
				return nil, nil, err
			}
			return instancesFromEntries(entries), meta, nil
		},
		equal: equalInstances,
		deliver: func(ctx context.Context, in []Instance) {
			select {
			case ws.healthCh <- healthUpdate{watch: sw, epoch: epoch, instances: in}:
			case <-ctx.Done():
			}
		},
		observer: ws.src, epoch: ws.epoch,
		cfg: ws.src.cfg,
	}
}

// applyCatalog starts following each new name and stops following each name
// that is gone.
func (ws *watchSet) applyCatalog(ctx context.Context, names []string) {
	ws.catalogLoaded = true
	for _, name := range names {
		if _, ok := ws.watches[name]; !ok {
			ws.follow(ctx, name)
		}
	}
	for name, sw := range ws.watches {
		if _, ok := slices.BinarySearch(names, name); ok {
			continue
		}
		if sw.cancel != nil {
			sw.cancel()
			ws.watched--
		}
		delete(ws.watches, name)
		if i, ok := slices.BinarySearch(ws.names, name); ok {
			ws.names = slices.Delete(ws.names, i, i+1)
		}
		if sw.answered {
			ws.changed[name] = struct{}{}
		} else {
			ws.pending--
		}
		ws.src.log.Debug("service gone", "service", name)
	}
}

// follow starts following a new service name: with a blocking watch of its
// own while the budget allows, else through the change detector and a
// targeted read, which waits for the detector's first answer.
func (ws *watchSet) follow(ctx context.Context, name string) {
	sw := &serviceWatch{name: name}
	ws.watches[name] = sw
	i, _ := slices.BinarySearch(ws.names, name)
	ws.names = slices.Insert(ws.names, i, name)
	ws.pending++
	if ws.watched < ws.src.cfg.serviceWatches() {
		ws.watch(ctx, sw)
		ws.src.log.Debug("watching service", "service", name)
		return
	}
	if !ws.detecting {
		ws.detecting = true
		ws.src.log.Info("service watch budget used up; detecting changes catalog-wide",
			"max_conns", ws.src.cfg.MaxConns, "service_watches", ws.watched, "readers", ws.src.cfg.readers())
		ws.start(ctx, ws.detectorWatch())
		ws.startReaders(ctx)
	}
	if ws.fingerprints != nil {
		ws.enqueueRead(sw)
	}
	ws.src.log.Debug("following service through the change detector", "service", name)
}

// watch starts a health watch of the service's own.
func (ws *watchSet) watch(ctx context.Context, sw *serviceWatch) {
	wctx, cancel := context.WithCancel(ctx)
	sw.cancel = cancel
	sw.epoch++
	ws.watched++
	ws.start(wctx, ws.healthWatch(sw))
}

// applyDetector reads the services without a watch of their own whose
// fingerprint changed; the first answer is the baseline, after which every
// such service is read once. A service that changes again within
// hotWindow is promoted to a watch of its own.
func (ws *watchSet) applyDetector(ctx context.Context, fp map[string]uint64) {
	first := ws.fingerprints == nil
	changed := changedServices(ws.fingerprints, fp)
	ws.fingerprints = fp
	if first {
		changed = slices.Sorted(maps.Keys(ws.watches))
	}
	now := time.Now()
	for _, name := range changed {
		sw, ok := ws.watches[name]
		if !ok || sw.cancel != nil {
			continue
		}
		ws.enqueueRead(sw)
		if first {
			continue
		}
		hot := !sw.changedAt.IsZero() && now.Sub(sw.changedAt) < hotWindow
		sw.changedAt = now
		if hot {
			ws.promote(ctx, sw, now)
		}
	}
}

// hotWindow is how soon a service followed through the detector must
// change again to be promoted to a watch of its own, and how long a
// watched service must have been quiet to give its watch up.
const hotWindow = time.Minute

// promote gives a hot service a watch of its own: a free one, or the watch
// of the service that has been quiet longest, if quiet for hotWindow. The
// demoted service is read once, so that no change it had while its watch
// was being cancelled is missed, and the detector follows it from then on.
// Changes that keep hitting services past the budget thus move the
// watches to where they happen, while a budget of busy services stays put.
func (ws *watchSet) promote(ctx context.Context, sw *serviceWatch, now time.Time) {
	if ws.watched >= ws.src.cfg.serviceWatches() {
		quiet := ws.quietest()
		if quiet == nil || now.Sub(quiet.changedAt) < hotWindow {
			return
		}
		quiet.cancel()
		quiet.cancel = nil
		quiet.epoch++
		ws.watched--
		ws.enqueueRead(quiet)
		ws.src.log.Debug("service watch given up", "service", quiet.name)
	}
	ws.watch(ctx, sw)
	ws.src.metrics.promotions.Inc()
	ws.src.log.Debug("hot service gets a watch of its own", "service", sw.name)
}

// quietest returns the watched service that changed longest ago (never
// counts as longest), nil if none is watched.
func (ws *watchSet) quietest() *serviceWatch {
	var out *serviceWatch
	for _, sw := range ws.watches {
		if sw.cancel != nil && (out == nil || sw.changedAt.Before(out.changedAt)) {
			out = sw
		}
	}
	return out
}

// applyHealth records a health answer, unless its service was dropped
// meanwhile or nothing changed.
func (ws *watchSet) applyHealth(u healthUpdate) {
	if u.read {
		ws.readEnded(u.watch)
	}
	if ws.watches[u.watch.name] != u.watch || !u.read && u.epoch != u.watch.epoch {
		return
	}
	if u.watch.answered && equalInstances(u.watch.instances, u.instances) {
		return
	}
	if u.watch.answered {
		u.watch.changedAt = time.Now()
	}
	if !u.watch.answered {
		u.watch.answered = true
		ws.pending--
	}
	u.watch.instances, u.watch.service = u.instances, nil
	ws.changed[u.watch.name] = struct{}{}
}

// maybePublish sends a model when the first full load (the catalog, every
// service, every config-entry kind and every KV prefix) is complete and
// something changed since the last one. A change of fleet inputs alone
// sends a delta that names nothing.
func (ws *watchSet) maybePublish() {
	first := !ws.ready
	if first {
		if !ws.catalogLoaded || ws.pending > 0 || !ws.configLoaded() || !ws.kvLoaded() {
			return
		}
		ws.ready = true
		ws.src.log.Info("first full load from consul complete", "services", len(ws.watches), "config_entry_names", len(ws.config.Names()),
			"fleet_profiles", len(ws.fleets.Profiles), "fleet_certs", len(ws.fleets.Certs))
	} else if len(ws.changed) == 0 && !ws.fleetsChanged {
		return
	}
	m := ws.model()
	m.Observed = time.Now()
	if !first {
		m.Changed, m.Delta = slices.Sorted(maps.Keys(ws.changed)), true
	}
	ws.changed, ws.fleetsChanged = make(map[string]struct{}), false
	ws.src.publish(m)
}

// model returns the answered services, sorted by name, the config entries
// and the fleet inputs. A service is copied out of its watch's instances
// once per change, then shared by the models that follow, so a model costs
// a copy of the list, not of the catalog; the entries and inputs are shared
// until they change.
func (ws *watchSet) model() Model {
	m := Model{Datacenter: ws.datacenter, Services: make([]Service, 0, len(ws.watches)), Config: ws.config, Fleets: ws.fleets}
	for _, name := range ws.names {
		sw := ws.watches[name]
		if !sw.answered {
			continue
		}
		if sw.service == nil {
			svc := serviceFromInstances(name, ws.datacenter, sw.instances)
			sw.service = &svc
		}
		m.Services = append(m.Services, *sw.service)
	}
	if virtual := ws.virtualNames(); len(virtual) > 0 {
		m.Services = withVirtual(m.Services, virtual, ws.datacenter)
	}
	return m
}

// virtualNames returns, sorted, the names that config entries route
// (a splitter, a router or a redirecting resolver) but the catalog does
// not hold.
func (ws *watchSet) virtualNames() []string {
	c := ws.config
	if c == nil {
		return nil
	}
	var out []string
	for _, name := range c.Names() {
		if _, registered := ws.watches[name]; registered {
			continue
		}
		_, split := c.Splitters[name]
		_, routed := c.Routers[name]
		if split || routed || c.Resolvers[name].Redirect != nil {
			out = append(out, name)
		}
	}
	return out
}

// withVirtual merges virtual services, sorted names none of services
// holds, into services sorted by name.
func withVirtual(services []Service, virtual []string, datacenter string) []Service {
	out := make([]Service, 0, len(services)+len(virtual))
	for _, name := range virtual {
		i, _ := slices.BinarySearchFunc(services, name, func(s Service, n string) int { return strings.Compare(s.Name, n) })
		out = append(out, services[:i]...)
		services = services[i:]
		out = append(out, Service{Name: name, Datacenter: datacenter, Virtual: true})
	}
	return append(out, services...)
}
