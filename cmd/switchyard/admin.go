package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/switchyard/switchyard/snapshot"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const adminReadHeaderTimeout = 5 * time.Second

// adminStatus is the JSON body of /status.
type adminStatus struct {
	Ready       bool                         `json:"ready"`
	Consul      consulStatus                 `json:"consul"`
	Versions    map[string]map[string]string `json:"versions"`
	LastPublish time.Time                    `json:"last_publish"`
	LastError   string                       `json:"last_snapshot_error,omitempty"`
	Groups      []string                     `json:"groups"`
	// Services reports, by name, services whose L7 config entries are
	// rejected (the last good routing stays in force) or partly expressed
	// for a flavour.
	Services map[string]snapshot.ServiceStatus `json:"services,omitempty"`
	// Fleets reports, by node.cluster, every fleet profile stored in
	// Consul KV or in force, with why one is rejected; Certs the
	// certificates, never their keys.
	Fleets map[string]snapshot.FleetStatus `json:"fleets,omitempty"`
	Certs  map[string]snapshot.CertStatus  `json:"certs,omitempty"`
}

// consulStatus is the Consul part of /status. While one of discovery's
// queries is failing, Failing is true and Age says how long ago Consul
// last answered any query; otherwise Age is zero.
type consulStatus struct {
	Ready       bool      `json:"ready"`
	LastSuccess time.Time `json:"last_success"`
	Age         string    `json:"age"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Failing is true while the last attempt of any of discovery's
	// queries (a watch, a read, the index sentinel's liveness check)
	// failed: the state in force may be missing changes.
	Failing   bool `json:"failing"`
	Services  int  `json:"services"`
	Instances int  `json:"instances"`
}

// adminHandler serves /healthz, /readyz, /metrics, /status, /v1/proxies,
// /v1/proxies/<id>, /v1/services, /v1/rollout-fleet (what this replica's
// proxies show of a rollout, for the leading controller's gates),
// /debug/config_dump and the dashboard (/).
func (a *app) adminHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready() {
			http.Error(w, "not ready: waiting for the first Consul load and snapshot", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Go's profiler, for the profiles BENCHMARKS.md cites; the admin
	// address is meant for operators only.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		a.writeJSON(w, http.StatusOK, a.status())
	})
	mux.HandleFunc("GET /v1/proxies", func(w http.ResponseWriter, _ *http.Request) {
		a.writeJSON(w, http.StatusOK, a.xds.Proxies())
	})
	mux.HandleFunc("GET /v1/proxies/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, ok := a.proxyDetail(r.PathValue("id"))
		if !ok {
			a.writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no proxy %q is connected", r.PathValue("id"))})
			return
		}
		a.writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, _ *http.Request) {
		a.writeJSON(w, http.StatusOK, a.publisher.Services())
	})
	mux.HandleFunc("GET /v1/rollout-fleet", a.serveFleetReport)
	mux.HandleFunc("GET /debug/config_dump", a.serveConfigDump)
	mux.HandleFunc("GET /v1/loads", a.serveLoads)
	mux.HandleFunc("POST /v1/fleets/{cluster}/diff", a.serveFleetDiff)
	mux.Handle("GET /", dashboardHandler())
	return mux
}

// writeJSON writes v, indented, with a status code.
func (a *app) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.log.Warn("write admin response", "component", "admin", "error", err)
	}
}

// ready is true once Consul has been fully loaded and every flavour's first
// snapshot is published.
func (a *app) ready() bool {
	return a.source.Status().Ready && a.publisher.Status().Ready
}

// status gathers /status.
func (a *app) status() adminStatus {
	src, pub := a.source.Status(), a.publisher.Status()
	out := adminStatus{
		Ready: a.ready(),
		Consul: consulStatus{
			Ready: src.Ready, LastSuccess: src.LastSuccess, LastError: src.LastError,
			LastErrorAt: src.LastErrorAt, Failing: src.Failing > 0,
			Services: src.Services, Instances: src.Instances,
		},
		Versions:    map[string]map[string]string{},
		LastPublish: pub.LastPublish,
		LastError:   pub.LastError,
		Services:    pub.Services,
		Fleets:      pub.Fleets,
		Certs:       pub.Certs,
	}
	out.Consul.Age = "0s"
	if out.Consul.Failing && !src.LastSuccess.IsZero() {
		out.Consul.Age = time.Since(src.LastSuccess).Round(time.Millisecond).String()
	}
	for f, v := range pub.Versions {
		out.Versions[f.String()] = map[string]string{"cds": v.Clusters, "eds": v.Endpoints, "lds": v.Listeners, "rds": v.Routes}
	}
	for _, g := range a.xds.Groups() {
		out.Groups = append(out.Groups, g.String())
	}
	slices.Sort(out.Groups)
	return out
}

// serveAdmin serves the admin HTTP server until ctx is done.
func (a *app) serveAdmin(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- a.admin.Serve(a.adminLis) }()
	a.log.Info("serving admin", "component", "admin", "addr", a.adminLis.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve admin: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.admin.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop admin: %w", err)
	}
	<-errc
	return nil
}
