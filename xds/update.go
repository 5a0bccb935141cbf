package xds

import (
	"fmt"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Change is one resource an update puts or removes.
type Change struct {
	// TypeURL is the resource's xDS type: cluster, endpoint assignment,
	// listener or route configuration.
	TypeURL string
	Name    string
	// Version is the resource's content hash; a put whose version equals
	// the one held changes nothing.
	Version string
	// Resource is the resource; nil removes the name.
	Resource proto.Message
}

// Update is one change to what a kind of client is served: the version of
// every type after it, and the resources put or removed.
type Update struct {
	// Versions are the type versions, by type URL, that state-of-the-world
	// responses carry from now on.
	Versions map[string]string
	Changes  []Change
	// Observed is when the change was first seen (in Consul); each proxy's
	// ACK of it is timed from then in switchyard_xds_convergence_seconds.
	// Zero times nothing.
	Observed time.Time
}

// encoded is one change made ready to apply: its resource encoded once and,
// for clusters and listeners, the names of what it references.
type encoded struct {
	typ  typeID
	name string
	hash string
	any  *anypb.Any
	// refs are the endpoint assignments (route configurations) a cluster
	// (listener) references, sorted; nil for other types.
	refs []string
}

// encodeUpdate checks and encodes every change of an update, so that Apply
// either applies all of it or none.
func encodeUpdate(u Update) ([]encoded, error) {
	for typeURL := range u.Versions {
		if _, ok := typeOf(typeURL); !ok {
			return nil, fmt.Errorf("update: unknown type %q", typeURL)
		}
	}
	out := make([]encoded, 0, len(u.Changes))
	for _, c := range u.Changes {
		e, err := encodeChange(c)
		if err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// encodeChange encodes one change's resource deterministically.
func encodeChange(c Change) (encoded, error) {
	t, ok := typeOf(c.TypeURL)
	if !ok {
		return encoded{}, fmt.Errorf("%s: unknown type %q", c.Name, c.TypeURL)
	}
	e := encoded{typ: t, name: c.Name, hash: c.Version}
	if c.Resource == nil {
		return e, nil
	}
	if c.Version == "" {
		return encoded{}, fmt.Errorf("%s %s: no version", shortType(c.TypeURL), c.Name)
	}
	if got := cachev3.GetResourceName(c.Resource); got != c.Name {
		return encoded{}, fmt.Errorf("%s %s: resource is named %q", shortType(c.TypeURL), c.Name, got)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.Resource)
	if err != nil {
		return encoded{}, fmt.Errorf("encode %s %s: %w", shortType(c.TypeURL), c.Name, err)
	}
	e.any = &anypb.Any{TypeUrl: c.TypeURL, Value: b}
	e.refs = references(t, c.Name, c.Resource)
	return e, nil
}

// references returns, sorted, the names of the resources of the child type
// that a cluster or listener references.
func references(t typeID, name string, r proto.Message) []string {
	child, ok := childType(t)
	if !ok {
		return nil
	}
	refs := cachev3.GetResourceReferences(map[string]types.ResourceWithTTL{name: {Resource: r}})
	return sortedSet(refs[typeURLs[child]])
}

// childType returns the type whose resources t references by name.
func childType(t typeID) (typeID, bool) {
	switch t {
	case typeCluster:
		return typeEndpoint, true
	case typeListener:
		return typeRoute, true
	default:
		return 0, false
	}
}
