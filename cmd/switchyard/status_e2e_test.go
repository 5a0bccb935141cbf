package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/xds"
)

// rejectText is the error the rejecting simulated Envoy sends with its NACK.
const rejectText = "Error adding/updating cluster(s) echo: rejected by the test"

// runCLI runs the switchyard command line in-process.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// proxyLine returns the table line of a proxy on a replica, or "".
func proxyLine(table, id, replica string) string {
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) > 3 && f[0] == id && f[3] == replica {
			return line
		}
	}
	return ""
}

// hasProxy reports whether a replica's /v1/proxies lists id in state.
func hasProxy(t *testing.T, addr, id string, state xds.SyncState) bool {
	var list []xds.ProxyStatus
	adminJSON(t, addr, "/v1/proxies", &list)
	return slices.ContainsFunc(list, func(p xds.ProxyStatus) bool { return p.ID == id && p.State == state })
}

// TestStatusCommand runs two registered replicas, a simulated Envoy on
// each (one rejecting every cluster response) and a gRPC client, and
// checks what `switchyard status` says of them, finding the replicas in
// Consul or by --admin-addr.
func TestStatusCommand(t *testing.T) {
	c := startConsul(t)
	startBackends(t, c, "echo", "echo-1")
	one := startSwitchyard(t, c.agent.HTTPAddr, withRegister)
	two := startSwitchyard(t, c.agent.HTTPAddr, withRegister)
	startSimEnvoy(t, one.app.XDSAddr(), "edge-1")
	rejecting, err := simenvoy.Start(context.Background(), two.app.XDSAddr(), simenvoy.Config{
		NodeID: "edge-2", Cluster: "edge",
		Reject: func(resp *discoveryv3.DiscoveryResponse) error {
			if resp.GetTypeUrl() == resourcev3.ClusterType {
				return errors.New(rejectText)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rejecting.Close)
	cc := dialXDS(t, two.app.XDSAddr(), "client-1", "echo")
	waitUntil(t, "gRPC client served", func() bool { return servedBy(spread(t, cc, 5), "echo-1") })
	// The replicas' own registrations are catalog changes too: wait for
	// them before waiting for the proxies to settle on what they caused.
	waitUntil(t, "both replicas registered", func() bool {
		return replicaEntry(t, c.client, one.app.AdminAddr()) != nil && replicaEntry(t, c.client, two.app.AdminAddr()) != nil
	})
	waitUntil(t, "every proxy settled", func() bool {
		return hasProxy(t, one.app.AdminAddr(), "edge-1", xds.StateSynced) &&
			hasProxy(t, two.app.AdminAddr(), "edge-2", xds.StateRejected) &&
			hasProxy(t, two.app.AdminAddr(), "client-1", xds.StateSynced)
	})

	t.Run("table from Consul", func(t *testing.T) {
		out, errOut, code := runCLI(t, "status", "--consul-addr", c.agent.HTTPAddr)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		t.Logf("switchyard status:\n%s", out)
		for _, want := range []struct{ id, replica, group, kind, state string }{
			{"edge-1", one.app.AdminAddr(), "envoy/edge", "envoy", "SYNCED"},
			{"edge-2", two.app.AdminAddr(), "envoy/edge", "envoy", "REJECTED"},
			{"client-1", two.app.AdminAddr(), "grpc/e2e", "grpc", "SYNCED"},
		} {
			f := strings.Fields(proxyLine(out, want.id, want.replica))
			if len(f) < 5 || f[1] != want.group || f[2] != want.kind || f[4] != want.state {
				t.Errorf("line of %s on %s = %q, want group %s, kind %s, state %s\n%s", want.id, want.replica, f, want.group, want.kind, want.state, out)
			}
		}
		if !strings.Contains(out, "Rejections:") || !strings.Contains(out, "edge-2 on "+two.app.AdminAddr()+": CDS version") || !strings.Contains(out, rejectText) {
			t.Errorf("table does not show edge-2's rejection with its text:\n%s", out)
		}
	})

	t.Run("detail", func(t *testing.T) {
		out, errOut, code := runCLI(t, "status", "--consul-addr", c.agent.HTTPAddr, "edge-2")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"Proxy edge-2", "Replica " + two.app.AdminAddr(), "Group:       envoy/edge (envoy)", "State:       REJECTED", "CDS rejected version", rejectText, "Served to its group:"} {
			if !strings.Contains(out, want) {
				t.Errorf("detail lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "Replica "+one.app.AdminAddr()) {
			t.Errorf("detail shows a replica edge-2 is not connected to:\n%s", out)
		}
	})

	t.Run("unknown proxy", func(t *testing.T) {
		_, errOut, code := runCLI(t, "status", "--admin-addr", one.app.AdminAddr(), "--admin-addr", two.app.AdminAddr(), "edge-9")
		if code != 1 || !strings.Contains(errOut, `proxy "edge-9" is not connected`) {
			t.Errorf("exit %d, stderr %q: want 1 and a message naming the proxy", code, errOut)
		}
	})

	t.Run("json with a replica down", func(t *testing.T) {
		dead := closedAddr(t)
		out, errOut, code := runCLI(t, "status", "-o", "json", "--admin-addr", one.app.AdminAddr(), "--admin-addr", two.app.AdminAddr(), "--admin-addr", dead)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(errOut, "warning: replica "+dead) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("stderr %q: want one warning naming %s", errOut, dead)
		}
		var r statusReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		var got []string
		for _, p := range r.Proxies {
			got = append(got, p.ID+"@"+p.Replica)
		}
		want := []string{"client-1@" + two.app.AdminAddr(), "edge-1@" + one.app.AdminAddr(), "edge-2@" + two.app.AdminAddr()}
		if !slices.Equal(got, want) {
			t.Errorf("proxies = %v, want %v", got, want)
		}
		if len(r.Errors) != 1 || r.Errors[0].Replica != dead {
			t.Errorf("errors = %+v, want one for %s", r.Errors, dead)
		}
	})

	t.Run("no replica answers", func(t *testing.T) {
		_, errOut, code := runCLI(t, "status", "--admin-addr", closedAddr(t))
		if code != 1 || !strings.Contains(errOut, "none of the 1 replica(s) answered") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestStatusWithoutConsul checks that without --admin-addr an unreachable
// Consul is reported, exit 1.
func TestStatusWithoutConsul(t *testing.T) {
	_, errOut, code := runCLI(t, "status", "--consul-addr", closedAddr(t), "--timeout", "2s")
	t.Logf("stderr: %s", errOut)
	if code != 1 || !strings.Contains(errOut, "Consul could not list the replicas") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stderr %q: want 1 and one line saying Consul could not be asked", code, errOut)
	}
}

// TestStatusBadFlagsExit2 checks the usage errors of status.
func TestStatusBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"status", "--output", "yaml"},
		{"status", "--admin-addr", "nowhere"},
		{"status", "a", "b"},
	} {
		if _, errOut, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
