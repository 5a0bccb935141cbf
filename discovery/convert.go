package discovery

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"
)

// instancesFromEntries converts the answer of /v1/health/service/<name> into
// instances sorted by node, then ID. Entries without a node or a service are
// skipped: Consul never sends them, and there is nothing to route to.
func instancesFromEntries(entries []*api.ServiceEntry) []Instance {
	out := make([]Instance, 0, len(entries))
	for _, e := range entries {
		if e == nil || e.Node == nil || e.Service == nil {
			continue
		}
		out = append(out, instanceFromEntry(e))
	}
	slices.SortStableFunc(out, func(a, b Instance) int {
		return cmp.Or(strings.Compare(a.Node, b.Node), strings.Compare(a.ID, b.ID))
	})
	return out
}

// instanceFromEntry converts one health entry. Node and Service are non-nil.
func instanceFromEntry(e *api.ServiceEntry) Instance {
	addr := e.Service.Address
	if addr == "" {
		addr = e.Node.Address
	}
	return Instance{
		ID:       e.Service.ID,
		Node:     e.Node.Node,
		Address:  addr,
		Port:     e.Service.Port,
		Tags:     cloneSlice(e.Service.Tags),
		Meta:     cloneMap(e.Service.Meta),
		Health:   healthOf(e.Service.ID, e.Checks),
		Weights:  weightsOf(e.Service.Weights),
		Locality: localityOf(e.Service.Meta, e.Node.Meta),
		// Subset filters read the node and the checks.
		NodeAddress: e.Node.Address,
		NodeMeta:    cloneMap(e.Node.Meta),
		Checks:      checksOf(e.Service.ID, e.Checks),
	}
}

// checksOf returns the checks that apply to the instance serviceID: its
// node's (no ServiceID) and its own, sorted by CheckID then ServiceID so
// that the order Consul lists them in is no change. It returns nil when
// there are none, so that equal contents compare equal.
func checksOf(serviceID string, checks api.HealthChecks) []Check {
	var out []Check
	for _, c := range checks {
		if c == nil || (c.ServiceID != "" && c.ServiceID != serviceID) {
			continue
		}
		out = append(out, Check{CheckID: c.CheckID, Name: c.Name, Status: c.Status, ServiceID: c.ServiceID})
	}
	slices.SortFunc(out, func(a, b Check) int {
		return cmp.Or(strings.Compare(a.CheckID, b.CheckID), strings.Compare(a.ServiceID, b.ServiceID))
	})
	return out
}

// healthOf folds the node-level checks and the instance's own checks into one
// state. Maintenance wins over everything, because the instance is being
// drained on purpose; otherwise the worst check wins, as in Consul's
// AggregatedStatus. A status Consul does not define counts as critical: an
// instance whose health is unknown must not receive traffic.
func healthOf(serviceID string, checks api.HealthChecks) Health {
	worst := HealthPassing
	for _, c := range checks {
		if c == nil || (c.ServiceID != "" && c.ServiceID != serviceID) {
			continue
		}
		if c.CheckID == api.NodeMaint || strings.HasPrefix(c.CheckID, api.ServiceMaintPrefix) {
			return HealthMaintenance
		}
		worst = max(worst, checkHealth(c.Status))
	}
	return worst
}

// checkHealth maps one check status to a health state.
func checkHealth(status string) Health {
	switch status {
	case api.HealthPassing:
		return HealthPassing
	case api.HealthWarning:
		return HealthWarning
	default:
		return HealthCritical
	}
}

// weightsOf returns the registered weights, or Consul's default when none
// were set.
func weightsOf(w api.AgentWeights) Weights {
	if w.Passing == 0 && w.Warning == 0 {
		return Weights{Passing: 1, Warning: 1}
	}
	return Weights{Passing: w.Passing, Warning: w.Warning}
}

// localityOf reads region and zone from the service meta when it names
// either, else from the node meta. The pair is taken from one source so that
// a zone is never paired with another source's region.
func localityOf(serviceMeta, nodeMeta map[string]string) Locality {
	if l := (Locality{Region: serviceMeta["region"], Zone: serviceMeta["zone"]}); l != (Locality{}) {
		return l
	}
	return Locality{Region: nodeMeta["region"], Zone: nodeMeta["zone"]}
}

// serviceFromInstances builds a service from its sorted instances: its tags
// are the sorted union of theirs and its meta the entries all of them share.
func serviceFromInstances(name, datacenter string, instances []Instance) Service {
	return Service{
		Name:       name,
		Datacenter: datacenter,
		Tags:       tagUnion(instances),
		Meta:       sharedMeta(instances),
		Instances:  cloneInstances(instances),
	}
}

// tagUnion returns the sorted, deduplicated tags of all instances, nil when
// there are none.
func tagUnion(instances []Instance) []string {
	var tags []string
	for _, in := range instances {
		tags = append(tags, in.Tags...)
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// sharedMeta returns the meta entries every instance has with the same value,
// nil when there are none.
func sharedMeta(instances []Instance) map[string]string {
	if len(instances) == 0 {
		return nil
	}
	shared := cloneMap(instances[0].Meta)
	for _, in := range instances[1:] {
		maps.DeleteFunc(shared, func(k, v string) bool {
			got, ok := in.Meta[k]
			return !ok || got != v
		})
	}
	if len(shared) == 0 {
		return nil
	}
	return shared
}

// cloneInstances deep-copies instances so the copy shares no slice or map
// with the original.
func cloneInstances(in []Instance) []Instance {
	if in == nil {
		return nil
	}
	out := make([]Instance, len(in))
	for i, v := range in {
		v.Tags = cloneSlice(v.Tags)
		v.Meta = cloneMap(v.Meta)
		v.NodeMeta = cloneMap(v.NodeMeta)
		v.Checks = cloneSlice(v.Checks)
		out[i] = v
	}
	return out
}

// cloneSlice copies s, returning nil for an empty slice so that equal
// contents compare equal.
func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// cloneMap copies m, returning nil for an empty map so that equal contents
// compare equal.
func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// equalInstances reports whether two converted answers are the same.
// reflect.DeepEqual keeps it right when Instance gains a field, and compares
// every field: a node meta change, or a status change of any one check,
// is a change even when the folded Health stays the same, because subset
// filters read them. Conversion turns empty tags, meta and checks into nil
// and sorts the checks, so equal contents compare equal.
func equalInstances(a, b []Instance) bool {
	return reflect.DeepEqual(a, b)
}
