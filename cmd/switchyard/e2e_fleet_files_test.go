package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// TestFleetCertificateFiles serves a fleet's certificate from a bundle
// file on the control-plane host (--fleet-cert-dir): the proxies get it,
// a replaced file sends them only the new secret, and a file that does
// not parse is reported while the last good certificate stays.
func TestFleetCertificateFiles(t *testing.T) {
	c := startConsul(t)
	c.registerTagged(t, "web", "web-1", 18081, "public")
	ca := testcerts.NewCA(t, "fleet files CA")
	first, second := ca.Server(t), ca.Server(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "site-f.pem")
	testcerts.WriteFile(t, path, bundle(first))
	c.kvPut(t, "switchyard/certs/site-a", bundle(ca.Server(t)))
	c.kvPut(t, "switchyard/fleets/edge", []byte(strings.Replace(edgeProfile, "secret: site-b", "secret: site-f", 1)))

	sy := startSwitchyard(t, c.agent.HTTPAddr, func(cfg *serveConfig) {
		cfg.FleetCertDir, cfg.FleetCertInterval = dir, 100*time.Millisecond
	})
	edge := startFleetEnvoy(t, sy.app.XDSAddr(), "edge-1", "edge")
	waitEnvoy(t, edge, "the certificate from the file", func(s simenvoy.State) bool {
		return secretKey(s, "site-f") == string(first.KeyPEM) && names(s, resourcev3.ClusterType) == "web"
	})

	before := edge.State()
	testcerts.WriteFile(t, path, bundle(second))
	waitEnvoy(t, edge, "the replaced file", func(s simenvoy.State) bool { return secretKey(s, "site-f") == string(second.KeyPEM) })
	if got := responsesSince(before, edge.State()); fmt.Sprint(got) != "map[Secret:1]" {
		t.Errorf("replacing the file sent %v, want one SDS response", got)
	}

	testcerts.WriteFile(t, path, []byte("not a bundle"))
	var st adminStatus
	waitUntil(t, "the bad file in /status", func() bool {
		adminJSON(t, sy.app.AdminAddr(), "/status", &st)
		return st.Certs["site-f"].Error != ""
	})
	cs := st.Certs["site-f"]
	if cs.Source != "file "+path || !strings.Contains(cs.Error, path) || cs.Index != 2 {
		t.Errorf("status of site-f %+v: want source and error naming %s, index 2 (the last good)", cs, path)
	}
	if s := edge.State(); secretKey(s, "site-f") != string(second.KeyPEM) {
		t.Error("a bad file replaced the last good certificate")
	}
}
