package main

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/fleet"
	"github.com/switchyard/switchyard/xds"
)

// maxProfileBytes bounds a profile posted to the diff endpoint.
const maxProfileBytes = 1 << 20

// fleetDiff is the body of POST /v1/fleets/{cluster}/diff: what the
// proxies of a fleet would gain, lose or change if the posted profile
// were applied, against what they are served now.
type fleetDiff struct {
	Cluster string `json:"cluster"`
	// InForce is set when the fleet has a profile in force; otherwise its
	// proxies get the default Envoy resources, which the diff compares to.
	InForce bool `json:"in_force"`
	// Proxies are the ids of the fleet's connected Envoys, sorted.
	Proxies   []string       `json:"proxies"`
	Changes   []resourceDiff `json:"changes"`
	Unchanged int            `json:"unchanged"`
}

// resourceDiff is one resource a fleet's proxies would gain, lose or see
// change.
type resourceDiff struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Change string `json:"change"`
}

// serveFleetDiff answers POST /v1/fleets/{cluster}/diff: the body is a
// profile file; nothing is applied.
func (a *app) serveFleetDiff(w http.ResponseWriter, r *http.Request) {
	cluster := r.PathValue("cluster")
	if err := fleet.CheckCluster(cluster); err != nil {
		a.writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProfileBytes+1))
	if err != nil || len(body) > maxProfileBytes {
		a.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read profile: too large or unreadable"})
		return
	}
	p, err := fleet.Parse(body)
	if err != nil {
		a.writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	next, err := a.publisher.FleetPreview(&p)
	if err != nil {
		a.writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	current, inForce := a.xds.FleetResources(cluster)
	if !inForce {
		current = a.xds.Resources(xds.KindEnvoy)
	}
	out := diffResources(current, next)
	out.Cluster, out.InForce = cluster, inForce
	for _, px := range a.xds.Proxies() {
		if px.Group == xds.KindEnvoy.String()+"/"+cluster && !slices.Contains(out.Proxies, px.ID) {
			out.Proxies = append(out.Proxies, px.ID)
		}
	}
	slices.Sort(out.Proxies)
	a.writeJSON(w, http.StatusOK, out)
}

// diffResources compares what is served with what would be, by name and
// content hash, in ADS type order.
func diffResources(current []xds.TypeResources, next map[string]map[string]string) fleetDiff {
	held := map[string]map[string]string{}
	for _, tr := range current {
		held[tr.Type] = map[string]string{}
		for _, r := range tr.Resources {
			held[tr.Type][r.Name] = r.Version
		}
	}
	out := fleetDiff{Proxies: []string{}, Changes: []resourceDiff{}}
	for _, typ := range []string{"CDS", "EDS", "LDS", "RDS", "SDS"} {
		names := slices.Sorted(maps.Keys(held[typ]))
		names = slices.Compact(slices.Sorted(slices.Values(append(names, slices.Collect(maps.Keys(next[typ]))...))))
		for _, name := range names {
			was, had := held[typ][name]
			will, gets := next[typ][name]
			switch {
			case had && !gets:
				out.Changes = append(out.Changes, resourceDiff{typ, name, "lose"})
			case !had && gets:
				out.Changes = append(out.Changes, resourceDiff{typ, name, "gain"})
			case !strings.EqualFold(was, will):
				out.Changes = append(out.Changes, resourceDiff{typ, name, "change"})
			default:
				out.Unchanged++
			}
		}
	}
	return out
}
