package chain

import (
	"fmt"

	"github.com/hashicorp/go-bexpr"

	"github.com/switchyard/switchyard/discovery"
)

// Filter is a compiled resolver subset filter in Consul's filter language,
// evaluated over the same fields Consul's service health endpoint exposes.
type Filter struct {
	eval *bexpr.Evaluator
}

// filterDatum is what a subset filter sees of one instance: the shape of
// Consul's CheckServiceNode, with the fields Switchyard carries.
type filterDatum struct {
	Node    filterNode
	Service filterService
	Checks  []filterCheck
}

// filterNode is the node part of a filterDatum.
type filterNode struct {
	Node, Address, Datacenter string
	Meta                      map[string]string
}

// filterService is the service part of a filterDatum.
type filterService struct {
	ID, Service, Address string
	Port                 int
	Tags                 []string
	Meta                 map[string]string
	Weights              discovery.Weights
}

// filterCheck is one check of a filterDatum.
type filterCheck struct {
	Node, CheckID, Name, Status, ServiceID, ServiceName string
}

// ParseFilter compiles a filter and checks that every selector names a
// field: it evaluates the filter once over an empty instance, which fails
// for an unknown field (a missing meta key is no error: it just does not
// match).
func ParseFilter(expr string) (*Filter, error) {
	eval, err := bexpr.CreateEvaluator(expr)
	if err != nil {
		return nil, err
	}
	if _, err := eval.Evaluate(filterDatum{}); err != nil {
		return nil, err
	}
	return &Filter{eval: eval}, nil
}

// Match reports whether an instance of service in datacenter passes the
// filter. A filter that cannot be evaluated over the instance (a regular
// expression that does not compile, met only once a meta key exists)
// matches nothing and returns the error.
func (f *Filter) Match(service, datacenter string, in *discovery.Instance) (bool, error) {
	if f == nil {
		return true, nil
	}
	ok, err := f.eval.Evaluate(datumOf(service, datacenter, in))
	if err != nil {
		return false, fmt.Errorf("filter %q: %w", f.eval.Expression(), err)
	}
	return ok, nil
}

// Expression returns the filter's source text.
func (f *Filter) Expression() string {
	if f == nil {
		return ""
	}
	return f.eval.Expression()
}

// datumOf builds what a filter sees of one instance.
func datumOf(service, datacenter string, in *discovery.Instance) filterDatum {
	d := filterDatum{
		Node: filterNode{Node: in.Node, Address: in.NodeAddress, Datacenter: datacenter, Meta: in.NodeMeta},
		Service: filterService{ID: in.ID, Service: service, Address: in.Address, Port: in.Port,
			Tags: in.Tags, Meta: in.Meta, Weights: in.Weights},
		Checks: make([]filterCheck, 0, len(in.Checks)),
	}
	for _, c := range in.Checks {
		fc := filterCheck{Node: in.Node, CheckID: c.CheckID, Name: c.Name, Status: c.Status, ServiceID: c.ServiceID}
		if c.ServiceID != "" {
			fc.ServiceName = service
		}
		d.Checks = append(d.Checks, fc)
	}
	return d
}
