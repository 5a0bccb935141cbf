package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/rollout"
	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// fleetTimeout bounds the rollout controller's questions to the other
// replicas, each tick.
const fleetTimeout = 2 * time.Second

// fleetReport is what one replica's proxies show of a rollout: GET
// /v1/rollout-fleet on its admin API.
type fleetReport struct {
	// Routing counts the replica's proxies that route the service;
	// Accepted those that accepted routes carrying the asked weight.
	Routing  int      `json:"routing"`
	Accepted int      `json:"accepted"`
	Rejected []string `json:"rejected,omitempty"`
	// Requests and Errors are what the replica's proxies reported sending
	// to the canary subset since the replica started.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// localFleetReport is this replica's fleetReport of a rollout of service
// from subset from to subset to at weight percent: its xDS server's
// clients that hold a route configuration with the service's virtual
// host (the Envoys of fleets with a profile included), and its load
// reports of the canary's cluster.
func (a *app) localFleetReport(service, from, to string, weight int) fleetReport {
	var rep fleetReport
	names := []string{service, snapshot.EnvoyHTTPListenerName(a.listenerPort), snapshot.FleetRouteName}
	for _, ra := range a.xds.RouteAcceptance(names...) {
		hosts, carries := snapshot.RolloutWeight(ra.Route, service, from, to, weight)
		if !hosts {
			continue
		}
		for _, p := range ra.Proxies {
			rep.Routing++
			switch {
			case p.State == xds.StateRejected:
				rep.Rejected = append(rep.Rejected, p.ID+": "+p.Error)
			case p.State == xds.StateSynced && carries:
				rep.Accepted++
			}
		}
	}
	canary := snapshot.SubsetClusterName(service, to)
	for _, l := range a.xds.Loads() {
		if l.Cluster == canary {
			rep.Requests += l.Success + l.Error
			rep.Errors += l.Error
		}
	}
	return rep
}

// serveFleetReport answers GET /v1/rollout-fleet?service=&from=&to=&weight=.
func (a *app) serveFleetReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	weight, err := strconv.Atoi(q.Get("weight"))
	switch {
	case q.Get("service") == "" || q.Get("from") == "" || q.Get("to") == "":
		err = errors.New("service, from and to are required")
	case err != nil || weight < 0 || weight > 100:
		err = fmt.Errorf("weight %q: want a percentage from 0 to 100", q.Get("weight"))
	}
	if err != nil {
		a.writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	a.writeJSON(w, http.StatusOK, a.localFleetReport(q.Get("service"), q.Get("from"), q.Get("to"), weight))
}

// fleetView is the rollout controller's view of the proxies of every
// replica: this one's read in process, the others' (the passing instances
// of service switchyard in Consul) over their admin API. A replica that
// does not answer is left out with a warning: its proxies reconnect to
// the others.
type fleetView struct {
	app    *app
	consul *api.Client
	admin  adminClient
	log    *slog.Logger
	// selfID is this replica's registration id; "" when it does not
	// register.
	selfID string
}

// Acks implements rollout.Fleet.
func (f fleetView) Acks(ctx context.Context, spec rollout.Spec, weight int) (rollout.AckReport, error) {
	reports, err := f.reports(ctx, spec, weight)
	if err != nil {
		return rollout.AckReport{}, err
	}
	var out rollout.AckReport
	for _, r := range reports {
		out.Routing += r.Routing
		out.Accepted += r.Accepted
		out.Rejected = append(out.Rejected, r.Rejected...)
	}
	return out, nil
}

// Load implements rollout.Fleet.
func (f fleetView) Load(ctx context.Context, spec rollout.Spec) (map[string]rollout.LoadReport, error) {
	reports, err := f.reports(ctx, spec, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]rollout.LoadReport, len(reports))
	for replica, r := range reports {
		out[replica] = rollout.LoadReport{Requests: r.Requests, Errors: r.Errors}
	}
	return out, nil
}

// reports gathers every replica's fleetReport, by admin address.
func (f fleetView) reports(ctx context.Context, spec rollout.Spec, weight int) (map[string]fleetReport, error) {
	out := map[string]fleetReport{f.app.AdminAddr(): f.app.localFleetReport(spec.Service, spec.From, spec.To, weight)}
	others, err := f.otherReplicas(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"service": {spec.Service}, "from": {spec.From}, "to": {spec.To}, "weight": {strconv.Itoa(weight)}}
	ctx, cancel := context.WithTimeout(ctx, fleetTimeout)
	defer cancel()
	reports, errs := eachReplica(ctx, others, func(ctx context.Context, addr string) (fleetReport, error) {
		var r fleetReport
		found, err := f.admin.getJSON(ctx, addr, "/v1/rollout-fleet?"+q.Encode(), &r)
		if err == nil && !found {
			err = errors.New("it does not serve /v1/rollout-fleet (an older version)")
		}
		return r, err
	})
	for i, addr := range others {
		if errs[i] != nil {
			f.log.Warn("replica left out of the rollout gates", "replica", addr, "error", errs[i])
			continue
		}
		out[addr] = reports[i]
	}
	return out, nil
}

// otherReplicas lists the admin addresses of the passing replicas in
// Consul other than this one (known by its registration's id).
func (f fleetView) otherReplicas(ctx context.Context) ([]string, error) {
	entries, _, err := f.consul.Health().Service(replicaService, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("find the other replicas: list the instances of service %q: %w", replicaService, err)
	}
	var out []string
	for _, e := range entries {
		if e.Service.ID != f.selfID {
			out = append(out, replicaAddr(e))
		}
	}
	return out, nil
}
