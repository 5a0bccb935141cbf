package snapshot

import (
	"strings"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/snapshot/chain"
)

// ServiceView is what the publisher last published of one service, for
// operators: its instances, its subsets and each route's weights.
type ServiceView struct {
	Name      string         `json:"name"`
	Protocol  string         `json:"protocol,omitempty"`
	Instances []InstanceView `json:"instances"`
	// Subsets are the resolver's subsets, each with the instances it
	// selects.
	Subsets []SubsetView `json:"subsets,omitempty"`
	// Routes are the routes in force (the default route last), each with
	// its shares.
	Routes []RouteView `json:"routes"`
	ServiceStatus
}

// InstanceView is one instance of a service.
type InstanceView struct {
	ID      string `json:"id"`
	Node    string `json:"node"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	Health  string `json:"health"`
}

// SubsetView is one resolver subset.
type SubsetView struct {
	Name        string   `json:"name"`
	Filter      string   `json:"filter,omitempty"`
	OnlyPassing bool     `json:"only_passing,omitempty"`
	Instances   []string `json:"instances"`
}

// RouteView is one route: what it matches (empty for the default route)
// and where its requests go.
type RouteView struct {
	Match  string      `json:"match,omitempty"`
	Shares []ShareView `json:"shares"`
}

// ShareView is one share of a route: a target and its weight in percent.
type ShareView struct {
	Service string  `json:"service"`
	Subset  string  `json:"subset,omitempty"`
	Percent float64 `json:"percent"`
}

// Services returns what the publisher last built of every service, sorted
// by name, with the plans of the gRPC flavour's builder (both flavours
// compile the same plans; its warming steps aside).
func (p *Publisher) Services() []ServiceView {
	p.mu.Lock()
	m, services := p.view.model, p.view.plans
	status := p.status.Services
	p.mu.Unlock()
	out := make([]ServiceView, 0, len(m.Services))
	for _, svc := range sortedServices(m.Services) {
		v := ServiceView{Name: svc.Name, ServiceStatus: status[svc.Name]}
		for _, in := range svc.Instances {
			v.Instances = append(v.Instances, InstanceView{ID: in.ID, Node: in.Node, Address: in.Address, Port: in.Port, Health: in.Health.String()})
		}
		plan := services.plan(svc.Name)
		if plan == nil {
			v.Routes = []RouteView{{Shares: []ShareView{{Service: svc.Name, Percent: 100}}}}
			out = append(out, v)
			continue
		}
		v.Protocol = plan.Protocol
		v.Subsets = subsetViews(svc, plan)
		for _, r := range plan.Routes {
			v.Routes = append(v.Routes, routeView(r))
		}
		out = append(out, v)
	}
	return out
}

// subsetViews lists a plan's subsets with the instances each selects.
func subsetViews(svc discovery.Service, plan *chain.Plan) []SubsetView {
	var out []SubsetView
	for _, c := range plan.Clusters {
		if c.Target.Subset == "" {
			continue
		}
		sv := SubsetView{Name: c.Target.Subset, Filter: c.Filter.Expression(), OnlyPassing: c.OnlyPassing, Instances: []string{}}
		selected, _ := selectInstances(svc, c)
		for _, in := range selected {
			sv.Instances = append(sv.Instances, in.ID)
		}
		out = append(out, sv)
	}
	return out
}

// routeView describes one compiled route.
func routeView(r chain.Route) RouteView {
	v := RouteView{Match: describeMatch(r.Match)}
	for _, s := range r.Splits {
		v.Shares = append(v.Shares, ShareView{Service: s.Target.Service, Subset: s.Target.Subset, Percent: float64(s.Weight) / 100})
	}
	return v
}

// describeMatch prints a router match briefly; "" for the default route.
func describeMatch(m *discovery.HTTPMatch) string {
	if m == nil {
		return ""
	}
	var parts []string
	switch {
	case m.PathExact != "":
		parts = append(parts, "path = "+m.PathExact)
	case m.PathPrefix != "":
		parts = append(parts, "path prefix "+m.PathPrefix)
	case m.PathRegex != "":
		parts = append(parts, "path ~ "+m.PathRegex)
	}
	for _, h := range m.Header {
		parts = append(parts, "header "+h.Name+headerValue(h))
	}
	for _, q := range m.QueryParam {
		parts = append(parts, "query "+q.Name)
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(m.Methods, ","))
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, ", ")
}

// headerValue prints what a header match compares with.
func headerValue(h discovery.HeaderMatch) string {
	op := ""
	switch {
	case h.Exact != "":
		op = " = " + h.Exact
	case h.Prefix != "":
		op = " prefix " + h.Prefix
	case h.Suffix != "":
		op = " suffix " + h.Suffix
	case h.Regex != "":
		op = " ~ " + h.Regex
	default:
		op = " present"
	}
	if h.Invert {
		return " not" + op
	}
	return op
}
