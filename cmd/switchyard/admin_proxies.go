package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/xds"
)

// proxyDetail is the body of /v1/proxies/<id>: every stream the proxy has
// open (a proxy has one ADS stream; per-type streams are one each) and
// what its group is served.
type proxyDetail struct {
	Streams   []xds.ProxyStatus   `json:"streams"`
	Resources []xds.TypeResources `json:"resources"`
}

// proxyDetail returns a connected proxy's detail, and false if no proxy
// of that id is connected.
func (a *app) proxyDetail(id string) (proxyDetail, bool) {
	var out proxyDetail
	for _, p := range a.xds.Proxies() {
		if p.ID == id {
			out.Streams = append(out.Streams, p)
		}
	}
	if len(out.Streams) == 0 {
		return out, false
	}
	out.Resources = a.groupResources(out.Streams[0].Group)
	return out, true
}

// groupResources returns what the clients of a group ("envoy/edge") are
// served: their fleet's resources if it has a profile in force, else
// their kind's.
func (a *app) groupResources(group string) []xds.TypeResources {
	kind, ok := parseKind(group)
	if !ok {
		return nil
	}
	if _, cluster, _ := strings.Cut(group, "/"); kind == xds.KindEnvoy {
		if res, ok := a.xds.FleetResources(cluster); ok {
			return res
		}
	}
	return a.xds.Resources(kind)
}

// parseKind reads a kind of client by name ("envoy", "grpc"), or from a
// group name ("envoy/edge"), which starts with it.
func parseKind(s string) (xds.Kind, bool) {
	name, _, _ := strings.Cut(s, "/")
	for _, k := range []xds.Kind{xds.KindEnvoy, xds.KindGRPC} {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// serveConfigDump writes /debug/config_dump?group=<group or kind>: every
// resource that group is served, as Envoy JSON by type, private keys
// redacted. Every group of a kind is served the same resources, except
// the Envoy groups of fleets with a profile in force.
func (a *app) serveConfigDump(w http.ResponseWriter, r *http.Request) {
	group := r.URL.Query().Get("group")
	kind, ok := parseKind(group)
	if !ok {
		a.writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("group %q: want a group such as envoy/edge or grpc/apps, or a kind (envoy, grpc)", group)})
		return
	}
	dump, err := a.xds.ConfigDump(kind)
	if _, cluster, _ := strings.Cut(group, "/"); kind == xds.KindEnvoy && cluster != "" {
		if fd, ok, ferr := a.xds.FleetConfigDump(cluster); ok {
			dump, err = fd, ferr
		}
	}
	if err != nil {
		a.writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"group": group, "resources": dump})
}
