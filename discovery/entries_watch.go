package discovery

import (
	"context"
	"reflect"

	"github.com/hashicorp/consul/api"
)

// configWatches is how many config-entry watches run, one per kind of
// configKinds; each holds a connection, which Config.serviceWatches counts.
const configWatches = 4

// configEndpoint is the metrics label of every config-entry watch: one
// label for the four kinds keeps the requests counter small, and the path
// in logs names the kind.
const configEndpoint = "config"

// configKinds are the config-entry kinds discovery watches. The array
// length makes adding a kind without counting its connection a compile
// error.
func configKinds() [configWatches]string {
	return [...]string{api.ServiceDefaults, api.ServiceResolver, api.ServiceSplitter, api.ServiceRouter}
}

// configUpdate is a changed answer of the watch of one kind: entries holds
// that kind's map only.
type configUpdate struct {
	kind    string
	entries ConfigEntries
}

// startConfigWatches starts one blocking watch per config-entry kind.
func (ws *watchSet) startConfigWatches(ctx context.Context) {
	for _, kind := range configKinds() {
		ws.start(ctx, ws.configWatch(kind))
	}
}

// configWatch watches the config entries of one kind. An answer filtered by
// ACLs is taken as it is, even when empty: a token that may not read a
// service's entries gets that service without them, as if it had none.
// Only a token that lost permissions while running (aclGuard) is an error.
func (ws *watchSet) configWatch(kind string) *blockingWatch[ConfigEntries] {
	var guard aclGuard
	return &blockingWatch[ConfigEntries]{
		endpoint:   configEndpoint,
		path:       "/v1/config/" + kind,
		datacenter: ws.src.cfg.Datacenter,
		fetch: func(q *api.QueryOptions) (ConfigEntries, *api.QueryMeta, error) {
			list, meta, err := ws.src.cfg.Client.ConfigEntries().List(kind, q)
			if err != nil {
				return ConfigEntries{}, nil, err
			}
			if err := guard.check("/v1/config/"+kind, len(list), meta); err != nil {
				return ConfigEntries{}, nil, err
			}
			return configEntriesFrom(list), meta, nil
		},
		equal: func(a, b ConfigEntries) bool { return reflect.DeepEqual(a, b) },
		deliver: func(ctx context.Context, entries ConfigEntries) {
			select {
			case ws.configCh <- configUpdate{kind: kind, entries: entries}:
			case <-ctx.Done():
			}
		},
		observer: ws.src, epoch: ws.epoch,
		cfg: ws.src.cfg,
	}
}

// applyConfig records an answer of one kind's watch: the kind's entries
// are replaced and the names whose entry changed are marked changed.
func (ws *watchSet) applyConfig(u configUpdate) {
	ws.configAnswered[u.kind] = struct{}{}
	ws.config = withKind(ws.config, u.kind, u.entries, ws.changed)
}

// configLoaded reports whether every config-entry watch has answered.
func (ws *watchSet) configLoaded() bool {
	return len(ws.configAnswered) == configWatches
}

// withKind returns cur with kind's entries replaced by those of from, and
// adds to changed every name whose entry of that kind was added, changed
// or removed. cur is never modified, because models share it: a change
// makes a new value, nil when no entry is left, and no change returns cur
// itself, so that models keep sharing it.
func withKind(cur *ConfigEntries, kind string, from ConfigEntries, changed map[string]struct{}) *ConfigEntries {
	var next ConfigEntries
	if cur != nil {
		next = *cur
	}
	var n int
	switch kind {
	case api.ServiceDefaults:
		n = markChanged(next.Defaults, from.Defaults, changed)
		next.Defaults = from.Defaults
	case api.ServiceResolver:
		n = markChanged(next.Resolvers, from.Resolvers, changed)
		next.Resolvers = from.Resolvers
	case api.ServiceSplitter:
		n = markChanged(next.Splitters, from.Splitters, changed)
		next.Splitters = from.Splitters
	case api.ServiceRouter:
		n = markChanged(next.Routers, from.Routers, changed)
		next.Routers = from.Routers
	}
	switch {
	case n == 0:
		return cur
	case len(next.Defaults)+len(next.Resolvers)+len(next.Splitters)+len(next.Routers) == 0:
		return nil
	default:
		return &next
	}
}

// markChanged adds to changed each name whose entry differs between
// before and after, and returns how many there are.
func markChanged[V any](before, after map[string]V, changed map[string]struct{}) int {
	n := 0
	for name, v := range after {
		if b, ok := before[name]; !ok || !reflect.DeepEqual(b, v) {
			changed[name] = struct{}{}
			n++
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			changed[name] = struct{}{}
			n++
		}
	}
	return n
}
