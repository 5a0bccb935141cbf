package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// replicaProxy is one proxy stream as one replica reports it: the
// replica's admin address beside the fields of /v1/proxies.
type replicaProxy struct {
	Replica string `json:"replica"`
	xds.ProxyStatus
}

// replicaError is a replica that did not answer, and why.
type replicaError struct {
	Replica string `json:"replica"`
	Error   string `json:"error"`
}

// statusReport is what `switchyard status` gathers: every proxy stream of
// every replica, sorted by proxy id, then replica, and the replicas that
// did not answer.
type statusReport struct {
	Replicas []string       `json:"replicas"`
	Proxies  []replicaProxy `json:"proxies"`
	Errors   []replicaError `json:"errors"`
	// Fleets holds, per replica whose /status answered, the fleets and
	// certificates it reports.
	Fleets []replicaFleets `json:"fleets"`
}

// replicaFleets is what one replica's /status says of the fleet profiles
// and of the certificates they serve.
type replicaFleets struct {
	Replica string                          `json:"replica"`
	Fleets  map[string]snapshot.FleetStatus `json:"fleets,omitempty"`
	Certs   map[string]snapshot.CertStatus  `json:"certs,omitempty"`
}

// replicaDetail is /v1/proxies/<id> of one replica.
type replicaDetail struct {
	Replica string `json:"replica"`
	proxyDetail
}

// proxyReport is what `switchyard status <id>` gathers: the proxy's detail
// from every replica it is connected to, and the replicas that did not
// answer.
type proxyReport struct {
	ID       string          `json:"id"`
	Replicas []replicaDetail `json:"replicas"`
	Errors   []replicaError  `json:"errors"`
}

// adminClient reads the replicas' admin APIs.
type adminClient struct {
	http *http.Client
}

// getJSON decodes a GET of path on the admin server at addr into out. It
// returns false, and no error, for a 404: the replica does not know what
// path names.
func (c adminClient) getJSON(ctx context.Context, addr, path string, out any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return false, fmt.Errorf("request %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		_, err := io.Copy(io.Discard, resp.Body)
		return false, err
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, fmt.Errorf("get %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return false, fmt.Errorf("decode %s: %w", path, err)
	}
	return true, nil
}

// eachReplica calls fetch for every replica at once and returns the
// results in replica order.
func eachReplica[T any](ctx context.Context, replicas []string, fetch func(ctx context.Context, addr string) (T, error)) ([]T, []error) {
	results, errs := make([]T, len(replicas)), make([]error, len(replicas))
	var wg sync.WaitGroup
	for i, addr := range replicas {
		wg.Go(func() { results[i], errs[i] = fetch(ctx, addr) })
	}
	wg.Wait()
	return results, errs
}

// gatherProxies asks every replica for /v1/proxies.
func gatherProxies(ctx context.Context, c adminClient, replicas []string) statusReport {
	lists, errs := eachReplica(ctx, replicas, func(ctx context.Context, addr string) ([]xds.ProxyStatus, error) {
		var out []xds.ProxyStatus
		found, err := c.getJSON(ctx, addr, "/v1/proxies", &out)
		if err == nil && !found {
			err = fmt.Errorf("no /v1/proxies: not a Switchyard admin address, or an older Switchyard")
		}
		return out, err
	})
	r := statusReport{Replicas: replicas, Proxies: []replicaProxy{}, Errors: []replicaError{}}
	for i, addr := range replicas {
		if errs[i] != nil {
			r.Errors = append(r.Errors, replicaError{Replica: addr, Error: errs[i].Error()})
			continue
		}
		for _, p := range lists[i] {
			r.Proxies = append(r.Proxies, replicaProxy{Replica: addr, ProxyStatus: p})
		}
	}
	slices.SortStableFunc(r.Proxies, func(a, b replicaProxy) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Replica, b.Replica))
	})
	return r
}

// fleetsOf keeps, in replica order, the fleets and certificates of each
// replica whose /status answered.
func fleetsOf(replicas []string, statuses []*adminStatus) []replicaFleets {
	out := []replicaFleets{}
	for i, st := range statuses {
		if st != nil {
			out = append(out, replicaFleets{Replica: replicas[i], Fleets: st.Fleets, Certs: st.Certs})
		}
	}
	return out
}

// gatherProxy asks every replica for /v1/proxies/<id>; a replica the proxy
// is not connected to is left out, without an error.
func gatherProxy(ctx context.Context, c adminClient, replicas []string, id string) proxyReport {
	details, errs := eachReplica(ctx, replicas, func(ctx context.Context, addr string) (*proxyDetail, error) {
		var out proxyDetail
		found, err := c.getJSON(ctx, addr, "/v1/proxies/"+url.PathEscape(id), &out)
		if !found || err != nil {
			return nil, err
		}
		return &out, nil
	})
	r := proxyReport{ID: id, Replicas: []replicaDetail{}, Errors: []replicaError{}}
	for i, addr := range replicas {
		switch {
		case errs[i] != nil:
			r.Errors = append(r.Errors, replicaError{Replica: addr, Error: errs[i].Error()})
		case details[i] != nil:
			r.Replicas = append(r.Replicas, replicaDetail{Replica: addr, proxyDetail: *details[i]})
		}
	}
	return r
}

// findReplicas lists the admin addresses of the passing instances of
// service switchyard in Consul, sorted.
func findReplicas(ctx context.Context, consulAddr string) ([]string, error) {
	cfg := api.DefaultConfig()
	cfg.Address = consulAddr
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	defer cfg.Transport.CloseIdleConnections()
	out, err := replicaAddrs(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("query Consul at %s: %w", consulAddr, err)
	}
	return out, nil
}

// replicaAddrs lists the admin addresses of the passing instances of
// service switchyard in Consul, sorted.
func replicaAddrs(ctx context.Context, client *api.Client) ([]string, error) {
	entries, _, err := client.Health().Service(replicaService, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list the instances of service %q: %w", replicaService, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, replicaAddr(e))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// replicaAddr is the admin address of a replica's registration: its
// service address, or its node's when it registered none.
func replicaAddr(e *api.ServiceEntry) string {
	host := e.Service.Address
	if host == "" && e.Node != nil {
		host = e.Node.Address
	}
	return net.JoinHostPort(host, strconv.Itoa(e.Service.Port))
}
