package xds

import (
	"fmt"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// typeID indexes the five xDS types Switchyard serves, in the order a proxy
// must receive them: a cluster before its endpoints, a listener before its
// routes and the secrets (SDS) its TLS filter chains name.
type typeID int

// The served types, in ADS order.
const (
	typeCluster typeID = iota
	typeEndpoint
	typeListener
	typeRoute
	typeSecret
	numTypes
)

// typeURLs are the type URLs of the served types, by typeID.
var typeURLs = [numTypes]string{
	resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType, resourcev3.SecretType,
}

// typeOf returns the typeID of a type URL.
func typeOf(typeURL string) (typeID, bool) {
	for t, u := range typeURLs {
		if u == typeURL {
			return typeID(t), true
		}
	}
	return 0, false
}

// fullState reports whether every state-of-the-world response of the type
// must carry all the resources the client subscribes to, so that a missing
// one means removed. Only listeners and clusters are; endpoints, routes and
// secrets are sent one changed resource at a time (xDS protocol, "Grouping
// resources into responses").
func (t typeID) fullState() bool {
	return t == typeCluster || t == typeListener
}

// parent returns the type whose resources reference resources of t by name,
// if any: clusters reference endpoint assignments, listeners route
// configurations.
func (t typeID) parent() (typeID, bool) {
	switch t {
	case typeEndpoint:
		return typeCluster, true
	case typeRoute:
		return typeListener, true
	default:
		return 0, false
	}
}

// maxSlots bounds the names one table tracks, existing or merely asked for,
// so that clients subscribing to made-up names cannot grow it without end.
const maxSlots = 1 << 20

// entry is one named resource of one type as the server holds it: encoded
// once, shared by every stream that sends it. An entry outlives its
// resource (any is nil then) so that its slot, which streams use to index
// what they hold, stays stable.
type entry struct {
	name string
	slot int32
	// gen changes whenever what a client must hold of the name changes:
	// its version, or its removal. Zero means it never existed.
	gen uint32
	// hash is the resource's content hash; version is the version on the
	// wire, which for endpoints and routes also covers the clusters and
	// listeners that reference them.
	hash    string
	version string
	any     *anypb.Any
	res     *discoveryv3.Resource
	// subs are the streams subscribed to the name explicitly; each
	// stream's subscription knows its position here.
	subs []*stream
}

// live reports whether the resource exists.
func (e *entry) live() bool {
	return e.any != nil
}

// table holds every resource of one type for one kind of client.
type table struct {
	typ     typeID
	version string
	byName  map[string]*entry
	bySlot  []*entry
	// wildcard are the streams subscribed to every resource of the type.
	wildcard map[*stream]struct{}
}

// newTable returns an empty table of one type.
func newTable(t typeID) *table {
	return &table{typ: t, byName: map[string]*entry{}, wildcard: map[*stream]struct{}{}}
}

// get returns the entry of a name, adding one for a name not seen before.
func (t *table) get(name string) *entry {
	if e, ok := t.byName[name]; ok {
		return e
	}
	e := &entry{name: name, slot: int32(len(t.bySlot))}
	t.byName[name] = e
	t.bySlot = append(t.bySlot, e)
	return e
}

// lookup is get for a name a client asks for: it refuses to add names past
// maxSlots.
func (t *table) lookup(name string) (*entry, error) {
	if e, ok := t.byName[name]; ok {
		return e, nil
	}
	if len(t.bySlot) >= maxSlots {
		return nil, fmt.Errorf("%s: more than %d names", shortType(typeURLs[t.typ]), maxSlots)
	}
	return t.get(name), nil
}

// slots returns how many slots the table has handed out.
func (t *table) slots() int {
	return len(t.bySlot)
}
