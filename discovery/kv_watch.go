package discovery

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"

	"github.com/hashicorp/consul/api"
)

// kvWatches is how many KV prefix watches run, one per prefix of
// kvPrefixes; each holds a connection, which Config.serviceWatches counts.
const kvWatches = 2

// kvEndpoint is the metrics label of the KV prefix watches.
const kvEndpoint = "kv"

// kvPrefixes are the KV prefixes discovery watches. The array length makes
// adding a prefix without counting its connection a compile error.
func kvPrefixes() [kvWatches]string {
	return [...]string{FleetsPrefix, CertsPrefix}
}

// kvUpdate is a changed answer of the watch of one prefix: entries are
// keyed by the rest of the key.
type kvUpdate struct {
	prefix  string
	entries map[string]KVEntry
}

// startKVWatches starts one blocking watch per KV prefix.
func (ws *watchSet) startKVWatches(ctx context.Context) {
	for _, prefix := range kvPrefixes() {
		ws.start(ctx, ws.kvWatch(prefix))
	}
}

// kvWatch watches the keys under prefix. An answer filtered by ACLs is
// taken as it is, even when empty, as config entries are: a token that may
// not read a key gets the inputs without it, and fleet features that need
// it stay off. Consul refuses the list outright ("Permission denied") only
// under acl.enable_key_list_policy; that too is read as no keys, because
// fleet inputs are optional and must not stop the source. A token Consul
// does not know ("ACL not found") fails like every other watch's.
func (ws *watchSet) kvWatch(prefix string) *blockingWatch[map[string]KVEntry] {
	path := "/v1/kv/" + prefix
	var (
		guard  aclGuard
		denied bool
	)
	return &blockingWatch[map[string]KVEntry]{
		endpoint:   kvEndpoint,
		path:       path,
		datacenter: ws.src.cfg.Datacenter,
		fetch: func(q *api.QueryOptions) (map[string]KVEntry, *api.QueryMeta, error) {
			if denied && !sleepCtx(q.Context(), q.WaitTime) {
				// A refused list cannot block; wait as a blocking query
				// that saw no change would, so it is polled, not hammered.
				return nil, nil, q.Context().Err()
			}
			pairs, meta, err := ws.src.cfg.Client.KV().List(prefix, q)
			switch {
			case permissionDenied(err):
				if !denied {
					ws.src.log.Warn("consul denied listing fleet inputs; taking them as empty until the token may read them", "path", path, "error", err)
				}
				denied = true
				return map[string]KVEntry{}, &api.QueryMeta{}, nil
			case err != nil:
				return nil, nil, err
			}
			if denied {
				denied = false
				ws.src.log.Info("consul lists fleet inputs again", "path", path)
			}
			if err := guard.check(path, len(pairs), meta); err != nil {
				return nil, nil, err
			}
			return kvEntriesFrom(prefix, pairs), meta, nil
		},
		equal: equalKV,
		deliver: func(ctx context.Context, entries map[string]KVEntry) {
			select {
			case ws.kvCh <- kvUpdate{prefix: prefix, entries: entries}:
			case <-ctx.Done():
			}
		},
		observer: ws.src, epoch: ws.epoch,
		cfg: ws.src.cfg,
	}
}

// permissionDenied reports whether err is Consul refusing a token it knows
// for lack of a permission, as opposed to a token it does not know.
func permissionDenied(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusForbidden &&
		strings.Contains(strings.ToLower(se.Body), "permission denied")
}

// kvEntriesFrom keys the pairs under prefix by the rest of their key. The
// prefix itself and "folders" (a further "/" in the rest) are not inputs
// and are left out.
func kvEntriesFrom(prefix string, pairs api.KVPairs) map[string]KVEntry {
	out := make(map[string]KVEntry, len(pairs))
	for _, p := range pairs {
		rest, ok := strings.CutPrefix(p.Key, prefix)
		if !ok || rest == "" || strings.Contains(rest, "/") {
			continue
		}
		out[rest] = KVEntry{Value: p.Value, ModifyIndex: p.ModifyIndex}
	}
	return out
}

// equalKV reports whether two answers hold the same keys, values and
// modify indexes.
func equalKV(a, b map[string]KVEntry) bool {
	return maps.EqualFunc(a, b, func(x, y KVEntry) bool {
		return x.ModifyIndex == y.ModifyIndex && bytes.Equal(x.Value, y.Value)
	})
}

// applyKV records an answer of one prefix's watch. A change makes a new
// FleetInputs and marks the model changed without naming a service.
func (ws *watchSet) applyKV(u kvUpdate) {
	ws.kvAnswered[u.prefix] = struct{}{}
	if next := withPrefix(ws.fleets, u.prefix, u.entries); next != ws.fleets {
		ws.fleets, ws.fleetsChanged = next, true
	}
}

// kvLoaded reports whether every KV prefix watch has answered.
func (ws *watchSet) kvLoaded() bool {
	return len(ws.kvAnswered) == kvWatches
}

// withPrefix returns cur with prefix's entries replaced by from. cur is
// never modified, because models share it: a change (or the first answer,
// when cur is nil) makes a new value, and no change returns cur itself, so
// that models keep sharing it.
func withPrefix(cur *FleetInputs, prefix string, from map[string]KVEntry) *FleetInputs {
	next := FleetInputs{Profiles: map[string]KVEntry{}, Certs: map[string]KVEntry{}}
	if cur != nil {
		next = *cur
	}
	field := &next.Profiles
	if prefix == CertsPrefix {
		field = &next.Certs
	}
	if cur != nil && equalKV(*field, from) {
		return cur
	}
	*field = from
	return &next
}
