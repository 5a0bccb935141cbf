package discovery

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/consul/api"
)

// catalogPath is the query that lists service names.
const catalogPath = "/v1/catalog/services"

// serviceWatch is the state of one service's health watch. Only the watchSet
// goroutine touches it.
type serviceWatch struct {
	name   string
	cancel context.CancelFunc
	// answered is set by the first health answer; until then the service
	// is left out of models.
	answered  bool
	instances []Instance
}

// healthUpdate is a changed health answer for one watch.
type healthUpdate struct {
	watch     *serviceWatch
	instances []Instance
}

// watchSet owns the catalog watch, one health watch per service name, and
// the state they build. A single goroutine (run) applies their results in
// order, so the state needs no lock.
type watchSet struct {
	src        *ConsulSource
	datacenter string
	catalogCh  chan []string
	healthCh   chan healthUpdate
	fatalCh    chan error
	wg         sync.WaitGroup

	watches       map[string]*serviceWatch
	catalogLoaded bool
	pending       int  // watches without a first answer
	ready         bool // a model has been published
	dirty         bool // the model changed since the last publish
}

// newWatchSet returns an idle watch set for datacenter.
func newWatchSet(src *ConsulSource, datacenter string) *watchSet {
	return &watchSet{
		src:        src,
		datacenter: datacenter,
		catalogCh:  make(chan []string),
		healthCh:   make(chan healthUpdate),
		fatalCh:    make(chan error),
		watches:    make(map[string]*serviceWatch),
	}
}

// run starts the catalog watch and applies results until ctx is done or a
// watch fails for good. It returns only after every watch has stopped.
func (ws *watchSet) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer ws.wg.Wait()
	defer cancel()
	ws.start(ctx, ws.catalogWatch())
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-ws.fatalCh:
			return err
		case names := <-ws.catalogCh:
			ws.applyCatalog(ctx, names)
		case u := <-ws.healthCh:
			ws.applyHealth(u)
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
			return slices.Sorted(maps.Keys(services)), meta, nil
		},
		equal: slices.Equal[[]string],
		deliver: func(ctx context.Context, names []string) {
			select {
			case ws.catalogCh <- names:
			case <-ctx.Done():
			}
		},
		observer: ws.src,
		cfg:      ws.src.cfg,
	}
}

// healthWatch watches every instance of one service, healthy or not.
func (ws *watchSet) healthWatch(sw *serviceWatch) *blockingWatch[[]Instance] {
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
			return instancesFromEntries(entries), meta, nil
		},
		equal: equalInstances,
		deliver: func(ctx context.Context, in []Instance) {
			select {
			case ws.healthCh <- healthUpdate{watch: sw, instances: in}:
			case <-ctx.Done():
			}
		},
		observer: ws.src,
		cfg:      ws.src.cfg,
	}
}

// applyCatalog starts a health watch for each new name and stops the watch
// of each name that is gone.
func (ws *watchSet) applyCatalog(ctx context.Context, names []string) {
	ws.catalogLoaded = true
	for _, name := range names {
		if _, ok := ws.watches[name]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		sw := &serviceWatch{name: name, cancel: cancel}
		ws.watches[name] = sw
		ws.pending++
		ws.start(wctx, ws.healthWatch(sw))
		ws.src.log.Debug("watching service", "service", name)
	}
	for name, sw := range ws.watches {
		if _, ok := slices.BinarySearch(names, name); ok {
			continue
		}
		sw.cancel()
		delete(ws.watches, name)
		if sw.answered {
			ws.dirty = true
		} else {
			ws.pending--
		}
		ws.src.log.Debug("service gone", "service", name)
	}
}

// applyHealth records a changed health answer, unless its watch was stopped
// meanwhile.
func (ws *watchSet) applyHealth(u healthUpdate) {
	if ws.watches[u.watch.name] != u.watch {
		return
	}
	if !u.watch.answered {
		u.watch.answered = true
		ws.pending--
	}
	u.watch.instances = u.instances
	ws.dirty = true
}

// maybePublish sends a model when the first full load is complete and
// something changed since the last one.
func (ws *watchSet) maybePublish() {
	if !ws.ready {
		if !ws.catalogLoaded || ws.pending > 0 {
			return
		}
		ws.ready, ws.dirty = true, true
		ws.src.log.Info("first full load from consul complete", "services", len(ws.watches))
	}
	if !ws.dirty {
		return
	}
	ws.dirty = false
	ws.src.publish(ws.model())
}

// model builds a deep copy of the answered services, sorted by name.
func (ws *watchSet) model() Model {
	m := Model{Datacenter: ws.datacenter, Services: make([]Service, 0, len(ws.watches))}
	for _, name := range slices.Sorted(maps.Keys(ws.watches)) {
		sw := ws.watches[name]
		if sw.answered {
			m.Services = append(m.Services, serviceFromInstances(name, ws.datacenter, sw.instances))
		}
	}
	return m
}
