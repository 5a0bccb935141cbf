package main

import (
	"net/http"

	"github.com/switchyard/switchyard/xds"
)

// adminLoads is the JSON body of /v1/loads.
type adminLoads struct {
	Loads []xds.ClusterLoad `json:"loads"`
}

// serveLoads answers /v1/loads: every cluster's request counts, as the
// proxies reported them over LRS since this replica started.
func (a *app) serveLoads(w http.ResponseWriter, _ *http.Request) {
	a.writeJSON(w, http.StatusOK, adminLoads{Loads: a.xds.Loads()})
}
