// Package discovery watches Consul and turns what it reports into a plain
// model of the services that exist and the health of their instances, with
// the L7 config entries and the fleet inputs stored in Consul KV. It never
// imports go-control-plane: translating the model into Envoy resources is the
// snapshot package's job.
package discovery

import "time"

// Health is the state of one service instance as its Consul checks report it.
type Health int

// The health states, from best to worst. Maintenance is Consul's maintenance
// mode (a critical `_service_maintenance:<id>` or `_node_maintenance` check):
// the instance is being drained on purpose rather than failing.
const (
	HealthPassing Health = iota + 1
	HealthWarning
	HealthCritical
	HealthMaintenance
)

// String returns Consul's own word for the health state.
func (h Health) String() string {
	switch h {
	case HealthPassing:
		return "passing"
	case HealthWarning:
		return "warning"
	case HealthCritical:
		return "critical"
	case HealthMaintenance:
		return "maintenance"
	default:
		return "unknown"
	}
}

// Weights are Consul's `Service.Weights`: the relative weight of an instance
// while its checks pass and while one of them warns.
type Weights struct {
	Passing int
	Warning int
}

// Locality places an instance in a region and zone, taken from the `region` and
// `zone` keys of its service meta, else of its node meta.
type Locality struct {
	Region string
	Zone   string
}

// Instance is one registered instance of a service.
type Instance struct {
	// ID is the Consul service ID, unique on its node.
	ID string
	// Node is the name of the Consul node the instance is registered on.
	Node string
	// Address is the service address, else the node address. It may be a
	// hostname rather than an IP.
	Address  string
	Port     int
	Tags     []string
	Meta     map[string]string
	Health   Health
	Weights  Weights
	Locality Locality
	// NodeAddress and NodeMeta are the node's, and Checks the instance's
	// own and its node's checks: resolver subset filters read them.
	NodeAddress string
	NodeMeta    map[string]string
	Checks      []Check
}

// Check is one health check that applies to an instance, as a subset
// filter sees it (Consul's `Checks` field).
type Check struct {
	CheckID, Name, Status string
	// ServiceID is empty for a node-level check.
	ServiceID string
}

// Service is one Consul service name with all of its registered instances,
// healthy or not.
type Service struct {
	Name       string
	Datacenter string
	// Tags is the union of the tags of all instances, sorted.
	Tags []string
	// Meta holds the service meta entries that every instance shares.
	Meta map[string]string
	// Instances are sorted by node, then ID.
	Instances []Instance
	// Virtual is set for a name that only config entries define — a
	// service-splitter, a service-router or a redirecting resolver, with
	// no registered instance: clients can route to it, and it routes
	// elsewhere. A virtual service has no instances.
	Virtual bool
}

// Model is everything discovery knows about one datacenter at one moment.
type Model struct {
	Datacenter string
	// Services are sorted by name, each name once.
	Services []Service
	// Changed names, sorted and each once, every service that was added,
	// changed or removed since the source's previous model, and every name
	// whose config entry of any kind was added, changed or removed (which
	// need not be a service in Services). It is complete only when Delta
	// is set. It never names fleet inputs: a delta whose only change is
	// Fleets has an empty Changed.
	Changed []string
	// Delta is set when Changed is complete, so that a consumer that
	// followed the previous model need only look at the services it names.
	// It is false for a source's first model and for a model made by hand
	// (the zero value), when a consumer must compare every service.
	Delta bool
	// Observed is when the source saw the changes the model carries (the
	// earliest, for coalesced models); zero for a model made by hand. It
	// starts the convergence clock that ends at each proxy's ACK.
	Observed time.Time
	// Config holds the L7 config entries. Models share one value until an
	// entry changes, when the source sends a new one, so a consumer can
	// tell a change by comparing pointers. Nil means no entry. A
	// ConsulSource sends its first model only once it has read every kind,
	// and never changes a value it has sent.
	Config *ConfigEntries
	// Fleets holds the fleet profiles and certificates stored in Consul
	// KV. Nil means no fleet input has been read (a model made by hand);
	// a ConsulSource sends its first model only once both KV watches
	// answered, like Config, and from then on Fleets is never nil, its
	// maps empty when nothing is stored. A change of fleet inputs alone
	// sends a model that names nothing in Changed: Changed names services.
	Fleets *FleetInputs
}

// The Consul KV prefixes whose keys feed FleetInputs.
const (
	FleetsPrefix = "switchyard/fleets/"
	CertsPrefix  = "switchyard/certs/"
)

// KVEntry is one Consul KV value as read, with its modify index.
type KVEntry struct {
	Value       []byte
	ModifyIndex uint64
}

// FleetInputs are the fleet profiles and certificates stored in Consul KV.
// Models share one value until a key under either prefix changes, when the
// source sends a new one, so a consumer can tell a change by comparing
// pointers. A source never changes a value it has sent.
type FleetInputs struct {
	// Profiles are the values under switchyard/fleets/, by the rest of the key (a node.cluster).
	Profiles map[string]KVEntry
	// Certs are the values under switchyard/certs/, by the rest of the key (a certificate name).
	Certs map[string]KVEntry
}

// Coalesce returns newer as a change from older's predecessor, for a
// consumer that skips older: its Changed also names older's changed
// services, and it is a delta only when both are. Config and Fleets are
// newer's, which already hold every change older carried.
func Coalesce(older, newer Model) Model {
	if !older.Observed.IsZero() && (newer.Observed.IsZero() || older.Observed.Before(newer.Observed)) {
		newer.Observed = older.Observed
	}
	newer.Delta = older.Delta && newer.Delta
	if !newer.Delta {
		newer.Changed = nil
		return newer
	}
	newer.Changed = MergeNames(older.Changed, newer.Changed)
	return newer
}

// MergeNames returns the sorted union of two sorted lists of unique names,
// in a new slice, as Model.Changed lists are merged.
func MergeNames(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}
