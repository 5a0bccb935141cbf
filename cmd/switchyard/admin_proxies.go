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
	if kind, ok := parseKind(out.Streams[0].Kind); ok {
		out.Resources = a.xds.Resources(kind)
	}
	return out, true
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
// resource that group is served, as Envoy JSON by type. Every group of a
// kind is served the same resources.
func (a *app) serveConfigDump(w http.ResponseWriter, r *http.Request) {
	group := r.URL.Query().Get("group")
	kind, ok := parseKind(group)
	if !ok {
		a.writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("group %q: want a group such as envoy/edge or grpc/apps, or a kind (envoy, grpc)", group)})
		return
	}
	dump, err := a.xds.ConfigDump(kind)
	if err != nil {
		a.writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"group": group, "resources": dump})
}
