// Package discovery watches Consul and turns what it reports into a plain
// model of the services that exist and the health of their instances. It never
// imports go-control-plane: translating the model into Envoy resources is the
// snapshot package's job.
package discovery

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
}

// Model is everything discovery knows about one datacenter at one moment.
type Model struct {
	Datacenter string
	// Services are sorted by name.
	Services []Service
}
